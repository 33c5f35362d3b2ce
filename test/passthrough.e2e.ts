import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstAgent, get } from './support/client.js';
import { TestFleet } from './support/fleet.js';

describe('pass-through', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await TestFleet.start({ env: { BATCHGATE_POLICY_STRATEGY: 'size_cap:size=100000', BATCHGATE_BATCH_TIMEOUT_MS: '200' } });
    fleet.origin.handle((req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-method': req.method ?? '' });
      res.end(body.length > 0 ? createHash('sha256').update(body).digest('hex') : `${req.method} no body`);
    });
  });

  afterAll(() => fleet.stop());

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s goes to the origin once per request with its body streamed', async (method) => {
    const payload = randomBytes(256 * 1024);
    const before = fleet.origin.calls.length;
    const replies = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const response = await request(`${fleet.ingressUrl()}/write/${method}`, {
          method: method as 'POST',
          body: Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]),
          dispatcher: burstAgent,
        });
        return { status: response.statusCode, body: await response.body.text(), via: response.headers['x-batchgate'] };
      }),
    );
    expect(fleet.origin.calls.length - before).toBe(5);
    const digest = createHash('sha256').update(payload).digest('hex');
    for (const reply of replies) expect(reply).toEqual({ status: 201, body: digest, via: 'passthrough' });
    expect(fleet.origin.callsTo(`/write/${method}`).every((call) => call.body.equals(payload))).toBe(true);
  });

  it('GET with Cache-Control: no-cache is never coalesced', async () => {
    const replies = await Promise.all(Array.from({ length: 5 }, () => get(`${fleet.ingressUrl()}/fresh`, { 'cache-control': 'no-cache' })));
    expect(fleet.origin.callsTo('/fresh')).toHaveLength(5);
    expect(replies.every((r) => r.headers['x-batchgate'] === 'passthrough')).toBe(true);
  });

  it('Range requests pass through', async () => {
    await Promise.all(Array.from({ length: 3 }, () => get(`${fleet.ingressUrl()}/ranged`, { range: 'bytes=0-9' })));
    expect(fleet.origin.callsTo('/ranged')).toHaveLength(3);
  });

  it('tunnels an Upgrade (WebSocket-style) request to the origin and copies bytes both ways', async () => {
    fleet.origin.onUpgrade((req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\n\r\n`);
      socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
      socket.on('end', () => socket.end());
    });
    const { port } = new URL(fleet.ingressUrl());
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /socket HTTP/1.1\r\nhost: gateway\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n');
    const until = Date.now() + 5000;
    while (!Buffer.concat(received).toString().includes('\r\n\r\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1.1 101 Switching Protocols/);
    received.length = 0;
    socket.write('ping');
    while (Buffer.concat(received).toString() !== 'echo:ping' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(received).toString()).toBe('echo:ping');
    socket.destroy();
    const upgraded = fleet.origin.callsTo('/socket');
    expect(upgraded).toHaveLength(1);
    expect(upgraded[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('streams a large response body back to the client', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(big);
    });
    const response = await request(`${fleet.ingressUrl()}/download`, { method: 'POST', body: 'x', dispatcher: burstAgent });
    const received = Buffer.from(await response.body.arrayBuffer());
    expect(received.equals(big)).toBe(true);
  });

  it('an origin that dies mid-body leaves the client with an error, never a short body presented as complete', async () => {
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(64 * 1024, 'a'));
      setTimeout(() => res.socket?.destroy(), 50);
    });
    try {
      const response = await request(`${fleet.ingressUrl()}/cut`, { method: 'POST', body: 'x', dispatcher: burstAgent });
      expect(response.statusCode).toBe(200);
      await expect(response.body.arrayBuffer()).rejects.toThrow();
    } finally {
      fleet.origin.handle(undefined);
    }
  });

  it('a client that hangs up mid-body makes the gateway drop its origin call', async () => {
    let originClosed!: () => void;
    const closed = new Promise<void>((resolve) => (originClosed = resolve));
    fleet.origin.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 'b')), 10);
      res.once('close', () => {
        clearInterval(timer);
        originClosed();
      });
    });
    try {
      const response = await request(`${fleet.ingressUrl()}/endless`, { method: 'POST', body: 'x', dispatcher: burstAgent });
      await new Promise((resolve) => response.body.once('data', resolve));
      response.body.destroy();
      await closed;
    } finally {
      fleet.origin.handle(undefined);
    }
  });
});
