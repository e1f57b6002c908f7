/**
 * How validators reach each other. The engine sees only this interface, so moving
 * validators into separate processes means writing another Transport (e.g. over gRPC).
 * Delivery is asynchronous, may reorder and may drop; consensus tolerates all three.
 */
import { type ConsensusMessage, decodeMessage, encodeMessage } from "./messages.ts";

export interface Transport {
  /** Sends to every other connected validator; never back to the sender. */
  broadcast(msg: ConsensusMessage): void;
  /** Registers a receiver; returns a function that removes it. */
  onMessage(handler: (msg: ConsensusMessage) => void): () => void;
  close(): void;
}

/**
 * Validators in one process. Each message goes through the wire encoding and is delivered
 * on a later macrotask, so nothing depends on in-memory sharing or synchronous delivery.
 */
export class InProcessNetwork {
  readonly #endpoints = new Set<InProcessTransport>();

  connect(): Transport {
    const endpoint = new InProcessTransport(this.#endpoints);
    this.#endpoints.add(endpoint);
    return endpoint;
  }

  get size(): number {
    return this.#endpoints.size;
  }
}

class InProcessTransport implements Transport {
  readonly #peers: Set<InProcessTransport>;
  readonly #handlers = new Set<(msg: ConsensusMessage) => void>();
  #closed = false;

  constructor(peers: Set<InProcessTransport>) {
    this.#peers = peers;
  }

  broadcast(msg: ConsensusMessage): void {
    if (this.#closed) return;
    const wire = encodeMessage(msg);
    for (const peer of this.#peers) {
      if (peer !== this) setImmediate(() => peer.deliver(wire));
    }
  }

  onMessage(handler: (msg: ConsensusMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  close(): void {
    this.#closed = true;
    this.#handlers.clear();
    this.#peers.delete(this);
  }

  private deliver(wire: string): void {
    if (this.#closed) return;
    const msg = decodeMessage(wire);
    if (!msg) return;
    for (const h of this.#handlers) h(msg);
  }
}
