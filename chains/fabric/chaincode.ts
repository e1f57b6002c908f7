/**
 * The peer side of the chaincode protocol (fabric/core/chaincode/handler.go), over the real
 * gRPC streams: classic registration (the chaincode dials ChaincodeSupport/Register) and
 * chaincode-as-a-service (the peer dials Chaincode/Connect). Messages are correlated by
 * channel_id + txid and echoed back.
 */
import * as grpc from "@grpc/grpc-js";
import { ledger, peer } from "@hyperledger/fabric-protos";
import { encodeMessage, WireReader } from "./protowire.ts";
import { TxSimulator, type RangeRecord } from "./simulator.ts";
import type { LedgerStore } from "./store.ts";

const T = peer.ChaincodeMessage.Type;
/** Fabric's peer pages range queries at totalQueryLimit/internalQueryLimit = 100 (core.yaml). */
const PAGE = 100;

/** A chaincode stream: this peer writes ChaincodeMessage bytes (encodeChaincodeMessage) and reads decoded messages. */
type Stream = grpc.ClientDuplexStream<Uint8Array, ChaincodeMessageIn> | grpc.ServerDuplexStream<ChaincodeMessageIn, Uint8Array>;

/**
 * A ChaincodeMessage from the chaincode, read straight from its bytes (six arrive per
 * transaction): type, payload, txid and channel_id, and the chaincode event decoded only when
 * one is present. google-protobuf's readings of the same bytes: the last occurrence of a
 * field wins, unknown fields and the timestamp and proposal are passed over; a truncated
 * message or a known field with another wire type is refused (the stream fails, as when
 * google-protobuf cannot decode it).
 */
export class ChaincodeMessageIn {
  #type = 0;
  #payload: Uint8Array = EMPTY;
  #txid = "";
  #channelId = "";
  #event: Uint8Array | null = null;

  constructor(bytes: Uint8Array) {
    const r = new WireReader(bytes);
    while (r.next()) {
      switch (r.field) {
        case 1:
          r.expect(0);
          this.#type = r.varint() | 0; // an enum is read as int32
          break;
        case 3:
          r.expect(2);
          this.#payload = r.bytes();
          break;
        case 4:
          r.expect(2);
          this.#txid = r.string();
          break;
        case 6:
          r.expect(2);
          this.#event = r.bytes();
          break;
        case 7:
          r.expect(2);
          this.#channelId = r.string();
          break;
        default:
          r.skip();
      }
    }
  }

  getType(): number {
    return this.#type;
  }
  getPayload_asU8(): Uint8Array {
    return this.#payload;
  }
  getTxid(): string {
    return this.#txid;
  }
  getChannelId(): string {
    return this.#channelId;
  }
  /** The chaincode event's bytes as the chaincode sent them, if it sent one. */
  getChaincodeEventBytes(): Uint8Array | null {
    return this.#event;
  }
}

/**
 * The chaincode's event as the peer puts it in the ChaincodeAction: its event_name and payload
 * with chaincode_id and tx_id set by the peer (handler.go), written straight into bytes —
 * google-protobuf's bytes for that decode, set and serialize (protowire.test.ts), including
 * its dropping of unknown fields.
 */
export function endorsedEventBytes(event: Uint8Array, chaincode: string, txid: string): Buffer {
  let name = "";
  let payload: Uint8Array = EMPTY;
  const r = new WireReader(event);
  while (r.next()) {
    if (r.field === 3) {
      r.expect(2);
      name = r.string();
    } else if (r.field === 4) {
      r.expect(2);
      payload = r.bytes();
    } else r.skip();
  }
  return encodeMessage([[1, chaincode], [2, txid], [3, name], [4, payload]]);
}

function readChaincodeMessage(bytes: Buffer): ChaincodeMessageIn {
  return new ChaincodeMessageIn(bytes);
}

/**
 * A ChaincodeMessage{type, payload, txid, proposal, channel_id} as the peer sends it, encoded
 * straight into bytes (google-protobuf's bytes: test/unit/fabric/protowire.test.ts) — twelve of
 * them per transaction. `signedProposal`: a SignedProposal's bytes (TRANSACTION only).
 */
export function encodeChaincodeMessage(type: number, channel: string, txid: string, payload: Uint8Array, signedProposal?: Uint8Array): Buffer {
  return encodeMessage([[1, type], [3, payload], [4, txid], [5, signedProposal ?? EMPTY, signedProposal !== undefined], [7, channel]]);
}

const EMPTY = new Uint8Array();

/** The bytes are the message: what this peer writes is already encoded. */
function asWritten(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** protos.ChaincodeSupport (classic registration), answering with messages this peer encoded itself. */
export const ChaincodeSupportService = { register: { ...peer.ChaincodeSupportService.register, requestDeserialize: readChaincodeMessage, responseSerialize: asWritten } };
/** protos.Chaincode (chaincode-as-a-service), the peer dialling with messages it encoded itself. */
const ChaincodeClient = grpc.makeGenericClientConstructor({ connect: { ...peer.ChaincodeService.connect, requestSerialize: asWritten, responseDeserialize: readChaincodeMessage } }, "Chaincode");

export interface Execution {
  readonly response: peer.Response;
  /** The ChaincodeEvent for the ChaincodeAction (endorsedEventBytes), if the chaincode set one. */
  readonly event: Uint8Array | null;
  readonly simulator: TxSimulator;
}

export class ChaincodeError extends Error {
  override name = "ChaincodeError";
}

interface Pending {
  readonly sim: TxSimulator;
  readonly resolve: (m: ChaincodeMessageIn) => void;
  readonly reject: (e: Error) => void;
  /** the execution timeout, cleared when the execution settles */
  timer?: NodeJS.Timeout;
  readonly iterators: Map<string, { rec: RangeRecord; last: string | null }>;
}

/** One registered chaincode connection. */
export class ChaincodeConnection {
  ccid = "";
  readonly #stream: Stream;
  readonly #pending = new Map<string, Pending>();
  #closed = false;
  #iterSeq = 0;
  readonly closed: Promise<void>;

  constructor(stream: Stream, onRegister: (c: ChaincodeConnection) => void) {
    this.#stream = stream;
    let done!: () => void;
    this.closed = new Promise<void>((r) => (done = r));
    const fail = (why: string) => {
      if (this.#closed) return;
      this.#closed = true;
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new ChaincodeError(`chaincode stream terminated: ${why}`));
      }
      this.#pending.clear();
      done();
    };
    stream.on("data", (m: ChaincodeMessageIn) => {
      try {
        this.#onMessage(m, onRegister);
      } catch (err) {
        this.#send(T.ERROR, m.getChannelId(), m.getTxid(), Buffer.from((err as Error).message));
      }
    });
    stream.on("error", (e: Error) => fail(e.message));
    stream.on("end", () => fail("stream ended"));
    stream.on("close", () => fail("stream closed"));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  close(): void {
    if ("cancel" in this.#stream) this.#stream.cancel();
    else this.#stream.end();
  }

  #send(type: number, channel: string, txid: string, payload: Uint8Array = EMPTY): void {
    if (this.#closed) return;
    this.#stream.write(encodeChaincodeMessage(type, channel, txid, payload));
  }

  #onMessage(m: ChaincodeMessageIn, onRegister: (c: ChaincodeConnection) => void): void {
    const type = m.getType();
    const channel = m.getChannelId();
    const txid = m.getTxid();
    if (type === T.REGISTER) {
      this.ccid = peer.ChaincodeID.deserializeBinary(m.getPayload_asU8()).getName();
      this.#send(T.REGISTERED, "", "");
      this.#send(T.READY, "", "");
      onRegister(this);
      return;
    }
    if (type === T.KEEPALIVE) return;
    const p = this.#pending.get(channel + txid);
    if (!p) {
      if (type !== T.COMPLETED && type !== T.ERROR) this.#send(T.ERROR, channel, txid, Buffer.from(`no ledger context for ${txid}`));
      return;
    }
    switch (type) {
      case T.COMPLETED:
      case T.ERROR:
        this.#pending.delete(channel + txid);
        clearTimeout(p.timer);
        p.resolve(m);
        return;
      case T.GET_STATE: {
        const req = peer.GetState.deserializeBinary(m.getPayload_asU8());
        if (req.getCollection()) throw new Error("private data is not supported by this network");
        this.#send(T.RESPONSE, channel, txid, p.sim.getState(req.getKey()));
        return;
      }
      case T.PUT_STATE: {
        const req = peer.PutState.deserializeBinary(m.getPayload_asU8());
        if (req.getCollection()) throw new Error("private data is not supported by this network");
        p.sim.putState(req.getKey(), req.getValue_asU8());
        this.#send(T.RESPONSE, channel, txid);
        return;
      }
      case T.DEL_STATE: {
        const req = peer.DelState.deserializeBinary(m.getPayload_asU8());
        if (req.getCollection()) throw new Error("private data is not supported by this network");
        p.sim.delState(req.getKey());
        this.#send(T.RESPONSE, channel, txid);
        return;
      }
      case T.GET_STATE_BY_RANGE: {
        const req = peer.GetStateByRange.deserializeBinary(m.getPayload_asU8());
        if (req.getCollection()) throw new Error("private data is not supported by this network");
        if (req.getMetadata_asU8().length > 0) throw new Error("paginated range queries are not supported by this network");
        const rec: RangeRecord = { start: req.getStartkey(), end: req.getEndkey(), reads: [], exhausted: false };
        p.sim.ranges.push(rec);
        const id = `it${++this.#iterSeq}`;
        const it = { rec, last: null as string | null };
        p.iterators.set(id, it);
        this.#send(T.RESPONSE, channel, txid, this.#page(p, id, it));
        return;
      }
      case T.QUERY_STATE_NEXT: {
        const id = peer.QueryStateNext.deserializeBinary(m.getPayload_asU8()).getId();
        const it = p.iterators.get(id);
        if (!it) throw new Error(`query iterator not found: ${id}`);
        this.#send(T.RESPONSE, channel, txid, this.#page(p, id, it));
        return;
      }
      case T.QUERY_STATE_CLOSE: {
        const id = peer.QueryStateClose.deserializeBinary(m.getPayload_asU8()).getId();
        p.iterators.delete(id);
        const qr = new peer.QueryResponse();
        qr.setId(id);
        this.#send(T.RESPONSE, channel, txid, qr.serializeBinary());
        return;
      }
      default:
        throw new Error(`${Object.entries(T).find(([, v]) => v === type)?.[0] ?? type} is not supported by this network`);
    }
  }

  #page(p: Pending, id: string, it: { rec: RangeRecord; last: string | null }): Uint8Array {
    const rows = p.sim.rangePage(it.rec, it.last, PAGE);
    const qr = new peer.QueryResponse();
    for (const r of rows) {
      const kv = new ledger.queryresult.KV();
      kv.setNamespace(p.sim.ns);
      kv.setKey(r.key);
      kv.setValue(r.value);
      const qrb = new peer.QueryResultBytes();
      qrb.setResultbytes(kv.serializeBinary());
      qr.addResults(qrb);
    }
    if (rows.length > 0) it.last = rows[rows.length - 1]!.key;
    qr.setHasMore(!it.rec.exhausted);
    qr.setId(id);
    return qr.serializeBinary();
  }

  /** An execution's timeout (a static callback: see execute). */
  readonly #timeout = (key: string, p: Pending): void => {
    if (this.#pending.get(key) !== p) return;
    this.#pending.delete(key);
    p.reject(new ChaincodeError(`timeout expired while executing transaction`));
  };

  /** Runs one invocation (`inputBytes`: the marshalled ChaincodeInput) against `sim`; resolves with COMPLETED or ERROR, or rejects on timeout. */
  execute(channel: string, txid: string, signedProposal: Uint8Array, inputBytes: Uint8Array, sim: TxSimulator, timeoutMs: number): Promise<ChaincodeMessageIn> {
    if (this.#closed) return Promise.reject(new ChaincodeError("chaincode stream terminated"));
    const key = channel + txid;
    if (this.#pending.has(key)) return Promise.reject(new ChaincodeError(`txid: ${txid}(${channel}) exists`));
    // no named closures here: this runs twice per transaction, and under tsx each one evaluated costs a defineProperty
    return new Promise((resolve, reject) => {
      const p: Pending = { sim, iterators: new Map(), resolve, reject };
      p.timer = setTimeout(this.#timeout, timeoutMs, key, p);
      this.#pending.set(key, p);
      this.#stream.write(encodeChaincodeMessage(T.TRANSACTION, channel, txid, inputBytes, signedProposal));
    });
  }
}

/**
 * Registry of chaincode connections by name, plus the simulate entry point. A chaincode may
 * have several streams ("lanes"): the network dials a chaincode service once per endorsing
 * peer, as each Fabric peer holds its own stream to a chaincode, so the peers' simulations of
 * one proposal (same txid) can run at once. A new registration replaces every earlier stream
 * of that chaincode (a restarted chaincode re-registers).
 */
export class ChaincodeSupport {
  readonly #byName = new Map<string, ChaincodeConnection[]>();
  readonly #waiters = new Map<string, (() => void)[]>();
  readonly #clients: grpc.Client[] = [];

  constructor(
    readonly store: LedgerStore,
    readonly execTimeoutMs: number,
  ) {}

  /** The ChaincodeSupport service implementation (classic mode: the chaincode dials the peer), for ChaincodeSupportService. */
  service(): { register: grpc.handleBidiStreamingCall<ChaincodeMessageIn, Uint8Array> } {
    return {
      register: (call) => {
        new ChaincodeConnection(call, (c) => this.#registered([c]));
      },
    };
  }

  /** Chaincode-as-a-service: the peer dials the chaincode server at `address`, `lanes` streams. */
  async connectServer(address: string, timeoutMs = 10_000, lanes = 1): Promise<void> {
    const client = new ChaincodeClient(address, grpc.credentials.createInsecure()) as unknown as { connect(): grpc.ClientDuplexStream<Uint8Array, ChaincodeMessageIn> } & grpc.Client;
    this.#clients.push(client);
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
    const connections = await Promise.all(
      Array.from({ length: lanes }, () => {
        const stream = client.connect();
        return new Promise<ChaincodeConnection>((resolve, reject) => {
          const t = setTimeout(() => {
            stream.cancel();
            reject(new ChaincodeError(`chaincode at ${address} did not register within ${timeoutMs} ms`));
          }, timeoutMs);
          new ChaincodeConnection(stream, (c) => {
            clearTimeout(t);
            resolve(c);
          });
        });
      }),
    );
    if (new Set(connections.map((c) => c.ccid)).size !== 1) {
      for (const c of connections) c.close();
      throw new ChaincodeError(`chaincode at ${address} registered under different ids: ${connections.map((c) => c.ccid).join(", ")}`);
    }
    this.#registered(connections);
  }

  #registered(connections: ChaincodeConnection[]): void {
    const name = connections[0]!.ccid.split(":")[0]!;
    for (const old of this.#byName.get(name) ?? []) old.close();
    this.#byName.set(name, connections);
    for (const w of this.#waiters.get(name) ?? []) w();
    this.#waiters.delete(name);
  }

  /** The chaincode's open streams. */
  #open(name: string): ChaincodeConnection[] {
    return (this.#byName.get(name) ?? []).filter((c) => !c.isClosed);
  }

  isRegistered(name: string): boolean {
    return this.#open(name).length > 0;
  }

  /** How many simulations of one proposal can run at once (one per open stream). */
  lanes(name: string): number {
    return this.#open(name).length;
  }

  async waitRegistered(name: string, timeoutMs: number): Promise<void> {
    if (this.isRegistered(name)) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new ChaincodeError(`chaincode ${name} did not register within ${timeoutMs} ms`)), timeoutMs);
      const list = this.#waiters.get(name) ?? [];
      list.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.#waiters.set(name, list);
    });
  }

  /** Simulates one invocation (`inputBytes`: the marshalled ChaincodeInput) on stream `lane` (modulo the open streams). */
  async simulate(channel: string, chaincode: string, txid: string, signedProposal: Uint8Array, inputBytes: Uint8Array, lane = 0): Promise<Execution> {
    const open = this.#open(chaincode);
    const c = open[lane % Math.max(open.length, 1)];
    if (!c) throw new ChaincodeError(`chaincode ${chaincode} not found`);
    // No commit lock is needed here (Fabric takes one): a block commits in one synchronous
    // SQLite transaction, so no read sees half a block, and a simulation whose reads span a
    // commit is invalidated by the MVCC/phantom checks like any other stale read.
    {
      const sim = new TxSimulator(this.store, chaincode);
      const m = await c.execute(channel, txid, signedProposal, inputBytes, sim, this.execTimeoutMs);
      if (m.getType() === T.ERROR) {
        const r = new peer.Response();
        r.setStatus(500);
        r.setMessage(Buffer.from(m.getPayload_asU8()).toString("utf8"));
        return { response: r, event: null, simulator: sim };
      }
      const response = peer.Response.deserializeBinary(m.getPayload_asU8());
      const ev = m.getChaincodeEventBytes();
      return { response, event: ev ? endorsedEventBytes(ev, chaincode, txid) : null, simulator: sim };
    }
  }

  close(): void {
    for (const list of this.#byName.values()) for (const c of list) c.close();
    for (const cl of this.#clients) cl.close();
  }
}
