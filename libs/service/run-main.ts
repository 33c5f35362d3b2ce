import { ConfigError, RouteSchemaError } from '#libs/config';
import type { CommonConfig } from '#libs/config';
import { StrategyConfigError } from '#libs/policy';
import { startTracing } from '#libs/tracing';

/** sysexits.h EX_CONFIG: the process was started with bad settings. */
const EX_CONFIG = 78;

/**
 * A service's entry point: reads its config, and on a bad setting prints one
 * clear line naming it and exits (no stack trace); otherwise starts tracing and the service.
 */
export async function runMain<C extends CommonConfig>(
  service: string,
  load: () => C,
  start: (config: C) => Promise<unknown>,
): Promise<void> {
  let config: C;
  try {
    config = load();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof RouteSchemaError || error instanceof StrategyConfigError) {
      process.stderr.write(`batchgate ${service}: ${error.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw error;
  }
  try {
    startTracing({
      service,
      instanceId: config.instanceId,
      otlpEndpoint: config.otlpEndpoint,
      otlpTracesEndpoint: config.otlpTracesEndpoint,
    });
    await start(config);
  } catch (error) {
    process.stderr.write(`batchgate ${service}: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
