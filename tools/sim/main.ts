// batchgate sim: which flush policy gives the best latency for the upstream savings you want,
// on your traffic — evaluation against the hindsight-optimal frontier, training of the learned
// policies (PPO, Q-learning), ONNX export, counterfactual replay of recorded traces, ablations.
import { ABLATE_HELP, ablateCommand } from './commands/ablate.js';
import { EVAL_HELP, evalCommand } from './commands/eval.js';
import { EXPORT_HELP, exportCommand } from './commands/export.js';
import { FIT_HELP, fitCommand } from './commands/fit.js';
import { FRONTIER_HELP, frontierCommand } from './commands/frontier.js';
import { REPLAY_HELP, replayCommand } from './commands/replay.js';
import { scenariosCommand, TRACE_HELP, traceCommand } from './commands/trace.js';
import { IMITATE_HELP, imitateCommand } from './commands/imitate.js';
import { TRAIN_HELP, trainCommand } from './commands/train.js';
import { UsageError } from './scenario-args.js';

const COMMANDS: Record<string, (argv: string[]) => Promise<void> | void> = {
  eval: evalCommand,
  train: trainCommand,
  imitate: imitateCommand,
  export: exportCommand,
  replay: replayCommand,
  fit: fitCommand,
  ablate: ablateCommand,
  frontier: frontierCommand,
  trace: traceCommand,
  scenarios: scenariosCommand,
};

const HELP = [
  'usage: npm run sim -- <command> [options]',
  '',
  EVAL_HELP,
  TRAIN_HELP,
  IMITATE_HELP,
  EXPORT_HELP,
  REPLAY_HELP,
  FIT_HELP,
  ABLATE_HELP,
  FRONTIER_HELP,
  TRACE_HELP,
].join('\n\n');

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    console.log(HELP);
    return name === undefined || name === 'help' || name === '--help' ? 0 : 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`sim ${name}: ${error.message}\n\n${HELP}`);
      return 2;
    }
    console.error(`sim ${name}: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
