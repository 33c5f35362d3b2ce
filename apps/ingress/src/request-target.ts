/**
 * What the gateway accepts as a request line and Host before anything else
 * looks at the request (RFC 9112 §3.2, §3.3): origin-form ("/path?q"), or
 * absolute-form only for the gateway's own authority (rewritten to origin-form
 * so classification, keys and the origin see one shape); exactly one Host on
 * HTTP/1.1. Everything else is a 400 with the reason, never a guess.
 */
export type TargetCheck =
  { ok: true; target: string; host: string | undefined } | { ok: false; status: 400; error: string; message: string };

export interface TargetInput {
  url: string;
  httpVersion: string;
  /** Request header fields as Node's rawHeaders: [name, value, name, value, ...]. */
  rawHeaders: string[];
  /** Authorities ("host[:port]", lower-case) the gateway is reachable as, besides the request's own Host. */
  publicAuthorities: readonly string[];
}

const bad = (error: string, message: string): TargetCheck => ({ ok: false, status: 400, error, message });

/** The first Host field and how many there were, without allocating (this runs on every request). */
function hostField(rawHeaders: string[]): { host: string | undefined; count: number } {
  let host: string | undefined;
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      count++;
      host ??= rawHeaders[i + 1];
    }
  }
  return { host, count };
}

/** "Host" as an authority to compare: lower-case, the default port of the scheme dropped. */
function authorityOf(text: string, scheme: 'http' | 'https'): string {
  const lower = text.trim().toLowerCase();
  const defaultPort = scheme === 'https' ? ':443' : ':80';
  return lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
}

export function checkRequestTarget(input: TargetInput): TargetCheck {
  const { host, count } = hostField(input.rawHeaders);
  if (count > 1) return bad('duplicate_host', 'a request carries exactly one Host header (RFC 9112 §3.2)');
  if (host === undefined && input.httpVersion !== '1.0')
    return bad('missing_host', 'an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)');
  const { url } = input;
  if (url.charCodeAt(0) === 47 /* "/" */) return { ok: true, target: url, host };
  const absolute = /^(https?):\/\/([^/?#]*)([^#]*)/i.exec(url);
  if (!absolute) return bad('invalid_target', 'the request target must be a path ("/...") or an absolute URL of this gateway');
  const scheme = absolute[1]!.toLowerCase() as 'http' | 'https';
  const authority = authorityOf(absolute[2]!, scheme);
  if (authority === '' || authority.includes('@'))
    return bad('invalid_target', 'an absolute request target needs a plain host[:port] authority');
  const own = (host !== undefined && authorityOf(host, scheme) === authority) || input.publicAuthorities.includes(authority);
  if (!own) {
    return bad(
      'foreign_authority',
      `this gateway is not a forward proxy: absolute targets are accepted only for its own authority, not "${authority}"`,
    );
  }
  const rest = absolute[3]!;
  // RFC 9112 §3.2.2: the target's authority replaces Host.
  return { ok: true, target: rest.startsWith('/') ? rest : `/${rest}`, host: absolute[2]! };
}
