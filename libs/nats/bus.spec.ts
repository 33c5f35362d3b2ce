import type * as Transport from '@nats-io/transport-node';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bus } from './bus.js';

// connect() is replaced, so nothing is dialled: these tests only see what the bus would hand to nats.js.
const connect = vi.hoisted(() => vi.fn<(options: ConnectionOptions) => Promise<never>>());
vi.mock('@nats-io/transport-node', async (importOriginal) => ({
  ...(await importOriginal<typeof Transport>()),
  connect,
}));

function recordingLogger() {
  const lines: Array<{ obj: object; msg?: string }> = [];
  const log = (obj: object, msg?: string) => void lines.push({ obj, msg });
  return { lines, logger: { info: log, warn: log, error: log } };
}

describe('Bus credentials', () => {
  const buses: Bus[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    connect.mockReset();
  });

  it('connects with the credentials taken out of NATS_URL and logs the URL redacted', async () => {
    connect.mockRejectedValue(new Error('connection refused'));
    const { lines, logger } = recordingLogger();
    buses.push(await Bus.connect({ url: 'nats://alice:secret@a:4222, nats://b:4222', name: 'test', logger }));

    expect(connect).toHaveBeenCalledTimes(1);
    expect(connect.mock.calls[0]![0]).toMatchObject({ servers: ['nats://a:4222', 'nats://b:4222'], user: 'alice', pass: 'secret' });
    expect(connect.mock.calls[0]![0]).not.toHaveProperty('token');
    expect(lines).toEqual([
      {
        obj: expect.objectContaining({ url: 'nats://alice:***@a:4222, nats://b:4222' }),
        msg: expect.stringContaining('NATS not reachable'),
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('passes a token, and nothing when the URL has no credentials', async () => {
    connect.mockRejectedValue(new Error('connection refused'));
    const { logger } = recordingLogger();
    buses.push(await Bus.connect({ url: 'nats://s3cr3t@a:4222', name: 'test', logger }));
    buses.push(await Bus.connect({ url: 'nats://a:4222', name: 'test', logger }));
    expect(connect.mock.calls[0]![0]).toMatchObject({ servers: ['nats://a:4222'], token: 's3cr3t' });
    expect(connect.mock.calls[1]![0]).toMatchObject({ servers: ['nats://a:4222'] });
    expect(Object.keys(connect.mock.calls[1]![0]).filter((key) => ['user', 'pass', 'token'].includes(key))).toEqual([]);
  });

  it('refuses different credentials per server at once instead of retrying forever', async () => {
    const { logger } = recordingLogger();
    await expect(Bus.connect({ url: 'nats://alice:one@a:4222,nats://bob:two@b:4222', name: 'test', logger })).rejects.toThrow(
      /^NATS_URL: .*carry different credentials/,
    );
    expect(connect).not.toHaveBeenCalled();
  });
});
