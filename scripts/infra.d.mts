export interface InfraProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** nats-server's monitoring endpoint (/varz ...), when started with monitorPort. */
  readonly monitorUrl?: string;
  readonly running: boolean;
  /** The last 256 KB of the process's stdout and stderr since its latest start. */
  readonly log: string;
  /** The server's pid (not its watchdog's) once started. */
  readonly pid?: number;
  /** The watchdog shell that runs the server; it exits when the server does. */
  readonly child?: import('node:child_process').ChildProcess;
  start(): Promise<InfraProcess>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<InfraProcess>;
  dispose(): Promise<void>;
}
export function findBinary(name: string): string | undefined;
export function freePort(): Promise<number>;
/** Go runtime settings nats-server is started with (GOGC, GOMEMLIMIT). */
export const NATS_SERVER_ENV: Readonly<Record<string, string>>;
/** ['chrt', '-r', priority] for BATCHGATE_REALTIME_PRIORITY, [] when unset; throws naming the setting when invalid or refused. */
export function realtimePrefix(value: string | undefined): string[];
export function startNats(options?: {
  port?: number;
  storeDir?: string;
  monitorPort?: number;
  /** Command prefix, e.g. realtimePrefix(...). */
  prefix?: readonly string[];
  /** Extra nats-server flags, e.g. ['--user', 'alice', '--pass', 'secret']. */
  args?: readonly string[];
  /** Appends the server's output to this file (across restarts). */
  logFile?: string;
}): Promise<InfraProcess>;
export function startRedis(options?: { port?: number; logFile?: string }): Promise<InfraProcess>;
export function ensureInfraBinaries(options?: { log?: (line: string) => void }): string[];
