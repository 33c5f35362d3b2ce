import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { decodePolicyModel, encodePolicyModel } from '#libs/onnx';
import type { SlotFeatures } from '#libs/policy';
import { decisionsFromLogits, Mlp, observe, OBSERVATION_SIZE, OBSERVATION_SIZE_WITH_IDLE, planTo, seededRandom } from '#libs/policy';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ModelRegistry, ModelUnavailableError } from './models.js';
import { PolicyMetrics } from './policy-metrics.js';

const FIXTURE = 'fixtures/models/ppo-v1.onnx';
const fixture = (version: string) => new Uint8Array(readFileSync(`fixtures/models/${version}.onnx`));
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined } as never;

/** A one-layer actor whose FLUSH logit is `slope * age_ratio - offset` (WAIT logit 0). */
function ageActor(slope: number, offset: number, version: string): Uint8Array {
  const weights = new Float32Array(2 * OBSERVATION_SIZE);
  weights[OBSERVATION_SIZE + 1] = slope;
  return encodePolicyModel(
    new Mlp([{ inputs: OBSERVATION_SIZE, outputs: 2, activation: 'linear', weights, bias: new Float32Array([0, -offset]) }]),
    { version },
  );
}

/**
 * FLUSH logit = 3e38 * the p99 feature: finite on the probe batch (features up to 1.1),
 * infinite once upstream p99 is ~1e6 ms (feature 2.2), so it loads and then fails live.
 */
function overflowActor(version: string): Uint8Array {
  const weights = new Float32Array(2 * OBSERVATION_SIZE);
  weights[OBSERVATION_SIZE + 2] = 3e38;
  return encodePolicyModel(
    new Mlp([{ inputs: OBSERVATION_SIZE, outputs: 2, activation: 'linear', weights, bias: new Float32Array([0, 0]) }]),
    { version },
  );
}

/** One event-loop turn: onnxruntime-node runs each session.create/run in a setImmediate callback. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function registry(shadow = 0) {
  const metrics = new PolicyMetrics(new Registry());
  return { metrics, models: new ModelRegistry(shadow, metrics, quiet) };
}

const defaultScale = { sizeNorm: undefined, ageNormMs: undefined, p99NormMs: 500, rateNorm: 100 };

const features = (ageMs: number): SlotFeatures => ({
  size: 10,
  ageMs,
  upstreamP99Ms: 30,
  requestRate: 200,
  queueDepth: 10,
  observedP99Ms: 0,
  idleMs: 1,
  batchTimeoutMs: 50,
  maxBatchSize: 128,
});

describe('policy models', () => {
  it("the committed PPO model gives, through onnxruntime, the in-process network's WAIT/FLUSH outputs", async () => {
    expect(existsSync(FIXTURE)).toBe(true);
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const reference = decodePolicyModel(bytes).network;
    const { models } = registry();
    expect(await models.offer(bytes, 'v1')).toBe(true);
    const random = seededRandom(3);
    const slots = Array.from({ length: 1000 }, () => ({
      ...features(random() * 50),
      size: 1 + Math.floor(random() * 128),
      upstreamP99Ms: random() * 500,
      requestRate: random() * 400,
    }));
    const scale = { sizeNorm: 128, ageNormMs: 50, p99NormMs: 500, rateNorm: 100 };
    const observations = observe(slots, scale);
    const { logits, version } = await models.infer(slots, scale);
    const expected = reference.logits(observations, slots.length);
    expect(version).toBe('v1');
    let maxDiff = 0;
    for (let i = 0; i < logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - expected[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    expect(decisionsFromLogits(logits, slots.length).map((d) => d.action)).toEqual(
      decisionsFromLogits(expected, slots.length).map((d) => d.action),
    );
  });

  it('runs one batch per call and reports the logits of a hand-built model exactly', async () => {
    const { models } = registry();
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    // FLUSH logit = 10 * age/50 - 5: negative below 25 ms, positive above.
    const { logits } = await models.infer([features(10), features(40)], defaultScale);
    expect(Array.from(logits)).toEqual([0, Math.fround(10 * 0.2 - 5), 0, Math.fround(10 * 0.8 - 5)]);
  });

  it('decides route groups with different normalisers in one batch, each observed with its own scale', async () => {
    const { models } = registry();
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    const short = { ...defaultScale, ageNormMs: 20 };
    const a = [features(10), features(40)];
    const b = [features(10)];
    const { logits } = await models.inferGroups([
      { slots: a, scale: defaultScale },
      { slots: b, scale: short },
    ]);
    const separate = [...(await models.infer(a, defaultScale)).logits, ...(await models.infer(b, short)).logits];
    expect(Array.from(logits)).toEqual(separate);
    // age 10 ms over a 20 ms normaliser: FLUSH logit 10 * 0.5 - 5 = 0.
    expect(logits[5]).toBe(0);
  });

  it('a corrupt or NaN-producing model is refused, counted, and the live one stays', async () => {
    const { models, metrics } = registry();
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    expect(await models.offer(new Uint8Array([8, 1, 18, 3, 1, 2]), 'broken')).toBe(false);
    const nan = ageActor(10, 5, 'nan');
    const network = decodePolicyModel(nan).network;
    network.layers[0]!.weights[OBSERVATION_SIZE + 1] = NaN;
    expect(await models.offer(encodePolicyModel(network), 'nan')).toBe(false);
    expect(models.activeVersion).toBe('v1');
    const failures = await metrics.modelLoadFailures.get();
    expect(failures.values.map((v) => [v.labels.reason, v.value])).toEqual([
      ['invalid', 1],
      ['nan', 1],
    ]);
  });

  it('a new model shadows the live one for N decisions, then takes over', async () => {
    const { models, metrics } = registry(4);
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    await models.offer(ageActor(0, -5, 'v2'), 'v2'); // always FLUSH
    const slots = [features(10), features(40)];
    expect((await models.infer(slots, defaultScale)).version).toBe('v1');
    expect(models.shadowVersion).toBe('v2');
    expect((await models.infer(slots, defaultScale)).version).toBe('v1');
    // After 4 shadow decisions, half of which agreed (v1 flushes only the 40 ms slot).
    expect((await metrics.shadowAgreement.get()).values[0]!.value).toBe(0.5);
    expect((await models.infer(slots, defaultScale)).version).toBe('v2');
    expect((await metrics.modelVersion.get()).values.map((v) => v.labels.version)).toEqual(['v2']);
  });

  it('a shadow that never flushes is refused at the end of its run, with the reason, and the live model stays', async () => {
    const { models, metrics } = registry(4);
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    await models.offer(ageActor(0, 100, 'never'), 'never'); // FLUSH logit -100 everywhere
    const slots = [features(10), features(40)];
    await models.infer(slots, defaultScale);
    await models.infer(slots, defaultScale);
    expect(models.shadowVersion).toBeUndefined();
    expect(models.activeVersion).toBe('v1');
    expect(models.verdicts.at(-1)).toMatchObject({
      version: 'never',
      outcome: 'refused',
      compared: 4,
      reason:
        'refused: the candidate leaves 100.0 % of slots to the envelope, v1 50.0 % (more than +5.0 pp allowed); agreed with v1 on 50.0 % of 4 decisions',
    });
    expect((await metrics.modelVerdicts.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([
      ['promoted', 1],
      ['refused', 1],
    ]);
  });

  it('hands every verdict to onVerdict with the model sha256 (what the runtime records in KV), refusals included', async () => {
    const metrics = new PolicyMetrics(new Registry());
    const heard: Array<{ version: string; outcome: string; sha256: string }> = [];
    const models = new ModelRegistry(4, metrics, quiet, 0.05, (v) => void heard.push(v));
    const never = ageActor(0, 100, 'never');
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    await models.offer(never, 'never');
    await models.infer([features(10), features(40)], defaultScale);
    await models.infer([features(10), features(40)], defaultScale);
    expect(heard.map((v) => [v.version, v.outcome])).toEqual([
      ['v1', 'promoted'],
      ['never', 'refused'],
    ]);
    expect(heard[1]!.sha256).toBe(createHash('sha256').update(never).digest('hex'));
  });

  it('skip: a model refused elsewhere ends its shadow run here, and a live one gives way to the model it replaced', async () => {
    const { models, metrics } = registry(2);
    const v2 = ageActor(0, -5, 'v2');
    const sha = createHash('sha256').update(v2).digest('hex');
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    await models.offer(v2, 'v2');
    expect(models.shadowVersion).toBe('v2');
    models.skip('v2', sha, 'refused by policy-9: test');
    expect(models.shadowVersion).toBeUndefined();
    expect(models.activeVersion).toBe('v1');
    expect(models.verdicts.at(-1)).toMatchObject({ version: 'v2', sha256: sha, outcome: 'skipped', reason: 'refused by policy-9: test' });
    // Promoted here, refused elsewhere: v1 (the model it replaced) serves again.
    await models.offer(v2, 'v2');
    await models.infer([features(10)], defaultScale);
    await models.infer([features(10)], defaultScale);
    expect(models.activeVersion).toBe('v2');
    models.skip('v2', sha, 'refused by policy-9: test');
    expect(models.activeVersion).toBe('v1');
    expect((await metrics.modelVersion.get()).values.map((v) => v.labels.version)).toEqual(['v1']);
    expect((await metrics.modelVerdicts.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([
      ['promoted', 2],
      ['skipped', 2],
    ]);
  });

  it("on routes that run a pure strategy, a shadow is judged against that strategy's plans", async () => {
    const { models } = registry(2);
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    const plans = [planTo(20), planTo(20)];
    const slots = [features(10), features(12)];
    await models.offer(ageActor(0, 100, 'never'), 'never');
    await models.shadowBeside([{ slots, plans, strategy: 'cost_aware' }]);
    expect(models.verdicts.at(-1)).toMatchObject({ version: 'never', outcome: 'refused' });
    expect(models.verdicts.at(-1)!.reason).toContain('cost_aware 0.0 %');
    await models.offer(ageActor(10, 5, 'v2'), 'v2'); // flushes from 25 ms: within the envelope
    await models.shadowBeside([{ slots, plans, strategy: 'cost_aware' }]);
    expect(models.verdicts.at(-1)).toMatchObject({ version: 'v2', outcome: 'promoted' });
    expect(models.activeVersion).toBe('v2');
  });

  it('a 5-input model (seed state + idle time) can shadow and replace a 4-input one', async () => {
    const { models } = registry(2);
    await models.offer(ageActor(10, 5, 'v1'), 'v1');
    // FLUSH logit = 10 * idle/50 - 1: flush once nobody joined for 5 ms.
    const weights = new Float32Array(2 * OBSERVATION_SIZE_WITH_IDLE);
    weights[OBSERVATION_SIZE_WITH_IDLE + 4] = 10;
    const idleActor = encodePolicyModel(
      new Mlp([{ inputs: 5, outputs: 2, activation: 'linear', weights, bias: new Float32Array([0, -1]) }]),
    );
    expect(await models.offer(idleActor, 'idle')).toBe(true);
    const quiet = { ...features(10), idleMs: 8 };
    await models.infer([quiet, quiet], defaultScale);
    const { logits, version } = await models.infer([quiet], defaultScale);
    expect(version).toBe('idle');
    expect(logits[1]).toBeCloseTo(10 * (8 / 50) - 1, 5);
  });

  it('a shadow replaced while its compare runs is not judged by that compare: the newer shadow stays', async () => {
    const { models, metrics } = registry(1000);
    await models.offer(fixture('ppo-v1'), 'v1');
    await models.offer(overflowActor('v2'), 'v2');
    // Offering v3 and deciding one turn later queues v2's compare run behind v3's probe:
    // v2 is replaced while its run is pending, and that run then overflows.
    const offered = models.offer(fixture('ppo-v3'), 'v3');
    await nextTurn();
    const decided = models.infer([{ ...features(10), upstreamP99Ms: 1e6 }], defaultScale);
    expect(await offered).toBe(true);
    expect((await decided).version).toBe('v1');
    expect(models.shadowVersion).toBe('v3');
    expect((await metrics.modelLoadFailures.get()).values).toEqual([]);
  });

  it('two decisions that both complete the shadow promote it once, so a later NaN rolls back to the model before it', async () => {
    const { models } = registry(1);
    await models.offer(fixture('ppo-v1'), 'v1');
    await models.offer(overflowActor('v2'), 'v2');
    const slots = [features(10)];
    const both = await Promise.all([models.infer(slots, defaultScale), models.infer(slots, defaultScale)]);
    expect(both.map((d) => d.version)).toEqual(['v1', 'v1']);
    expect(models.activeVersion).toBe('v2');
    await expect(models.infer([{ ...features(10), upstreamP99Ms: 1e6 }], defaultScale)).rejects.toMatchObject({ reason: 'nan' });
    expect(models.activeVersion).toBe('v1');
    expect((await models.infer(slots, defaultScale)).version).toBe('v1');
  });

  it('two decisions that both see the live model fail roll back once, and neither runs on a released session', async () => {
    const { models, metrics } = registry(0);
    await models.offer(fixture('ppo-v1'), 'v1');
    await models.offer(overflowActor('v2'), 'v2');
    expect(models.activeVersion).toBe('v2');
    const overflowing = [{ ...features(10), upstreamP99Ms: 1e6 }];
    const results = await Promise.allSettled([models.infer(overflowing, defaultScale), models.infer(overflowing, defaultScale)]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as ModelUnavailableError).reason : r.status))).toEqual(['nan', 'nan']);
    expect(models.activeVersion).toBe('v1');
    expect((await models.infer([features(10)], defaultScale)).version).toBe('v1');
    const failures = await metrics.modelLoadFailures.get();
    expect(failures.values.map((v) => [v.labels.reason, v.value])).toEqual([['nan', 1]]);
  });

  it('without any model, inference says so (the caller falls back)', async () => {
    const { models } = registry();
    await expect(models.infer([features(1)], defaultScale)).rejects.toBeInstanceOf(ModelUnavailableError);
  });
});
