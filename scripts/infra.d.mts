export interface InfraProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** nats-server's monitoring endpoint (/varz ...), when started with monitorPort. */
  readonly monitorUrl?: string;
  readonly running: boolean;
  start(): Promise<InfraProcess>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<InfraProcess>;
  dispose(): Promise<void>;
}
export function findBinary(name: string): string | undefined;
export function freePort(): Promise<number>;
export function startNats(options?: { port?: number; storeDir?: string; monitorPort?: number }): Promise<InfraProcess>;
export function startRedis(options?: { port?: number }): Promise<InfraProcess>;
export function ensureInfraBinaries(options?: { log?: (line: string) => void }): string[];
