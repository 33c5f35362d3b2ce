import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Writes a routes file (BATCHGATE_ROUTES_FILE) into a fresh temp directory and returns its path. */
export async function writeRoutes(routes: Array<Record<string, unknown>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'batchgate-routes-'));
  const file = join(dir, 'routes.yaml');
  await writeFile(file, stringify({ routes }));
  return file;
}
