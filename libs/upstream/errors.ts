/**
 * expired: the slot's deadline passed before the call was made (no waiter left);
 * unknown_origin: the task named an origin id the worker has not configured.
 */
export type UpstreamErrorKind = 'timeout' | 'expired' | 'unreachable' | 'too_large' | 'protocol' | 'unknown_origin';

/** A failed upstream call, with the status every waiter of the call answers with. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  get status(): number {
    return this.kind === 'timeout' || this.kind === 'expired' ? 504 : 502;
  }
}

/** The same clear JSON answer for every waiter of a failed call. */
export function errorAnswer(error: UpstreamError): { status: number; headers: Array<[string, string]>; body: Buffer } {
  const body = Buffer.from(JSON.stringify({ error: `upstream_${error.kind}`, message: error.message }));
  return {
    status: error.status,
    headers: [
      ['content-type', 'application/json'],
      ['cache-control', 'no-store'],
    ],
    body,
  };
}
