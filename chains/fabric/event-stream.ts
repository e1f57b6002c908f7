/**
 * A resumable chaincode-event subscription through fabric-gateway's ChaincodeEvents call.
 * It is opened at the caller's checkpoint (the client's `Checkpoint`: block number plus the
 * last handled transaction id, which the gateway skips through), buffers what the peer
 * streams, and hands out the buffered events up to a final height at the caller's pace.
 * The caller persists the checkpoint; whenever the one it passes differs from where the
 * buffer continues, or the stream failed (peer restart), overflowed or reached its
 * deadline, the subscription is reopened from that checkpoint, so nothing is skipped and
 * nothing handled is delivered again.
 */
import * as grpc from "@grpc/grpc-js";
import { GatewayError, type ChaincodeEvent, type Checkpoint, type CloseableAsyncIterable, type Network } from "@hyperledger/fabric-gateway";
import type { EventCheckpoint } from "../ledger.ts";

export interface ChaincodeEventStreamOptions {
  readonly network: Network;
  readonly chaincode: string;
  /** Deadline of one subscription; it is reopened from the checkpoint after it. */
  readonly streamMs: number;
  /** Events buffered before the subscription pauses (reopened once the buffer is taken). */
  readonly maxBuffered?: number;
}

interface Subscription {
  readonly events: CloseableAsyncIterable<ChaincodeEvent>;
  readonly buffer: ChaincodeEvent[];
  /** Where the stream continues after the last event taken from the buffer. */
  next: EventCheckpoint;
  /** Why the stream stopped delivering (failure, deadline, overflow, end), once it has. */
  stopped: unknown;
}

export function sameCheckpoint(a: EventCheckpoint, b: EventCheckpoint): boolean {
  return a.block === b.block && a.afterTxId === b.afterTxId;
}

/** The fabric-gateway Checkpoint for a stored position: the gateway resumes after afterTxId in block. */
export function gatewayCheckpoint(c: EventCheckpoint): Checkpoint {
  return { getBlockNumber: () => BigInt(c.block), getTransactionId: () => c.afterTxId ?? undefined };
}

/** A stream end worth reopening at once: the peer went away, the deadline passed, we closed it, or our own pause. */
function isTransient(err: unknown): boolean {
  const code = err instanceof GatewayError ? err.code : (err as { code?: unknown } | null)?.code;
  if (typeof code !== "number") return true;
  return [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED].includes(code);
}

export class ChaincodeEventStream {
  readonly #opts: ChaincodeEventStreamOptions;
  #sub: Subscription | null = null;

  constructor(opts: ChaincodeEventStreamOptions) {
    this.#opts = opts;
  }

  /**
   * The buffered events of blocks <= toHeight from `from` on, in commit order (possibly
   * none yet: they arrive asynchronously). Reopens the subscription when needed.
   */
  async take(from: EventCheckpoint, toHeight: number): Promise<ChaincodeEvent[]> {
    let sub = this.#sub;
    if (sub && (!sameCheckpoint(sub.next, from) || (sub.stopped !== null && sub.buffer.length === 0))) {
      this.close();
      // A refusal (permission, unknown channel or chaincode) is reported, not retried in silence;
      // the next call reopens.
      if (sub.stopped !== null && sub.buffer.length === 0 && !isTransient(sub.stopped)) throw sub.stopped;
      sub = null;
    }
    sub ??= await this.#open(from);
    const out: ChaincodeEvent[] = [];
    while (sub.buffer.length > 0 && Number(sub.buffer[0]!.blockNumber) <= toHeight) {
      const ev = sub.buffer.shift()!;
      out.push(ev);
      sub.next = { block: Number(ev.blockNumber), afterTxId: ev.transactionId };
    }
    return out;
  }

  /** Why the current subscription stopped, if it did (for diagnostics). */
  get stoppedReason(): unknown {
    return this.#sub?.stopped ?? null;
  }

  close(): void {
    this.#sub?.events.close();
    this.#sub = null;
  }

  async #open(from: EventCheckpoint): Promise<Subscription> {
    const events = await this.#opts.network
      .newChaincodeEventsRequest(this.#opts.chaincode, { checkpoint: gatewayCheckpoint(from) })
      .getEvents({ deadline: Date.now() + this.#opts.streamMs });
    const sub: Subscription = { events, buffer: [], next: from, stopped: null };
    this.#sub = sub;
    const max = this.#opts.maxBuffered ?? 10_000;
    void (async () => {
      try {
        for await (const ev of events) {
          sub.buffer.push(ev);
          if (sub.buffer.length >= max) {
            // Paused, not lost: once the buffer is taken the subscription reopens after its last event.
            sub.stopped = new Error(`more than ${max} events buffered`);
            events.close();
            return;
          }
        }
        sub.stopped = new Error("the peer ended the event stream");
      } catch (err) {
        sub.stopped = err;
      }
    })();
    return sub;
  }
}
