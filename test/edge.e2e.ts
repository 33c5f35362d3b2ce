import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { burstAgent, get } from './support/client.js';
import { TestFleet } from './support/fleet.js';
import { rawExchange, statuses, until } from './support/raw-client.js';

/** Regression tests for the gateway port's protocol handling (issue 12, items 4-9). */
let fleet: TestFleet;
let port: number;
const host = () => `127.0.0.1:${port}`;

beforeAll(async () => {
  fleet = await TestFleet.start();
  port = Number(new URL(fleet.ingressUrl()).port);
});

afterEach(() => fleet.origin.handle(undefined));
afterAll(() => fleet.stop());

describe('the gateway port proxies every path', () => {
  it.each(['/metrics', '/healthz', '/readyz', '/admin/policy/routes'])('%s reaches the origin, not batchgate', async (path) => {
    const reply = await get(`${fleet.ingressUrl()}${path}`, { 'cache-control': 'no-cache' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ url: path });
    expect(fleet.origin.callsTo(path).length).toBeGreaterThanOrEqual(1);
  });

  it('health, readiness and metrics are on the operator port', async () => {
    expect((await get(`${fleet.ingressOpsUrl()}/healthz`)).status).toBe(200);
    expect((await get(`${fleet.ingressOpsUrl()}/readyz`)).status).toBe(200);
    expect((await get(`${fleet.ingressOpsUrl()}/metrics`)).body).toMatch(/^# TYPE batchgate_ingress_requests_total counter/m);
  });
});

describe('methods', () => {
  it.each(['PROPFIND', 'PURGE', 'QUERY', 'MKCALENDAR', 'LINK', 'REPORT'])('%s passes through to the origin', async (method) => {
    const path = `/method/${method.toLowerCase()}`;
    const response = await request(`${fleet.ingressUrl()}${path}`, { method, body: 'x', dispatcher: burstAgent });
    await response.body.text();
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-batchgate']).toBe('passthrough');
    expect(fleet.origin.callsTo(path).map((call) => call.method)).toEqual([method]);
  });

  it('TRACE is refused with 405 on purpose and never reaches the origin', async () => {
    const reply = await get(`${fleet.ingressUrl()}/trace-me`, {}, 'TRACE');
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toMatch(/except TRACE and CONNECT/);
    expect(JSON.parse(reply.body)).toMatchObject({ error: 'method_not_allowed' });
    expect(fleet.origin.callsTo('/trace-me')).toHaveLength(0);
  });

  it('CONNECT is answered 405 on the socket, not dropped', async () => {
    const seen = await rawExchange(port, [`CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`]);
    expect(seen.ending).toBe('end');
    expect(statuses(seen.text)).toEqual([405]);
    expect(seen.text).toMatch(/"error":"method_not_allowed"/);
  });

  it('a token method the parser does not know gets 501 with a reason, not a dropped socket', async () => {
    const seen = await rawExchange(port, [`BREW /pot HTTP/1.1\r\nHost: ${host()}\r\n\r\n`]);
    expect(seen.ending).toBe('end');
    expect(statuses(seen.text)).toEqual([501]);
    expect(seen.text).toMatch(/"error":"unknown_method"/);
  });

  it('a malformed request gets 400 with a reason even on a connection that already served one', async () => {
    const seen = await rawExchange(port, [
      `GET /first HTTP/1.1\r\nHost: ${host()}\r\ncache-control: no-cache\r\n\r\n`,
      async (_socket, received) => until(received, /\{"call"/),
      `GET /second HTTP/1.1\r\nHost: ${host()}\r\nBad Header: x\r\n\r\n`,
    ]);
    expect(statuses(seen.text)).toEqual([200, 400]);
    expect(seen.text).toMatch(/"error":"malformed_request"/);
  });
});

describe('request targets and Host', () => {
  it('absolute-form for another authority is refused with 400 and reaches nothing', async () => {
    for (const method of ['GET', 'POST']) {
      const body = method === 'POST' ? 'content-length: 1\r\n\r\nx' : '\r\n';
      const seen = await rawExchange(port, [`${method} http://evil.example/abs?q=1 HTTP/1.1\r\nHost: ${host()}\r\n${body}`]);
      expect(statuses(seen.text)).toEqual([400]);
      expect(seen.text).toMatch(/"error":"foreign_authority"/);
    }
    expect(fleet.origin.calls.filter((call) => call.url.includes('abs') || call.url.includes('evil'))).toEqual([]);
  });

  it('absolute-form for the gateway own authority is rewritten to origin-form', async () => {
    const seen = await rawExchange(
      port,
      [`POST http://${host()}/own-abs?q=1 HTTP/1.1\r\nHost: ${host()}\r\ncontent-length: 2\r\n\r\nhi`],
      1000,
    );
    expect(statuses(seen.text)).toEqual([200]);
    expect(fleet.origin.callsTo('/own-abs').map((call) => [call.url, call.body.toString()])).toEqual([['/own-abs?q=1', 'hi']]);
  });

  it('a duplicate Host or a missing one on HTTP/1.1 is a 400', async () => {
    const duplicate = await rawExchange(port, [`GET /dup-host HTTP/1.1\r\nHost: ${host()}\r\nHost: other.example\r\n\r\n`]);
    expect(statuses(duplicate.text)).toEqual([400]);
    expect(duplicate.text).toMatch(/"error":"duplicate_host"/);
    const missing = await rawExchange(port, [`GET /no-host HTTP/1.1\r\n\r\n`]);
    expect(statuses(missing.text)).toEqual([400]);
    expect(fleet.origin.callsTo('/dup-host').concat(fleet.origin.callsTo('/no-host'))).toEqual([]);
  });
});

describe('Expect: 100-continue', () => {
  it('a 2 MB pass-through upload sent after 100 Continue reaches the origin whole', async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const seen = await rawExchange(
      port,
      [
        `POST /upload HTTP/1.1\r\nHost: ${host()}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`,
        async (socket, received) => {
          await until(received, /HTTP\/1\.1 100 Continue/);
          socket.write(body);
          await until(received, /\{"call".*\}/s, 10_000);
        },
      ],
      200,
    );
    expect(statuses(seen.text)).toEqual([100, 200]);
    const calls = fleet.origin.callsTo('/upload');
    expect(calls).toHaveLength(1);
    expect(createHash('sha256').update(calls[0]!.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
  });
});

describe('slow clients', () => {
  let slowPort: number;

  beforeAll(async () => {
    const app = await fleet.addIngress({
      BATCHGATE_HEADER_TIMEOUT_MS: '1000',
      BATCHGATE_BODY_TIMEOUT_MS: '1000',
      BATCHGATE_BODY_MIN_BYTES_PER_S: '100',
    });
    slowPort = Number(new URL(fleet.ingressUrl(fleet.ingresses.indexOf(app))).port);
  });

  const dribble = (text: string, everyMs: number) => async (socket: Socket) => {
    for (const char of text) {
      if (socket.destroyed || socket.readableEnded) return;
      socket.write(char);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  };

  it('a pass-through body at 1 byte/s is answered 408 and its socket closed', async () => {
    const started = Date.now();
    const seen = await rawExchange(
      slowPort,
      [`POST /slow-body HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 100\r\n\r\n`, dribble('x'.repeat(100), 1000)],
      1000,
    );
    expect(statuses(seen.text)).toEqual([408]);
    expect(seen.text).toMatch(/"error":"body_too_slow"/);
    expect(seen.ending).not.toBe('open');
    // Far from the 100 s the body would take: the configured 1 s window plus one sweep and slack.
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('headers that trickle in are answered 408 after the header timeout', async () => {
    const seen = await rawExchange(
      slowPort,
      [dribble(`GET /slow-head HTTP/1.1\r\nHost: 127.0.0.1\r\nx-pad: ${'y'.repeat(60)}\r\n\r\n`, 100)],
      1000,
    );
    expect(statuses(seen.text)).toEqual([408]);
    expect(seen.ending).not.toBe('open');
    expect(fleet.origin.callsTo('/slow-head')).toHaveLength(0);
  });
});

describe('Upgrade', () => {
  let plain: Server;
  const seenByPlain: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
  let plainIngressPort: number;

  beforeAll(async () => {
    // An origin that ignores Upgrade (no 'upgrade' listener): it answers 200 and keeps parsing the connection.
    plain = createServer((req, res) => {
      seenByPlain.push({ url: req.url ?? '', headers: req.headers });
      req.resume();
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const app = await fleet.addIngress({
      BATCHGATE_UPSTREAM: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`,
      BATCHGATE_TUNNEL_IDLE_MS: '500',
    });
    plainIngressPort = Number(new URL(fleet.ingressUrl(fleet.ingresses.indexOf(app))).port);
  });

  afterAll(async () => {
    plain.closeAllConnections();
    await new Promise((resolve) => plain.close(resolve));
  });

  it('an origin answering 200 to an Upgrade opens no tunnel: a second request on the socket never reaches it unclassified', async () => {
    const seen = await rawExchange(
      plainIngressPort,
      [
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
        async (_socket, received) => until(received, /"url":"\/ws"/),
        `GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`,
      ],
      1000,
    );
    expect(statuses(seen.text)[0]).toBe(200);
    expect(seen.text).toMatch(/"url":"\/ws"/);
    const smuggled = seenByPlain.filter((call) => call.url === '/smuggled');
    // Either the connection was closed after the answer, or the request was handled as a normal gateway request.
    for (const call of smuggled) expect(call.headers.via).toMatch(/batchgate/);
    expect(seen.ending).not.toBe('open');
  });

  it('an idle tunnel is closed after the configured idle time', async () => {
    const app = await fleet.addIngress({ BATCHGATE_TUNNEL_IDLE_MS: '500' });
    const tunnelPort = Number(new URL(fleet.ingressUrl(fleet.ingresses.indexOf(app))).port);
    fleet.origin.onUpgrade((req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\n\r\n`);
    });
    const started = Date.now();
    const seen = await rawExchange(
      tunnelPort,
      [`GET /idle-socket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`],
      5000,
    );
    expect(statuses(seen.text)).toEqual([101]);
    expect(seen.ending).not.toBe('open');
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe('shutdown', () => {
  it('closing an ingress closes both its gateway and its operator port, after answering the request in flight', async () => {
    const app = await fleet.addIngress();
    const index = fleet.ingresses.indexOf(app);
    const gateway = fleet.ingressUrl(index);
    const operator = fleet.ingressOpsUrl(index);
    fleet.origin.handle(async (_req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      res.end('late but answered');
    });
    const inFlight = get(`${gateway}/closing`, { 'cache-control': 'no-cache' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await app.close();
    fleet.ingresses.splice(index, 1);
    expect((await inFlight).body).toBe('late but answered');
    const refused = async (url: string) =>
      fetch(url).then(
        () => 'answered',
        (error: { cause?: { code?: string } }) => error.cause?.code,
      );
    expect(await refused(`${gateway}/after-close`)).toBe('ECONNREFUSED');
    expect(await refused(`${operator}/healthz`)).toBe('ECONNREFUSED');
  });
});
