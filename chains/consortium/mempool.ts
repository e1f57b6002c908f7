/**
 * Transactions waiting for a block. Every tx is checked statelessly (well-formed, this
 * chain, signature; each signature is verified once per process). A tx that uses its
 * sender's next nonce (committed state plus the sender's pending txs) is pending: it may be
 * proposed. What else runs depends on where it came from:
 * - `client` (the node API, this validator's own evidence): also a dry run on top of the
 *   committed state plus this node's other client txs, at the next block's expected time,
 *   so an overdraft or a failing HTLC rule is refused at submit time with the chain's reason.
 * - `peer` (gossip): nothing more. The node that took it from its client already ran it,
 *   and the block check executes it anyway: running it here too cost every validator a
 *   third execution per tx. A gossiped tx that fails in its block is included as failed.
 * A client tx whose nonce is ahead of the next one by 1..MAX_NONCE_AHEAD is queued instead:
 * a pipelining client's concurrent calls may reach the node in any order. Queued txs are
 * never proposed nor counted as pending; they become pending in nonce order as soon as the
 * gap fills (an admission or a commit), and only then are dry-run (a failure drops the tx
 * with the chain's code, reported by `dropped`) and announced through `onPending`. They
 * leave after QUEUED_TTL_MS, or when a commit takes their nonce. Gossiped txs are not
 * queued: a node gossips a tx when it becomes pending, so each sender's txs travel in nonce
 * order. Both caps count queued txs; an executable tx that meets a full cap evicts a queued
 * one (the sender's highest nonce, or else the pool's oldest), so queued txs cannot crowd
 * out executable ones.
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

/** How far past its sender's next nonce a client tx may be queued (a pipeline's depth). */
export const MAX_NONCE_AHEAD = 16;
/** How long a queued tx waits for its gap to fill (ms, by the pool's clock). */
export const QUEUED_TTL_MS = 30_000;

export interface MempoolOptions {
  /** Total transactions held, pending and queued; default 20000. */
  readonly maxTxs?: number;
  /** Transactions held per sender, pending and queued; default 64. */
  readonly maxPerSender?: number;
}

/** Where a tx came from: decides whether admission dry-runs it (see above). */
export type TxOrigin = "client" | "peer";

interface Pending {
  readonly tx: SignedTx;
  readonly origin: TxOrigin;
}

interface Queued extends Pending {
  readonly expiresAtMs: number;
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
  /** Queued txs by hash, oldest first (insertion order, hence also expiry order). */
  readonly #queued = new Map<Hex, Queued>();
  /** The same, per sender by nonce; every nonce here is past the sender's next nonce. */
  readonly #queuedBySender = new Map<Hex, Map<number, Queued>>();
  /** Committed state plus the pending client txs' writes: where client txs dry-run. */
  #overlay: KvOverlay;
  readonly #dropped = new Map<Hex, TxRejectedError>();
  readonly #dropListeners = new Set<(hash: Hex, error: TxRejectedError) => void>();
  readonly #pendingListeners = new Set<(tx: SignedTx, origin: TxOrigin) => void>();

  constructor(chain: Chain, clock: Clock, opts: MempoolOptions = {}) {
    this.#chain = chain;
    this.#clock = clock;
    this.#maxTxs = opts.maxTxs ?? 20_000;
    this.#maxPerSender = opts.maxPerSender ?? 64;
    this.#overlay = new KvOverlay(chain.kv);
    chain.onCommit((block) => this.update(new Set(block.txs.map(txHashOf))));
  }

  /** Pending transactions (what a proposal may take); queued ones are not counted. */
  get size(): number {
    return this.#pending.length;
  }

  /** Queued transactions, waiting for an earlier nonce of their sender. */
  get queuedSize(): number {
    return this.#queued.size;
  }

  /** Whether the tx is pending (queued ones: `isQueued`). */
  has(hash: Hex): boolean {
    return this.#byHash.has(hash);
  }

  isQueued(hash: Hex): boolean {
    return this.#queued.has(hash);
  }

  /**
   * A pending or queued tx by hash. Compact proposals are rebuilt with this: a queued tx's
   * bytes are as good as any (the hash fixes them, and the block is checked anyway).
   */
  get(hash: Hex): SignedTx | undefined {
    return (this.#byHash.get(hash) ?? this.#queued.get(hash))?.tx;
  }

  /** The nonce `account`'s next transaction must use, counting its pending (not queued) ones. */
  nextNonce(account: Hex): number {
    return this.#nextNonce.get(account) ?? this.#chain.state.nonce(account);
  }

  /** Why a once-accepted tx was evicted, if it was. */
  dropped(hash: Hex): TxRejectedError | undefined {
    return this.#dropped.get(hash);
  }

  onDrop(listener: (hash: Hex, error: TxRejectedError) => void): () => void {
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  /**
   * Called for each tx as it becomes pending, in each sender's nonce order: on admission, or
   * on promotion from the queue (then possibly during another tx's `add` or a commit). A
   * node gossips its client txs from here, so they leave in an order peers accept.
   */
  onPending(listener: (tx: SignedTx, origin: TxOrigin) => void): () => void {
    this.#pendingListeners.add(listener);
    return () => this.#pendingListeners.delete(listener);
  }

  /**
   * Admits signed tx bytes or throws TxRejectedError with the reason. Idempotent for a tx
   * held (pending or queued). `origin` decides whether the tx is dry-run and whether it may
   * be queued (see the module comment). Returning means accepted, pending or queued.
   */
  add(bytes: Uint8Array, origin: TxOrigin = "client"): SignedTx {
    const tx = checkTxStateless(bytes, this.#chain.chainId);
    const known = this.#byHash.get(tx.hash) ?? this.#queued.get(tx.hash);
    if (known) return known.tx;
    this.expireQueued();
    const expected = this.nextNonce(tx.from);
    const ahead = tx.nonce - expected;
    if (ahead < 0 || (ahead > 0 && origin !== "client")) throw nonceError(tx, expected);
    if (ahead > MAX_NONCE_AHEAD) {
      const err = nonceError(tx, expected);
      throw reject(err.code as TxErrorCode, `${err.reason} (a tx may wait for at most ${MAX_NONCE_AHEAD} nonces ahead)`, err.details);
    }
    const senderQueue = this.#queuedBySender.get(tx.from);
    if (ahead > 0 && senderQueue?.has(tx.nonce)) {
      throw reject(TxErrorCode.BAD_NONCE, `nonce ${tx.nonce} already used by a queued tx of ${tx.from} (${senderQueue.get(tx.nonce)!.tx.hash})`, { txHash: tx.hash, nonce: tx.nonce, expected });
    }
    // Caps count queued txs; only an executable tx may evict a queued one to get in.
    const fromSender = (this.#perSender.get(tx.from) ?? 0) + (senderQueue?.size ?? 0);
    const senderFull = fromSender >= this.#maxPerSender;
    const poolFull = this.#pending.length + this.#queued.size >= this.#maxTxs;
    if (senderFull && (ahead > 0 || !senderQueue?.size)) throw reject(TxErrorCode.MEMPOOL_FULL, `${tx.from} already has ${fromSender} transactions in the mempool`, { txHash: tx.hash });
    if (poolFull && (ahead > 0 || this.#queued.size === 0)) throw reject(TxErrorCode.MEMPOOL_FULL, `mempool holds ${this.#pending.length + this.#queued.size} transactions`, { txHash: tx.hash });
    if (ahead > 0) {
      this.enqueue({ tx, origin, expiresAtMs: this.#clock.now() + QUEUED_TTL_MS });
      return tx;
    }
    if (origin === "client") {
      const scratch = this.#overlay.child();
      const failure = this.dryRun(scratch, tx, this.nextContext());
      if (failure) throw reject(failure.code as TxErrorCode, failure.reason, { txHash: tx.hash });
      scratch.commit();
    }
    if (senderFull) this.evictForRoom(highestNonce(senderQueue!), `${tx.from} has ${fromSender} transactions in the mempool; its next nonce ${tx.nonce} takes the room`);
    if (this.#pending.length + this.#queued.size >= this.#maxTxs) this.evictForRoom(this.#queued.values().next().value!, `the mempool is full; executable transactions take the room of queued ones`);
    this.admitPending({ tx, origin });
    this.promote(tx.from);
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

  private admitPending(entry: Pending): void {
    const { tx } = entry;
    this.#pending.push(entry);
    this.#byHash.set(tx.hash, entry);
    this.#perSender.set(tx.from, (this.#perSender.get(tx.from) ?? 0) + 1);
    this.#nextNonce.set(tx.from, tx.nonce + 1);
    this.#dropped.delete(tx.hash);
    for (const l of this.#pendingListeners) l(tx, entry.origin);
  }

  private enqueue(entry: Queued): void {
    const { tx } = entry;
    let mine = this.#queuedBySender.get(tx.from);
    if (!mine) this.#queuedBySender.set(tx.from, (mine = new Map()));
    mine.set(tx.nonce, entry);
    this.#queued.set(tx.hash, entry);
    this.#dropped.delete(tx.hash);
  }

  private unqueue(entry: Queued): void {
    const { tx } = entry;
    this.#queued.delete(tx.hash);
    const mine = this.#queuedBySender.get(tx.from);
    mine?.delete(tx.nonce);
    if (mine?.size === 0) this.#queuedBySender.delete(tx.from);
  }

  /** Moves `sender`'s queued txs that now follow on without a gap to pending, in nonce order. */
  private promote(sender: Hex, ctx?: BlockContext): void {
    for (;;) {
      const entry = this.#queuedBySender.get(sender)?.get(this.nextNonce(sender));
      if (!entry) return;
      this.unqueue(entry);
      if (entry.origin === "client") {
        const scratch = this.#overlay.child();
        const failure = this.dryRun(scratch, entry.tx, (ctx ??= this.nextContext()));
        if (failure) {
          // Accepted when queued, so the reason reaches the client as a drop, with the chain's code.
          this.remember(entry.tx.hash, reject(failure.code as TxErrorCode, `queued tx refused when its nonce came up: ${failure.reason}`, { txHash: entry.tx.hash }));
          return;
        }
        scratch.commit();
      }
      this.admitPending(entry);
    }
  }

  private evictForRoom(entry: Queued, why: string): void {
    this.unqueue(entry);
    this.remember(entry.tx.hash, reject(TxErrorCode.TX_DROPPED, `dropped from the mempool queue: ${why}`, { txHash: entry.tx.hash, cause: TxErrorCode.MEMPOOL_FULL }));
  }

  /** Drops queued txs past their time (oldest first: insertion order is expiry order). */
  private expireQueued(): void {
    const now = this.#clock.now();
    for (const entry of this.#queued.values()) {
      if (entry.expiresAtMs > now) break;
      this.unqueue(entry);
      const { tx } = entry;
      const reason = `queued for ${QUEUED_TTL_MS} ms with nonce ${tx.nonce}, but ${tx.from}'s next nonce is still ${this.nextNonce(tx.from)}`;
      this.remember(tx.hash, reject(TxErrorCode.TX_DROPPED, `dropped from the mempool queue: ${reason}`, { txHash: tx.hash, cause: TxErrorCode.BAD_NONCE }));
    }
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
      // Execution failures stay pending (they will be included as failed). Not announced
      // through onPending again: these were pending before the commit.
      if (p.origin === "client") this.dryRun(this.#overlay, p.tx, ctx);
      this.#pending.push(p);
      this.#perSender.set(p.tx.from, (this.#perSender.get(p.tx.from) ?? 0) + 1);
      this.#nextNonce.set(p.tx.from, p.tx.nonce + 1);
    }
    // Queued txs: included ones (another node had their gap) leave; ones whose nonce the
    // block took are dropped; old ones expire; the rest are promoted if their gap filled.
    for (const entry of [...this.#queued.values()]) {
      const { tx } = entry;
      if (included.has(tx.hash)) {
        this.unqueue(entry);
        continue;
      }
      const expected = this.nextNonce(tx.from);
      if (tx.nonce < expected) {
        this.unqueue(entry);
        this.remember(tx.hash, reject(TxErrorCode.TX_DROPPED, `dropped from the mempool queue: ${nonceError(tx, expected).reason}`, { txHash: tx.hash, cause: TxErrorCode.BAD_NONCE }));
      }
    }
    this.expireQueued();
    for (const sender of [...this.#queuedBySender.keys()]) this.promote(sender, ctx);
  }

  private remember(hash: Hex, error: TxRejectedError): void {
    if (this.#dropped.size >= DROPPED_MEMORY) this.#dropped.delete(this.#dropped.keys().next().value!);
    this.#dropped.set(hash, error);
    for (const l of this.#dropListeners) l(hash, error);
  }
}

function highestNonce(queue: ReadonlyMap<number, Queued>): Queued {
  let top: Queued | undefined;
  for (const e of queue.values()) if (!top || e.tx.nonce > top.tx.nonce) top = e;
  return top!;
}

function nonceError(tx: SignedTx, expected: number): TxRejectedError {
  const why = tx.nonce < expected ? "already used" : "out of order";
  return reject(TxErrorCode.BAD_NONCE, `nonce ${tx.nonce} ${why}: ${tx.from}'s next nonce is ${expected}`, { txHash: tx.hash, nonce: tx.nonce, expected });
}
