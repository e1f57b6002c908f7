/**
 * Stake-weighted proposer rotation: Tendermint's proposer-priority algorithm (each step every
 * validator gains its stake in priority; the highest, ties to the lower address, proposes and
 * loses the total). Over one period of sum(weight)/gcd(weights) steps each validator proposes
 * in proportion to its weight; that period is precomputed and cycled through, so
 * proposer(height, round) is a pure function of (height + round).
 *
 * Weights are the stakes themselves when that period fits in MAX_SCHEDULE steps (round
 * stakes: exact shares). Arbitrary stakes (18-decimal amounts, odd delegations) would need
 * an unbounded period, so then each weight is the stake's share of the total in units of
 * 1/PROPOSER_RESOLUTION, at least 1: turns are proportional to within that resolution and
 * every validator still proposes. Voting power is never rounded: only the rotation is.
 */
import { type Hex } from "../../../proofs/hex.ts";
import { type ValidatorSet, hashValidatorSet } from "../../../proofs/consortium/validators.ts";

export const MAX_SCHEDULE = 100_000;
export const PROPOSER_RESOLUTION = 10_000n;

export class ProposerSchedule {
  readonly schedule: readonly Hex[];

  constructor(set: ValidatorSet) {
    const vals = set.validators;
    if (vals.length === 0) throw new RangeError("proposer schedule: the validator set is empty");
    const weights = proposerWeights(vals.map((v) => v.stake));
    const period = weights.reduce((a, b) => a + b, 0n);
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

  /**
   * The schedule of `set`, shared by everything that needs it in this process (the engine,
   * the compact-proposal check): building one walks its whole period, up to MAX_SCHEDULE
   * steps times the set size.
   */
  static of(set: ValidatorSet): ProposerSchedule {
    const hash = hashValidatorSet(set);
    let s = recent.get(hash);
    if (!s) {
      s = new ProposerSchedule(set);
      recent.set(hash, s);
      if (recent.size > RECENT_SCHEDULES) recent.delete(recent.keys().next().value!);
    }
    return s;
  }

  proposer(height: number, round: number): Hex {
    return this.schedule[(height + round) % this.schedule.length]!;
  }
}

/** Schedules of the last few sets (a set change is decided two blocks ahead: a few sets are live at once). */
const RECENT_SCHEDULES = 4;
const recent = new Map<Hex, ProposerSchedule>();

/** Rotation weights for `stakes`: exact when their period is short, else shares of PROPOSER_RESOLUTION (≥ 1). */
export function proposerWeights(stakes: readonly bigint[]): bigint[] {
  const reduce = (ws: bigint[]) => {
    const g = ws.reduce((acc, w) => gcd(acc, w), 0n);
    return ws.map((w) => w / g);
  };
  const exact = reduce([...stakes]);
  if (exact.reduce((a, b) => a + b, 0n) <= BigInt(MAX_SCHEDULE)) return exact;
  const total = stakes.reduce((a, b) => a + b, 0n);
  const scaled = stakes.map((s) => (s * PROPOSER_RESOLUTION) / total);
  return reduce(scaled.map((w) => (w > 0n ? w : 1n)));
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
