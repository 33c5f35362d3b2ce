import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** What a raw-socket client saw: every byte the server sent, and how the connection ended. */
export interface RawExchange {
  text: string;
  /** "end": the server closed cleanly (FIN); "reset": ECONNRESET or another socket error; "open": still open at the deadline. */
  ending: 'end' | 'reset' | 'open';
  error: string | undefined;
}

/**
 * A client that writes exactly the bytes given, for the cases a well-behaved
 * HTTP client cannot produce (absolute-form, duplicate Host, CONNECT, unknown
 * methods, bytes after an upgrade request, slow bodies). `steps` run in order
 * once connected; each gets the socket and the text received so far.
 */
export async function rawExchange(
  port: number,
  steps: Array<string | ((socket: Socket, received: () => string) => Promise<void>)>,
  untilMs = 5000,
): Promise<RawExchange> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let error: string | undefined;
  const ended = new Promise<'end' | 'reset'>((resolve) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve('end'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      resolve('reset');
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received = () => Buffer.concat(chunks).toString('latin1');
  for (const step of steps) {
    if (socket.destroyed) break;
    if (typeof step === 'string') socket.write(step);
    else await step(socket, received);
  }
  let timer: NodeJS.Timeout | undefined;
  const ending = await Promise.race([ended, new Promise<'open'>((resolve) => (timer = setTimeout(() => resolve('open'), untilMs)))]);
  clearTimeout(timer);
  socket.destroy();
  return { text: received(), ending, error };
}

/** Waits until the received text matches `pattern` (or `timeoutMs` passes). */
export async function until(received: () => string, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(received()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** The status code of each response head in `text`, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}
