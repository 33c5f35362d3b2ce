/**
 * A small dense network (the PPO actor) evaluated in plain TypeScript: the
 * simulator and tests run it in-process; the policy service runs the same
 * weights exported to ONNX through onnxruntime-node.
 */
export interface DenseLayer {
  /** Row-major [outputs x inputs]. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
  activation: 'tanh' | 'relu' | 'linear';
}

/** Anything that maps a batch of observations to WAIT/FLUSH logits. */
export interface PolicyNetwork {
  readonly version: string;
  readonly inputSize: number;
  /** observations: [batch x inputSize] row-major; returns [batch x 2] logits (WAIT, FLUSH). */
  logits(observations: Float32Array, batch: number): Float32Array;
}

export class Mlp implements PolicyNetwork {
  readonly inputSize: number;

  constructor(
    readonly layers: readonly DenseLayer[],
    readonly version = 'in-process',
  ) {
    if (layers.length === 0) throw new Error('an MLP needs at least one layer');
    for (let i = 1; i < layers.length; i++) {
      if (layers[i]!.inputs !== layers[i - 1]!.outputs) throw new Error(`layer ${i} input size mismatch`);
    }
    this.inputSize = layers[0]!.inputs;
  }

  logits(observations: Float32Array, batch: number): Float32Array {
    let activations = observations;
    for (const layer of this.layers) activations = forwardLayer(layer, activations, batch);
    return activations;
  }
}

function forwardLayer(layer: DenseLayer, input: Float32Array, batch: number): Float32Array {
  const { weights, bias, inputs, outputs, activation } = layer;
  const output = new Float32Array(batch * outputs);
  for (let b = 0; b < batch; b++) {
    const inOffset = b * inputs;
    for (let o = 0; o < outputs; o++) {
      let sum = bias[o]!;
      const wOffset = o * inputs;
      for (let i = 0; i < inputs; i++) sum += weights[wOffset + i]! * input[inOffset + i]!;
      output[b * outputs + o] = activation === 'tanh' ? Math.tanh(sum) : activation === 'relu' ? Math.max(0, sum) : sum;
    }
  }
  return output;
}
