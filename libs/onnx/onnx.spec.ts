import { Mlp, seededRandom } from '#libs/policy';
import type { DenseLayer } from '#libs/policy';
import { describe, expect, it } from 'vitest';
import { decodePolicyModel, encodePolicyModel, OPSET } from './model.js';
import { compareWithOnnxRuntime } from './runtime.js';
import { ProtoWriter } from './wire.js';

/** A random 4 -> 64 tanh -> 64 tanh -> 2 actor, like the seed's. */
function randomActor(seed: number): Mlp {
  const random = seededRandom(seed);
  const layer = (inputs: number, outputs: number, activation: DenseLayer['activation']): DenseLayer => ({
    inputs,
    outputs,
    activation,
    weights: Float32Array.from({ length: inputs * outputs }, () => (random() - 0.5) * 1.5),
    bias: Float32Array.from({ length: outputs }, () => (random() - 0.5) * 0.2),
  });
  return new Mlp([layer(4, 64, 'tanh'), layer(64, 64, 'tanh'), layer(64, 2, 'linear')], 'test-v1');
}

describe('ONNX export of the policy network', () => {
  it('onnxruntime-node computes the same logits as the in-process network on 1,000 random states', async () => {
    const network = randomActor(3);
    const comparison = await compareWithOnnxRuntime(encodePolicyModel(network), network, 1000, 7);
    expect(comparison.samples).toBe(1000);
    expect(comparison.maxAbsDiff).toBeLessThan(1e-5);
    expect(comparison.actionMismatches).toBe(0);
  });

  it('reads back the exact weights, metadata and opset it wrote', () => {
    const network = randomActor(4);
    const decoded = decodePolicyModel(encodePolicyModel(network, { scenario: 'seed-bursty', call_cost_ms: '800' }));
    expect(decoded.opset).toBe(OPSET);
    expect(decoded.metadata).toEqual({ version: 'test-v1', scenario: 'seed-bursty', call_cost_ms: '800' });
    expect(decoded.network.version).toBe('test-v1');
    expect(decoded.network.layers.map((l) => [l.inputs, l.outputs, l.activation])).toEqual([
      [4, 64, 'tanh'],
      [64, 64, 'tanh'],
      [64, 2, 'linear'],
    ]);
    decoded.network.layers.forEach((layer, i) => {
      expect(layer.weights).toEqual(network.layers[i]!.weights);
      expect(layer.bias).toEqual(network.layers[i]!.bias);
    });
  });

  it('rejects a graph it cannot run in-process, naming the operator', () => {
    const model = new ProtoWriter()
      .varint(1, 8)
      .message(7, (g) =>
        g
          .message(1, (n) => n.string(1, 'obs').string(2, 'y').string(4, 'Conv'))
          .message(11, (v) => v.string(1, 'obs'))
          .message(12, (v) => v.string(1, 'y')),
      )
      .finish();
    expect(() => decodePolicyModel(model)).toThrow(/expected a Gemm reading "obs", found Conv/);
  });
});
