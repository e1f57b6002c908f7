/**
 * Counters of an adapter's transaction sending, read by the relayer's metrics. A nonce resync
 * is the adapter dropping its cached account nonce to re-read it from the chain (after a
 * refused, dropped, replaced or timed-out send); a rebroadcast is a transaction signed again
 * at the same nonce with higher fees because it was not mined.
 */
export interface SendStats {
  readonly nonceResyncs: number;
  readonly rebroadcasts: number;
}

export interface ReportsSendStats {
  sendStats(): SendStats;
}

export function reportsSendStats(x: object): x is ReportsSendStats {
  return typeof (x as Partial<ReportsSendStats>).sendStats === "function";
}
