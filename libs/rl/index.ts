// Training of the learned flush policies in TypeScript: PPO (actor-critic MLP,
// GAE, clipped objective, entropy bonus) and tabular Q-learning on simulator
// episodes, with the cost reward or the seed's reward as coded; DAgger
// distillation of a teacher into the same network; and how each model was made.
export { Adam, clipGradNorm } from './adam.js';
export { DenseNet, orthogonal } from './dense.js';
export type { Activation } from './dense.js';
export { FLUSH_ACTION, Ledger, WAIT_ACTION } from './ledger.js';
export type { Step } from './ledger.js';
export {
  costReward,
  REWARD_SETTINGS,
  RewardSettingError,
  rewardTerms,
  seedFlushReward,
  seedReward,
  seedWaitReward,
  withoutTerm,
  withRewardSettings,
} from './rewards.js';
export type { CostReward, RewardConfig, SeedReward } from './rewards.js';
export { ActorCritic, buildRollout, PpoLearner, samplingStrategy, SEED_PPO } from './ppo.js';
export type { PpoConfig, PpoExtra, Rollout, UpdateStats } from './ppo.js';
export { trainPpo, validate } from './train-ppo.js';
export type { PpoProgress, PpoResult, PpoTraining } from './train-ppo.js';
export { emptyQTable, IDLE_EDGES, SEED_QLEARNING, trainQTable } from './qlearning.js';
export type { QTraining } from './qlearning.js';
export { drawEpisode, jitterScenario, validationEpisodes } from './training-traffic.js';
export type { TrainingEpisode, TrainingSource } from './training-traffic.js';
export { fromCheckpoint, toCheckpoint } from './checkpoint.js';
export type { PpoCheckpoint } from './checkpoint.js';
export { trainImitation } from './imitate.js';
export { modelLabel, provenanceOf, provenanceRecords, recordPathOf } from './provenance.js';
export type { MadeBy, ModelMethod, ModelProvenance } from './provenance.js';
export type { ImitationProgress, ImitationTraining, Teacher } from './imitate.js';
