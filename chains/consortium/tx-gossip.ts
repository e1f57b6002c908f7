/**
 * Outgoing transaction gossip, batched: txs admitted here are sent to the peers in one
 * message per few milliseconds (or per MAX_TXS_PER_MESSAGE txs) instead of one message
 * per tx, which at thousands of txs per second would cost more than the txs themselves.
 */
import { MAX_TXS_PER_MESSAGE } from "./consensus/messages.ts";
import { type Transport } from "./consensus/transport.ts";

/** How long an admitted tx may wait for others to share its message (ms). */
export const TX_GOSSIP_DELAY_MS = 5;

export class TxGossip {
  readonly #transport: Transport;
  #batch: Uint8Array[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  add(tx: Uint8Array): void {
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

  /** Drops what is still waiting (the node is stopping). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#batch = [];
  }
}
