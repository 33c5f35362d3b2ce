import { describe, expect, it } from 'vitest';
import { checkRequestTarget } from './request-target.js';

const check = (url: string, rawHeaders: string[] = ['Host', 'gw.example'], publicAuthorities: string[] = [], httpVersion = '1.1') =>
  checkRequestTarget({ url, httpVersion, rawHeaders, publicAuthorities });

describe('checkRequestTarget', () => {
  it('passes origin-form targets as they are', () => {
    expect(check('/a/b?q=1')).toEqual({ ok: true, target: '/a/b?q=1', host: 'gw.example' });
  });

  it('rewrites absolute-form for the gateway own authority to origin-form', () => {
    expect(check('http://gw.example/abs?q=1')).toEqual({ ok: true, target: '/abs?q=1', host: 'gw.example' });
    expect(check('HTTP://GW.example:80?q=1')).toMatchObject({ ok: true, target: '/?q=1' });
    expect(check('http://public.example:8443/x', ['Host', 'internal'], ['public.example:8443'])).toMatchObject({ ok: true, target: '/x' });
  });

  it('refuses absolute-form for another authority', () => {
    expect(check('http://evil.example/abs?q=1')).toMatchObject({ ok: false, status: 400, error: 'foreign_authority' });
    expect(check('http://user@gw.example/x')).toMatchObject({ ok: false, error: 'invalid_target' });
  });

  it('refuses other target forms', () => {
    expect(check('*')).toMatchObject({ ok: false, error: 'invalid_target' });
    expect(check('ftp://gw.example/x')).toMatchObject({ ok: false, error: 'invalid_target' });
    expect(check('gw.example:80')).toMatchObject({ ok: false, error: 'invalid_target' });
  });

  it('refuses a duplicate Host and a missing one on HTTP/1.1', () => {
    expect(check('/x', ['Host', 'a', 'host', 'a'])).toMatchObject({ ok: false, error: 'duplicate_host' });
    expect(check('/x', [])).toMatchObject({ ok: false, error: 'missing_host' });
    expect(check('/x', [], [], '1.0')).toMatchObject({ ok: true, target: '/x', host: undefined });
  });
});
