/** The id every task names when it means BATCHGATE_UPSTREAM (older ingresses send ""). */
export const DEFAULT_ORIGIN_ID = 'default';

/**
 * The origins this worker may call, by id. A task names an id, never a URL:
 * anyone who can publish on the fetch subject could otherwise make workers
 * call any address (SSRF). Routes name no other origin today, so the table
 * holds the default one; a new origin gets an id here and in the route table.
 */
export class OriginDirectory {
  private readonly byId: ReadonlyMap<string, string>;

  constructor(defaultUpstream: string) {
    this.byId = new Map([[DEFAULT_ORIGIN_ID, defaultUpstream]]);
  }

  /** The configured base URL for `id`, or undefined when the worker has none by that id. */
  resolve(id: string): string | undefined {
    return this.byId.get(id === '' ? DEFAULT_ORIGIN_ID : id);
  }
}
