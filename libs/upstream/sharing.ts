import type { HeaderList } from './headers.js';

/**
 * An answer that must stay within the auth scope of the request that produced
 * it: it sets a cookie, or says it is private or must not be stored.
 */
export function isPrivateAnswer(headers: HeaderList): boolean {
  for (const [name, value] of headers) {
    if (name === 'set-cookie') return true;
    if (name === 'cache-control' && /(^|[\s,])(private|no-store)([\s,=]|$)/i.test(value)) return true;
  }
  return false;
}

/** Request header names the answer's Vary lists ("*" means no other request matches). */
export function responseVaryNames(headers: HeaderList): string[] {
  return headers
    .filter(([name]) => name === 'vary')
    .flatMap(([, value]) => value.split(','))
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length > 0);
}

/** The values a request had for `names` (joined per name, "" when absent). */
export function varyValues(headers: HeaderList, names: readonly string[]): Array<[string, string]> {
  return names.map((name) => [
    name,
    headers
      .filter(([header]) => header === name)
      .map(([, value]) => value)
      .join(', '),
  ]);
}
