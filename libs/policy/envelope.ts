import type { FlushReason, SlotFeatures } from './types.js';

/**
 * The safety envelope: checked before any policy and unconditional.
 * Size first (a full slot flushes even if young), then age.
 */
export function envelopeReason(
  slot: Pick<SlotFeatures, 'size' | 'ageMs' | 'maxBatchSize' | 'batchTimeoutMs'>,
): Extract<FlushReason, 'size_cap' | 'timeout'> | undefined {
  if (slot.size >= slot.maxBatchSize) return 'size_cap';
  if (slot.ageMs >= slot.batchTimeoutMs) return 'timeout';
  return undefined;
}
