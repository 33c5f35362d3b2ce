import { describe, expect, it } from 'vitest';
import { unsafeTargetReason } from './unsafe-target.js';

describe('unsafeTargetReason', () => {
  it.each([
    ['/pub/..\\me', 'backslash'],
    ['/pub/..%2Fme', 'encoded slash'],
    ['/pub/..%2fme', 'encoded slash'],
    ['/pub/..%5Cme', 'encoded slash or backslash'],
    ['/pub/..%5cme', 'encoded slash or backslash'],
    ['/pub/..;/me', 'path parameter'],
    ['/pub/..;x/me', 'path parameter'],
    ['/pub/.;x/me', 'path parameter'],
    ['/pub/%2e%2e;jsessionid=1/me', 'path parameter'],
    ['/pub/..%3B/me', 'once its ";" parameters are removed'],
    ['/pub/;x/../me', 'path parameter'],
    ['/pub/me%00.json', 'encoded control character'],
    ['/pub/me%0d%0aX: 1', 'encoded control character'],
    ['/pub/%252e%252e/me', 'double-encoded'],
    ['/pub/%252Fme', 'double-encoded'],
    ['/pub/%c0%ae%c0%ae/me', 'overlong'],
    ['/pub/.../me', 'read as a dot segment'],
    ['/pub/..%20/me', 'read as a dot segment'],
    ['/pub/#/../me', 'fragment'],
    ['/items;v=2/42', 'path parameter'],
  ])('refuses %s (%s)', (target, reason) => {
    expect(unsafeTargetReason(target)).toContain(reason);
  });

  it.each([
    '/',
    '/me',
    '/pub/item',
    '/pub/../me', // resolved here exactly as origins do; the normalized target is what is forwarded
    '/pub/%2e%2e/me',
    '/pub/./a/',
    '/files/a%20b.txt',
    '/caf%C3%A9',
    '/search?q=a%2Fb&r=%5C', // the query is not resolved as a path
    '/search?q=..;/x',
  ])('accepts %s', (target) => {
    expect(unsafeTargetReason(target)).toBeUndefined();
  });
});
