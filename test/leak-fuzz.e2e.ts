import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from './support/client.js';
import { Agent } from 'undici';
import { warm } from './support/client.js';
import { PATIENT_POLICY, TestFleet } from './support/fleet.js';
import { laxResolve } from './support/lax-path.js';
import { intFromEnv } from './support/profile.js';
import { writeRoutes } from './support/routes.js';
import { seededRandom } from '#libs/policy';

// CI runs 10,000 requests; BATCHGATE_LEAK_FUZZ_REQUESTS=100000 is the long profile.
const REQUESTS = intFromEnv('BATCHGATE_LEAK_FUZZ_REQUESTS', 10_000);
// Sent in waves of this many at once (half to each ingress): all 10,000 at once would need
// 20,000 sockets in this one process, the box's open-file limit.
const WAVE = intFromEnv('BATCHGATE_LEAK_FUZZ_WAVE', 2_000);
const SEED = intFromEnv('BATCHGATE_LEAK_FUZZ_SEED', 12);

/** What the origin does on a path: by its second segment. */
const KINDS = ['star', 'lang', 'cookie', 'private', 'plain'] as const;
type Kind = (typeof KINDS)[number];

/** Route prefixes: `public` leaves the auth scope out of the key; `setCookie` as in the routes file. */
const PREFIXES = [
  { prefix: '/pub/', public: true, setCookie: 'own-call' },
  { prefix: '/acct/', public: false, setCookie: 'own-call' },
  { prefix: '/strip/', public: false, setCookie: 'strip' },
  { prefix: '/sharedcookie/', public: true, setCookie: 'share' },
] as const;

/** Targets an origin would resolve to a private /acct/ path; all but the last are refused. */
const TRICKS = [
  { target: '/pub/..%2Facct/plain/0', refused: true },
  { target: '/pub/..\\acct/plain/0', refused: true },
  { target: '/pub/..;/acct/plain/0', refused: true },
  { target: '/pub/..%5cacct/private/0', refused: true },
  { target: '/pub/%2e%2e/acct/plain/0', refused: false, resolved: '/acct/plain/0' },
];

const AUTHS = ['', 'Bearer alice', 'Bearer bob', 'Bearer carol'];
const COOKIES = ['', 'pref=a', 'pref=b'];
const LANGS = ['', 'en', 'fr', 'de'];

interface Sent {
  id: string;
  target: string;
  /** The path the origin must have answered (normalized), or undefined when a 400 is expected. */
  expected: string | undefined;
  kind: Kind | undefined;
  route: (typeof PREFIXES)[number] | undefined;
  auth: string;
  cookie: string;
  lang: string;
}

/** What the origin signed into the body: who it answered, for which request. */
interface Signed {
  call: number;
  for: string;
  auth: string;
  cookie: string;
  lang: string;
  path: string;
}

function plan(count: number, seed: number): Sent[] {
  const next = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const who = { id: `r${i}`, auth: pick(AUTHS), cookie: pick(COOKIES), lang: pick(LANGS) };
    if (next() < 0.05) {
      const trick = pick(TRICKS);
      return { ...who, target: trick.target, expected: trick.resolved, kind: trick.refused ? undefined : 'plain', route: PREFIXES[1] };
    }
    const route = pick(PREFIXES);
    const kind = pick(KINDS);
    const target = `${route.prefix}${kind}/${Math.floor(next() * 4)}`;
    return { ...who, target, expected: target, kind, route };
  });
}

const scopeOf = (who: { auth: string; cookie: string }) => `${who.auth}\u0000${who.cookie}`;

/** One connection per in-flight request of a wave. */
const fuzzAgent = new Agent({ connections: WAVE / 2, pipelining: 1, keepAliveTimeout: 30_000 });

describe(`leak fuzz: ${REQUESTS} mixed requests, ${WAVE} at a time, over 2 ingresses and 2 coordinators`, () => {
  let fleet: TestFleet;
  /** sid -> the request (x-fuzz-request) the origin issued it to. */
  const issued = new Map<string, Signed>();

  beforeAll(async () => {
    const routes = await writeRoutes([
      { name: 'pub', match: '/pub/', public: true },
      { name: 'strip', match: '/strip/', setCookie: 'strip' },
      { name: 'sharedcookie', match: '/sharedcookie/', public: true, setCookie: 'share' },
      { name: 'private', match: '/' },
    ]);
    fleet = await TestFleet.start({
      ingresses: 2,
      coordinators: 2,
      env: {
        ...PATIENT_POLICY,
        BATCHGATE_BATCH_TIMEOUT_MS: '25',
        BATCHGATE_ROUTES_FILE: routes,
        BATCHGATE_MAX_CONNECTIONS: String(WAVE),
        // Every service and the origin share this process: thousands of per-request calls
        // (Vary: *, Set-Cookie) queue here; the fuzz checks who gets what, not latency.
        BATCHGATE_UPSTREAM_CONNECTIONS: '128',
        BATCHGATE_UPSTREAM_TIMEOUT_MS: '60000',
        BATCHGATE_REQUEST_TIMEOUT_MS: '120000',
      },
    });
    fleet.origin.handle((req, res, _body, call) => sign(req, res, call));
    await Promise.all([warm(fleet.ingressUrl(0), 256), warm(fleet.ingressUrl(1), 256)]);
  });

  afterAll(async () => {
    await fuzzAgent.close();
    await fleet.stop();
  });

  /** Answers with the caller's identity, per path kind: Vary: *, Vary: accept-language, a fresh sid, private, or plain. */
  function sign(req: IncomingMessage, res: ServerResponse, call: number): void {
    // Resolved as a lenient origin would: a trick that got through would be answered for the private path.
    const path = laxResolve(req.url ?? '/');
    const signed: Signed = {
      call,
      for: String(req.headers['x-fuzz-request'] ?? ''),
      auth: req.headers.authorization ?? '',
      cookie: req.headers.cookie ?? '',
      lang: req.headers['accept-language'] ?? '',
      path,
    };
    const kind = path.split('/')[2] as Kind;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (kind === 'star') headers.vary = '*';
    if (kind === 'lang') headers.vary = 'Accept-Language';
    if (kind === 'private') headers['cache-control'] = 'private';
    if (kind === 'cookie') {
      const sid = `s${call}`;
      issued.set(sid, signed);
      headers['set-cookie'] = `sid=${sid}; Path=/; HttpOnly`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify(signed));
  }

  async function send(sent: Sent, i: number): Promise<Reply> {
    const headers: Record<string, string> = { 'x-fuzz-request': sent.id };
    if (sent.auth) headers.authorization = sent.auth;
    if (sent.cookie) headers.cookie = sent.cookie;
    if (sent.lang) headers['accept-language'] = sent.lang;
    // The target byte for byte: undici's request(url) would resolve the tricks first.
    const response = await fuzzAgent.request({ origin: fleet.ingressUrl(i % 2), path: sent.target, method: 'GET', headers });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  }

  /** Why this reply is one another identity or request should not have had, or undefined. */
  function leak(sent: Sent, reply: Reply): string | undefined {
    if (sent.expected === undefined) return reply.status === 400 ? undefined : `expected 400, got ${reply.status}`;
    if (reply.status !== 200) return `status ${reply.status} ${reply.body.slice(0, 120)}`;
    const signed = JSON.parse(reply.body) as Signed;
    const { kind, route } = sent;
    if (signed.path !== sent.expected) return `answer for path ${signed.path}`;
    const sameScope = scopeOf(signed) === scopeOf(sent);
    if (!route!.public && !sameScope) return 'answer for another scope on a private route';
    if ((kind === 'private' || kind === 'cookie') && !sameScope) return `${kind} answer crossed scopes`;
    if (kind === 'lang' && signed.lang !== sent.lang) return `answer for language "${signed.lang}"`;
    if (kind === 'star' && signed.for !== sent.id) return `Vary: * answer made for ${signed.for}`;
    if (kind === 'cookie') return cookieLeak(sent, reply, signed);
    return undefined;
  }

  function cookieLeak(sent: Sent, reply: Reply, signed: Signed): string | undefined {
    const cookie = reply.headers['set-cookie'];
    const sid = typeof cookie === 'string' ? /sid=([^;]+)/.exec(cookie)?.[1] : undefined;
    const setCookie = sent.route!.setCookie;
    if (sid === undefined) return setCookie === 'strip' ? undefined : 'no Set-Cookie';
    const owner = issued.get(sid);
    if (!owner) return `sid ${sid} the origin never issued`;
    if (setCookie === 'share') return scopeOf(owner) === scopeOf(sent) ? undefined : `shared sid ${sid} crossed scopes`;
    if (owner.for !== sent.id || signed.for !== sent.id) return `sid ${sid} issued to ${owner.for}`;
    return undefined;
  }

  it(
    'no answer reaches another identity, no Set-Cookie another request, and shareable paths are still coalesced',
    async () => {
      const sent = plan(REQUESTS, SEED);
      const replies: Reply[] = [];
      for (let from = 0; from < sent.length; from += WAVE) {
        const wave = sent.slice(from, from + WAVE);
        replies.push(...(await Promise.all(wave.map((request, i) => send(request, from + i)))));
      }

      const leaks = sent.flatMap((request, i) => {
        const why = leak(request, replies[i]!);
        return why ? [`${request.id} ${request.target} [${scopeOf(request)}|${request.lang}]: ${why}`] : [];
      });
      expect({ seed: SEED, leaks: leaks.length, first: leaks.slice(0, 5) }).toEqual({ seed: SEED, leaks: 0, first: [] });

      // Each unshared sid reached exactly one client: the one the origin answered.
      const received = replies
        .map((reply, i) => ({ sent: sent[i]!, cookie: reply.headers['set-cookie'] }))
        .filter(({ sent: s, cookie }) => typeof cookie === 'string' && s.route?.setCookie !== 'share')
        .map(({ cookie }) => /sid=([^;]+)/.exec(cookie as string)![1]);
      expect(received.length).toBeGreaterThan(0);
      expect(new Set(received).size).toBe(received.length);

      // Refused tricks never reached the origin.
      expect(fleet.origin.calls.filter((call) => /\\|%2f|%5c|;/i.test(call.url))).toEqual([]);

      // Sharing still happens where it may: every shareable kind, and most of all on public plain paths.
      const requestsTo = (pattern: RegExp) => sent.filter((s) => s.expected !== undefined && pattern.test(s.expected)).length;
      const callsTo = (pattern: RegExp) => fleet.origin.calls.filter((call) => pattern.test(call.url)).length;
      const shareable = /^\/[a-z]+\/(plain|lang)\//;
      const publicPlain = /^\/(pub|sharedcookie)\/plain\//;
      const sharing = {
        shareable: { requests: requestsTo(shareable), calls: callsTo(shareable) },
        publicPlain: { requests: requestsTo(publicPlain), calls: callsTo(publicPlain) },
      };
      expect(sharing.shareable.calls, JSON.stringify(sharing)).toBeLessThan(sharing.shareable.requests);
      expect(sharing.publicPlain.calls, JSON.stringify(sharing)).toBeLessThan(sharing.publicPlain.requests / 2);
    },
    60_000 + REQUESTS * 5,
  );
});
