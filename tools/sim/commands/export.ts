import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { compareWithOnnxRuntime, encodePolicyModel, IR_VERSION, OPSET, POLICY_INPUT, POLICY_OUTPUT } from '#libs/onnx';
import { OBSERVATION_SIZE, SHORT_IDLE_MS } from '#libs/policy';
import type { PpoCheckpoint } from '#libs/rl';
import { fromCheckpoint } from '#libs/rl';
import { UsageError } from '../scenario-args.js';

export const EXPORT_HELP = `export <checkpoint.json> [--out model.onnx] [--version name] [--samples 1000] [--note text]
  Writes the PPO actor as ONNX (input "obs" [batch_size,4|5|6] float32, output "action_logits" [batch_size,2], opset 17),
  runs it in onnxruntime-node against the in-process network on random states, and writes <out>.json with the
  max abs diff. The metadata names the ppo strategy parameters the model expects.`;

export async function exportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      version: { type: 'string' },
      samples: { type: 'string', default: '1000' },
      note: { type: 'string' },
    },
    allowPositionals: true,
  });
  const path = positionals[0];
  if (!path) throw new UsageError('export needs a checkpoint file (best.json from `train ppo`)');
  const checkpoint = JSON.parse(await readFile(path, 'utf8')) as PpoCheckpoint;
  if (values.version) checkpoint.version = values.version;
  await exportModel(
    checkpoint,
    values.out ?? path.replace(/\.json$/, '.onnx'),
    { checkpoint: path, ...(values.note ? { note: values.note } : {}) },
    Number(values.samples),
  );
}

const SEED_OBSERVATION = [
  'min(size/max_batch_size,1)',
  'min(age_ms/batch_timeout_ms,1)',
  'log1p(upstream_p99_ms)/log1p(500)',
  'tanh(request_rate/100)',
];

/** The observation a model of this input width reads (as libs/policy `observe` builds it), for its metadata. */
function observationOf(width: number): string {
  const idle = ['min(idle_ms/batch_timeout_ms,1)', `min(idle_ms/${SHORT_IDLE_MS},1)`];
  const features = [...SEED_OBSERVATION, ...idle.slice(0, width - OBSERVATION_SIZE)];
  return `[${features.join(', ')}]`;
}

/** Writes <path> (ONNX) and <path without .onnx>.json (metadata + onnxruntime verification); returns the max abs diff. */
export async function exportModel(
  checkpoint: PpoCheckpoint,
  path: string,
  provenance: Record<string, unknown>,
  samples = 1000,
): Promise<number> {
  const network = fromCheckpoint(checkpoint).actor.toMlp(checkpoint.version);
  const metadata = {
    strategy: 'ppo',
    strategy_params: JSON.stringify(checkpoint.strategyParams),
    observation: observationOf(network.inputSize),
    actions: '[WAIT, FLUSH] logits; act by argmax',
    training_scenario: checkpoint.training.scenario,
    training_seed: String(checkpoint.training.seed),
    reward: JSON.stringify(checkpoint.reward),
  };
  const bytes = encodePolicyModel(network, metadata);
  await writeFile(path, bytes);
  const comparison = await compareWithOnnxRuntime(bytes, network, samples, 1);
  const info = {
    version: checkpoint.version,
    kind: 'ppo',
    onnx: path.split('/').at(-1),
    input: { name: POLICY_INPUT, shape: ['batch_size', network.inputSize], type: 'float32' },
    output: { name: POLICY_OUTPUT, shape: ['batch_size', 2], type: 'float32' },
    opset: OPSET,
    irVersion: IR_VERSION,
    strategy: { name: 'ppo', params: checkpoint.strategyParams },
    reward: checkpoint.reward,
    ppo: checkpoint.ppo,
    training: { ...checkpoint.training, ...provenance },
    verification: {
      runtime: 'onnxruntime-node (CPU)',
      samples: comparison.samples,
      maxAbsDiff: comparison.maxAbsDiff,
      actionMismatches: comparison.actionMismatches,
    },
  };
  await writeFile(path.replace(/\.onnx$/, '') + '.json', JSON.stringify(info, null, 2) + '\n');
  console.log(
    `wrote ${path} (${bytes.length} bytes); onnxruntime vs in-process on ${comparison.samples} states: max abs diff ${comparison.maxAbsDiff.toExponential(2)}, action mismatches ${comparison.actionMismatches}`,
  );
  return comparison.maxAbsDiff;
}
