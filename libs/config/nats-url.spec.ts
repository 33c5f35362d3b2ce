import { describe, expect, it } from 'vitest';
import { natsConnectOptions, parseNatsUrl, redactNatsUrl } from './nats-url.js';

describe('NATS_URL credentials', () => {
  it('takes user:pass out of the server URL', () => {
    expect(natsConnectOptions('nats://alice:secret@host:4222')).toEqual({
      servers: ['nats://host:4222'],
      user: 'alice',
      pass: 'secret',
    });
  });

  it('takes a token (no colon) out of the server URL', () => {
    expect(natsConnectOptions('tls://s3cr3t@host:4443')).toEqual({ servers: ['tls://host:4443'], token: 's3cr3t' });
  });

  it('URL-decodes the credentials', () => {
    expect(natsConnectOptions('nats://al%40ice:p%3Ass%2Fw%25rd@host:4222')).toMatchObject({ user: 'al@ice', pass: 'p:ss/w%rd' });
    expect(natsConnectOptions('nats://t%3Aok@host')).toMatchObject({ token: 't:ok' });
  });

  it('splits on the last "@" of the authority only', () => {
    expect(natsConnectOptions('nats://alice:p@ss@host:4222')).toEqual({ servers: ['nats://host:4222'], user: 'alice', pass: 'p@ss' });
    expect(natsConnectOptions('nats://host:4222/x@y')).toEqual({ servers: ['nats://host:4222/x@y'] });
  });

  it('passes URLs without credentials through unchanged, as a trimmed server list', () => {
    expect(natsConnectOptions('nats://a:4222, tls://b:4443 ,c:4222')).toEqual({ servers: ['nats://a:4222', 'tls://b:4443', 'c:4222'] });
    expect(natsConnectOptions('nats://[::1]:4222')).toEqual({ servers: ['nats://[::1]:4222'] });
  });

  it('uses one identity for a server list; entries without credentials share it', () => {
    expect(natsConnectOptions('nats://alice:secret@a:4222,nats://alice:secret@b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      user: 'alice',
      pass: 'secret',
    });
    expect(natsConnectOptions('nats://tok@a:4222,nats://b:4222')).toEqual({ servers: ['nats://a:4222', 'nats://b:4222'], token: 'tok' });
  });

  it.each([
    ['nats://alice:one@a:4222,nats://alice:two@b:4222', '"nats://alice:***@a:4222" and "nats://alice:***@b:4222" carry different'],
    ['nats://alice:x@a:4222,nats://bob:x@b:4222', '"nats://alice:***@a:4222" and "nats://bob:***@b:4222" carry different'],
    ['nats://tok@a:4222,nats://alice:tok@b:4222', '"nats://***@a:4222" and "nats://alice:***@b:4222" carry different'],
  ])('refuses different credentials on different servers: %s', (url, reason) => {
    expect(() => natsConnectOptions(url)).toThrow(`NATS_URL: ${reason} credentials, but one connection has one identity`);
  });

  it('refuses a password without a user and a malformed escape, without showing the secret', () => {
    expect(parseNatsUrl('nats://:secret@a:4222')).toBe('"nats://:***@a:4222" has a password but no user name');
    expect(parseNatsUrl('nats://alice:%zz@a:4222')).toBe('"nats://alice:***@a:4222" has a malformed %-escape in its credentials');
    expect(() => natsConnectOptions('nats://alice:%zz@a:4222')).toThrow(/^NATS_URL: /);
  });

  it('redacts passwords and tokens for logs, keeping the user name', () => {
    expect(redactNatsUrl('nats://alice:secret@host:4222')).toBe('nats://alice:***@host:4222');
    expect(redactNatsUrl('nats://s3cr3t@host:4222')).toBe('nats://***@host:4222');
    expect(redactNatsUrl('nats://alice:p@ss@a:4222, tls://tok@b:4443,c:4222')).toBe('nats://alice:***@a:4222, tls://***@b:4443,c:4222');
    expect(redactNatsUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });
});
