import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compareWithOnnxRuntime, encodePolicyModel, IR_VERSION, OPSET, POLICY_INPUT, POLICY_OUTPUT } from '#libs/onnx';
import { OBSERVATION_SIZE, SHORT_IDLE_MS } from '#libs/policy';
import type { PpoCheckpoint } from '#libs/rl';
import { fromCheckpoint, provenanceRecords, recordPathOf } from '#libs/rl';
import { UsageError } from '../scenario-args.js';

export const EXPORT_HELP = `export <checkpoint.json> [--out model.onnx] [--version name] [--samples 1000] [--note text]
  Writes the PPO actor as ONNX (input "obs" [batch_size,4|5|6] float32, output "action_logits" [batch_size,2], opset 17),
  runs it in onnxruntime-node against the in-process network on random states, and writes <out>.json with the
  max abs diff. The metadata names the ppo strategy parameters the model expects and how it was made (method ppo, or
  imitation with its teacher, from the checkpoint).`;

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
  const out = values.out ?? path.replace(/\.json$/, '.onnx');
  // The model's record is written to <out without .onnx>.json: for best.json -> best.onnx that is the checkpoint itself.
  if (resolve(recordPathOf(out)) === resolve(path))
    throw new UsageError(`export would overwrite the checkpoint ${path} with the model's record; give --out <model>.onnx`);
  const checkpoint = JSON.parse(await readFile(path, 'utf8')) as PpoCheckpoint;
  if (values.version) checkpoint.version = values.version;
  await exportModel(checkpoint, out, { checkpoint: path, ...(values.note ? { note: values.note } : {}) }, Number(values.samples));
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

/**
 * Writes <path> (ONNX) and <path without .onnx>.json (metadata + onnxruntime verification); returns the max abs diff.
 * Both records say how the weights were made (`method`): a PPO model carries its reward and PPO settings, a
 * distilled one its teacher and only the network settings that apply (no reward was optimised).
 */
export async function exportModel(
  checkpoint: PpoCheckpoint,
  path: string,
  provenance: Record<string, unknown>,
  samples = 1000,
): Promise<number> {
  const network = fromCheckpoint(checkpoint).actor.toMlp(checkpoint.version);
  const method = checkpoint.method ?? 'ppo';
  const made = provenanceRecords(checkpoint);
  const metadata = {
    strategy: 'ppo',
    strategy_params: JSON.stringify(checkpoint.strategyParams),
    observation: observationOf(network.inputSize),
    actions: '[WAIT, FLUSH] logits; act by argmax',
    training_scenario: checkpoint.training.scenario,
    training_seed: String(checkpoint.training.seed),
    ...made.metadata,
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
    ...made.record,
    training: method === 'ppo' ? { ...checkpoint.training, ...provenance } : { ...imitationTraining(checkpoint), ...provenance },
    verification: {
      runtime: 'onnxruntime-node (CPU)',
      samples: comparison.samples,
      maxAbsDiff: comparison.maxAbsDiff,
      actionMismatches: comparison.actionMismatches,
    },
  };
  await writeFile(recordPathOf(path), JSON.stringify(info, null, 2) + '\n');
  console.log(
    `wrote ${path} (${bytes.length} bytes); onnxruntime vs in-process on ${comparison.samples} states: max abs diff ${comparison.maxAbsDiff.toExponential(2)}, action mismatches ${comparison.actionMismatches}`,
  );
  return comparison.maxAbsDiff;
}

/** An imitation checkpoint's step count is the number of labelled decisions; it has no validation reward. */
function imitationTraining({ training }: PpoCheckpoint) {
  return { scenario: training.scenario, seed: training.seed, samples: training.steps };
}
