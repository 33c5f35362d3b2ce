import { createHash } from 'node:crypto';
import { decodePolicyModel, POLICY_INPUT, POLICY_OUTPUT } from '#libs/onnx';
import type { FlushPlan, ObservationScale, SlotFeatures } from '#libs/policy';
import {
  observe,
  OBSERVATION_WIDTHS,
  projectAhead,
  PROJECTED_AGES,
  readObservationScale,
  seededRandom,
  StrategyParams,
} from '#libs/policy';
import type { Logger } from '#libs/tracing';
import * as ort from 'onnxruntime-node';
import type { PolicyMetrics } from './policy-metrics.js';
import type { ShadowTally } from './promotion-gate.js';
import { promotionVerdict } from './promotion-gate.js';
import { tallyLogits, tallyPlans } from './shadow-tally.js';

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
  tally: ShadowTally;
  /** What it was compared with (the live model's version, or the route strategies'). */
  against: Set<string>;
}

/**
 * How a model's shadow run ended, as GET /models and the log say; `skipped`: a published model not offered
 * at all, since a refusal of it is on record (verdict-records.ts), by this replica or another, before or
 * since a restart.
 */
export interface ModelVerdict {
  version: string;
  sha256: string;
  outcome: 'promoted' | 'refused' | 'dropped' | 'skipped';
  reason: string;
  compared: number;
  atMs: number;
}

/** Verdicts kept for GET /models (the newest last). */
const VERDICTS_KEPT = 20;

/** The observation scale of a candidate shadowed on a route that runs a pure strategy: the ppo strategy's default. */
const DEFAULT_SCALE = readObservationScale(new StrategyParams('ppo', {}));

/** Slots whose live decisions came from a pure strategy, for a shadow to be compared on. */
export interface DecidedGroup {
  slots: readonly SlotFeatures[];
  plans: readonly FlushPlan[];
  strategy: string;
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

function finite(values: Float32Array): boolean {
  for (const v of values) if (!Number.isFinite(v)) return false;
  return true;
}

/**
 * The PPO models of one policy replica. A new model is checked (decodes as a
 * policy network, loads in onnxruntime, answers a probe batch with finite
 * logits), then runs in shadow for a number of decisions beside whatever
 * decides now: the live model on ppo routes, the route's strategy elsewhere
 * (shadowBeside). At the end the promotion gate (promotion-gate.ts) promotes
 * it or refuses it, with the reason logged, counted and kept for GET /models
 * (and handed to onVerdict: the runtime records refusals, so no replica
 * offers a refused model again).
 * A model that fails to load never serves; a shadow that produces NaN is
 * dropped, a live model that does is rolled back.
 */
export class ModelRegistry {
  private active: LiveModel | undefined;
  private previous: LiveModel | undefined;
  private shadow: Shadow | undefined;
  private readonly judged: ModelVerdict[] = [];

  constructor(
    private readonly shadowDecisions: number,
    private readonly metrics: PolicyMetrics,
    private readonly logger: Logger,
    /** The promotion gate's margin on the share of slots left to the envelope (promotion-gate.ts). */
    private readonly envelopeMargin = 0.05,
    /** Called with every verdict as it is reached (the runtime records refusals in KV). */
    private readonly onVerdict: (verdict: ModelVerdict) => void = () => undefined,
  ) {}

  /** The last shadow runs' outcomes, oldest first. */
  get verdicts(): readonly ModelVerdict[] {
    return this.judged;
  }

  /** The model in shadow now and how far its run is. */
  get shadowState(): { version: string; compared: number; remaining: number } | undefined {
    const s = this.shadow;
    return s ? { version: s.model.version, compared: s.tally.compared, remaining: s.remaining } : undefined;
  }

  get activeVersion(): string | undefined {
    return this.active?.version;
  }

  get shadowVersion(): string | undefined {
    return this.shadow?.model.version;
  }

  get shadowSha256(): string | undefined {
    return this.shadow?.model.sha256;
  }

  get activeSha256(): string | undefined {
    return this.active?.sha256;
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
      const why = this.shadowDecisions === 0 ? 'shadowing is off (BATCHGATE_SHADOW_DECISIONS=0)' : 'no live model to compare with';
      this.promote(model, why);
      this.judge(model, 'promoted', why, 0);
    } else {
      this.shadow = {
        model,
        remaining: this.shadowDecisions,
        tally: { compared: 0, agreed: 0, candidateToEnvelope: 0, liveToEnvelope: 0 },
        against: new Set(),
      };
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
   * `comparedRows`: only the batch's first rows are compared in shadow (the slots' own decisions, which
   * slot.decided records; the opening-plan rows after them are not).
   */
  async inferGroups(
    groups: readonly InferenceGroup[],
    rowsPerDecision = 1,
    comparedRows = Infinity,
  ): Promise<{ logits: Float32Array; version: string }> {
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
    const shadow = this.shadow;
    const compared = Math.min(batch, comparedRows);
    if (shadow && compared > 0) {
      const width = shadow.model.inputSize;
      const observations = observeGroups(groups, width).subarray(0, compared * width);
      await this.compare(shadow, observations, compared, logits.subarray(0, compared * 2), rowsPerDecision);
    }
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
    const candidate = await this.runShadow(shadow, observations, batch);
    if (!candidate) return;
    shadow.against.add(this.active?.version ?? 'none');
    this.counted(shadow, tallyLogits(shadow.tally, candidate, live, batch, stride));
  }

  /**
   * Compares the shadow with the plans a pure strategy gave (routes not on ppo), off the reply path: the
   * caller does not wait. Each slot is run at its projected ages, as the candidate would plan if it served.
   */
  async shadowBeside(groups: readonly DecidedGroup[]): Promise<void> {
    const shadow = this.shadow;
    if (!shadow || groups.length === 0) return;
    const slots = groups.flatMap((g) => g.slots);
    const plans = groups.flatMap((g) => g.plans);
    const rows = projectAhead(slots);
    const candidate = await this.runShadow(shadow, observe(rows, DEFAULT_SCALE, shadow.model.inputSize), rows.length);
    if (!candidate) return;
    for (const g of groups) shadow.against.add(g.strategy);
    this.counted(shadow, tallyPlans(shadow.tally, candidate, slots, plans, PROJECTED_AGES));
  }

  /** The shadow's logits, or undefined when it is no longer the shadow or failed (then it is dropped). */
  private async runShadow(shadow: Shadow, observations: Float32Array, batch: number): Promise<Float32Array | undefined> {
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
    if (this.shadow !== shadow) return undefined;
    if (!finite(candidate)) {
      this.metrics.modelLoadFailures.inc({ reason: 'nan' });
      this.logger.error({ err: failure, version: shadow.model.version }, 'shadow model produced a non-finite logit; dropped');
      this.shadow = undefined;
      this.judge(shadow.model, 'dropped', 'produced a non-finite logit in shadow', shadow.tally.compared);
      void this.retire(shadow.model);
      return undefined;
    }
    return candidate;
  }

  private counted(shadow: Shadow, decisions: number): void {
    shadow.remaining -= decisions;
    this.metrics.shadowAgreement.set(shadow.tally.agreed / shadow.tally.compared);
    if (shadow.remaining > 0) return;
    this.shadow = undefined;
    const verdict = promotionVerdict(shadow.tally, this.envelopeMargin, [...shadow.against].sort().join('/'));
    if (verdict.promote) this.promote(shadow.model, verdict.reason);
    else {
      this.logger.warn(
        { version: shadow.model.version, why: verdict.reason, live: this.active?.version },
        'policy model refused after shadow',
      );
      void this.retire(shadow.model);
    }
    this.judge(shadow.model, verdict.promote ? 'promoted' : 'refused', verdict.reason, shadow.tally.compared);
  }

  /**
   * A published model that is not offered, since it was refused before (`why` says by whom and why):
   * counted and listed like a verdict. If this replica has it in shadow or live (another replica's gate
   * refused it, while this one was still shadowing it or had promoted it), the shadow run ends here, and
   * a live one gives way to the model it replaced (kept live when there is none: nothing better to serve).
   */
  skip(version: string, sha256: string, why: string): void {
    const shadow = this.shadow;
    let compared = 0;
    if (shadow?.model.sha256 === sha256) {
      this.shadow = undefined;
      compared = shadow.tally.compared;
      void this.retire(shadow.model);
    }
    const active = this.active;
    if (active?.sha256 === sha256 && this.previous) {
      this.metrics.modelVersion.remove({ version: active.version });
      this.active = this.previous;
      this.previous = undefined;
      this.metrics.modelVersion.set({ version: this.active.version }, 1);
      this.logger.warn(
        { withdrawn: active.version, restored: this.active.version, why },
        'live policy model refused elsewhere; rolled back',
      );
      void this.retire(active);
    }
    this.judge({ version, sha256 }, 'skipped', why, compared);
  }

  private judge(model: { version: string; sha256: string }, outcome: ModelVerdict['outcome'], reason: string, compared: number): void {
    this.metrics.modelVerdicts.inc({ outcome });
    const verdict: ModelVerdict = { version: model.version, sha256: model.sha256, outcome, reason, compared, atMs: Date.now() };
    this.judged.push(verdict);
    if (this.judged.length > VERDICTS_KEPT) this.judged.shift();
    this.onVerdict(verdict);
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
