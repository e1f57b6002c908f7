/**
 * Transactions waiting for a block. A tx is admitted only if it would succeed on top of the
 * committed state plus every tx already pending, at the next block's expected time: a bad
 * signature, wrong chain id, reused or out-of-order nonce, overdraft or failing HTLC rule
 * is refused at submit time with the chain's reason. After each committed block the pool
 * drops what was included and re-admits the rest in order; a tx whose nonce was taken in
 * the meantime is evicted and remembered as dropped so waiters learn why.
 */
import { type Hex } from "../../proofs/hex.ts";
import { type Chain } from "./chain.ts";
import { type Clock } from "./clock.ts";
import { reject, TxErrorCode, TxRejectedError } from "./codes.ts";
import { type BlockContext, applyTx } from "./execute.ts";
import { KvOverlay } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";
import { checkTxStateless, type SignedTx, txHashOf } from "./tx.ts";

export interface MempoolOptions {
  /** Total pending transactions; default 20000. */
  readonly maxTxs?: number;
  /** Pending transactions per sender; default 64. */
  readonly maxPerSender?: number;
}

interface Pending {
  readonly tx: SignedTx;
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

  /** The nonce `account`'s next transaction must use, counting its pending ones. */
  nextNonce(account: Hex): number {
    return new LedgerState(this.#overlay).nonce(account);
  }

  /** Why a once-pending tx was evicted, if it was. */
  dropped(hash: Hex): TxRejectedError | undefined {
    return this.#dropped.get(hash);
  }

  onDrop(listener: (hash: Hex, error: TxRejectedError) => void): () => void {
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  /** Admits signed tx bytes or throws TxRejectedError with the reason. Idempotent for a pending tx. */
  add(bytes: Uint8Array): SignedTx {
    const tx = checkTxStateless(bytes, this.#chain.chainId);
    const known = this.#byHash.get(tx.hash);
    if (known) return known.tx;
    if (this.#pending.length >= this.#maxTxs) throw reject(TxErrorCode.MEMPOOL_FULL, `mempool holds ${this.#pending.length} transactions`);
    const fromSender = this.#perSender.get(tx.from) ?? 0;
    if (fromSender >= this.#maxPerSender) throw reject(TxErrorCode.MEMPOOL_FULL, `${tx.from} already has ${fromSender} pending transactions`);
    const scratch = this.#overlay.child();
    const outcome = applyTx(scratch, tx, this.nextContext());
    if (!outcome.record.ok) {
      throw reject(outcome.record.code as TxErrorCode, outcome.record.message, { txHash: tx.hash });
    }
    scratch.commit();
    const entry = { tx };
    this.#pending.push(entry);
    this.#byHash.set(tx.hash, entry);
    this.#perSender.set(tx.from, fromSender + 1);
    this.#dropped.delete(tx.hash);
    return tx;
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
    this.#overlay = new KvOverlay(this.#chain.kv);
    const ctx = this.nextContext();
    for (const p of remaining) {
      try {
        // Execution failures stay pending (they will be included as failed); only lost admission evicts.
        applyTx(this.#overlay, p.tx, ctx);
        this.#pending.push(p);
        this.#perSender.set(p.tx.from, (this.#perSender.get(p.tx.from) ?? 0) + 1);
      } catch (err) {
        if (!(err instanceof TxRejectedError)) throw err;
        this.#byHash.delete(p.tx.hash);
        this.remember(p.tx.hash, reject(TxErrorCode.TX_DROPPED, `dropped from the mempool: ${err.reason}`, { txHash: p.tx.hash, cause: err.code }));
      }
    }
  }

  private remember(hash: Hex, error: TxRejectedError): void {
    if (this.#dropped.size >= DROPPED_MEMORY) this.#dropped.delete(this.#dropped.keys().next().value!);
    this.#dropped.set(hash, error);
    for (const l of this.#dropListeners) l(hash, error);
  }
}
