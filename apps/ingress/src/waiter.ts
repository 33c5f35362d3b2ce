import type { ServerResponse } from 'node:http';
import type { HeaderList } from '#libs/upstream';
import type { Span } from '@opentelemetry/api';

/** How a waiter was answered, as recorded in request.completed events. */
export type AnswerPath = 'coalesced' | 'fallback' | 'passthrough';

/** One parked client request. */
export interface Waiter {
  res: ServerResponse;
  method: string;
  headers: HeaderList;
  scope: string;
  /** Forwarded request headers, for a direct call of its own if the shared answer may not be used. */
  forwardHeaders: HeaderList;
  arrivedAtMs: number;
  arrivedAtWallMs: number;
  deadlineMs: number;
  span: Span;
  done: boolean;
}

/** What a slot's waiters are answered with (from a worker, or from a direct call). */
export interface Answer {
  status: number;
  headers: HeaderList;
  body: Buffer;
  /** Scope of the request that produced it. */
  scope: string;
  private: boolean;
  /** Request header values the answer's Vary named, as that request had them. */
  vary: Array<[string, string]>;
}

/** A request's value for a header, repeated fields joined as one. */
export const varyOf = (headers: HeaderList, name: string): string =>
  headers
    .filter(([n]) => n === name)
    .map(([, v]) => v)
    .join(', ');

/**
 * May this answer be served to this waiter? Never across auth scopes when the
 * answer is private (Set-Cookie, Cache-Control private/no-store), and never to
 * a waiter whose headers differ from the producing request's on a header the
 * answer varies by ("*" varies by everything).
 */
export function servable(answer: Answer, waiter: Pick<Waiter, 'scope' | 'headers'>): boolean {
  if (answer.private && waiter.scope !== answer.scope) return false;
  for (const [name, value] of answer.vary) {
    if (name === '*') {
      if (waiter.scope !== answer.scope) return false;
      continue;
    }
    if (varyOf(waiter.headers, name) !== value) return false;
  }
  return true;
}

const DROP_ON_REPLY = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** Writes an answer straight to the socket (bypassing Fastify's reply pipeline on the hot path). */
export function writeAnswer(waiter: Waiter, status: number, headers: HeaderList, body: Buffer, path: AnswerPath): void {
  if (waiter.done) return;
  waiter.done = true;
  const res = waiter.res;
  if (res.headersSent || res.destroyed) return;
  const flat: string[] = [];
  for (const [name, value] of headers) {
    if (!DROP_ON_REPLY.has(name)) flat.push(name, value);
  }
  // HEAD keeps the origin's length; a GET body's length is what we send.
  const originLength = headers.find(([name]) => name === 'content-length')?.[1];
  flat.push('content-length', waiter.method === 'HEAD' ? (originLength ?? '0') : String(body.length), 'x-batchgate', path);
  res.writeHead(status, flat);
  res.end(waiter.method === 'HEAD' ? undefined : body);
}
