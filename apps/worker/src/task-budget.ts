/**
 * How long a worker may spend calling the origin for a task: its own upstream
 * timeout, cut to the time left before the task's deadline (the latest
 * deadline of the slot's waiters, wall-clock ms). 'expired' means no waiter is
 * left, so the origin must not be called. A deadline of 0 is unknown (a task
 * from an older coordinator or ingress): the upstream timeout alone applies.
 */
export function callBudgetMs(deadlineAtMs: number, nowMs: number, upstreamTimeoutMs: number): number | 'expired' {
  if (!(deadlineAtMs > 0)) return upstreamTimeoutMs;
  const left = Math.floor(deadlineAtMs - nowMs);
  if (left <= 0) return 'expired';
  return Math.min(upstreamTimeoutMs, left);
}
