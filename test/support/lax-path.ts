/**
 * How a lenient origin resolves a request path (the union of what nginx,
 * Tomcat/Spring and Windows servers do): "\" is "/", %2F and %5C are decoded
 * before dot segments, ";params" are dropped from each segment, trailing dots
 * and spaces of a segment are dropped, and then dot segments are removed.
 */
export function laxResolve(rawPath: string): string {
  const path = rawPath
    .split('?', 1)[0]!
    .replace(/\\/g, '/')
    .replace(/%2f|%5c/gi, '/');
  const out: string[] = [];
  for (const raw of path.split('/')) {
    let segment = raw.split(';', 1)[0]!;
    try {
      segment = decodeURIComponent(segment);
    } catch {
      // left encoded, as an origin would answer 400 or treat it literally
    }
    if (/^[.\s]+$/.test(segment) && segment.includes('..')) segment = '..';
    if (segment === '..') out.pop();
    else if (segment !== '.' && segment !== '') out.push(segment);
  }
  return `/${out.join('/')}`;
}
