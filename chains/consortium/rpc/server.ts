/**
 * gRPC server for the node API (consortium.proto) over one validator's chain and mempool.
 * Listens on 127.0.0.1 only; port 0 picks a free port, reported by `port`.
 */
import * as grpc from "@grpc/grpc-js";
import { type Hex, isHex } from "../../../proofs/hex.ts";
import { isLockId } from "../../../proofs/consortium/state.ts";
import { hashValidatorSet } from "../../../proofs/consortium/validators.ts";
import { type Chain } from "../chain.ts";
import { TxRejectedError } from "../codes.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { type Mempool } from "../mempool.ts";
import { type SignedTx } from "../tx.ts";
import { SignatureVerifyPool } from "../verify-pool.ts";
import { type SubscriptionStats, SubscriptionHub, blockEventsFor, eventKindFilter } from "./subscriptions.ts";
import { blockEventsToWire, blockToWire, commitToWire, consortiumService, headerToWire, outcomeToWire, stateAbsenceToWire, stateProofToWire } from "./wire.ts";

export const LOCALHOST = "127.0.0.1";
export const MAX_EVENT_RANGE = 1000;
export const MAX_WAIT_MS = 120_000;
/** Most transactions one SubmitTxs call may carry. */
export const MAX_SUBMIT_BATCH = 1000;
const DEFAULT_WAIT_MS = 30_000;

/** What the server reads from; a ValidatorNode is one. */
export interface NodeBackend {
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  submitTx(bytes: Uint8Array): SignedTx;
}

export interface NodeServerOptions {
  readonly node: NodeBackend;
  /** Worker threads verifying SubmitTxs batches off the main thread (verify-pool.ts); default 0 = none. */
  readonly verifyWorkers?: number;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Most SubscribeBlocks + SubscribeEvents streams served at once (default DEFAULT_MAX_SUBSCRIPTIONS). */
  readonly maxSubscriptions?: number;
  readonly log?: ChainLogger;
}

export interface NodeServer {
  readonly port: number;
  /** "127.0.0.1:<port>", for ConsortiumClient. */
  readonly endpoint: string;
  /** The open SubscribeBlocks / SubscribeEvents streams (what they wait for, what they buffer). */
  subscriptions(): SubscriptionStats;
  close(): Promise<void>;
}

class RpcFault extends Error {
  constructor(
    readonly status: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const badInput = (message: string) => new RpcFault(grpc.status.INVALID_ARGUMENT, message);

export async function startNodeServer(opts: NodeServerOptions): Promise<NodeServer> {
  const { node } = opts;
  const log = opts.log ?? quietLogger;
  const server = new grpc.Server();
  const waiters = new Set<() => void>();
  const hub = new SubscriptionHub({ chain: node.chain, log, ...(opts.maxSubscriptions !== undefined ? { maxSubscriptions: opts.maxSubscriptions } : {}) });
  const workers = opts.verifyWorkers ?? 0;
  const pool = workers > 0 ? new SignatureVerifyPool(workers) : undefined;
  /** The last SubmitTxs batch's admission: the next one is admitted after it. */
  let admitted: Promise<void> = Promise.resolve();

  const unary =
    <Req>(name: string, fn: (req: Req, call: grpc.ServerUnaryCall<Req, unknown>) => unknown): grpc.handleUnaryCall<Req, unknown> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => fn(call.request, call))
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            if (err instanceof RpcFault) return callback({ code: err.status, details: err.message });
            log.error("rpc failed", { method: name, error: (err as Error).message });
            callback({ code: grpc.status.INTERNAL, details: (err as Error).message });
          },
        );
    };

  const txStatus = (hash: Hex) => {
    const at = node.chain.txLocation(hash);
    if (at) {
      const block = node.chain.block(at.height);
      if (block) {
        return { hash, status: "committed", height: at.height, index: at.index, tx: Buffer.from(block.txs[at.index]!), outcome: outcomeToWire(block.outcomes[at.index]!) };
      }
    }
    // A queued tx (waiting for an earlier nonce) is reported as pending: it was accepted.
    if (node.mempool.has(hash) || node.mempool.isQueued(hash)) return { hash, status: "pending" };
    const dropped = node.mempool.dropped(hash);
    if (dropped) return { hash, status: "dropped", errorCode: dropped.code, errorMessage: dropped.reason };
    return { hash, status: "unknown" };
  };

  const submitOne = (bytes: Uint8Array) => {
    try {
      const tx = node.submitTx(bytes);
      return { hash: tx.hash, accepted: true };
    } catch (err) {
      if (!(err instanceof TxRejectedError)) throw err;
      const hash = typeof err.details.txHash === "string" ? err.details.txHash : "";
      return { hash, accepted: false, errorCode: err.code, errorMessage: err.reason };
    }
  };

  const hashArg = (v: unknown, what: string): Hex => {
    if (!isHex(v, 32)) throw badInput(`${what}: expected 32-byte 0x-hex`);
    return v.toLowerCase() as Hex;
  };

  const impl: grpc.UntypedServiceImplementation = {
    getStatus: unary("GetStatus", () => {
      const { chain } = node;
      const head = chain.head;
      return {
        chainId: chain.chainId,
        height: head.header.height,
        lastBlockTimeMs: head.header.timeMs,
        lastBlockHash: head.hash,
        validators: chain.validatorSet.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })),
        validatorsHash: hashValidatorSet(chain.validatorSet),
        assets: chain.assets().map((a) => ({ symbol: a.symbol, decimals: a.decimals, issuer: a.issuer, supply: a.supply.toString() })),
        blockIntervalMs: node.blockIntervalMs,
        maxClockSkewMs: node.maxClockSkewMs,
        mempoolSize: node.mempool.size,
      };
    }),

    getBlock: unary<{ height: number }>("GetBlock", (req) => {
      const block = node.chain.block(req.height);
      if (!block) throw new RpcFault(grpc.status.NOT_FOUND, `no committed block at height ${req.height}`);
      return blockToWire(block);
    }),

    getTx: unary<{ hash: string }>("GetTx", (req) => txStatus(hashArg(req.hash, "hash"))),

    getValidatorSet: unary<{ hash: string }>("GetValidatorSet", (req) => {
      const set = node.chain.validatorSetByHash(hashArg(req.hash, "hash"));
      if (!set) throw new RpcFault(grpc.status.NOT_FOUND, `no validator set with hash ${req.hash}`);
      return { validators: set.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })) };
    }),

    getAccount: unary<{ address: string }>("GetAccount", (req) => {
      if (!isHex(req.address, 20)) throw badInput("address: expected 20-byte 0x-hex");
      const address = req.address.toLowerCase() as Hex;
      const account = node.chain.account(address);
      return {
        address: account.address,
        nonce: account.nonce,
        pendingNonce: node.mempool.nextNonce(address),
        balances: account.balances.map((b) => ({ asset: b.asset, amount: b.amount.toString() })),
        height: node.chain.height,
      };
    }),

    getLock: unary<{ lockId: string }>("GetLock", (req) => {
      if (!isLockId(req.lockId)) throw badInput("lockId: expected 32-byte 0x-hex");
      const found = node.chain.lockAtHead(req.lockId.toLowerCase() as Hex);
      if (!found) return { found: false };
      if (!found.found) return { found: false, stateAbsence: stateAbsenceToWire(found.absence), header: headerToWire(found.header), commit: commitToWire(found.commit) };
      return { found: true, value: Buffer.from(found.value), stateProof: stateProofToWire(found.proof), header: headerToWire(found.header), commit: commitToWire(found.commit) };
    }),

    getState: unary<{ key: Uint8Array; height: number }>("GetState", (req) => {
      const { chain } = node;
      if (!(req.key instanceof Uint8Array) || req.key.length === 0) throw badInput("key: expected non-empty bytes");
      const height = req.height === 0 ? chain.height : req.height;
      if (height > chain.height) throw new RpcFault(grpc.status.NOT_FOUND, `height ${height} is past the head ${chain.height}`);
      if (height < chain.oldestProvableHeight) {
        throw new RpcFault(grpc.status.OUT_OF_RANGE, `height ${height}: this node proves state at heights ${chain.oldestProvableHeight}..${chain.height} (the last ${chain.stateHistory})`);
      }
      const at = chain.stateAt(new Uint8Array(req.key), height);
      if (!at) throw new RpcFault(grpc.status.OUT_OF_RANGE, `height ${height}: no state proof available`);
      const anchor = { header: headerToWire(at.header), commit: commitToWire(at.commit) };
      if (!at.found) return { found: false, stateAbsence: stateAbsenceToWire(at.absence), ...anchor };
      return { found: true, value: Buffer.from(at.value), stateProof: stateProofToWire(at.proof), ...anchor };
    }),

    getEvents: unary<{ fromHeight: number; toHeight: number }>("GetEvents", (req) => {
      if (req.fromHeight < 1 || req.toHeight < req.fromHeight) throw badInput("need 1 <= fromHeight <= toHeight");
      const to = Math.min(req.toHeight, node.chain.height, req.fromHeight + MAX_EVENT_RANGE - 1);
      const blocks = [];
      for (let h = req.fromHeight; h <= to; h++) {
        const block = node.chain.block(h);
        if (!block || !block.outcomes.some((o) => o.events.length > 0)) continue;
        blocks.push(blockEventsToWire(block, node.chain.provenEvents(block)));
      }
      return { blocks, toHeight: Math.max(to, req.fromHeight - 1) };
    }),

    submitTx: unary<{ tx: Uint8Array }>("SubmitTx", (req) => submitOne(new Uint8Array(req.tx))),

    submitTxs: unary<{ txs: Uint8Array[] }>("SubmitTxs", async (req) => {
      const txs = (req.txs ?? []).map((t) => new Uint8Array(t));
      if (txs.length > MAX_SUBMIT_BATCH) throw badInput(`txs: ${txs.length} transactions, at most ${MAX_SUBMIT_BATCH} per call`);
      // Signatures are checked on the pool's threads while other batches are admitted; batches
      // are admitted in arrival order all the same (a sender's nonces may span batches).
      const checked = pool ? pool.prevalidate(txs) : Promise.resolve(txs);
      const turn = admitted.then(() => checked);
      const results = turn.then((ready) => ({ results: ready.map(submitOne) }));
      admitted = results.then(
        () => undefined,
        () => undefined,
      );
      return results;
    }),

    waitTx: unary<{ hash: string; timeoutMs: number }>("WaitTx", (req, call) => {
      const hash = hashArg(req.hash, "hash");
      const first = txStatus(hash);
      if (first.status === "committed" || first.status === "dropped") return first;
      const timeoutMs = Math.min(req.timeoutMs || DEFAULT_WAIT_MS, MAX_WAIT_MS);
      return new Promise((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          offCommit();
          offDrop();
          waiters.delete(finish);
          resolve(txStatus(hash));
        };
        const timer = setTimeout(finish, timeoutMs);
        const offCommit = node.chain.onCommit(() => {
          if (node.chain.txLocation(hash)) finish();
        });
        const offDrop = node.mempool.onDrop((dropped) => {
          if (dropped === hash) finish();
        });
        call.on("cancelled", finish);
        waiters.add(finish);
      });
    }),
  };

  /** The request's from_height, or undefined after ending the call with INVALID_ARGUMENT. */
  const streamFrom = (call: grpc.ServerWritableStream<{ fromHeight: number }, unknown>): number | undefined => {
    const from = call.request.fromHeight;
    if (Number.isSafeInteger(from) && from >= 1) return from;
    call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: `fromHeight: expected a height >= 1 (blocks start at 1), got ${String(from)}` });
    return undefined;
  };
  impl.subscribeBlocks = (call: grpc.ServerWritableStream<{ fromHeight: number }, unknown>) => {
    const from = streamFrom(call);
    if (from !== undefined) hub.serve(call, "SubscribeBlocks", from, blockToWire);
  };
  impl.subscribeEvents = (call: grpc.ServerWritableStream<{ fromHeight: number; kinds: string[] }, unknown>) => {
    let kinds: ReadonlySet<string> | null;
    try {
      kinds = eventKindFilter(call.request.kinds);
    } catch (err) {
      call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      return;
    }
    const from = streamFrom(call);
    if (from !== undefined) hub.serve(call, "SubscribeEvents", from, (block) => blockEventsToWire(block, blockEventsFor(node.chain, block, kinds)));
  };

  server.addService(consortiumService().service, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${LOCALHOST}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    port,
    endpoint: `${LOCALHOST}:${port}`,
    subscriptions: () => hub.stats(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of [...waiters]) w();
        hub.closeAll("the node is shutting down; resume at the next height");
        void pool?.close();
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
