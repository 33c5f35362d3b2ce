import type { ServerResponse } from 'node:http';

/**
 * Request targets whose path an origin may resolve differently from the path
 * batchgate classifies (route, key). The route of "/pub/..%2Fme" is the public
 * "/pub/", but nginx decodes %2F before it resolves dot segments, Tomcat and
 * Spring drop ";params" first ("/pub/..;/me"), and Windows-style origins read
 * "\" as "/": each fetches "/me". When two users arrive together, one of them
 * is answered with the other's data. Such paths are refused, not rewritten:
 * no one rewrite matches every origin.
 */
const CHECKS: ReadonlyArray<[RegExp, string]> = [
  [/\\/, 'a backslash, which some origins read as "/"'],
  [/%(2f|5c)/i, 'an encoded slash or backslash (%2F, %5C), which some origins decode before resolving dot segments'],
  [/%25(2e|2f|5c|3b|00)/i, 'a double-encoded dot, slash, backslash, semicolon or NUL, which origins that decode twice resolve'],
  [/%(0[0-9a-f]|1[0-9a-f]|7f)/i, 'an encoded control character (NUL, CR, LF ...), at which some origins cut or split the path'],
  [/%c[01]/i, 'an overlong UTF-8 encoding (%C0, %C1), which lenient decoders read as "." or "/"'],
  [/#/, 'a fragment ("#"), which is not part of a request target'],
  // Any ";": the classified "/items;v=2/42" misses an "/items/" route that Tomcat's "/items/42" is under.
  [/;/, 'a ";" path parameter, which Tomcat and Spring remove before resolving ("/pub/..;/me" is "/me" there)'],
];

/** Dots, encoded dots and spaces only: "..", ". .", "%2e%2E", "... ". */
const DOTS_AND_SPACES = /^(?:\.|%2e|%20|\s)+$/i;

/**
 * A path segment that is not a dot segment here but becomes one (or an empty
 * segment that a later "//" merge turns into a climb) at an origin: decoders
 * that split "%3B" parameters ("..%3Bx" -> ".."), Windows origins that drop
 * trailing dots and spaces ("... " -> "..").
 */
function segmentProblem(segment: string): string | undefined {
  const semicolon = segment.search(/%3b/i);
  if (semicolon !== -1) {
    const bare = segment.slice(0, semicolon);
    if (bare === '' || DOTS_AND_SPACES.test(bare))
      return `a path segment "${segment}" that is a dot or empty segment once its ";" parameters are removed`;
  }
  if (DOTS_AND_SPACES.test(segment) && !/^(?:\.|%2e){1,2}$/i.test(segment))
    return `a path segment "${segment}" that some origins read as a dot segment`;
  return undefined;
}

/** Why this request target is refused, or undefined when its path is resolved the same way everywhere. */
export function unsafeTargetReason(rawUrl: string): string | undefined {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  for (const [pattern, reason] of CHECKS) {
    if (pattern.test(path)) return `the request path contains ${reason}`;
  }
  for (const segment of path.split('/')) {
    const problem = segmentProblem(segment);
    if (problem) return `the request path contains ${problem}`;
  }
  return undefined;
}

/** Answers 400 with the reason when the target is unsafe; true when it did (the request is done). */
export function refuseUnsafeTarget(rawUrl: string, res: ServerResponse): boolean {
  const reason = unsafeTargetReason(rawUrl);
  if (reason === undefined) return false;
  const body = JSON.stringify({ error: 'bad_request_target', message: reason });
  res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
  return true;
}
