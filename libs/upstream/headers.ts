/** Header fields as [lower-case name, value] pairs, repeated names kept in order. */
export type HeaderList = Array<[string, string]>;

/**
 * RFC 9110 §7.6.1: connection-specific fields a proxy must not forward, plus
 * any field the Connection header names. Proxy-* fields are for this hop too.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

export function stripHopByHop(headers: HeaderList): HeaderList {
  const named = new Set<string>();
  for (const [name, value] of headers) {
    if (name === 'connection') for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  return headers.filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name));
}

export interface ClientHop {
  /** Address of the peer that connected to the ingress. */
  remoteAddress: string;
  /** "http" or "https" as seen by the ingress. */
  protocol: string;
  /** Host the client asked for. */
  host: string | undefined;
}

/**
 * Request headers for the origin: hop-by-hop and Expect removed, Host left to the
 * client library (the origin's own), X-Forwarded-For appended, X-Forwarded-Proto
 * and -Host set when absent, and Via added as RFC 9110 §7.6.3 asks of proxies.
 */
export function forwardedRequestHeaders(headers: HeaderList, hop: ClientHop): HeaderList {
  // Expect: 100-continue was answered by this hop (Node's server sends the 100 before the body is read), and
  // undici refuses to send it ("expect header not supported"), which failed every large curl upload with a 502.
  const out = stripHopByHop(headers).filter(([name]) => name !== 'host' && name !== 'expect');
  const priorFor = out.filter(([name]) => name === 'x-forwarded-for').map(([, value]) => value);
  const kept = out.filter(([name]) => name !== 'x-forwarded-for' && name !== 'via');
  const priorVia = out.filter(([name]) => name === 'via').map(([, value]) => value);
  kept.push(['x-forwarded-for', [...priorFor, hop.remoteAddress].join(', ')]);
  if (!kept.some(([name]) => name === 'x-forwarded-proto')) kept.push(['x-forwarded-proto', hop.protocol]);
  if (hop.host && !kept.some(([name]) => name === 'x-forwarded-host')) kept.push(['x-forwarded-host', hop.host]);
  kept.push(['via', [...priorVia, '1.1 batchgate'].join(', ')]);
  return kept;
}
