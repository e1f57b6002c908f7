/**
 * Compact proposals: a Transport decorator between a validator's engine and its network.
 * Outgoing full proposals leave as `compact-proposal` (header, lastCommit, tx hashes): the
 * peers hold nearly every tx already (gossip), so sending them again cost ~100x the bytes
 * and a hex decode, a strict tx decode and a hash per tx on every receiver. An incoming
 * compact proposal is rebuilt from the local mempool (`lookup`); what is missing is asked
 * for (`proposal-tx-request`) and answered by any node that has it (`proposal-txs`, from
 * the proposer's own block or its mempool). Only a complete block reaches the engine, as
 * an ordinary proposal, so every validity rule is unchanged: a proposal whose txs never
 * arrive is never seen and the round's propose timeout prevotes nil; a tx that arrives
 * but is invalid makes the block fail `check` (nil prevote). Received txs must hash to a
 * requested hash, and the block's txRoot binds the rest. A compact proposal is held only
 * if it is signed by its round's proposer (`fromRoundProposer`): the pending list is
 * bounded, and unsigned copies from any peer would otherwise push the genuine one out
 * while its txs are in flight, stalling every round.
 *
 * The proposer also sends along, right behind its compact proposal on the same ordered
 * lane, the block's txs its peers may not hold yet (`fresh`: ones it gossiped itself
 * moments ago, still in flight on the bulk lane or queued for admission there). Without
 * this every receiver asked for them and every node that held them answered to all: a
 * storm of copies and a request round trip on the block's critical path, measured at
 * 0.3-0.6 s per block under load.
 */
import { type Hex } from "../../../proofs/hex.ts";
import { fromHex } from "../../../proofs/hex.ts";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { type ValidatorSet } from "../../../proofs/consortium/validators.ts";
import { commitHash, proposalDigest } from "../../../proofs/consortium/vote.ts";
import { type Block } from "../block.ts";
import { recoverSigner } from "../crypto.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { txHashOf } from "../tx.ts";
import {
  type CompactProposalMessage,
  type ConsensusMessage,
  MAX_TXS_PER_MESSAGE,
  type ProposalMessage,
  type ProposalTxRequestMessage,
  type ProposalTxsMessage,
} from "./messages.ts";
import { ProposerSchedule } from "./proposer.ts";
import { type Transport } from "./transport.ts";

/** Incomplete proposals kept while their txs are fetched (a Byzantine sender cannot grow this). */
const MAX_PENDING = 16;
/** Our own recent proposals whose txs we serve. */
const MAX_SERVED = 8;
/** Per (height, round): ask again or answer the same request again no sooner than this (ms). */
const REPEAT_MS = 150;
/**
 * A new incomplete proposal is asked for this long after it arrives (ms), not at once: the
 * txs its proposer sends along come right behind it on the same lane.
 */
const FIRST_ASK_MS = 20;
/**
 * Answers per (height, round) in all: each answer re-sends txs to every peer, so a peer
 * varying its requests cannot make this node re-send without bound (honest nodes need one
 * or two each).
 */
const MAX_ANSWERS_PER_ROUND = 16;
/** Answers per height over all its rounds: otherwise naming another round reset the cap above. */
const MAX_ANSWERS_PER_HEIGHT = 4 * MAX_ANSWERS_PER_ROUND;

/** A tx this node holds, by hash: the very bytes array of its decoded SignedTx (decoding is memoized on it). */
export type TxLookup = (hash: Hex) => Uint8Array | undefined;

/** True for a tx of our own proposal that peers may not hold yet (sent along with the proposal). */
export type FreshTx = (tx: Uint8Array) => boolean;

/** What the decorator asks the chain about peers' messages. */
export interface ProposalGate {
  /** True if the compact proposal is signed by its round's proposer (what may be held while its txs are fetched). */
  authentic(msg: CompactProposalMessage): boolean;
  /** True if a request for txs of a `height` proposal may be answered (a height consensus is at or near). */
  answers(height: number): boolean;
}

/**
 * Checks compact proposals the way the engine checks proposals (signature by the round's
 * proposer), for the heights the engine can still use: head + 1 and head + 2 (which it
 * buffers). Other heights are refused: the engine drops them anyway. Tx requests are
 * answered for head .. head + 2 (a peer one block behind may still be assembling).
 */
export function fromRoundProposer(chain: {
  readonly chainId: number;
  readonly height: number;
  validatorSetAt(height: number): ValidatorSet;
}): ProposalGate {
  const answers = (height: number) => Number.isSafeInteger(height) && height >= chain.height && height <= chain.height + 2;
  const authentic = (m: CompactProposalMessage) => {
    if (!Number.isSafeInteger(m.height) || m.height <= chain.height || m.height > chain.height + 2) return false;
    if (!Number.isSafeInteger(m.round) || m.round < 0 || !Number.isSafeInteger(m.polRound) || m.polRound < -1) return false;
    const schedule = ProposerSchedule.of(chain.validatorSetAt(m.height));
    let signature: Uint8Array;
    try {
      signature = fromHex(m.signature, "signature", 65);
    } catch {
      return false;
    }
    const digest = proposalDigest({ chainId: chain.chainId, height: m.height, round: m.round, blockHash: hashHeader(m.header), polRound: m.polRound, lastCommit: m.lastCommit });
    const signer = recoverSigner(digest, signature);
    return signer.ok && signer.address === schedule.proposer(m.height, m.round);
  };
  return { authentic, answers };
}

interface Pending {
  readonly msg: CompactProposalMessage;
  readonly txs: (Uint8Array | undefined)[];
  /** hash → its indices in the block (a Byzantine proposer may repeat a hash; check() refuses it then). */
  readonly missing: Map<Hex, number[]>;
  requestedAt: number;
}

export class CompactProposalTransport implements Transport {
  readonly #inner: Transport;
  readonly #lookup: TxLookup;
  readonly #gate: ProposalGate;
  readonly #log: ChainLogger;
  readonly #fresh: FreshTx;
  readonly #handlers = new Set<(msg: ConsensusMessage) => void>();
  readonly #unsubscribe: () => void;
  readonly #compactOf = new WeakMap<ProposalMessage, CompactProposalMessage>();
  readonly #pending = new Map<string, Pending>();
  /** Proposals already assembled: a re-send hands the same object on (the engine may not have been at its height). */
  readonly #assembled = new Map<string, ProposalMessage>();
  readonly #served = new Map<string, Map<Hex, Uint8Array>>();
  readonly #answeredAt = new Map<string, number>();
  readonly #answers = new Map<string, number>();
  readonly #heightAnswers = new Map<number, number>();

  constructor(inner: Transport, lookup: TxLookup, gate: ProposalGate, log: ChainLogger = quietLogger, fresh: FreshTx = () => false) {
    this.#inner = inner;
    this.#lookup = lookup;
    this.#gate = gate;
    this.#log = log;
    this.#fresh = fresh;
    this.#unsubscribe = inner.onMessage((m) => this.receive(m));
  }

  broadcast(msg: ConsensusMessage): void {
    if (msg.type !== "proposal") return this.#inner.broadcast(msg);
    let compact = this.#compactOf.get(msg);
    let push: Uint8Array[] = [];
    if (!compact) {
      const txHashes = msg.block.txs.map(txHashOf);
      compact = { type: "compact-proposal", height: msg.height, round: msg.round, polRound: msg.polRound, header: msg.block.header, lastCommit: msg.block.lastCommit, txHashes, signature: msg.signature };
      this.#compactOf.set(msg, compact);
      const key = roundKey(msg.height, msg.round);
      if (!this.#served.has(key)) {
        this.#served.set(key, new Map(txHashes.map((h, i) => [h, msg.block.txs[i]!])));
        if (this.#served.size > MAX_SERVED) this.#served.delete(this.#served.keys().next().value!);
      }
      // Only with the first send: a re-send means peers lack something else (they ask for it).
      push = msg.block.txs.filter((tx) => this.#fresh(tx));
    }
    this.#inner.broadcast(compact);
    for (let i = 0; i < push.length; i += MAX_TXS_PER_MESSAGE) {
      this.#inner.broadcast({ type: "proposal-txs", height: msg.height, round: msg.round, txs: push.slice(i, i + MAX_TXS_PER_MESSAGE) });
    }
  }

  onMessage(handler: (msg: ConsensusMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#handlers.clear();
    this.#inner.close();
  }

  /** Proposals waiting for txs (for tests and metrics). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  private receive(msg: ConsensusMessage): void {
    switch (msg.type) {
      case "compact-proposal":
        return this.onCompact(msg);
      case "proposal-tx-request":
        return this.onRequest(msg);
      case "proposal-txs":
        return this.onTxs(msg);
      case "txs":
        // Gossip the handlers just admitted may be what a pending proposal lacks.
        this.deliver(msg);
        return this.scheduleRecheck();
      default:
        return this.deliver(msg);
    }
  }

  /**
   * Gossip arrives one tx per message (the peer transport admits txs in time slices): a
   * recheck per tx walked every missing hash of every pending proposal each time, quadratic
   * in the txs a proposal waits for. One recheck per event-loop turn finds the same txs.
   */
  private scheduleRecheck(): void {
    if (this.#recheckScheduled || this.#pending.size === 0) return;
    this.#recheckScheduled = true;
    setImmediate(() => {
      this.#recheckScheduled = false;
      if (!this.#closed) this.recheckPending();
    });
  }

  #recheckScheduled = false;
  #closed = false;

  /** Looks the missing txs of pending proposals up again; delivers those now complete. */
  private recheckPending(): void {
    for (const [key, p] of this.#pending) {
      for (const [hash, at] of p.missing) {
        const bytes = this.#lookup(hash);
        if (!bytes) continue;
        for (const i of at) p.txs[i] = bytes;
        p.missing.delete(hash);
      }
      if (p.missing.size === 0) {
        this.#pending.delete(key);
        this.complete(key, p);
      }
    }
  }

  private onCompact(msg: CompactProposalMessage): void {
    const key = proposalKey(msg);
    const done = this.#assembled.get(key);
    if (done) return this.deliver(done);
    let p = this.#pending.get(key);
    if (!p) {
      if (!this.#gate.authentic(msg)) {
        this.#log.debug("compact proposal not from its round's proposer (or not for the next heights): not held", { height: msg.height, round: msg.round });
        return;
      }
      const txs: (Uint8Array | undefined)[] = new Array(msg.txHashes.length);
      const missing = new Map<Hex, number[]>();
      msg.txHashes.forEach((hash, i) => {
        const bytes = this.#lookup(hash);
        if (bytes) txs[i] = bytes;
        else missing.set(hash, [...(missing.get(hash) ?? []), i]);
      });
      p = { msg, txs, missing, requestedAt: -Infinity };
      if (missing.size === 0) return this.complete(key, p);
      this.#pending.set(key, p);
      if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
      const held = p;
      setTimeout(() => {
        if (this.#closed) return;
        this.recheckPending();
        if (this.#pending.get(key) === held) this.request(held);
      }, FIRST_ASK_MS).unref();
      return;
    }
    // A re-sent proposal means the proposer is still waiting: look again, then ask again
    // (our request or its answer may have been dropped).
    this.recheckPending();
    if (this.#pending.get(key) === p) this.request(p);
  }

  private request(p: Pending): void {
    const now = performance.now();
    if (now - p.requestedAt < REPEAT_MS) return;
    p.requestedAt = now;
    this.#log.debug("compact proposal: fetching txs", { height: p.msg.height, round: p.msg.round, missing: p.missing.size });
    this.#inner.broadcast({ type: "proposal-tx-request", height: p.msg.height, round: p.msg.round, hashes: [...p.missing.keys()] });
  }

  private onRequest(msg: ProposalTxRequestMessage): void {
    if (!this.#gate.answers(msg.height)) return;
    const key = roundKey(msg.height, msg.round);
    const now = performance.now();
    const answerKey = `${key}:${msg.hashes.length}:${msg.hashes[0]}`;
    if (now - (this.#answeredAt.get(answerKey) ?? -Infinity) < REPEAT_MS) return;
    const answers = this.#answers.get(key) ?? 0;
    const heightAnswers = this.#heightAnswers.get(msg.height) ?? 0;
    if (answers >= MAX_ANSWERS_PER_ROUND || heightAnswers >= MAX_ANSWERS_PER_HEIGHT) return;
    this.#answers.set(key, answers + 1);
    if (this.#answers.size > 64) this.#answers.delete(this.#answers.keys().next().value!);
    // The gate admits three heights at a time, so a count is only dropped once its height is past.
    this.#heightAnswers.set(msg.height, heightAnswers + 1);
    if (this.#heightAnswers.size > 8) this.#heightAnswers.delete(this.#heightAnswers.keys().next().value!);
    this.#answeredAt.set(answerKey, now);
    if (this.#answeredAt.size > 64) this.#answeredAt.delete(this.#answeredAt.keys().next().value!);
    const served = this.#served.get(key);
    const found: Uint8Array[] = [];
    for (const hash of msg.hashes) {
      const bytes = served?.get(hash) ?? this.#lookup(hash);
      if (bytes) found.push(bytes);
    }
    for (let i = 0; i < found.length; i += MAX_TXS_PER_MESSAGE) {
      this.#inner.broadcast({ type: "proposal-txs", height: msg.height, round: msg.round, txs: found.slice(i, i + MAX_TXS_PER_MESSAGE) });
    }
  }

  private onTxs(msg: ProposalTxsMessage): void {
    for (const [key, p] of this.#pending) {
      if (p.msg.height !== msg.height || p.msg.round !== msg.round) continue;
      for (const bytes of msg.txs) {
        const hash = txHashOf(bytes);
        const at = p.missing.get(hash);
        if (!at) continue;
        for (const i of at) p.txs[i] = bytes;
        p.missing.delete(hash);
      }
      if (p.missing.size === 0) {
        this.#pending.delete(key);
        this.complete(key, p);
      }
    }
  }

  private complete(key: string, p: Pending): void {
    const { msg } = p;
    const block: Block = { header: msg.header, txs: p.txs as Uint8Array[], lastCommit: msg.lastCommit };
    const proposal: ProposalMessage = { type: "proposal", height: msg.height, round: msg.round, polRound: msg.polRound, block, signature: msg.signature };
    this.#assembled.set(key, proposal);
    if (this.#assembled.size > MAX_SERVED) this.#assembled.delete(this.#assembled.keys().next().value!);
    this.deliver(proposal);
  }

  private deliver(msg: ConsensusMessage): void {
    for (const h of this.#handlers) h(msg);
  }
}

function roundKey(height: number, round: number): string {
  return `${height}:${round}`;
}

/**
 * One (height, round) may carry several proposals: a Byzantine proposer's, or copies a peer
 * altered (the signature is copied, the content is not what it signs). Keyed by everything
 * the proposal signature covers (proofs/consortium/vote.ts, proposalDigest), so a forged
 * copy that arrives first cannot stand in for the genuine one.
 */
function proposalKey(m: CompactProposalMessage): string {
  return `${m.height}:${m.round}:${m.signature}:${hashHeader(m.header)}:${m.polRound}:${commitHash(m.lastCommit)}`;
}
