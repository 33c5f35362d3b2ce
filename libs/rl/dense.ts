import type { DenseLayer } from '#libs/policy';
import { Mlp } from '#libs/policy';
import type { Random } from '#libs/sim';
import { normal } from '#libs/sim';

export type Activation = 'tanh' | 'linear';

interface LayerShape {
  inputs: number;
  outputs: number;
  activation: Activation;
  /** Offsets of the row-major [outputs x inputs] weights and the biases in the flat parameter vector. */
  weightAt: number;
  biasAt: number;
}

/**
 * A dense network with hand-written backpropagation over minibatches, in
 * float64. All parameters live in one flat vector so the optimiser, gradient
 * clipping and checkpoints treat them as one array.
 */
export class DenseNet {
  readonly layers: LayerShape[];
  readonly params: Float64Array;
  readonly grads: Float64Array;
  /**
   * Fixed per-input multipliers applied before the first layer (undefined = 1):
   * a preconditioner, so a feature whose useful range is narrow gets
   * proportionally larger effective steps. toMlp() folds it into the first
   * layer's weights, so the exported network reads the unscaled input.
   */
  inputGain: Float64Array | undefined;
  private outputs: Float64Array[] = [];
  private input: Float64Array<ArrayBufferLike> = new Float64Array(0);
  private batch = 0;

  constructor(sizes: readonly number[], activations: readonly Activation[]) {
    if (activations.length !== sizes.length - 1) throw new Error('one activation per layer');
    let offset = 0;
    this.layers = activations.map((activation, i) => {
      const shape = { inputs: sizes[i]!, outputs: sizes[i + 1]!, activation, weightAt: offset, biasAt: 0 };
      offset += shape.inputs * shape.outputs;
      shape.biasAt = offset;
      offset += shape.outputs;
      return shape;
    });
    this.params = new Float64Array(offset);
    this.grads = new Float64Array(offset);
  }

  /**
   * Orthogonal weights scaled by a gain per layer and zero biases, as
   * Stable-Baselines3 initialises the seed's policy (sqrt(2) hidden, 0.01
   * policy head, 1 value head).
   */
  initOrthogonal(gains: readonly number[], random: Random): this {
    this.layers.forEach((layer, i) => {
      const w = orthogonal(layer.outputs, layer.inputs, random);
      for (let k = 0; k < w.length; k++) this.params[layer.weightAt + k] = w[k]! * gains[i]!;
      this.params.fill(0, layer.biasAt, layer.biasAt + layer.outputs);
    });
    return this;
  }

  get inputSize(): number {
    return this.layers[0]!.inputs;
  }

  get outputSize(): number {
    return this.layers.at(-1)!.outputs;
  }

  /** input: [batch x inputs]; keeps activations for backward(). */
  forward(input: Float64Array, batch: number): Float64Array {
    const gain = this.inputGain;
    if (gain) {
      const n = this.inputSize;
      input = input.map((v, k) => v * gain[k % n]!);
    }
    this.input = input;
    this.batch = batch;
    this.outputs = [];
    const params = this.params;
    let x = input;
    for (const layer of this.layers) {
      const { inputs, outputs, weightAt, biasAt } = layer;
      const tanh = layer.activation === 'tanh';
      const y = new Float64Array(batch * outputs);
      for (let b = 0; b < batch; b++) {
        const xo = b * inputs;
        const yo = b * outputs;
        for (let o = 0; o < outputs; o++) {
          let sum = params[biasAt + o]!;
          const wo = weightAt + o * inputs;
          for (let i = 0; i < inputs; i++) sum += params[wo + i]! * x[xo + i]!;
          y[yo + o] = tanh ? Math.tanh(sum) : sum;
        }
      }
      this.outputs.push(y);
      x = y;
    }
    return x;
  }

  /** Adds d(loss)/d(params) to `grads`, given d(loss)/d(output) of the last forward(). */
  backward(gradOutput: Float64Array): void {
    const params = this.params;
    const grads = this.grads;
    const batch = this.batch;
    let upstream = gradOutput;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const { inputs, outputs, weightAt, biasAt, activation } = this.layers[l]!;
      const y = this.outputs[l]!;
      const x = l === 0 ? this.input : this.outputs[l - 1]!;
      const dz = new Float64Array(batch * outputs);
      for (let k = 0; k < dz.length; k++) dz[k] = activation === 'tanh' ? upstream[k]! * (1 - y[k]! * y[k]!) : upstream[k]!;
      for (let b = 0; b < batch; b++) {
        const xo = b * inputs;
        const zo = b * outputs;
        for (let o = 0; o < outputs; o++) {
          const g = dz[zo + o]!;
          if (g === 0) continue;
          grads[biasAt + o]! += g;
          const wo = weightAt + o * inputs;
          for (let i = 0; i < inputs; i++) grads[wo + i]! += g * x[xo + i]!;
        }
      }
      if (l === 0) break;
      const dx = new Float64Array(batch * inputs);
      for (let b = 0; b < batch; b++) {
        const xo = b * inputs;
        const zo = b * outputs;
        for (let o = 0; o < outputs; o++) {
          const g = dz[zo + o]!;
          if (g === 0) continue;
          const wo = weightAt + o * inputs;
          for (let i = 0; i < inputs; i++) dx[xo + i]! += g * params[wo + i]!;
        }
      }
      upstream = dx;
    }
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** The network as the policy lib's float32 Mlp: what the simulator evaluates and ONNX exports. */
  toMlp(version: string): Mlp {
    const gain = this.inputGain;
    const layers: DenseLayer[] = this.layers.map((layer, l) => {
      const weights = this.params.subarray(layer.weightAt, layer.weightAt + layer.inputs * layer.outputs);
      return {
        inputs: layer.inputs,
        outputs: layer.outputs,
        activation: layer.activation,
        weights: Float32Array.from(l === 0 && gain ? weights.map((w, k) => w * gain[k % layer.inputs]!) : weights),
        bias: Float32Array.from(this.params.subarray(layer.biasAt, layer.biasAt + layer.outputs)),
      };
    });
    return new Mlp(layers, version);
  }
}

/** A rows x cols matrix with orthonormal rows or columns (whichever are fewer), by Gram-Schmidt on Gaussians. */
export function orthogonal(rows: number, cols: number, random: Random): Float64Array {
  const transpose = rows < cols;
  const n = transpose ? cols : rows; // vector length
  const k = transpose ? rows : cols; // number of orthonormal vectors
  const vectors: Float64Array[] = [];
  while (vectors.length < k) {
    const v = Float64Array.from({ length: n }, () => normal(random));
    for (const u of vectors) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += u[i]! * v[i]!;
      for (let i = 0; i < n; i++) v[i]! -= dot * u[i]!;
    }
    const norm = Math.hypot(...v);
    if (norm < 1e-8) continue;
    for (let i = 0; i < n; i++) v[i]! /= norm;
    vectors.push(v);
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = transpose ? vectors[r]![c]! : vectors[c]![r]!;
  }
  return out;
}
