import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InfraProcess } from '#infra';
import { startNats } from '#infra';
import { Bus } from '#libs/nats';
import { DecideReplySchema, DecideRequestSchema } from '#libs/contracts';

// NATS servers that demand a user and password, or a token: the credentials in
// NATS_URL are what the bus logs in with (nats.js itself ignores a URL's userinfo).
describe('NATS_URL credentials against servers with authorization', () => {
  let withPassword: InfraProcess;
  let withToken: InfraProcess;
  const lines: string[] = [];
  const logger = {
    info: (o: object, msg?: string) => lines.push(`${JSON.stringify(o)} ${msg ?? ''}`),
    warn: (o: object, msg?: string) => lines.push(`${JSON.stringify(o)} ${msg ?? ''}`),
    error: () => undefined,
  };
  const withUserinfo = (nats: InfraProcess, userinfo: string) => nats.url.replace('nats://', `nats://${userinfo}@`);

  /** A request/reply round trip over the bus: proof it is logged in. */
  async function roundTrip(bus: Bus): Promise<number> {
    const stop = bus.subscribe('auth.echo', DecideRequestSchema, (request, incoming) => {
      incoming.respond(DecideReplySchema, { decisionUs: request.slots?.size.length ?? -1 });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reply = await bus.request('auth.echo', DecideRequestSchema, { slots: { size: [1, 2, 3] } }, DecideReplySchema, 2000);
    stop();
    return reply.decisionUs;
  }

  beforeAll(async () => {
    [withPassword, withToken] = await Promise.all([
      startNats({ args: ['--user', 'alice', '--pass', 's3cr/t:x'] }),
      startNats({ args: ['--auth', 'tok3n'] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([withPassword.dispose(), withToken.dispose()]);
  });

  it('connects with the URL-encoded user and password and serves a request; the password is never logged', async () => {
    lines.length = 0;
    const bus = await Bus.connect({ url: withUserinfo(withPassword, `alice:${encodeURIComponent('s3cr/t:x')}`), name: 'auth-ok', logger });
    try {
      expect(bus.connected).toBe(true);
      expect(await roundTrip(bus)).toBe(3);
    } finally {
      await bus.close();
    }
    expect(lines.join('\n')).toContain('alice:***@');
    expect(lines.join('\n')).not.toContain('s3cr');
  });

  it('connects with a token', async () => {
    const bus = await Bus.connect({ url: withUserinfo(withToken, 'tok3n'), name: 'auth-token', logger });
    try {
      expect(bus.connected).toBe(true);
      expect(await roundTrip(bus)).toBe(3);
    } finally {
      await bus.close();
    }
  });

  it('a wrong password does not connect, and the warning shows the URL redacted', async () => {
    lines.length = 0;
    const bus = await Bus.connect({ url: withUserinfo(withPassword, 'alice:wrong'), name: 'auth-bad', logger, connectTimeoutMs: 1000 });
    try {
      expect(bus.connected).toBe(false);
    } finally {
      await bus.close();
    }
    expect(lines.join('\n')).toMatch(/alice:\*\*\*@.*NATS not reachable/);
    expect(lines.join('\n')).not.toContain('wrong');
  });

  it('different credentials per server are refused at once instead of retried forever', async () => {
    const url = `${withUserinfo(withPassword, 'alice:one')},${withUserinfo(withToken, 'bob:two')}`;
    await expect(Bus.connect({ url, name: 'auth-mixed', logger })).rejects.toThrow(/^NATS_URL: .*carry different credentials/);
  });
});
