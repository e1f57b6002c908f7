/**
 * Pure admission check: can the relayer still meet every deadline it holds on one chain?
 * Sends on a chain run `concurrency` at a time, earliest deadline first, each taking about
 * `sendSec`; the k-th deadline (1-based, ascending) is met only if ceil(k / concurrency)
 * sends' worth of time fits before it.
 */
export type CapacityVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly position: number; readonly needSec: number; readonly leftSec: number };

export function checkDeadlines(secondsLeft: readonly number[], sendSec: number, concurrency: number): CapacityVerdict {
  if (!(sendSec >= 0) || !Number.isInteger(concurrency) || concurrency < 1) throw new RangeError("checkDeadlines: sendSec >= 0 and an integer concurrency >= 1");
  const sorted = [...secondsLeft].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const needSec = Math.ceil((i + 1) / concurrency) * sendSec;
    if (needSec > sorted[i]!) return { ok: false, position: i + 1, needSec, leftSec: sorted[i]! };
  }
  return { ok: true };
}

/** Exponentially weighted moving average of send durations, never below a floor. */
export function nextSendEstimate(previous: number | undefined, observedSec: number, floorSec: number, weight = 0.2): number {
  const next = previous === undefined ? observedSec : previous * (1 - weight) + observedSec * weight;
  return Math.max(floorSec, next);
}
