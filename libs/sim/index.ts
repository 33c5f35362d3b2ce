// Discrete-event simulator of the coalescing coordinator: traffic models and
// recorded traces in, the same envelope and strategy code as production, the
// hindsight-optimal schedule and its frontier, and per-run metrics out.
export * from './trace.js';
export * from './traffic.js';
export { DEFAULT_UPSTREAM, UpstreamModel } from './upstream.js';
export type { UpstreamSpec } from './upstream.js';
export { exponential, meanOneLognormal, normal, stream, STREAMS } from './distributions.js';
export type { Random } from './distributions.js';
export { tickAtOrAfter, tickIndexAtOrAfter } from './clock.js';
export { simulate } from './simulator.js';
export type { BatchRecord, SimConfig, SimObserver, SimResult } from './simulator.js';
export { checkDecisionPath, decisionPathOf, parseDecisionDelay } from './decision-path.js';
export type { DecisionPath, DecisionPathSpec } from './decision-path.js';
export { costPerRequest, percentile, summarize } from './metrics.js';
export type { RunMetrics } from './metrics.js';
export { arrivalsByKey, optimalRuns, oracleSchedule, replaySchedule } from './oracle.js';
export type { OracleConfig, ScheduledBatch } from './oracle.js';
export * from './frontier.js';
export { SCENARIOS, simConfigOf } from './scenarios.js';
export type { Scenario } from './scenarios.js';
export { evaluateScenario, meanBySeed, ORACLE_LABEL } from './evaluate.js';
export type { EvalOptions, EvalRow, PolicyEntry, ScenarioEvaluation } from './evaluate.js';
export { beliefPolicy, OnOffFilter, onOffModelOf, planAdvantage, planOnOff, planSaysFlush } from './bayes.js';
export type { BeliefPlan, BeliefPlanOptions, OnOffModel } from './bayes.js';
export { fitOnOff } from './fit.js';
export { fitThreshold } from './fit-threshold.js';
export type { ThresholdFit } from './fit-threshold.js';
export type { OnOffFit } from './fit.js';
export { parseEpisodesJsonl, summarizeEpisodes } from './episodes.js';
export type { EpisodeDecision, LiveEpisode, LiveSummary } from './episodes.js';
