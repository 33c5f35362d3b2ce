import { readFile } from 'node:fs/promises';
import type { EnvelopeConfig, PolicyDocument, StrategySpec } from '#libs/config';
import { parsePolicyDocument, policyDocumentJson } from '#libs/config';
import type { LiveEpisode } from '#libs/sim';
import { parseEpisodesJsonl } from '#libs/sim';

/** Where a learn run reads recorded traffic and the route config, and where it publishes. */
export interface FleetEndpoints {
  /** The telemetry service's operator port (its /export/arrivals.jsonl and /export/episodes.jsonl). */
  telemetryUrl?: string;
  /** Or recorded files (the same formats). */
  arrivalsFile?: string;
  episodesFile?: string;
  /** An ingress's operator port: the admin API that reads and writes the route config. */
  adminUrl?: string;
  adminToken?: string;
  /** Policy replicas' operator ports: their GET /models says whether a published model was promoted, and why. */
  policyUrls: string[];
  natsUrl?: string;
}

async function text(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { headers });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 200)}`);
  return body;
}

export async function readArrivals(e: FleetEndpoints, route?: string): Promise<string> {
  if (e.arrivalsFile) return readFile(e.arrivalsFile, 'utf8');
  if (!e.telemetryUrl)
    throw new Error('no recorded traffic: give --telemetry-url (the telemetry operator port) or --arrivals <file.jsonl>');
  return text(`${e.telemetryUrl}/export/arrivals.jsonl${route ? `?route=${encodeURIComponent(route)}` : ''}`);
}

/** Decision episodes, when the source has them (an older telemetry service or an arrivals-only file has none). */
export async function readEpisodes(e: FleetEndpoints): Promise<LiveEpisode[]> {
  if (e.episodesFile) return parseEpisodesJsonl(await readFile(e.episodesFile, 'utf8'));
  if (!e.telemetryUrl) return [];
  const response = await fetch(`${e.telemetryUrl}/export/episodes.jsonl`);
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`GET ${e.telemetryUrl}/export/episodes.jsonl: ${response.status}`);
  return parseEpisodesJsonl(await response.text());
}

const auth = (e: FleetEndpoints): Record<string, string> => (e.adminToken ? { authorization: `Bearer ${e.adminToken}` } : {});

/** The route document the admin API holds (revision 0: the ingress's routes file, never written). */
export async function readRouteConfig(e: FleetEndpoints, envelope: EnvelopeConfig): Promise<PolicyDocument | undefined> {
  if (!e.adminUrl) return undefined;
  const stored = JSON.parse(await text(`${e.adminUrl}/admin/policy/routes`, auth(e))) as { document: unknown };
  return parsePolicyDocument(stored.document, envelope);
}

/** The strategy that serves a route under a document: its own, else the document's default, else the given default. */
export function runningStrategy(document: PolicyDocument | undefined, route: string, fallback: StrategySpec): StrategySpec {
  const listed = document?.routes.routes.find((r) => r.name === route);
  return listed?.policy ?? document?.defaultPolicy ?? fallback;
}

/**
 * Switches a route to `spec` through the admin API (one validated KV
 * revision every replica applies). A route the table does not list is
 * served by the default strategy, so that is what is switched.
 */
export async function switchRoute(e: FleetEndpoints, document: PolicyDocument, route: string, spec: StrategySpec): Promise<string> {
  if (!e.adminUrl) throw new Error('switching a route needs --admin-url (an ingress operator port) and --admin-token');
  const listed = document.routes.routes.some((r) => r.name === route);
  const routes = { routes: document.routes.routes.map((r) => (r.name === route ? { ...r, policy: spec } : r)) };
  const body = policyDocumentJson(routes, listed ? document.defaultPolicy : spec);
  const response = await fetch(`${e.adminUrl}/admin/policy/routes`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...auth(e) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`PUT ${e.adminUrl}/admin/policy/routes: ${response.status} ${await response.text()}`);
  return listed ? `route ${route} now runs ${spec.name}` : `route ${route} is not listed: the default strategy now is ${spec.name}`;
}

/** A policy replica's verdict on a shadowed model (its GET /models). */
export interface ShadowVerdict {
  version: string;
  /** The model's; absent from a replica older than refusals on record. */
  sha256?: string;
  /** skipped: not offered at all, since a refusal of this model is on record (the reason says whose). */
  outcome: 'promoted' | 'refused' | 'dropped' | 'skipped';
  reason: string;
  compared: number;
}

/** A replica's newest verdict on the model with `sha256` (by `version` only where the replica lists no sha256). */
export function verdictOn(verdicts: readonly ShadowVerdict[], version: string, sha256: string): ShadowVerdict | undefined {
  return verdicts.findLast((v) => (v.sha256 === undefined ? v.version === version : v.sha256 === sha256));
}

/**
 * Waits until every policy replica has judged the model published as
 * `version` with `sha256` (promoted, refused, dropped for NaN, or skipped as
 * refused before); returns what each said, or undefined for a replica still
 * shadowing it when the time is up. A verdict is matched by the model's
 * sha256 (by version only from a replica that does not list it), the newest
 * first: an earlier model published under the same version, promoted, must
 * not stand in for this one.
 */
export async function awaitVerdicts(
  e: FleetEndpoints,
  version: string,
  sha256: string,
  timeoutMs: number,
): Promise<Array<ShadowVerdict | undefined>> {
  const until = Date.now() + timeoutMs;
  const verdicts: Array<ShadowVerdict | undefined> = e.policyUrls.map(() => undefined);
  while (verdicts.some((v) => v === undefined) && Date.now() < until) {
    await Promise.all(
      e.policyUrls.map(async (url, i) => {
        if (verdicts[i]) return;
        try {
          const models = JSON.parse(await text(`${url}/models`)) as { verdicts: ShadowVerdict[] };
          verdicts[i] = verdictOn(models.verdicts, version, sha256);
        } catch {
          // a replica restarting: asked again next round
        }
      }),
    );
    if (verdicts.some((v) => v === undefined)) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return verdicts;
}
