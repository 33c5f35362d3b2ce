import { readFile } from 'node:fs/promises';
import type { PolicyNetwork } from '#libs/policy';
import { seededRandom } from '#libs/policy';
import * as ort from 'onnxruntime-node';
import type { DecodedPolicyModel } from './model.js';
import { decodePolicyModel, POLICY_INPUT, POLICY_OUTPUT } from './model.js';

/** Reads an exported policy model from disk into the in-process network (and its metadata). */
export async function loadPolicyModel(path: string): Promise<DecodedPolicyModel> {
  return decodePolicyModel(new Uint8Array(await readFile(path)));
}

export interface RuntimeComparison {
  samples: number;
  maxAbsDiff: number;
  /** Share of states where the argmax action differs (should be 0). */
  actionMismatches: number;
}

/**
 * Runs the ONNX bytes in onnxruntime-node (CPU) and the in-process network on
 * the same random states and reports the largest absolute logit difference.
 * States are uniform on [-0.1, 1.1]^n: the observation's range plus the
 * margin the seed's sidecar tolerated.
 */
export async function compareWithOnnxRuntime(
  model: Uint8Array,
  network: PolicyNetwork,
  samples = 1000,
  seed = 1,
): Promise<RuntimeComparison> {
  const random = seededRandom(seed);
  const width = network.inputSize;
  const obs = Float32Array.from({ length: samples * width }, () => -0.1 + 1.2 * random());
  const session = await ort.InferenceSession.create(model);
  try {
    const result = await session.run({ [POLICY_INPUT]: new ort.Tensor('float32', obs, [samples, width]) });
    const fromRuntime = result[POLICY_OUTPUT]?.data;
    if (!(fromRuntime instanceof Float32Array)) throw new Error(`onnxruntime returned no float32 "${POLICY_OUTPUT}"`);
    const inProcess = network.logits(obs, samples);
    const outputs = inProcess.length / samples;
    if (fromRuntime.length !== inProcess.length) throw new Error(`shape mismatch: ${fromRuntime.length} vs ${inProcess.length}`);
    let maxAbsDiff = 0;
    let mismatches = 0;
    for (let i = 0; i < samples; i++) {
      let argRuntime = 0;
      let argLocal = 0;
      for (let k = 0; k < outputs; k++) {
        const at = i * outputs + k;
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(fromRuntime[at]! - inProcess[at]!));
        if (fromRuntime[at]! > fromRuntime[i * outputs + argRuntime]!) argRuntime = k;
        if (inProcess[at]! > inProcess[i * outputs + argLocal]!) argLocal = k;
      }
      if (argRuntime !== argLocal) mismatches++;
    }
    return { samples, maxAbsDiff, actionMismatches: mismatches / samples };
  } finally {
    await session.release();
  }
}
