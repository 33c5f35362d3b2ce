import { createHash } from 'node:crypto';
import { decodePolicyModel, POLICY_INPUT, POLICY_OUTPUT } from '#libs/onnx';
import type { ObservationScale, SlotFeatures } from '#libs/policy';
import { observe, OBSERVATION_WIDTHS, seededRandom } from '#libs/policy';
import type { Logger } from '#libs/tracing';
import * as ort from 'onnxruntime-node';
import type { PolicyMetrics } from './policy-metrics.js';

/** A model ready to serve: its ONNX Runtime session, identity and observation width. */
interface LiveModel {
  version: string;
  sha256: string;
  inputSize: number;
  session: ort.InferenceSession;
  /** session.run calls in flight: a retired model's session is released only once this is 0. */
  running: number;
  retired: boolean;
}

interface Shadow {
  model: LiveModel;
  remaining: number;
  compared: number;
  agreed: number;
}

/** States every model must answer with finite logits before it may serve (observation range plus margin). */
function probe(width: number): Float32Array {
  const random = seededRandom(7);
  return Float32Array.from({ length: 256 * width }, () => -0.1 + 1.2 * random());
}

/** Raised when the active model cannot answer; the caller falls back to a pure strategy. */
export class ModelUnavailableError extends Error {
  constructor(
    readonly reason: 'no_model' | 'nan' | 'inference_error',
    message: string,
  ) {
    super(message);
    this.name = 'ModelUnavailableError';
  }
}

function argmax2(logits: Float32Array, i: number): number {
  return logits[i * 2 + 1]! > logits[i * 2]! ? 1 : 0;
}

function finite(values: Float32Array): boolean {
  for (const v of values) if (!Number.isFinite(v)) return false;
  return true;
}

/**
 * The PPO models of one policy replica. A new model is checked (decodes as a
 * policy network, loads in onnxruntime, answers a probe batch with finite
 * logits), then runs in shadow beside the live one for a number of decisions
 * (agreement is logged and exported) before it takes over. A model that fails
 * to load never serves; one that starts producing NaN is rolled back.
 */
export class ModelRegistry {
  private active: LiveModel | undefined;
  private previous: LiveModel | undefined;
  private shadow: Shadow | undefined;

  constructor(
    private readonly shadowDecisions: number,
    private readonly metrics: PolicyMetrics,
    private readonly logger: Logger,
  ) {}

  get activeVersion(): string | undefined {
    return this.active?.version;
  }

  get shadowVersion(): string | undefined {
    return this.shadow?.model.version;
  }

  /** Offers a model; returns false (and keeps the current one) when it is unusable. */
  async offer(given: Uint8Array, version: string): Promise<boolean> {
    // A view into a larger buffer (the Object Store returns those) would hand
    // onnxruntime the whole underlying buffer: give it exactly the model.
    const bytes = given.slice();
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (this.active?.sha256 === sha256 || this.shadow?.model.sha256 === sha256) return true;
    let model: LiveModel;
    try {
      const { inputSize } = decodePolicyModel(bytes).network;
      if (!OBSERVATION_WIDTHS.includes(inputSize))
        throw new Error(`takes ${inputSize} inputs, not one of ${OBSERVATION_WIDTHS.join(', ')}`);
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
      model = { version, sha256, inputSize, session, running: 0, retired: false };
      if (!finite(await this.run(model, probe(inputSize), 256))) throw new Error('produces non-finite logits on the probe batch');
    } catch (error) {
      this.metrics.modelLoadFailures.inc({ reason: error instanceof Error && /non-finite/.test(error.message) ? 'nan' : 'invalid' });
      this.logger.error({ err: error, version }, 'rejected a policy model; the current one stays live');
      return false;
    }
    // Offers arrive one at a time (LiveConfig applies revisions in order), so this model is newer than any shadow.
    if (this.shadow) void this.retire(this.shadow.model);
    if (!this.active || this.shadowDecisions === 0) {
      this.shadow = undefined;
      this.promote(model, 'no live model to compare with');
    } else {
      this.shadow = { model, remaining: this.shadowDecisions, compared: 0, agreed: 0 };
      this.logger.info({ version, decisions: this.shadowDecisions }, 'policy model in shadow');
    }
    return true;
  }

  /** WAIT/FLUSH logits of the live model for a batch of slots (one session.run), observed at the model's width. */
  async infer(slots: readonly SlotFeatures[], scale: ObservationScale): Promise<{ logits: Float32Array; version: string }> {
    return this.inferGroups([{ slots, scale }]);
  }

  /**
   * One session.run for the slots of every group (each observed with its route's scale); logits in group order.
   * `rowsPerDecision` > 1: each decision is that many consecutive rows (a plan's projected ages, the first one
   * now); a shadow model is compared on the first row of each, so its count is of decisions, not rows.
   */
  async inferGroups(groups: readonly InferenceGroup[], rowsPerDecision = 1): Promise<{ logits: Float32Array; version: string }> {
    const active = this.active;
    if (!active) throw new ModelUnavailableError('no_model', 'no policy model is loaded');
    const batch = groups.reduce((sum, g) => sum + g.slots.length, 0);
    let logits: Float32Array;
    try {
      logits = await this.run(active, observeGroups(groups, active.inputSize), batch);
    } catch (error) {
      throw new ModelUnavailableError('inference_error', (error as Error).message);
    }
    if (!finite(logits)) {
      this.rollback(active);
      throw new ModelUnavailableError('nan', `model ${active.version} produced a non-finite logit`);
    }
    if (this.shadow) await this.compare(this.shadow, observeGroups(groups, this.shadow.model.inputSize), batch, logits, rowsPerDecision);
    return { logits, version: active.version };
  }

  async close(): Promise<void> {
    const live = [this.active, this.previous, this.shadow?.model].filter((m): m is LiveModel => m !== undefined);
    await Promise.all(live.map((m) => this.retire(m)));
  }

  private async run(model: LiveModel, observations: Float32Array, batch: number): Promise<Float32Array> {
    model.running++;
    try {
      const result = await model.session.run({ [POLICY_INPUT]: new ort.Tensor('float32', observations, [batch, model.inputSize]) });
      const data = result[POLICY_OUTPUT]?.data;
      if (!(data instanceof Float32Array)) throw new Error(`model returned no float32 ${POLICY_OUTPUT}`);
      return data;
    } finally {
      model.running--;
      if (model.retired && model.running === 0) void this.release(model);
    }
  }

  /** Takes a model out of service; its session is released now if idle, else when its last run ends. */
  private async retire(model: LiveModel): Promise<void> {
    if (model.retired) return;
    model.retired = true;
    if (model.running === 0) await this.release(model);
  }

  private async release(model: LiveModel): Promise<void> {
    try {
      await model.session.release();
    } catch (error) {
      this.logger.warn({ err: error, version: model.version }, 'could not release a policy model session');
    }
  }

  private async compare(shadow: Shadow, observations: Float32Array, batch: number, live: Float32Array, stride: number): Promise<void> {
    let candidate: Float32Array;
    let failure: unknown;
    try {
      candidate = await this.run(shadow.model, observations, batch);
    } catch (error) {
      candidate = new Float32Array([NaN]);
      failure = error;
    }
    // While this run was queued, a concurrent decision may have finished this shadow,
    // or a newer model replaced it: its verdict then no longer applies.
    if (this.shadow !== shadow) return;
    if (!finite(candidate)) {
      this.metrics.modelLoadFailures.inc({ reason: 'nan' });
      this.logger.error({ err: failure, version: shadow.model.version }, 'shadow model produced a non-finite logit; dropped');
      this.shadow = undefined;
      void this.retire(shadow.model);
      return;
    }
    let decisions = 0;
    for (let i = 0; i < batch; i += stride, decisions++) if (argmax2(candidate, i) === argmax2(live, i)) shadow.agreed++;
    shadow.compared += decisions;
    shadow.remaining -= decisions;
    this.metrics.shadowAgreement.set(shadow.agreed / shadow.compared);
    if (shadow.remaining <= 0) {
      this.shadow = undefined;
      this.promote(
        shadow.model,
        `agreed with ${this.active?.version} on ${((shadow.agreed / shadow.compared) * 100).toFixed(1)} % of ${shadow.compared} decisions`,
      );
    }
  }

  private promote(model: LiveModel, why: string): void {
    const old = this.active;
    if (this.previous && this.previous !== old) void this.retire(this.previous);
    this.previous = old;
    this.active = model;
    if (old) this.metrics.modelVersion.remove({ version: old.version });
    this.metrics.modelVersion.set({ version: model.version }, 1);
    this.logger.info({ version: model.version, replaced: old?.version, why }, 'policy model live');
  }

  /** Takes a model that produced NaN out of service, once, however many decisions saw it fail. */
  private rollback(failed: LiveModel): void {
    if (failed.retired) return;
    this.metrics.modelLoadFailures.inc({ reason: 'nan' });
    if (this.active === failed) {
      this.metrics.modelVersion.remove({ version: failed.version });
      this.active = this.previous;
      this.previous = undefined;
      if (this.active) this.metrics.modelVersion.set({ version: this.active.version }, 1);
      this.logger.error({ failed: failed.version, restored: this.active?.version }, 'policy model produced NaN; rolled back');
    } else {
      // A newer model took over while this run was in flight: just stop keeping it to roll back to.
      if (this.previous === failed) this.previous = undefined;
      this.logger.error({ failed: failed.version }, 'replaced policy model produced NaN; dropped');
    }
    void this.retire(failed);
  }
}

/** Slots observed with one scale: a route group of a decide request. */
export interface InferenceGroup {
  slots: readonly SlotFeatures[];
  scale: ObservationScale;
}

/** The groups' observations stacked into one [slots, width] batch. */
function observeGroups(groups: readonly InferenceGroup[], width: number): Float32Array {
  if (groups.length === 1) return observe(groups[0]!.slots, groups[0]!.scale, width);
  const out = new Float32Array(groups.reduce((sum, g) => sum + g.slots.length, 0) * width);
  let offset = 0;
  for (const { slots, scale } of groups) {
    out.set(observe(slots, scale, width), offset);
    offset += slots.length * width;
  }
  return out;
}
