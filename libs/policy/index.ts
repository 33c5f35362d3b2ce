// Flush policy: the safety envelope, the live feature estimators and every
// flush strategy as pure, deterministic code. The policy service, the
// coordinator's embedded fallback and the simulator all run exactly this.
export * from './types.js';
export { envelopeReason } from './envelope.js';
export { DecayingRate, SlidingQuantile } from './estimators.js';
export { DEFAULT_ORIGIN, FeatureBook, LATENCY_WINDOW, MAX_TRACKED_KEYS, RATE_TAU_MS } from './features.js';
export { FLUSH_NOW, planDue, planOfVerdict, plansOf, planTo, planValid, verdictOf } from './plan.js';
export { DecisionRound } from './decision-round.js';
export { freshSlot, OPENING_PLAN_TTL_MS, OpeningPlans, openingRows, openingsFrom, plansWithOpenings, rateBand } from './opening.js';
export type { OpeningMatch, OpeningPlan } from './opening.js';
export type { DecisionRoundOptions, Flush, Question, RoundFailure, TickResult } from './decision-round.js';
export { asksAgain, FORGET_EVERY_MS, giveUpAfterMs, POLICY_BACKOFF_MS } from './round-rules.js';
export type { OpenSlotView } from './features.js';
export { seededRandom } from './random.js';
export { Mlp } from './network.js';
export type { DenseLayer, PolicyNetwork } from './network.js';
export { StrategyConfigError, StrategyParams } from './params.js';
export { createStrategy, isLearnedStrategy, isStrategyName, readLearnedSpec, STRATEGY_NAMES } from './registry.js';
export { checkFallbackStrategySetting, checkStrategySetting } from './check.js';
export type { LearnedSpec, StrategyModels, StrategyName } from './registry.js';
export { targetBatchSize } from './strategies/cost-aware.js';
export { depthWindowMs } from './strategies/adaptive.js';
export { BatchTimeModel, modelBased } from './strategies/model-based.js';
export type { ModelBasedStrategy } from './strategies/model-based.js';
export {
  bucketOf,
  decisionsFromLogits,
  observe,
  plansFromLogits,
  projectAhead,
  PROJECTED_AGES,
  OBSERVATION_SIZE,
  OBSERVATION_SIZE_WITH_IDLE,
  OBSERVATION_SIZE_WITH_SHORT_IDLE,
  OBSERVATION_WIDTHS,
  qStateCount,
  qStateIndex,
  readObservationScale,
  SHORT_IDLE_MS,
  validateQTable,
} from './strategies/learned.js';
export type { ObservationScale, QTable } from './strategies/learned.js';
export { DecisionColumns, deciderOf, encodeSlotBatch, openingsOfReply, plansOfReply } from './wire.js';
export { readDecideRequest, WireFormatError } from './decide-reader.js';
export type { DecideRequestView } from './decide-reader.js';
export type { SlotToDecide } from './wire.js';
