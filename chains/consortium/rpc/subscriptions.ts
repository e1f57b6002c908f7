/**
 * Server side of SubscribeBlocks / SubscribeEvents: one cursor per subscriber that reads
 * committed blocks from the chain by height and writes one message per height.
 *
 * No gap, no duplicate: the store is the only source of what is sent. The cursor starts at
 * fromHeight and only ever moves by one after a write; a commit notification carries
 * nothing, it only wakes a subscriber waiting at the head. A block committed while the
 * back-fill runs is therefore read from the store when the cursor gets there, like any other.
 *
 * Bounded memory (backpressure, not RESOURCE_EXHAUSTED): when `call.write` returns false
 * (the stream holds its high-water mark of messages because the client stopped reading and
 * HTTP/2 flow control stopped the socket) the subscriber stops reading the store until the
 * stream emits 'drain'. A slow subscriber lags behind the head (the store is its buffer);
 * the node holds at most the stream's high-water mark of its messages. Only the number of
 * subscriptions is capped (RESOURCE_EXHAUSTED beyond `maxSubscriptions`).
 */
import * as grpc from "@grpc/grpc-js";
import { type ChainEvent, decodeEvent } from "../../../proofs/consortium/results.ts";
import { type Chain, type ProvenEvent } from "../chain.ts";
import { type CommittedBlock } from "../block.ts";
import { type ChainLogger, quietLogger } from "../log.ts";

export const DEFAULT_MAX_SUBSCRIPTIONS = 256;

/** What a subscription waits for when it is not reading the store. */
export type SubscriptionWait = "commit" | "drain";

export interface SubscriptionStats {
  /** Open subscriptions. */
  readonly active: number;
  /** Caught up with the head, waiting for the next commit. */
  readonly waitingForCommit: number;
  /** Paused by backpressure: the client is not reading, the store is not read either. */
  readonly waitingForDrain: number;
  /** Messages written but not yet flushed, summed over subscriptions (each is bounded by its stream's high-water mark). */
  readonly buffered: number;
  readonly subscribers: readonly SubscriberStats[];
}

export interface SubscriberStats {
  readonly method: string;
  /** The next height it will read from the store and send. */
  readonly nextHeight: number;
  readonly waiting: SubscriptionWait | null;
  /** Messages written to its stream but not yet flushed to the connection. */
  readonly buffered: number;
}

interface Subscriber {
  readonly method: string;
  readonly call: grpc.ServerWritableStream<unknown, unknown>;
  /** Next height to send. */
  next: number;
  waiting: SubscriptionWait | null;
  wake: (() => void) | null;
  closed: boolean;
  close(): void;
}

export interface SubscriptionHubOptions {
  readonly chain: Chain;
  readonly maxSubscriptions?: number;
  readonly log?: ChainLogger;
}

export class SubscriptionHub {
  readonly #chain: Chain;
  readonly #max: number;
  readonly #log: ChainLogger;
  readonly #subs = new Set<Subscriber>();

  constructor(opts: SubscriptionHubOptions) {
    this.#chain = opts.chain;
    this.#max = opts.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS;
    this.#log = opts.log ?? quietLogger;
  }

  /** Streams `encode(block)` for every committed height from `fromHeight` (>= 1) until the call ends. */
  serve(call: grpc.ServerWritableStream<unknown, unknown>, method: string, fromHeight: number, encode: (block: CommittedBlock) => unknown): void {
    if (this.#subs.size >= this.#max) {
      call.emit("error", { code: grpc.status.RESOURCE_EXHAUSTED, details: `${method}: this node already serves ${this.#max} subscriptions` });
      return;
    }
    const chain = this.#chain;
    const onDrain = () => {
      if (sub.waiting === "drain") sub.wake?.();
    };
    const offCommit = chain.onCommit(() => {
      if (sub.waiting === "commit") sub.wake?.();
    });
    const sub: Subscriber = {
      method,
      call,
      next: fromHeight,
      waiting: null,
      wake: null,
      closed: false,
      close: () => {
        if (sub.closed) return;
        sub.closed = true;
        offCommit();
        call.off("drain", onDrain);
        this.#subs.delete(sub);
        sub.wake?.();
      },
    };
    this.#subs.add(sub);
    call.on("drain", onDrain);
    call.on("cancelled", sub.close);
    call.on("close", sub.close);
    call.on("error", sub.close);

    const wait = (what: SubscriptionWait) =>
      new Promise<void>((resolve) => {
        sub.waiting = what;
        sub.wake = () => {
          sub.waiting = null;
          sub.wake = null;
          resolve();
        };
      });
    const pump = async () => {
      while (!sub.closed) {
        // Checked and waited for in the same tick: no commit can land in between.
        if (sub.next > chain.height) {
          await wait("commit");
          continue;
        }
        const block = chain.block(sub.next);
        if (!block) throw new Error(`block ${sub.next} is missing from the store (head ${chain.height})`);
        const more = call.write(encode(block));
        sub.next++;
        if (!more) await wait("drain");
      }
    };
    pump().catch((err: unknown) => {
      this.#log.error("subscription failed", { method, height: sub.next, error: (err as Error).message });
      if (!sub.closed) call.emit("error", { code: grpc.status.INTERNAL, details: `${method} at height ${sub.next}: ${(err as Error).message}` });
      sub.close();
    });
  }

  stats(): SubscriptionStats {
    let waitingForCommit = 0;
    let waitingForDrain = 0;
    let buffered = 0;
    const subscribers: SubscriberStats[] = [];
    for (const s of this.#subs) {
      if (s.waiting === "commit") waitingForCommit++;
      if (s.waiting === "drain") waitingForDrain++;
      buffered += s.call.writableLength;
      subscribers.push({ method: s.method, nextHeight: s.next, waiting: s.waiting, buffered: s.call.writableLength });
    }
    return { active: this.#subs.size, waitingForCommit, waitingForDrain, buffered, subscribers };
  }

  /** Ends every subscription with UNAVAILABLE (the node is going away; clients resume elsewhere or later). */
  closeAll(reason: string): void {
    for (const s of [...this.#subs]) {
      s.call.emit("error", { code: grpc.status.UNAVAILABLE, details: reason });
      s.close();
    }
  }
}

/** Event kinds a SubscribeEvents filter may name (proofs/consortium/results.ts ChainEvent). */
export const EVENT_KINDS: readonly ChainEvent["kind"][] = ["transfer", "issued", "locked", "claimed", "refunded"];

/** The kinds filter of a SubscribeEvents request: null = every kind; a RangeError names an unknown kind. */
export function eventKindFilter(kinds: readonly string[] | undefined): ReadonlySet<string> | null {
  if (!kinds || kinds.length === 0) return null;
  for (const k of kinds) if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new RangeError(`kinds: unknown event kind "${k}" (known: ${EVENT_KINDS.join(", ")})`);
  return new Set(kinds);
}

/** The events of `block` that pass `kinds`, each with its proof against the block's results root. */
export function blockEventsFor(chain: Chain, block: CommittedBlock, kinds: ReadonlySet<string> | null): ProvenEvent[] {
  const wanted = (value: Uint8Array) => {
    if (!kinds) return true;
    const d = decodeEvent(value);
    return d.ok && kinds.has(d.value.event.kind);
  };
  // The results tree is built only for a block with an event to prove.
  if (!block.outcomes.some((o) => o.events.some(wanted))) return [];
  return chain.provenEvents(block).filter((e) => wanted(e.value));
}
