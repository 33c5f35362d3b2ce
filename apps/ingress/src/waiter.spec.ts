import { describe, expect, it } from 'vitest';
import type { Answer, Waiter } from './waiter.js';
import { shareVerdict, withoutCookies } from './waiter.js';

type Asker = Pick<Waiter, 'scope' | 'headers'>;

const alice: Asker = { scope: 'anon', headers: [['accept-language', 'en']] };
const bob: Asker = { scope: 'anon', headers: [['accept-language', 'fr']] };
const carol: Asker = { scope: 'carol', headers: [['accept-language', 'en']] };

function answer(fields: Partial<Answer> = {}): Answer {
  return {
    status: 200,
    headers: [],
    body: Buffer.alloc(0),
    scope: 'anon',
    private: false,
    vary: [],
    setsCookie: false,
    producer: undefined,
    ...fields,
  };
}

const cookie = (producer: Asker) =>
  answer({ headers: [['set-cookie', 'sid=1']], private: true, setsCookie: true, producer: producer as Waiter });

describe('shareVerdict', () => {
  it('serves a plain answer to every waiter of the slot', () => {
    expect(shareVerdict(answer(), bob, 'own-call')).toBe('serve');
  });

  it('Vary: * is served only to the request that produced it', () => {
    const star = answer({ vary: [['*', '']], producer: alice as Waiter });
    expect(shareVerdict(star, alice, 'own-call')).toBe('serve');
    expect(shareVerdict(star, { ...alice }, 'share')).toBe('own-call'); // same headers, another request
    expect(shareVerdict(answer({ vary: [['*', '']] }), alice, 'share')).toBe('own-call'); // producer on another ingress
  });

  it('a cookie goes to its producer; the others get their own call, the answer without it, or it as is', () => {
    expect(shareVerdict(cookie(alice), alice, 'own-call')).toBe('serve');
    expect(shareVerdict(cookie(alice), { ...alice }, 'own-call')).toBe('own-call');
    expect(shareVerdict(cookie(alice), { ...alice }, 'strip')).toBe('strip');
    expect(shareVerdict(cookie(alice), { ...alice }, 'share')).toBe('serve');
  });

  it('a cookie never crosses auth scopes, whatever the route says', () => {
    expect(shareVerdict(cookie(alice), carol, 'share')).toBe('regroup');
    expect(shareVerdict(cookie(alice), carol, 'strip')).toBe('regroup');
  });

  it('private answers stay in their scope; Vary names must match', () => {
    expect(shareVerdict(answer({ private: true }), carol, 'own-call')).toBe('regroup');
    expect(shareVerdict(answer({ private: true }), bob, 'own-call')).toBe('serve');
    const byLanguage = answer({ vary: [['accept-language', 'en']] });
    expect(shareVerdict(byLanguage, bob, 'own-call')).toBe('regroup');
    expect(shareVerdict(byLanguage, carol, 'own-call')).toBe('serve');
  });
});

describe('withoutCookies', () => {
  it('drops Set-Cookie fields and keeps the rest', () => {
    const stripped = withoutCookies(
      answer({
        headers: [
          ['content-type', 'text/plain'],
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2'],
        ],
        setsCookie: true,
        private: true,
      }),
    );
    expect(stripped.headers).toEqual([['content-type', 'text/plain']]);
    expect(stripped.setsCookie).toBe(false);
  });
});
