import { describe, expect, it } from 'vitest';
import { promotionVerdict } from './promotion-gate.js';

describe('promotion gate', () => {
  it('refuses a candidate that leaves far more slots to the envelope than the live decider, and says so with the numbers', () => {
    const verdict = promotionVerdict({ compared: 500, agreed: 120, candidateToEnvelope: 500, liveToEnvelope: 10 }, 0.05, 'cost_aware');
    expect(verdict.promote).toBe(false);
    expect(verdict.reason).toBe(
      'refused: the candidate leaves 100.0 % of slots to the envelope, cost_aware 2.0 % (more than +5.0 pp allowed); agreed with cost_aware on 24.0 % of 500 decisions',
    );
  });

  it('promotes a candidate within the margin, with its agreement in the reason', () => {
    const verdict = promotionVerdict({ compared: 400, agreed: 300, candidateToEnvelope: 20, liveToEnvelope: 4 }, 0.05, 'v1');
    expect(verdict).toEqual({
      promote: true,
      reason: 'agreed with v1 on 75.0 % of 400 decisions; the candidate leaves 5.0 % of slots to the envelope, v1 1.0 %',
    });
  });

  it('refuses when nothing was compared', () => {
    expect(promotionVerdict({ compared: 0, agreed: 0, candidateToEnvelope: 0, liveToEnvelope: 0 }, 0.05, 'v1').promote).toBe(false);
  });
});
