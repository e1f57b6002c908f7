/**
 * Transactions waiting for a block. Every tx is checked statelessly (well-formed, this
 * chain, signature; each signature is verified once per process) and must use its sender's
 * next nonce counting the pending ones. What else runs depends on where it came from:
 * - `client` (the node API, this validator's own evidence): also a dry run on top of the
 *   committed state plus this node's other client txs, at the next block's expected time,
 *   so an overdraft or a failing HTLC rule is refused at submit time with the chain's reason.
 * - `peer` (gossip): nothing more. The node that took it from its client already ran it,
 *   and the block check executes it anyway: running it here too cost every validator a
 *   third execution per tx. A gossiped tx that fails in its block is included as failed.
 * After each committed block the pool drops what was included and evicts each tx whose
 * nonce was taken in the meantime (remembered as dropped so waiters learn why); only the
 * client txs are re-run, to rebuild the dry-run state.
 */
import { type Hex } from "../../proofs/hex.ts";
import { type Chain } from "./chain.ts";
import { type Clock } from "./clock.ts";
import { reject, TxErrorCode, TxRejectedError } from "./codes.ts";
import { type BlockContext, dryRunTx } from "./execute.ts";
import { KvOverlay } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";
import { checkTxStateless, type SignedTx, txHashOf } from "./tx.ts";

export interface MempoolOptions {
  /** Total pending transactions; default 20000. */
  readonly maxTxs?: number;
  /** Pending transactions per sender; default 64. */
  readonly maxPerSender?: number;
}

/** Where a tx came from: decides whether admission dry-runs it (see above). */
export type TxOrigin = "client" | "peer";

interface Pending {
  readonly tx: SignedTx;
  readonly origin: TxOrigin;
}

const DROPPED_MEMORY = 10_000;

export class Mempool {
  readonly #chain: Chain;
  readonly #clock: Clock;
  readonly #maxTxs: number;
  readonly #maxPerSender: number;
  #pending: Pending[] = [];
  readonly #byHash = new Map<Hex, Pending>();
  readonly #perSender = new Map<Hex, number>();
  /** Next nonce of each sender with pending txs (others: the committed nonce). */
  readonly #nextNonce = new Map<Hex, number>();
  /** Committed state plus the pending client txs' writes: where client txs dry-run. */
  #overlay: KvOverlay;
  readonly #dropped = new Map<Hex, TxRejectedError>();
  readonly #dropListeners = new Set<(hash: Hex, error: TxRejectedError) => void>();

  constructor(chain: Chain, clock: Clock, opts: MempoolOptions = {}) {
    this.#chain = chain;
    this.#clock = clock;
    this.#maxTxs = opts.maxTxs ?? 20_000;
    this.#maxPerSender = opts.maxPerSender ?? 64;
    this.#overlay = new KvOverlay(chain.kv);
    chain.onCommit((block) => this.update(new Set(block.txs.map(txHashOf))));
  }

  get size(): number {
    return this.#pending.length;
  }

  has(hash: Hex): boolean {
    return this.#byHash.has(hash);
  }

  /** A pending tx by hash. */
  get(hash: Hex): SignedTx | undefined {
    return this.#byHash.get(hash)?.tx;
  }

  /** The nonce `account`'s next transaction must use, counting its pending ones. */
  nextNonce(account: Hex): number {
    return this.#nextNonce.get(account) ?? this.#chain.state.nonce(account);
  }

  /** Why a once-pending tx was evicted, if it was. */
  dropped(hash: Hex): TxRejectedError | undefined {
    return this.#dropped.get(hash);
  }

  onDrop(listener: (hash: Hex, error: TxRejectedError) => void): () => void {
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  /**
   * Admits signed tx bytes or throws TxRejectedError with the reason. Idempotent for a
   * pending tx. `origin` decides whether the tx is dry-run (see the module comment).
   */
  add(bytes: Uint8Array, origin: TxOrigin = "client"): SignedTx {
    const tx = checkTxStateless(bytes, this.#chain.chainId);
    const known = this.#byHash.get(tx.hash);
    if (known) return known.tx;
    if (this.#pending.length >= this.#maxTxs) throw reject(TxErrorCode.MEMPOOL_FULL, `mempool holds ${this.#pending.length} transactions`);
    const fromSender = this.#perSender.get(tx.from) ?? 0;
    if (fromSender >= this.#maxPerSender) throw reject(TxErrorCode.MEMPOOL_FULL, `${tx.from} already has ${fromSender} pending transactions`);
    const expected = this.nextNonce(tx.from);
    if (tx.nonce !== expected) throw nonceError(tx, expected);
    if (origin === "client") {
      const scratch = this.#overlay.child();
      const failure = this.dryRun(scratch, tx, this.nextContext());
      if (failure) throw reject(failure.code as TxErrorCode, failure.reason, { txHash: tx.hash });
      scratch.commit();
    }
    const entry = { tx, origin };
    this.#pending.push(entry);
    this.#byHash.set(tx.hash, entry);
    this.#perSender.set(tx.from, fromSender + 1);
    this.#nextNonce.set(tx.from, tx.nonce + 1);
    this.#dropped.delete(tx.hash);
    return tx;
  }

  /**
   * Runs `tx` on `kv` as if its sender's earlier pending txs had run: gossiped ones are not
   * in the dry-run state, so their nonces are taken as consumed (the pool checked the order).
   */
  private dryRun(kv: KvOverlay, tx: SignedTx, ctx: BlockContext): TxRejectedError | undefined {
    new LedgerState(kv).setNonce(tx.from, tx.nonce);
    return dryRunTx(kv, tx, ctx);
  }

  /** Pending tx bytes in admission order (per-sender nonce order by construction). */
  reap(max: number): Uint8Array[] {
    return this.#pending.slice(0, max).map((p) => p.tx.bytes);
  }

  /** The context a tx submitted now would most likely execute in. */
  private nextContext(): BlockContext {
    const head = this.#chain.head.header;
    return { chainId: this.#chain.chainId, height: head.height + 1, timeMs: Math.max(head.timeMs + 1, this.#clock.now()) };
  }

  private update(included: ReadonlySet<Hex>): void {
    const remaining = this.#pending.filter((p) => !included.has(p.tx.hash));
    for (const hash of included) this.#byHash.delete(hash);
    this.#pending = [];
    this.#perSender.clear();
    this.#nextNonce.clear();
    this.#overlay = new KvOverlay(this.#chain.kv);
    const ctx = this.nextContext();
    for (const p of remaining) {
      const expected = this.nextNonce(p.tx.from);
      if (p.tx.nonce !== expected) {
        // Its nonce was taken by a block (or an earlier tx of its sender was dropped): it can never be included.
        const err = nonceError(p.tx, expected);
        this.#byHash.delete(p.tx.hash);
        this.remember(p.tx.hash, reject(TxErrorCode.TX_DROPPED, `dropped from the mempool: ${err.reason}`, { txHash: p.tx.hash, cause: err.code }));
        continue;
      }
      // Execution failures stay pending (they will be included as failed).
      if (p.origin === "client") this.dryRun(this.#overlay, p.tx, ctx);
      this.#pending.push(p);
      this.#perSender.set(p.tx.from, (this.#perSender.get(p.tx.from) ?? 0) + 1);
      this.#nextNonce.set(p.tx.from, p.tx.nonce + 1);
    }
  }

  private remember(hash: Hex, error: TxRejectedError): void {
    if (this.#dropped.size >= DROPPED_MEMORY) this.#dropped.delete(this.#dropped.keys().next().value!);
    this.#dropped.set(hash, error);
    for (const l of this.#dropListeners) l(hash, error);
  }
}

function nonceError(tx: SignedTx, expected: number): TxRejectedError {
  const why = tx.nonce < expected ? "already used" : "out of order";
  return reject(TxErrorCode.BAD_NONCE, `nonce ${tx.nonce} ${why}: ${tx.from}'s next nonce is ${expected}`, { txHash: tx.hash, nonce: tx.nonce, expected });
}
