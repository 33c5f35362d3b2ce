import { Agent, request } from 'undici';

/** A client with enough connections for a burst to arrive concurrently. */
export const burstAgent = new Agent({ connections: 512, pipelining: 1, keepAliveTimeout: 30_000 });

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const response = await request(url, { method: method as 'GET', headers, dispatcher: burstAgent });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

/** `count` concurrent requests, after warming that many keep-alive connections so they truly overlap. */
export async function burst(url: string, count: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<Reply[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => get(url, headers(i))));
}

/**
 * Opens `count` keep-alive connections to `url`. The gateway answers TRACE
 * itself (405, cross-site tracing is refused) and keeps the connection, so
 * warming reaches neither the origin nor a slot nor a metric.
 */
export async function warm(url: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => get(`${url}/warm`, {}, 'TRACE')));
}
