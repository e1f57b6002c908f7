/**
 * A height-ordered stream that survives its connection: on a dropped stream or a node
 * restart it reconnects after a backoff and asks again from the last delivered height + 1,
 * so the consumer sees every height exactly once, in order. A node that skips or repeats a
 * height is a BAD_RESPONSE (not retried: it would do it again); errors the node means
 * (INVALID_ARGUMENT, OUT_OF_RANGE, ...) are passed on, not retried.
 */
import * as grpc from "@grpc/grpc-js";
import { IsthmusError, LedgerError } from "../../errors.ts";
import { RpcErrorCode } from "../codes.ts";

export interface ResumeOptions {
  /** Ends the subscription (the iterator finishes) when aborted. */
  readonly signal?: AbortSignal;
  /** Reconnections in a row without a delivered height before the last error is thrown; default unlimited. */
  readonly maxRetries?: number;
  /** Delay before reconnection `attempt` (1, 2, ... since the last delivered height); default subscriptionRetryDelayMs. */
  readonly retryDelayMs?: (attempt: number) => number;
  /** Told before each reconnection (for logs). */
  readonly onRetry?: (retry: { readonly attempt: number; readonly delayMs: number; readonly resumeAt: number; readonly error: unknown }) => void;
}

/** The default backoff: 100 ms, doubling per attempt, capped at 5 s. */
export function subscriptionRetryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt - 1), 5_000);
}

/** gRPC codes by which the node says the request itself is wrong: asking again cannot help. */
const FINAL_CODES: ReadonlySet<number> = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.OUT_OF_RANGE,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.UNIMPLEMENTED,
]);

/** Whether a stream's error is worth reconnecting for: the connection or the node failed, not the request. */
export function isResumable(err: unknown): boolean {
  if (!(err instanceof IsthmusError) || err.code !== RpcErrorCode.RPC_FAILED) return false;
  const code = err.details.grpcCode;
  return typeof code === "number" && !FINAL_CODES.has(code);
}

export interface ResumeByHeightParams<T> {
  /** Ledger name used in errors. */
  readonly chain: string;
  readonly fromHeight: number;
  /** Opens one stream starting at `fromHeight`; it must end (or throw) once `signal` aborts. */
  readonly open: (fromHeight: number, signal: AbortSignal) => AsyncIterable<T>;
  readonly heightOf: (item: T) => number;
}

export async function* resumeByHeight<T>(params: ResumeByHeightParams<T>, opts: ResumeOptions = {}): AsyncGenerator<T, void, undefined> {
  const { chain, open, heightOf } = params;
  const maxRetries = opts.maxRetries ?? Number.POSITIVE_INFINITY;
  const delayOf = opts.retryDelayMs ?? subscriptionRetryDelayMs;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) return;
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let next = params.fromHeight;
  let attempt = 0;
  try {
    for (;;) {
      let error: unknown;
      try {
        for await (const item of open(next, stop.signal)) {
          const height = heightOf(item);
          if (height !== next) {
            throw new LedgerError(chain, RpcErrorCode.BAD_RESPONSE, `subscription sent height ${height} where ${next} was due`, { expected: next, answered: height });
          }
          next = height + 1;
          attempt = 0;
          yield item;
        }
        error = new LedgerError(chain, RpcErrorCode.RPC_FAILED, `subscription ended by the node at height ${next}`, { grpcCode: grpc.status.OK });
      } catch (err) {
        if (stop.signal.aborted) return;
        if (!isResumable(err)) throw err;
        error = err;
      }
      if (stop.signal.aborted) return;
      attempt++;
      if (attempt > maxRetries) throw error;
      const delayMs = delayOf(attempt);
      opts.onRetry?.({ attempt, delayMs, resumeAt: next, error });
      await sleep(delayMs, stop.signal);
      if (stop.signal.aborted) return;
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    stop.abort();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
