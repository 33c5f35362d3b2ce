import type { ServerResponse } from 'node:http';
import type { SetCookieSharing } from '#libs/config';
import type { HeaderList } from '#libs/upstream';
import type { Span, SpanContext } from '@opentelemetry/api';
import { BodyStream } from './body-stream.js';

/** How a waiter was answered, as recorded in request.completed events. */
export type AnswerPath = 'coalesced' | 'fallback' | 'passthrough' | 'shed';

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
  /** The whole body, or one that is still arriving (large or unknown-length answers). */
  body: Buffer | BodyStream;
  /** Scope of the request that produced it. */
  scope: string;
  private: boolean;
  /** Request header values the answer's Vary named, as that request had them. */
  vary: Array<[string, string]>;
  setsCookie: boolean;
  /** The waiter whose request the origin answered, when it is one of this ingress's waiters. */
  producer: Waiter | undefined;
  /** The span context the answer travelled in (the worker's call), when it came through the fleet. */
  origin?: SpanContext | undefined;
}

/** A request's value for a header, repeated fields joined as one. */
export const varyOf = (headers: HeaderList, name: string): string =>
  headers
    .filter(([n]) => n === name)
    .map(([, v]) => v)
    .join(', ');

/**
 * What a waiter gets of a slot's answer (DESIGN "Who may share an answer"):
 * serve     the answer as is
 * strip     the answer without its Set-Cookie fields (route setCookie: strip)
 * own-call  an origin call made with this waiter's own headers: the answer
 *           belongs to the request that produced it (Vary: *, or a cookie on
 *           a setCookie: own-call route)
 * regroup   a call shared with the waiters of its scope and vary values: the
 *           answer is private to another scope, or varies by a header whose
 *           value this waiter does not share
 */
export type ShareVerdict = 'serve' | 'strip' | 'own-call' | 'regroup';

export function shareVerdict(answer: Answer, waiter: Pick<Waiter, 'scope' | 'headers'>, setCookie: SetCookieSharing): ShareVerdict {
  if (answer.producer === waiter) return 'serve';
  // RFC 9110 §12.5.5: "*" signals that the answer depends on more than the request's header fields.
  if (answer.vary.some(([name]) => name === '*')) return 'own-call';
  if (answer.setsCookie && setCookie === 'own-call') return 'own-call';
  // A cookie marks the answer private too, so even "share" and "strip" never cross scopes.
  if (answer.private && waiter.scope !== answer.scope) return 'regroup';
  for (const [name, value] of answer.vary) {
    if (varyOf(waiter.headers, name) !== value) return 'regroup';
  }
  if (answer.setsCookie && setCookie === 'strip') return 'strip';
  return 'serve';
}

const COOKIE_FIELDS = new Set(['set-cookie', 'set-cookie2']);

/** Whether an origin answer sets a cookie. */
export const setsCookie = (headers: HeaderList): boolean => headers.some(([name]) => COOKIE_FIELDS.has(name));

/** The same answer, without the fields that set a cookie. */
export function withoutCookies(answer: Answer): Answer {
  return { ...answer, headers: answer.headers.filter(([name]) => !COOKIE_FIELDS.has(name)), setsCookie: false, producer: undefined };
}

const DROP_ON_REPLY = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** Writes an answer straight to the socket (bypassing Fastify's reply pipeline on the hot path). */
export function writeAnswer(waiter: Waiter, status: number, headers: HeaderList, body: Buffer | BodyStream, path: AnswerPath): void {
  if (waiter.done) return;
  waiter.done = true;
  const res = waiter.res;
  if (res.headersSent || res.destroyed) return;
  const flat: string[] = [];
  for (const [name, value] of headers) {
    if (!DROP_ON_REPLY.has(name)) flat.push(name, value);
  }
  // HEAD keeps the origin's length; a GET body's length is what we send (a streamed one's is the origin's, or chunked).
  const originLength = headers.find(([name]) => name === 'content-length')?.[1];
  const length = waiter.method === 'HEAD' ? (originLength ?? '0') : body instanceof BodyStream ? originLength : String(body.length);
  if (length !== undefined) flat.push('content-length', length);
  flat.push('x-batchgate', path);
  res.writeHead(status, flat);
  if (waiter.method === 'HEAD') res.end();
  else if (body instanceof BodyStream) body.attach(res);
  else res.end(body);
}
