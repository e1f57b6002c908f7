/**
 * Named retry policies; their delays are pinned by tests.
 *
 * chainReconnect: after the n-th consecutive failure to reach a ledger (n >= 1), wait
 * base × 2^(n-1), capped, before trying it again. Other ledgers are not held up meanwhile.
 */
export function chainReconnectDelayMs(failures: number, baseMs: number, capMs = 30_000): number {
  if (!Number.isInteger(failures) || failures < 1) throw new RangeError("chainReconnectDelayMs: failures is an integer >= 1");
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 30));
}
