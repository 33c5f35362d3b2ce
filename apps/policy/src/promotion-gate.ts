/**
 * Whether a model that ran in shadow may take over: the live decisions it was
 * compared on, and how often each side's plan left the slot to the envelope
 * (no flush of its own before the batch timeout: the slot is flushed by the
 * timeout or the size cap, the forced flushes seed 000's live agent made 14,455
 * of 14,458 times). A candidate that would force clearly more such flushes
 * than what decides now is refused, whatever the simulator said: the live
 * features it meets are not the ones it was trained on.
 */
export interface ShadowTally {
  compared: number;
  /** Decisions where the candidate's action now equals the live one's. */
  agreed: number;
  /** Decisions whose plan flushes nowhere before the envelope would. */
  candidateToEnvelope: number;
  liveToEnvelope: number;
}

export interface PromotionVerdict {
  promote: boolean;
  reason: string;
}

const pct = (n: number, of: number) => `${((n / Math.max(1, of)) * 100).toFixed(1)} %`;

/**
 * `envelopeMargin`: how much larger (absolute share of decisions) the
 * candidate's envelope share may be than the live one's. 0.05 by default:
 * a shadow of 500 decisions measures a share to about +-2 pp (binomial,
 * p ~ 0.1), so 5 pp is a difference the shadow can see.
 */
export function promotionVerdict(t: ShadowTally, envelopeMargin: number, liveName: string): PromotionVerdict {
  const agreement = `agreed with ${liveName} on ${pct(t.agreed, t.compared)} of ${t.compared} decisions`;
  const shares = `the candidate leaves ${pct(t.candidateToEnvelope, t.compared)} of slots to the envelope, ${liveName} ${pct(t.liveToEnvelope, t.compared)}`;
  if (t.compared === 0) return { promote: false, reason: 'no decision was compared' };
  const excess = (t.candidateToEnvelope - t.liveToEnvelope) / t.compared;
  if (excess > envelopeMargin)
    return { promote: false, reason: `refused: ${shares} (more than +${(envelopeMargin * 100).toFixed(1)} pp allowed); ${agreement}` };
  return { promote: true, reason: `${agreement}; ${shares}` };
}
