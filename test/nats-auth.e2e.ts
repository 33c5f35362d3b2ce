import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfraProcess } from '#infra';
import { startNats } from '#infra';
import { Bus } from '#libs/nats';
import { DecideReplySchema, DecideRequestSchema } from '#libs/contracts';

// A NATS server that demands a user and password: the credentials in NATS_URL
// are what the bus logs in with (nats.js itself ignores a URL's userinfo).
describe('NATS_URL credentials against a server with authorization', () => {
  let nats: InfraProcess;
  const lines: string[] = [];
  const logger = {
    info: (o: object) => lines.push(JSON.stringify(o)),
    warn: (o: object) => lines.push(JSON.stringify(o)),
    error: () => undefined,
  };
  const withUserinfo = (userinfo: string) => nats.url.replace('nats://', `nats://${userinfo}@`);

  beforeAll(async () => {
    nats = await startNats({ args: ['--user', 'alice', '--pass', 's3cr/t:x'] });
  });
  afterAll(async () => {
    await nats.dispose();
  });

  it('connects with the URL-encoded user and password and serves a request; the password is never logged', async () => {
    const bus = await Bus.connect({ url: withUserinfo(`alice:${encodeURIComponent('s3cr/t:x')}`), name: 'auth-ok', logger });
    try {
      expect(bus.connected).toBe(true);
      const stop = bus.subscribe('auth.echo', DecideRequestSchema, (request, incoming) => {
        incoming.respond(DecideReplySchema, { decisionUs: request.slots?.size.length ?? -1 });
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const reply = await bus.request('auth.echo', DecideRequestSchema, { slots: { size: [1, 2, 3] } }, DecideReplySchema, 2000);
      expect(reply.decisionUs).toBe(3);
      stop();
    } finally {
      await bus.close();
    }
    expect(lines.join('\n')).not.toContain('s3cr');
  });

  it('a wrong password does not connect', async () => {
    const bus = await Bus.connect({ url: withUserinfo('alice:wrong'), name: 'auth-bad', logger, connectTimeoutMs: 1000 });
    try {
      expect(bus.connected).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
