/**
 * Block time agreed by the validators (Tendermint's "BFT time"): the time of block H+1 is the
 * stake-weighted median of the precommit times in the commit of block H that block H+1
 * carries (its lastCommit). Each precommit for block H signs max(own clock, time(H) + 1), so
 * the median is strictly after time(H): block time is monotonic. With the Byzantine stake
 * below 1/3 and the commit above 2/3, the Byzantine part of the commit is below half of its
 * stake, so the median lies between two correct validators' times: faulty clocks cannot
 * move it outside the range of correct ones.
 */

/**
 * The smallest time t such that the stake of times ≤ t is MORE than half the total (with an
 * exact even split, the first time past the half). Throws on an empty list (misuse: a verified commit is never empty).
 */
export function weightedMedianTime(votes: readonly { readonly timeMs: number; readonly stake: bigint }[]): number {
  if (votes.length === 0) throw new RangeError("weightedMedianTime: no votes");
  const sorted = [...votes].sort((a, b) => a.timeMs - b.timeMs);
  const total = sorted.reduce((s, v) => s + v.stake, 0n);
  let acc = 0n;
  for (const v of sorted) {
    acc += v.stake;
    if (acc * 2n > total) return v.timeMs;
  }
  return sorted[sorted.length - 1]!.timeMs;
}
