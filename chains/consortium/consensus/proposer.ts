/**
 * Stake-weighted proposer rotation: Tendermint's proposer-priority algorithm (each step every
 * validator gains its stake in priority; the highest, ties to the lower address, proposes and
 * loses the total). Over one period of sum(stake)/gcd(stakes) steps each validator proposes
 * in proportion to its stake; that period is precomputed and cycled through, so
 * proposer(height, round) is a pure function of (height + round).
 */
import { type Hex } from "../../../proofs/hex.ts";
import { type ValidatorSet } from "../../../proofs/consortium/validators.ts";

export const MAX_SCHEDULE = 100_000;

export class ProposerSchedule {
  readonly schedule: readonly Hex[];

  constructor(set: ValidatorSet) {
    const vals = set.validators;
    const g = vals.reduce((acc, v) => gcd(acc, v.stake), 0n);
    const weights = vals.map((v) => v.stake / g);
    const period = weights.reduce((a, b) => a + b, 0n);
    if (period > BigInt(MAX_SCHEDULE)) {
      throw new RangeError(`validator stakes need a proposer period of ${period} steps (limit ${MAX_SCHEDULE}); use coarser stakes`);
    }
    const priority = weights.map(() => 0n);
    const schedule: Hex[] = [];
    for (let step = 0n; step < period; step++) {
      let best = 0;
      for (let i = 0; i < vals.length; i++) {
        priority[i]! += weights[i]!;
        if (priority[i]! > priority[best]!) best = i; // validators are address-sorted: ties go to the lower address
      }
      priority[best]! -= period;
      schedule.push(vals[best]!.address);
    }
    this.schedule = Object.freeze(schedule);
  }

  proposer(height: number, round: number): Hex {
    return this.schedule[(height + round) % this.schedule.length]!;
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
