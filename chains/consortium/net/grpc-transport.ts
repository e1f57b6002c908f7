/**
 * The consensus Transport over gRPC between processes (peer.proto): two outgoing
 * client-streaming `Gossip` calls per peer (consensus messages; tx batches and sync blocks),
 * and a server that feeds every envelope it
 * receives to the local handlers. Delivery may drop (a peer that is down, a full send
 * buffer) and consensus tolerates that; it never blocks the engine.
 *
 * Untrusted input: an envelope is decoded strictly (consensus/messages.ts) and dropped if it
 * does not decode; a stream with more than MAX_MALFORMED_PER_STREAM such envelopes is ended
 * with INVALID_ARGUMENT; a message over the size cap is refused by gRPC itself
 * (RESOURCE_EXHAUSTED). Signatures are the engine's business.
 */
import * as grpc from "@grpc/grpc-js";
import { InvalidInputError } from "../../errors.ts";
import { type ConsensusMessage, decodeMessage, encodeMessage } from "../consensus/messages.ts";
import { type Transport } from "../consensus/transport.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { DEFAULT_MAX_PEER_MESSAGE_BYTES, MAX_MALFORMED_PER_STREAM, PEER_CHANNEL_OPTIONS, peerServices } from "./peer-wire.ts";

/** Gossiped txs waiting to be handed to the mempool, beyond which new ones are dropped. */
const MAX_QUEUED_TXS = 20_000;
/** Time slice for admitting queued txs before yielding to consensus messages (ms). */
const TX_SLICE_MS = 10;

/** Bytes queued on one peer stream beyond which further messages to it are dropped. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** After a stream to a peer fails, messages to it are dropped for this long before retrying. */
const RETRY_AFTER_MS = 200;

export interface GrpcTransportOptions {
  /** Peer endpoints "127.0.0.1:port" (their peer ports). */
  readonly peers: readonly string[];
  readonly maxMessageBytes?: number;
  readonly log?: ChainLogger;
}

type UnaryMethod = (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
type PeerClient = grpc.Client & { gossip(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<{ payload: Buffer }>; getBlocks: UnaryMethod; getNodeInfo: UnaryMethod };

export interface TransportStats {
  readonly received: number;
  readonly rejected: number;
  readonly sent: number;
  readonly dropped: number;
}

/**
 * Which of a peer's two Gossip streams a message takes: proposals and votes must not queue
 * behind megabytes of transaction batches or sync blocks (HTTP/2 delivers a stream in order).
 */
type Lane = "consensus" | "bulk";

function laneOf(msg: ConsensusMessage): Lane {
  // A compact proposal's missing txs are on its critical path: they must not wait behind gossip either.
  switch (msg.type) {
    case "proposal":
    case "vote":
    case "compact-proposal":
    case "proposal-tx-request":
    case "proposal-txs":
      return "consensus";
    default:
      return "bulk";
  }
}

class PeerLink {
  readonly endpoint: string;
  readonly client: PeerClient;
  readonly #streams: Record<Lane, grpc.ClientWritableStream<{ payload: Buffer }> | null> = { consensus: null, bulk: null };
  readonly #retryAt: Record<Lane, number> = { consensus: 0, bulk: 0 };

  constructor(endpoint: string, maxMessageBytes: number) {
    this.endpoint = endpoint;
    const Ctor = peerServices().Peer;
    this.client = new Ctor(endpoint, grpc.credentials.createInsecure(), {
      ...PEER_CHANNEL_OPTIONS,
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
    }) as unknown as PeerClient;
  }

  /** Queues one payload on `lane`; false if it was dropped. */
  send(payload: Buffer, lane: Lane): boolean {
    let stream = this.#streams[lane];
    if (!stream) {
      if (performance.now() < this.#retryAt[lane]) return false;
      const opened = this.client.gossip(() => {
        // The call ended (peer gone, restarted, or refused us): open a new one later.
        if (this.#streams[lane] === opened) {
          this.#streams[lane] = null;
          this.#retryAt[lane] = performance.now() + RETRY_AFTER_MS;
        }
      });
      opened.on("error", () => {});
      this.#streams[lane] = stream = opened;
    }
    if (stream.writableLength > MAX_QUEUED_BYTES) return false;
    stream.write({ payload });
    return true;
  }

  close(): void {
    for (const lane of ["consensus", "bulk"] as const) {
      this.#streams[lane]?.cancel();
      this.#streams[lane] = null;
    }
    this.client.close();
  }
}

export class GrpcTransport implements Transport {
  readonly maxMessageBytes: number;
  readonly #links: PeerLink[];
  readonly #handlers = new Set<(msg: ConsensusMessage) => void>();
  readonly #log: ChainLogger;
  #blocked = new Set<string>();
  #closed = false;
  #stats = { received: 0, rejected: 0, sent: 0, dropped: 0 };
  #txQueue: ConsensusMessage[] = [];
  readonly #encoded = new WeakMap<ConsensusMessage, Buffer>();
  #draining = false;

  constructor(opts: GrpcTransportOptions) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_PEER_MESSAGE_BYTES;
    if (!Number.isSafeInteger(this.maxMessageBytes) || this.maxMessageBytes < 1024) throw new InvalidInputError("maxMessageBytes", "expected an integer ≥ 1024");
    this.#log = opts.log ?? quietLogger;
    this.#links = [...new Set(opts.peers)].map((p) => new PeerLink(p, this.maxMessageBytes));
  }

  get peers(): readonly string[] {
    return this.#links.map((l) => l.endpoint);
  }

  /**
   * Starts gossiping to one more peer (a validator that announced its endpoint on chain);
   * false if it is already a peer or the transport is closed.
   */
  addPeer(endpoint: string): boolean {
    if (this.#closed || this.#links.some((l) => l.endpoint === endpoint)) return false;
    this.#links.push(new PeerLink(endpoint, this.maxMessageBytes));
    return true;
  }

  /** Stops gossiping to `endpoint` and closes its link; false if it was not a peer. */
  removePeer(endpoint: string): boolean {
    const i = this.#links.findIndex((l) => l.endpoint === endpoint);
    if (i < 0) return false;
    this.#links[i]!.close();
    this.#links.splice(i, 1);
    return true;
  }

  get stats(): TransportStats {
    return { ...this.#stats };
  }

  /** Clients of the peers' services (block sync reads them); links to blocked peers are left out. */
  reachablePeers(): readonly { readonly endpoint: string; readonly client: PeerClient }[] {
    return this.#links.filter((l) => !this.#blocked.has(l.endpoint));
  }

  broadcast(msg: ConsensusMessage): void {
    if (this.#closed) return;
    // Re-sent proposals and votes are the same objects: encode each once.
    let payload = this.#encoded.get(msg);
    if (!payload) {
      payload = Buffer.from(encodeMessage(msg), "utf8");
      this.#encoded.set(msg, payload);
    }
    const lane = laneOf(msg);
    if (payload.length > this.maxMessageBytes) {
      this.#log.warn("message over the peer size cap not sent", { type: msg.type, bytes: payload.length });
      return;
    }
    for (const link of this.#links) {
      if (!this.#blocked.has(link.endpoint) && link.send(payload, lane)) this.#stats.sent++;
      else this.#stats.dropped++;
    }
  }

  onMessage(handler: (msg: ConsensusMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Hands one received payload to the handlers; false if it does not decode. Never throws. */
  deliver(payload: Uint8Array): boolean {
    if (this.#closed) return true;
    const msg = payload.length <= this.maxMessageBytes ? decodeMessage(Buffer.from(payload).toString("utf8")) : undefined;
    if (!msg) {
      this.#stats.rejected++;
      return false;
    }
    this.#stats.received++;
    // Admitting a gossiped tx costs a signature recovery; a flood of them must not starve
    // votes and proposals (rounds would time out). Txs wait in a queue drained in time slices.
    if (msg.type === "txs") {
      // One queue entry per tx, so a big batch is still admitted in time slices.
      for (const tx of msg.txs) {
        if (this.#txQueue.length >= MAX_QUEUED_TXS) this.#stats.dropped++;
        else this.#txQueue.push({ type: "txs", txs: [tx] });
      }
      this.scheduleDrain();
      return true;
    }
    this.dispatch(msg);
    return true;
  }

  private dispatch(msg: ConsensusMessage): void {
    for (const h of this.#handlers) {
      try {
        h(msg);
      } catch (err) {
        this.#log.error("peer message handler failed", { type: msg.type, error: (err as Error).message });
      }
    }
  }

  private scheduleDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      const start = performance.now();
      let i = 0;
      while (i < this.#txQueue.length && !this.#closed && performance.now() - start < TX_SLICE_MS) this.dispatch(this.#txQueue[i++]!);
      this.#txQueue = this.#txQueue.slice(i);
      this.#draining = false;
      if (this.#txQueue.length > 0 && !this.#closed) this.scheduleDrain();
    });
  }

  /** DEVNET/tests: drop every message to these endpoints (simulated partition); [] heals. */
  setBlocked(endpoints: readonly string[]): void {
    this.#blocked = new Set(endpoints);
  }

  get blocked(): readonly string[] {
    return [...this.#blocked];
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    for (const l of this.#links) l.close();
  }
}

/** The server side of Gossip for one transport; counts and refuses streams that keep sending garbage. */
export function gossipHandler(transport: GrpcTransport, log: ChainLogger): grpc.handleClientStreamingCall<{ payload: Buffer }, unknown> {
  return (call, callback) => {
    let accepted = 0;
    let rejected = 0;
    let ended = false;
    const end = (err: grpc.ServiceError | null) => {
      if (ended) return;
      ended = true;
      callback(err, err ? undefined : { accepted, rejected });
    };
    call.on("data", (env: { payload?: Buffer }) => {
      if (ended) return;
      if (transport.deliver(env.payload ?? Buffer.alloc(0))) accepted++;
      else if (++rejected > MAX_MALFORMED_PER_STREAM) {
        log.warn("peer stream ended: too many malformed messages", { peer: call.getPeer(), rejected });
        end({ code: grpc.status.INVALID_ARGUMENT, details: `more than ${MAX_MALFORMED_PER_STREAM} malformed messages`, name: "PeerError", message: "malformed", metadata: new grpc.Metadata() });
      }
    });
    call.on("end", () => end(null));
    call.on("error", () => {
      ended = true;
    });
  };
}
