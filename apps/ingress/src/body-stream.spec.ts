import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BodyStream } from './body-stream.js';

/** A socket-less response: records what was written; `unsent` is how much its client has not read yet. */
function sink(unsentPerWrite = 0) {
  const written: Buffer[] = [];
  const res = {
    written,
    ended: false,
    destroyed: false,
    writableLength: 0,
    write(piece: Buffer) {
      written.push(piece);
      res.writableLength += unsentPerWrite === 0 ? 0 : piece.length;
      return true;
    },
    end() {
      res.ended = true;
    },
    destroy() {
      res.destroyed = true;
    },
    once: () => res,
  };
  return res as typeof res & ServerResponse;
}

const LIMITS = { maxUnsentBytes: 10, idleMs: 60_000 };
const text = (res: { written: Buffer[] }) => Buffer.concat(res.written).toString();

describe('BodyStream', () => {
  it('gives a waiter attached after some pieces the whole body, then the rest as it comes, and ends it', () => {
    const body = new BodyStream(LIMITS);
    body.push(Buffer.from('ab'));
    const early = sink();
    body.attach(early);
    body.push(Buffer.from('cd'));
    const late = sink();
    body.attach(late);
    body.push(Buffer.from('e'));
    body.end();
    for (const res of [early, late]) {
      expect(text(res)).toBe('abcde');
      expect(res.ended).toBe(true);
      expect(res.destroyed).toBe(false);
    }
  });

  it('destroys every waiter of a cut body, including one attached after the cut', async () => {
    const body = new BodyStream(LIMITS);
    const attached = sink();
    body.attach(attached);
    body.push(Buffer.from('ab'));
    body.fail('origin aborted');
    const after = sink();
    body.attach(after);
    expect(attached.destroyed).toBe(true);
    expect(attached.ended).toBe(false);
    expect(after.destroyed).toBe(true);
    expect(after.written).toEqual([]);
    await expect(body.done).resolves.toEqual({ ok: false, bytes: 2, reason: 'origin aborted' });
  });

  it('drops a client that leaves more than the bound unsent, and keeps serving the others', () => {
    const body = new BodyStream(LIMITS);
    const slow = sink(1);
    const fast = sink();
    body.attach(slow);
    body.attach(fast);
    body.push(Buffer.alloc(6, 'x'));
    body.push(Buffer.alloc(6, 'y'));
    body.push(Buffer.alloc(6, 'z'));
    body.end();
    expect(slow.destroyed).toBe(true);
    expect(slow.written).toHaveLength(2);
    expect(text(fast)).toBe('xxxxxxyyyyyyzzzzzz');
    expect(fast.ended).toBe(true);
  });

  it('keeps no pieces once sealed: a waiter attached after that gets only what comes next', async () => {
    const body = new BodyStream(LIMITS);
    body.push(Buffer.from('ab'));
    body.seal();
    const res = sink();
    body.attach(res);
    body.push(Buffer.from('c'));
    body.end();
    expect(text(res)).toBe('c');
    await expect(body.done).resolves.toEqual({ ok: true, bytes: 3 });
  });
});
