import type { PolicyDecision, SlotFeatures } from '#libs/policy';
import type { BatchRecord, SimObserver } from '#libs/sim';
import type { RewardConfig } from './rewards.js';
import { seedFlushReward, seedWaitReward } from './rewards.js';

export const WAIT_ACTION = 0;
export const FLUSH_ACTION = 1;

/** One decision for one slot, and what it earned. `extra` is the learner's own record (obs, log-prob, state...). */
export interface Step<X> {
  key: number;
  action: number;
  reward: number;
  done: boolean;
  /** Index of the same key's next step, once known (-1 if none). */
  next: number;
  /** Simulated time of the decision. */
  atMs: number;
  /** Time until the same key's next decision (0 until known, and at the end of a trajectory). */
  dtMs: number;
  extra: X;
}

/**
 * The discount from a step to its successor. With `discountMs` = 0 one gamma
 * per decision (SB3's, the seed's); with `discountMs` > 0 gamma per that much
 * simulated time. Per decision, a policy that keeps slots open longer makes
 * more decisions and so pushes every later cost further away: waiting is
 * subsidised by the discount itself. Per unit of time the next burst's costs
 * weigh the same whatever the slot before it did.
 */
export function stepDiscount(step: Pick<Step<unknown>, 'dtMs'>, gamma: number, discountMs: number): number {
  return discountMs > 0 ? gamma ** (step.dtMs / discountMs) : gamma;
}

interface KeyState<X> {
  size: number;
  since: number;
  /** Cost accrued since the key's last decision (cost reward), in request-ms. */
  cost: number;
  last: Step<X> | undefined;
}

/**
 * Turns a simulator run into RL transitions. Each key's decisions form one
 * trajectory. With the cost reward the trajectory runs through the whole trace
 * (a flush now means a new slot, and its call, later), and each step earns
 * minus the cost accrued until the key's next decision: waiting request-ms,
 * the price of any flush in between, forced or not. With the seed's reward a
 * trajectory ends at every flush, as in the seed's one-episode-per-slot env.
 *
 * The behaviour strategy pushes its per-slot extras to `pending` in decide();
 * the simulator then calls decided() with the keys in the same order.
 */
export class Ledger<X> implements SimObserver {
  readonly steps: Step<X>[] = [];
  readonly pending: X[] = [];
  private readonly keys = new Map<number, KeyState<X>>();

  constructor(
    private readonly reward: RewardConfig,
    /** Called once a step's reward and successor are final (next undefined = terminal). */
    private readonly onFinal?: (step: Step<X>, next: Step<X> | undefined) => void,
  ) {}

  arrival(key: number, tMs: number): void {
    const state = this.state(key);
    this.accrue(state, tMs);
    state.size++;
  }

  flushed(batch: BatchRecord, features: SlotFeatures): void {
    const state = this.state(batch.key);
    const forced = batch.reason === 'timeout' || batch.reason === 'size_cap';
    if (this.reward.kind === 'cost') {
      this.accrue(state, batch.flushedAtMs);
      const { weights, callCostMs, forcedPenaltyMs } = this.reward;
      state.cost += weights.call * callCostMs + (forced ? weights.forced * forcedPenaltyMs : 0);
    } else if (forced && state.last) {
      // The seed scores a slot that ran out of steps as a forced FLUSH on its last step.
      state.last.reward = seedFlushReward(this.reward, features, true);
      this.terminate(state);
    }
    state.size = 0;
  }

  decided(keys: readonly number[], features: readonly SlotFeatures[], decisions: readonly PolicyDecision[], nowMs: number): void {
    if (this.pending.length !== keys.length) throw new Error('behaviour strategy and simulator disagree on the slots');
    keys.forEach((key, i) => {
      const state = this.state(key);
      const action = decisions[i]!.action === 'flush' ? FLUSH_ACTION : WAIT_ACTION;
      const step: Step<X> = { key, action, reward: 0, done: false, next: -1, atMs: nowMs, dtMs: 0, extra: this.pending[i]! };
      if (this.reward.kind === 'cost') {
        this.accrue(state, nowMs);
        // Cost before a key's first decision (arrival to first tick) rolls into that decision's reward.
        if (state.last) {
          state.last.reward = -state.cost / this.reward.callCostMs;
          state.cost = 0;
        }
      } else {
        step.reward =
          action === FLUSH_ACTION ? seedFlushReward(this.reward, features[i]!, false) : seedWaitReward(this.reward, features[i]!);
      }
      this.steps.push(step);
      if (state.last) {
        state.last.next = this.steps.length - 1;
        state.last.dtMs = nowMs - state.last.atMs;
        this.onFinal?.(state.last, step);
      }
      state.last = step;
      if (this.reward.kind === 'seed' && action === FLUSH_ACTION) this.terminate(state);
    });
    this.pending.length = 0;
  }

  /** Closes every trajectory at the end of the run (all slots have flushed by then). */
  finish(): void {
    for (const state of this.keys.values()) {
      if (!state.last) continue;
      if (this.reward.kind === 'cost') state.last.reward = -state.cost / this.reward.callCostMs;
      this.terminate(state);
    }
  }

  private terminate(state: KeyState<X>): void {
    const step = state.last!;
    step.done = true;
    state.last = undefined;
    state.cost = 0;
    this.onFinal?.(step, undefined);
  }

  private accrue(state: KeyState<X>, tMs: number): void {
    if (this.reward.kind === 'cost') state.cost += this.reward.weights.wait * state.size * (tMs - state.since);
    state.since = tMs;
  }

  private state(key: number): KeyState<X> {
    let state = this.keys.get(key);
    if (!state) this.keys.set(key, (state = { size: 0, since: 0, cost: 0, last: undefined }));
    return state;
  }
}
