/**
 * Outgoing transaction gossip, batched: txs admitted here are sent to the peers in one
 * message per few milliseconds (or per MAX_TXS_PER_MESSAGE txs) instead of one message
 * per tx, which at thousands of txs per second would cost more than the txs themselves.
 */
import { MAX_TXS_PER_MESSAGE } from "./consensus/messages.ts";
import { type Transport } from "./consensus/transport.ts";

/** How long an admitted tx may wait for others to share its message (ms). */
export const TX_GOSSIP_DELAY_MS = 5;

/**
 * How long after this node gossips a tx its peers may still lack it (ms): the batch is in
 * flight on their bulk lane or waits in their admission queue behind earlier gossip. A
 * proposal of ours holding such a tx sends it along (see `fresh`).
 */
export const TX_GOSSIP_FRESH_MS = 1000;

export class TxGossip {
  readonly #transport: Transport;
  #batch: Uint8Array[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** When each tx was handed to gossip, by the identity of its bytes (the mempool's and the block's array). */
  readonly #addedAt = new WeakMap<Uint8Array, number>();

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  add(tx: Uint8Array): void {
    this.#addedAt.set(tx, performance.now());
    this.#batch.push(tx);
    if (this.#batch.length >= MAX_TXS_PER_MESSAGE) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), TX_GOSSIP_DELAY_MS);
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#batch.length === 0) return;
    const txs = this.#batch;
    this.#batch = [];
    this.#transport.broadcast({ type: "txs", txs });
  }

  /** True if this node gossiped `tx` (these very bytes) less than TX_GOSSIP_FRESH_MS ago, or has yet to. */
  fresh(tx: Uint8Array): boolean {
    const at = this.#addedAt.get(tx);
    return at !== undefined && performance.now() - at < TX_GOSSIP_FRESH_MS;
  }

  /** Drops what is still waiting (the node is stopping). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#batch = [];
  }
}
