import { seededRandom } from '#libs/policy';

/** A uniform [0,1) source; every random draw in the simulator goes through one. */
export type Random = () => number;

/**
 * Independent, reproducible streams from one run seed: traffic, upstream and
 * strategy draws never share a stream, so changing a policy does not change
 * the traffic it is evaluated on.
 */
export function stream(seed: number, purpose: number): Random {
  return seededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(purpose + 1, 0xc2b2ae35));
}

/** Stream purposes: one independent generator each. */
export const STREAMS = { traffic: 1, keys: 2, upstream: 11, strategy: 12, decisions: 13 } as const;

export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** Standard normal via Box-Muller (one draw per call; simplicity over speed). */
export function normal(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Lognormal factor with mean 1: exp(sigma*Z - sigma^2/2). */
export function meanOneLognormal(random: Random, sigma: number): number {
  return sigma === 0 ? 1 : Math.exp(sigma * normal(random) - (sigma * sigma) / 2);
}

/** Samples index k with probability proportional to (k+1)^-exponent (Zipf). */
export function zipfSampler(keys: number, exponent: number): (random: Random) => number {
  const cdf = new Float64Array(keys);
  let total = 0;
  for (let k = 0; k < keys; k++) cdf[k] = total += 1 / Math.pow(k + 1, exponent);
  return (random) => {
    const target = random() * total;
    let lo = 0;
    let hi = keys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
