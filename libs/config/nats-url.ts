/**
 * What @nats-io/transport-node's connect() needs from NATS_URL. nats.js v3
 * ignores the userinfo of a server URL, so "nats://alice:secret@host:4222"
 * would connect without auth: the credentials are taken out of the URLs and
 * passed as connect options instead.
 */
export interface NatsConnectOptions {
  /** The servers as written, minus their userinfo. */
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/** An optional scheme, then the userinfo: the authority up to its last "@" (the authority ends at "/", "?" or "#"). */
const USERINFO = /^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)([^/?#]*)@/;

/** NATS_URL (one server or a comma-separated list) with every password or token replaced by "***", for logs and errors. */
export function redactNatsUrl(text: string): string {
  return text
    .split(',')
    .map((entry) =>
      entry.replace(USERINFO, (_match, prefix: string, userinfo: string) => {
        const colon = userinfo.indexOf(':');
        return `${prefix}${colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
      }),
    )
    .join(',');
}

/**
 * Parses NATS_URL into connect options, or says why it cannot be: each entry's
 * "user:pass@" becomes user/pass and a "token@" (no colon) the token, both
 * URL-decoded. One connection has one identity, so entries that carry
 * different credentials are refused; entries without any use the same identity.
 */
export function parseNatsUrl(text: string): NatsConnectOptions | string {
  const servers: string[] = [];
  let identity: { user?: string; pass?: string; token?: string } | undefined;
  let identityShown = '';
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const match = USERINFO.exec(entry);
    if (!match) {
      servers.push(entry);
      continue;
    }
    const [whole, prefix = '', userinfo = ''] = match;
    servers.push(`${prefix}${entry.slice(whole.length)}`);
    if (userinfo === '') continue;
    const shown = redactNatsUrl(entry);
    const colon = userinfo.indexOf(':');
    let found: { user?: string; pass?: string; token?: string };
    try {
      found =
        colon === -1
          ? { token: decodeURIComponent(userinfo) }
          : { user: decodeURIComponent(userinfo.slice(0, colon)), pass: decodeURIComponent(userinfo.slice(colon + 1)) };
    } catch {
      return `"${shown}" has a malformed %-escape in its credentials`;
    }
    if (found.user === '') return `"${shown}" has a password but no user name`;
    if (identity === undefined) {
      identity = found;
      identityShown = shown;
    } else if (identity.user !== found.user || identity.pass !== found.pass || identity.token !== found.token) {
      return `"${identityShown}" and "${shown}" carry different credentials, but one connection has one identity`;
    }
  }
  return { servers, ...identity };
}

/** parseNatsUrl that throws an Error naming NATS_URL (secrets redacted) when the URL cannot be used. */
export function natsConnectOptions(text: string): NatsConnectOptions {
  const options = parseNatsUrl(text);
  if (typeof options === 'string') throw new Error(`NATS_URL: ${options}`);
  return options;
}
