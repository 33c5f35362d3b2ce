/**
 * The decision round's numbers and its "ask again" rule, kept apart from the
 * round's bookkeeping so the rule can be read (and tuned) in one place.
 */

/** After the policy service is found absent (no responders), ask again only after this long. */
export const POLICY_BACKOFF_MS = 100;

/**
 * A late round stays in flight (its answer, when it comes, is the newest plan)
 * until 10 decision timeouts have passed: 50 ms at the 5 ms default, one
 * default batch timeout, by when every slot it asked about is flushed anyway;
 * but never more than ROUND_GIVE_UP_SLACK_MS past the timeout, so a long
 * configured timeout does not keep the policy unasked for 10 x as long.
 */
export const ROUND_GIVE_UP_FACTOR = 10;
export const ROUND_GIVE_UP_SLACK_MS = 1000;

export function giveUpAfterMs(decisionTimeoutMs: number): number {
  return Math.min(decisionTimeoutMs * ROUND_GIVE_UP_FACTOR, decisionTimeoutMs + ROUND_GIVE_UP_SLACK_MS);
}

/** Idle per-key rate state is looked for this often (the simulator's old schedule). */
export const FORGET_EVERY_MS = 10_000;

/** A slot is asked about again when its key's arrival rate moved by more than this factor either way (or a waiter joined). */
export const RATE_CHANGE = 1.25;

/** What the round remembers of a slot's last question and plan. */
export interface AskedInputs {
  byPolicy: boolean;
  askedSize: number;
  askedRate: number;
}

/**
 * Which slots a round asks about: a slot never asked (newly opened), one
 * whose plan is the embedded strategy's or no longer valid, and one whose
 * inputs changed since it was asked: a waiter joined, or the key's rate is off
 * by more than x1.25 either way. A slot nobody joins keeps its plan and costs
 * the policy nothing however long it waits. (Asking only once size grew by a
 * quarter made the imitation-trained PPO student of libs/rl/imitate.spec.ts
 * cost 28.54 per request against its teacher's 25.5: a plan projected from a
 * stale size is worse than a fresh one, and a join is the input that matters.)
 */
export function asksAgain(asked: AskedInputs | undefined, planValid: boolean, size: number, requestRate: number): boolean {
  if (!asked || !asked.byPolicy || !planValid) return true;
  if (size > asked.askedSize) return true;
  const low = Math.min(requestRate, asked.askedRate);
  const high = Math.max(requestRate, asked.askedRate);
  return high > low * RATE_CHANGE;
}
