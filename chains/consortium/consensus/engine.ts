/**
 * Tendermint consensus for one validator: Buchman, Kwon, Milosevic, "The latest gossip on
 * BFT consensus" (2018), Algorithm 1. Comments "L22" etc. cite its line numbers.
 *
 * Heights and rounds; each round is propose -> prevote -> precommit, a block is decided on
 * precommits from more than 2/3 of the stake, and timeouts that grow with the round move a
 * stuck round on. Locking (L36): on +2/3 prevotes for a block a validator locks on it and
 * afterwards prevotes another block only when a proposal carries a newer polka (L28).
 *
 * Time (BFT time): a precommit for a block signs max(clock.now(), block time + 1); the next
 * block's time is the stake-weighted median of the precommit times in the commit it carries
 * (lastCommit), a validity rule checked in chain.ts. Only block 1 carries the proposer's
 * time: a fresh proposal of it (no polka round) further than maxClockSkewMs from our clock
 * gets a nil prevote; a re-proposal with a polka is not re-judged (a slow round could
 * otherwise strand a lock).
 *
 * Safety across restarts: before signing anything the validator saves (height, round, lock,
 * valid block); on restart at that height it resumes in the next round with its lock.
 * A validator that falls behind catches up by requesting committed blocks (sync-request /
 * sync-block), each checked against the validator set and re-executed before it is applied.
 */
import { type Hex, fromHex } from "../../../proofs/hex.ts";
import { type Commit, verifyCommit } from "../../../proofs/consortium/commit.ts";
import { type Header, hashHeader } from "../../../proofs/consortium/header.ts";
import { type ValidatorSet, hashValidatorSet, stakeOf } from "../../../proofs/consortium/validators.ts";
import { type DuplicateVoteEvidence } from "../../../proofs/consortium/evidence.ts";
import { NIL_BLOCK_HASH, proposalDigest, VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { type Block, type BlockJson, blockFromJson, blockToJson } from "../block.ts";
import { type Clock } from "../clock.ts";
import { recoverSigner, type Signer } from "../crypto.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { type ConsensusMessage, type ProposalMessage, type SyncBlockMessage, type VoteMessage } from "./messages.ts";
import { ProposerSchedule } from "./proposer.ts";
import { type EngineTimers, type TimerHandle, systemTimers } from "./timers.ts";
import { type Transport } from "./transport.ts";
import { HeightVotes } from "./votes.ts";

/** What consensus needs from the chain it orders. */
export interface ConsensusApp {
  readonly chainId: number;
  /** The set that signs `height` (head + 1 at least; set changes are decided two blocks ahead). */
  validatorSetAt(height: number): ValidatorSet;
  /** The last committed block's header and hash (genesis at height 0). */
  head(): { readonly header: Header; readonly hash: Hex };
  /** Builds a block for the next height stamped `timeMs`. */
  propose(timeMs: number, proposer: Hex): Block;
  /** Deterministic validity for the next height (not timeliness). */
  check(block: Block): { readonly ok: true } | { readonly ok: false; readonly reason: string };
  /** Persists and applies a decided block; throwing halts this validator. */
  commit(block: Block, commit: Commit): void;
  committed(height: number): { readonly block: Block; readonly commit: Commit } | undefined;
  /** Transactions waiting for a block (a proposer with work does not wait out blockIntervalMs). */
  pendingTxs(): number;
}

/** A block the signer state names by hash; `json` is called only when the store lacks it. */
export interface SignerBlockRecord {
  readonly hash: Hex;
  readonly height: number;
  /** The block itself, for stores that keep a compact form of it. */
  readonly block: Block;
  json(): BlockJson;
}

/**
 * Where the signer state lives (SQLite in a validator). `save` is durable when it returns
 * (the engine signs only after it). The locked and valid blocks go beside the state, by
 * hash, so a store can write each block once instead of inside every save.
 */
export interface SignerStateStore {
  load(): unknown;
  save(state: unknown, blocks: readonly SignerBlockRecord[]): void;
  loadBlock(hash: Hex): unknown;
}

/** Base timeouts; each grows by deltaMs per round so a slow network eventually fits. */
export interface ConsensusTimeouts {
  readonly proposeMs: number;
  readonly prevoteMs: number;
  readonly precommitMs: number;
  readonly deltaMs: number;
}

export const DEFAULT_TIMEOUTS: ConsensusTimeouts = Object.freeze({ proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 250 });
export const DEFAULT_MAX_CLOCK_SKEW_MS = 2000;

export interface EngineOptions {
  readonly app: ConsensusApp;
  readonly signer: Signer;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly signerState: SignerStateStore;
  /** Pause after a commit before the next height starts (Tendermint's timeout_commit). */
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs?: number;
  readonly timeouts?: ConsensusTimeouts;
  readonly log?: ChainLogger;
  /** Re-send our current-round proposal and votes this often (default max(200, proposeMs)). */
  readonly rebroadcastMs?: number;
  /** Called with proof of a validator signing two different votes at one (height, round, type). */
  readonly onEquivocation?: (evidence: DuplicateVoteEvidence, validator: Hex) => void;
  /** Called when the engine halts on an error it cannot continue from (e.g. the store failed). */
  readonly onHalt?: (error: unknown) => void;
  /** Monotonic time and timers (default: the system's; a simulation injects virtual ones). */
  readonly timers?: EngineTimers;
}

type Step = "new-height" | "propose" | "prevote" | "precommit";

interface Proposal {
  readonly block: Block;
  readonly hash: Hex;
  readonly polRound: number;
}

interface SavedSignerState {
  readonly height: number;
  readonly round: number;
  readonly lockedRound: number;
  /** Hash of the locked block (its JSON is saved beside, see SignerStateStore). */
  readonly lockedHash: Hex | null;
  readonly validRound: number;
  readonly validHash: Hex | null;
}

/** Votes and proposals further ahead than this many rounds are ignored (bounds memory). */
const MAX_ROUNDS_AHEAD = 1000;
/** How long a proposer woken by arriving txs gathers more before proposing (ms). */
const TX_GATHER_MS = 10;
const MAX_BUFFERED_FUTURE = 1000;
const SYNC_RETRY_MS = 250;
/**
 * Messages one height ahead are normal while the others commit a moment before us: ask for
 * the block only if they keep coming this long (a sync block can be megabytes, sent to all).
 */
const SYNC_GRACE_MS = 750;

export class ConsensusEngine {
  readonly #o: EngineOptions;
  readonly #timeouts: ConsensusTimeouts;
  readonly #maxSkewMs: number;
  #schedule: ProposerSchedule;
  #setHash: Hex;
  /** Whether this validator is in the current height's set (only members propose and vote). */
  #member = false;
  readonly #self: Hex;
  readonly #log: ChainLogger;
  readonly #time: EngineTimers;
  readonly #timers = new Set<TimerHandle>();
  #running = false;
  #unsubscribe: (() => void) | null = null;
  #evaluating = false;

  #height = 0;
  #round = 0;
  #step: Step = "new-height";
  #lockedRound = -1;
  #lockedBlock: Block | null = null;
  #lockedHash: Hex | null = null;
  #validRound = -1;
  #validBlock: Block | null = null;
  #proposals = new Map<number, Proposal>();
  #blocks = new Map<Hex, Block>();
  #votes: HeightVotes;
  #fired = new Set<string>();
  #future: ConsensusMessage[] = [];
  #sent: { msg: ProposalMessage | VoteMessage; at: number; every: number }[] = [];
  readonly #rebroadcastMs: number;
  #rebroadcastTimer: TimerHandle | null = null;

  #lastSyncRequest = -Infinity;
  readonly #lastSyncServed = new Map<number, number>();
  #maxSeenHeight = 0;
  /** When this height first saw a message of the next one (null: not yet). */
  #aheadSince: number | null = null;
  /** A round-0 start is scheduled because txs arrived (txsArrived); reset each height. */
  #gathering = false;
  readonly #syncServed = new Map<number, SyncBlockMessage>();

  constructor(opts: EngineOptions) {
    this.#o = opts;
    this.#timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.#rebroadcastMs = opts.rebroadcastMs ?? Math.max(200, this.#timeouts.proposeMs);
    this.#maxSkewMs = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.#self = opts.signer.address;
    this.#log = opts.log ?? quietLogger;
    this.#time = opts.timers ?? systemTimers;
    const set = opts.app.validatorSetAt(opts.app.head().header.height + 1);
    this.#schedule = ProposerSchedule.of(set);
    this.#setHash = hashValidatorSet(set);
    this.#votes = new HeightVotes(set);
  }

  /** Whether this validator signs at the current height. */
  get member(): boolean {
    return this.#member;
  }

  get height(): number {
    return this.#height;
  }

  get round(): number {
    return this.#round;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#o.transport.onMessage((m) => this.receive(m));
    this.#rebroadcastTimer = this.#time.setInterval(() => {
      if (this.#running) this.rebroadcast();
    }, Math.max(20, Math.floor(this.#rebroadcastMs / 2)));
    const saved = this.loadSignerState();
    const next = this.#o.app.head().header.height + 1;
    if (saved && saved.height === next) {
      this.enterHeight();
      this.restore(saved);
      this.guard(() => this.startRound(saved.round + 1)); // never sign again in a round already signed in
    } else {
      this.enterHeight();
      this.scheduleRoundZero(this.#o.blockIntervalMs);
    }
  }

  /**
   * Transactions became pending. A round-0 proposer waiting out an idle block interval
   * proposes TX_GATHER_MS later: waiting suits an idle chain, but a tx arriving just after a
   * commit would wait the whole interval (measured: 0.5 s gaps between blocks at 600 tx/s).
   * Only when round 0 starts changes, never what is signed.
   */
  txsArrived(): void {
    if (!this.#running || this.#step !== "new-height" || !this.#member || this.#gathering) return;
    if (this.#schedule.proposer(this.#height, 0) !== this.#self || this.#o.app.pendingTxs() === 0) return;
    // Not at once: this runs inside admission (a SubmitTxs batch admits its txs one by one),
    // and a single validator would commit a block per tx (measured: 178 TPS, 1-tx blocks).
    this.#gathering = true;
    const h = this.#height;
    this.schedule(TX_GATHER_MS, () => {
      if (this.#height === h && this.#step === "new-height") this.startRound(0);
    });
  }

  stop(): void {
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#rebroadcastTimer) this.#time.clearInterval(this.#rebroadcastTimer);
    this.#rebroadcastTimer = null;
    for (const t of this.#timers) this.#time.clearTimeout(t);
    this.#timers.clear();
  }

  // --- input ----------------------------------------------------------------------------

  private receive(msg: ConsensusMessage): void {
    if (!this.#running) return;
    this.guard(() => this.handle(msg));
  }

  /** Runs `fn` then the rules; any throw halts the validator (its store or state is in doubt). */
  private guard(fn: () => void): void {
    try {
      fn();
      this.evaluate();
    } catch (err) {
      this.#log.error("consensus halted", { validator: this.#self, height: this.#height, error: (err as Error).message });
      this.stop();
      this.#o.onHalt?.(err);
    }
  }

  private handle(msg: ConsensusMessage): void {
    switch (msg.type) {
      case "txs":
      case "compact-proposal": // assembled into a "proposal" by compact.ts before it reaches us
      case "proposal-tx-request":
      case "proposal-txs":
        return;
      case "sync-request":
        return this.serveSync(msg.height);
      case "sync-block":
        return this.onSyncBlock(msg);
      case "proposal":
      case "vote":
        if (msg.height < this.#height) return; // late, or the sender is behind: it asks (sync-request)
        if (msg.height > this.#height) {
          this.noteAhead(msg.height);
          if (msg.height === this.#height + 1 && this.#future.length < MAX_BUFFERED_FUTURE) this.#future.push(msg);
          return;
        }
        if (msg.round > this.#round + MAX_ROUNDS_AHEAD) return;
        return msg.type === "proposal" ? this.onProposal(msg) : this.onVote(msg);
    }
  }

  private onProposal(p: ProposalMessage): void {
    if (this.#proposals.has(p.round) || p.block.header.height !== this.#height) return;
    const hash = hashHeader(p.block.header);
    const digest = proposalDigest({ chainId: this.#o.app.chainId, height: p.height, round: p.round, blockHash: hash, polRound: p.polRound, lastCommit: p.block.lastCommit });
    const signer = recoverSigner(digest, fromHex(p.signature, "signature", 65));
    const expected = this.#schedule.proposer(p.height, p.round);
    if (!signer.ok || signer.address !== expected) {
      this.#log.debug("proposal not from the round's proposer", { height: p.height, round: p.round, expected });
      return;
    }
    this.#proposals.set(p.round, { block: p.block, hash, polRound: p.polRound });
    this.#blocks.set(hash, p.block);
    if (p.polRound >= 0) this.#votes.prevotes(p.polRound).track(hash); // its polka may include an equivocator's vote (votes.ts)
    if (p.round === 0 && this.#step === "new-height" && expected !== this.#self) this.startRound(0); // the proposer had work: join now
  }

  private onVote(v: VoteMessage): void {
    const digest = voteDigest({ chainId: this.#o.app.chainId, height: v.height, round: v.round, type: v.voteType, blockHash: v.blockHash, timeMs: v.timeMs });
    const signer = recoverSigner(digest, fromHex(v.signature, "signature", 65));
    if (!signer.ok) return;
    const added = this.#votes.add({ type: v.voteType, round: v.round, blockHash: v.blockHash, validator: signer.address, signature: v.signature, timeMs: v.timeMs });
    if (added === "equivocation") this.reportEquivocation(v, signer.address);
  }

  private reportEquivocation(v: VoteMessage, validator: Hex): void {
    const votes = v.voteType === VoteType.Prevote ? this.#votes.prevotes(v.round) : this.#votes.precommits(v.round);
    const prior = votes.voteOf(validator);
    if (!prior || !this.once(`equivocation:${validator}:${v.round}:${v.voteType}`)) return;
    this.#log.warn("equivocating vote", { validator, height: v.height, round: v.round, type: v.voteType });
    const evidence: DuplicateVoteEvidence = {
      height: v.height,
      round: v.round,
      voteType: v.voteType,
      a: { blockHash: prior.blockHash, timeMs: prior.timeMs, signature: prior.signature },
      b: { blockHash: v.blockHash, timeMs: v.timeMs, signature: v.signature },
    };
    try {
      this.#o.onEquivocation?.(evidence, validator);
    } catch (err) {
      this.#log.error("equivocation report failed", { validator, error: (err as Error).message });
    }
  }

  // --- rules ----------------------------------------------------------------------------

  private evaluate(): void {
    if (this.#evaluating) return;
    this.#evaluating = true;
    try {
      while (this.#running && this.applyOneRule()) {
        // each rule changes step, round or height, so this terminates
      }
    } finally {
      this.#evaluating = false;
    }
  }

  private applyOneRule(): boolean {
    return this.ruleDecide() || this.ruleSkipRound() || this.ruleProposal() || this.rulePolka() || this.ruleNilPolka() || this.armTimeouts();
  }

  /** L49: +2/3 precommits for a block in any round decide it. */
  private ruleDecide(): boolean {
    for (const r of this.#votes.rounds()) {
      const hash = this.#votes.precommits(r).supermajorityBlock();
      if (!hash) continue;
      const block = this.#blocks.get(hash);
      if (!block) {
        this.requestSync(); // +2/3 committed a block we never saw
        continue;
      }
      const check = this.#o.app.check(block);
      if (!check.ok) {
        this.#log.error("+2/3 precommitted a block this validator finds invalid", { height: this.#height, round: r, reason: check.reason });
        continue;
      }
      this.decide(r, block, hash);
      return true;
    }
    return false;
  }

  /** L55: messages from more than 1/3 of the stake in a later round pull us into it. */
  /** L55, generalized: skip to the highest round that more than 1/3 of the stake has reached (votes.ts catchUpRound). */
  private ruleSkipRound(): boolean {
    const r = this.#votes.catchUpRound();
    if (r > this.#round) {
      this.startRound(r);
      return true;
    }
    return false;
  }

  /** L22 (fresh proposal) and L28 (re-proposal backed by a polka in polRound). */
  private ruleProposal(): boolean {
    if (this.#step !== "propose") return false;
    const p = this.#proposals.get(this.#round);
    if (!p) return false;
    let accept: boolean;
    if (p.polRound === -1) {
      accept = this.isValid(p.block) && this.isTimely(p.block) && (this.#lockedRound === -1 || this.#lockedHash === p.hash);
    } else {
      if (!this.#votes.prevotes(p.polRound).hasSupermajorityFor(p.hash)) return false;
      accept = this.isValid(p.block) && (this.#lockedRound <= p.polRound || this.#lockedHash === p.hash);
    }
    this.#step = "prevote";
    this.vote(VoteType.Prevote, accept ? p.hash : NIL_BLOCK_HASH);
    return true;
  }

  /** L36: +2/3 prevotes for the round's proposal: lock on it and precommit (once per round). */
  private rulePolka(): boolean {
    if (this.#step !== "prevote" && this.#step !== "precommit") return false;
    const key = `polka:${this.#round}`;
    const p = this.#proposals.get(this.#round);
    if (!p || this.#fired.has(key) || !this.#votes.prevotes(this.#round).hasSupermajorityFor(p.hash) || !this.isValid(p.block)) return false;
    this.#fired.add(key);
    this.#validBlock = p.block;
    this.#validRound = this.#round;
    if (this.#step === "prevote") {
      this.#lockedBlock = p.block;
      this.#lockedHash = p.hash;
      this.#lockedRound = this.#round;
      this.#step = "precommit";
      this.vote(VoteType.Precommit, p.hash);
    } else {
      this.saveSignerState();
    }
    return true;
  }

  /** L44: +2/3 prevotes for nil: precommit nil. */
  private ruleNilPolka(): boolean {
    if (this.#step !== "prevote" || !this.#votes.prevotes(this.#round).hasSupermajorityFor(NIL_BLOCK_HASH)) return false;
    this.#step = "precommit";
    this.vote(VoteType.Precommit, NIL_BLOCK_HASH);
    return true;
  }

  /** L34 and L47: +2/3 of any prevotes / precommits start the round's timeouts (once). */
  private armTimeouts(): boolean {
    const h = this.#height;
    const r = this.#round;
    if (this.#step === "prevote" && this.#votes.prevotes(r).hasSupermajorityAny() && this.once(`prevote-timeout:${r}`)) {
      this.schedule(this.#timeouts.prevoteMs + r * this.#timeouts.deltaMs, () => this.onTimeoutPrevote(h, r));
    }
    if (this.#step !== "new-height" && this.#votes.precommits(r).hasSupermajorityAny() && this.once(`precommit-timeout:${r}`)) {
      this.schedule(this.#timeouts.precommitMs + r * this.#timeouts.deltaMs, () => this.onTimeoutPrecommit(h, r));
    }
    return false;
  }

  // --- transitions ----------------------------------------------------------------------

  /** L11 StartRound. */
  private startRound(round: number): void {
    this.#round = round;
    this.#step = "propose";
    const h = this.#height;
    if (!this.#member || this.#schedule.proposer(h, round) !== this.#self) {
      this.schedule(this.#timeouts.proposeMs + round * this.#timeouts.deltaMs, () => this.onTimeoutPropose(h, round));
      return;
    }
    let block: Block;
    let polRound: number;
    if (this.#validBlock) {
      block = this.#validBlock;
      polRound = this.#validRound;
    } else {
      const prev = this.#o.app.head().header;
      block = this.#o.app.propose(Math.max(prev.timeMs + 1, this.#o.clock.now()), this.#self);
      polRound = -1;
    }
    const hash = hashHeader(block.header);
    this.saveSignerState();
    const digest = proposalDigest({ chainId: this.#o.app.chainId, height: h, round, blockHash: hash, polRound, lastCommit: block.lastCommit });
    const signature = this.#o.signer.signHex(digest);
    this.#proposals.set(round, { block, hash, polRound });
    this.#blocks.set(hash, block);
    const proposal: ProposalMessage = { type: "proposal", height: h, round, polRound, block, signature };
    this.send(proposal);
    this.sendPolka(proposal, hash);
  }

  private onTimeoutPropose(h: number, r: number): void {
    if (h !== this.#height || r !== this.#round || this.#step !== "propose") return;
    this.#step = "prevote";
    this.vote(VoteType.Prevote, NIL_BLOCK_HASH);
  }

  private onTimeoutPrevote(h: number, r: number): void {
    if (h !== this.#height || r !== this.#round || this.#step !== "prevote") return;
    this.#step = "precommit";
    this.vote(VoteType.Precommit, NIL_BLOCK_HASH);
  }

  private onTimeoutPrecommit(h: number, r: number): void {
    if (h !== this.#height || r !== this.#round) return;
    this.startRound(r + 1);
  }

  private vote(type: typeof VoteType.Prevote | typeof VoteType.Precommit, blockHash: Hex): void {
    if (!this.#member) return; // a validator outside this height's set only follows
    this.saveSignerState(); // save before signing
    const h = this.#height;
    const r = this.#round;
    // A precommit for a block signs our time, never before the block's own (block time stays monotonic).
    const block = type === VoteType.Precommit && blockHash !== NIL_BLOCK_HASH ? this.#blocks.get(blockHash) : undefined;
    const timeMs = block ? Math.max(Math.floor(this.#o.clock.now()), block.header.timeMs + 1) : 0;
    const signature = this.#o.signer.signHex(voteDigest({ chainId: this.#o.app.chainId, height: h, round: r, type, blockHash, timeMs }));
    this.#votes.add({ type, round: r, blockHash, validator: this.#self, signature, timeMs });
    this.send({ type: "vote", voteType: type, height: h, round: r, blockHash, timeMs, signature });
  }

  private decide(round: number, block: Block, hash: Hex): void {
    const commit: Commit = { height: this.#height, round, blockHash: hash, ...this.#votes.precommits(round).commitParts(hash) };
    this.#o.app.commit(block, commit);
    this.#log.debug("committed", { validator: this.#self, height: this.#height, round, txs: block.txs.length });
    this.enterHeight();
    this.scheduleRoundZero(this.#o.blockIntervalMs);
  }

  /** Resets per-height state for the height after the app's head and replays buffered messages. */
  private enterHeight(): void {
    for (const t of this.#timers) this.#time.clearTimeout(t);
    this.#timers.clear();
    this.#height = this.#o.app.head().header.height + 1;
    this.#aheadSince = null;
    this.#gathering = false;
    this.#round = 0;
    this.#step = "new-height";
    this.#lockedRound = -1;
    this.#lockedBlock = null;
    this.#lockedHash = null;
    this.#validRound = -1;
    this.#validBlock = null;
    this.#proposals = new Map();
    this.#blocks = new Map();
    const set = this.#o.app.validatorSetAt(this.#height);
    const setHash = hashValidatorSet(set);
    if (setHash !== this.#setHash) {
      this.#schedule = ProposerSchedule.of(set);
      this.#setHash = setHash;
      this.#log.info("validator set changed", { validator: this.#self, height: this.#height, validators: set.validators.length, member: stakeOf(set, this.#self) !== undefined });
    }
    this.#member = stakeOf(set, this.#self) !== undefined;
    this.#votes = new HeightVotes(set);
    this.#fired = new Set();
    this.#sent = [];
    const buffered = this.#future;
    this.#future = [];
    for (const m of buffered) this.handle(m);
  }

  /**
   * Round 0 of a new height starts `delayMs` (blockIntervalMs) after the commit, the pace of
   * an idle chain, except that the round-0 proposer starts at once when transactions are
   * waiting, and the others join round 0 as soon as its proposal arrives (onProposal): under
   * load blocks follow each other as fast as consensus runs, small and frequent, instead of
   * one large block per interval. Only when rounds start changes, never what is signed.
   */
  private scheduleRoundZero(delayMs: number): void {
    const h = this.#height;
    const busy = this.#member && this.#schedule.proposer(h, 0) === this.#self && this.#o.app.pendingTxs() > 0;
    this.schedule(busy ? 0 : delayMs, () => {
      if (this.#height === h && this.#step === "new-height") this.startRound(0);
    });
  }

  // --- catching up ----------------------------------------------------------------------

  private noteAhead(height: number): void {
    this.#maxSeenHeight = Math.max(this.#maxSeenHeight, height);
    const now = this.#time.now();
    this.#aheadSince ??= now;
    if (height > this.#height + 1 || now - this.#aheadSince >= SYNC_GRACE_MS) this.requestSync();
  }

  private requestSync(): void {
    const now = this.#time.now();
    if (now - this.#lastSyncRequest < SYNC_RETRY_MS) return;
    this.#lastSyncRequest = now;
    this.#o.transport.broadcast({ type: "sync-request", height: this.#height });
  }

  private serveSync(height: number): void {
    if (height < 1 || height > this.#o.app.head().header.height) return;
    const now = this.#time.now();
    if (now - (this.#lastSyncServed.get(height) ?? -Infinity) < SYNC_RETRY_MS) return;
    this.#lastSyncServed.set(height, now);
    if (this.#lastSyncServed.size > 64) this.#lastSyncServed.delete(this.#lastSyncServed.keys().next().value!);
    // The same message object each time, so the transport's encoding of it is reused.
    let msg = this.#syncServed.get(height);
    if (!msg) {
      const found = this.#o.app.committed(height);
      if (!found) return;
      msg = { type: "sync-block", block: found.block, commit: found.commit };
      this.#syncServed.set(height, msg);
      if (this.#syncServed.size > 4) this.#syncServed.delete(this.#syncServed.keys().next().value!);
    }
    this.#o.transport.broadcast(msg);
  }

  private onSyncBlock(msg: SyncBlockMessage): void {
    if (msg.block.header.height !== this.#height) return;
    const adopted = this.adopt(msg.block, msg.commit);
    if (!adopted.ok) this.#log.warn("sync block refused", { height: msg.block.header.height, reason: adopted.reason });
  }

  /**
   * Block sync from outside the gossip (e.g. a batch fetched from a peer at start): applies a
   * committed block for the current height if its commit verifies against the validator set
   * and it re-executes to its header. Never throws for a bad block; a store failure halts.
   */
  adoptCommitted(block: Block, commit: Commit): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
    if (!this.#running) return { ok: false, reason: "engine not running" };
    if (block.header.height !== this.#height) return { ok: false, reason: `expected height ${this.#height}, got ${block.header.height}` };
    let out: { readonly ok: true } | { readonly ok: false; readonly reason: string } = { ok: false, reason: "halted" };
    this.guard(() => {
      out = this.adopt(block, commit);
    });
    return out;
  }

  private adopt(block: Block, commit: Commit): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
    const verified = verifyCommit(block.header, commit, this.#o.app.validatorSetAt(block.header.height), { recover: recoverSigner });
    if (!verified.ok) return { ok: false, reason: `bad commit: ${verified.reason}` };
    const check = this.#o.app.check(block);
    if (!check.ok) {
      this.#log.error("sync block is final but invalid here", { height: block.header.height, reason: check.reason });
      return { ok: false, reason: `invalid here: ${check.reason}` };
    }
    this.#o.app.commit(block, commit);
    this.#log.debug("caught up", { validator: this.#self, height: block.header.height });
    this.enterHeight();
    if (this.#maxSeenHeight > this.#height) {
      this.#lastSyncRequest = -Infinity;
      this.requestSync();
    }
    this.scheduleRoundZero(this.#o.blockIntervalMs);
    return { ok: true };
  }

  // --- helpers --------------------------------------------------------------------------

  /** Broadcasts a proposal or vote of ours and keeps it for re-sending (the transport may drop). */
  private send(msg: ProposalMessage | VoteMessage): void {
    this.#sent.push({ msg, at: this.#time.now(), every: this.#rebroadcastMs });
    this.#o.transport.broadcast(msg);
  }

  /**
   * Gossip repair: re-send our proposal and votes of the current and previous round at this
   * height once they are rebroadcastMs old (and every rebroadcastMs after; a proposal at
   * doubling intervals), so peers that were down, partitioned or late get them; a round
   * that moves on quickly costs nothing.
   */
  private rebroadcast(): void {
    const now = this.#time.now();
    this.#sent = this.#sent.filter((s) => s.msg.height === this.#height && s.msg.round >= this.#round - 1);
    for (const s of this.#sent) {
      if (now - s.at < s.every) continue;
      s.at = now;
      // A proposal can be megabytes: back off (x2 per re-send) so repair traffic cannot
      // crowd out the votes it is meant to help.
      if (s.msg.type === "proposal") s.every *= 2;
      this.#o.transport.broadcast(s.msg);
      if (s.msg.type === "proposal") this.sendPolka(s.msg, hashHeader(s.msg.block.header));
    }
  }

  /**
   * A re-proposal is accepted only by a receiver holding the +2/3 prevotes of its polRound
   * (L28), and those may have reached us alone: a Byzantine validator can send its prevote to
   * some validators only, and a round's votes stop being re-sent once it is over. Without
   * them validators locked on different blocks can wait for each other forever, so they go
   * with the proposal (as Tendermint gossips a proposal's POL-round votes). They are signed by
   * their validators: relaying them is safe.
   */
  private sendPolka(p: ProposalMessage, hash: Hex): void {
    if (p.polRound < 0) return;
    const { signatures, timesMs } = this.#votes.prevotes(p.polRound).commitParts(hash);
    signatures.forEach((signature, i) => {
      this.#o.transport.broadcast({ type: "vote", voteType: VoteType.Prevote, height: p.height, round: p.polRound, blockHash: hash, timeMs: timesMs[i]!, signature });
    });
  }

  private isValid(block: Block): boolean {
    const check = this.#o.app.check(block);
    if (!check.ok && this.once(`invalid:${hashHeader(block.header)}`)) {
      this.#log.warn("invalid proposal", { height: block.header.height, reason: check.reason });
    }
    return check.ok;
  }

  /**
   * Only block 1 carries a proposer's time (within the skew bound of ours); every later
   * block's time is the median of the previous commit's precommit times, checked by `check`.
   */
  private isTimely(block: Block): boolean {
    if (block.lastCommit !== null) return true;
    const skew = Math.abs(block.header.timeMs - this.#o.clock.now());
    if (skew > this.#maxSkewMs && this.once(`untimely:${hashHeader(block.header)}`)) {
      this.#log.warn("proposal time outside the skew bound", { height: block.header.height, timeMs: block.header.timeMs, skewMs: skew });
    }
    return skew <= this.#maxSkewMs;
  }

  private once(key: string): boolean {
    if (this.#fired.has(key)) return false;
    this.#fired.add(key);
    return true;
  }

  private schedule(ms: number, fn: () => void): void {
    const timer = this.#time.setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#running) this.guard(fn);
    }, ms);
    this.#timers.add(timer);
  }

  private saveSignerState(): void {
    const validHash = this.#validBlock ? this.hashOf(this.#validBlock) : null;
    const state: SavedSignerState = {
      height: this.#height,
      round: this.#round,
      lockedRound: this.#lockedRound,
      lockedHash: this.#lockedHash,
      validRound: this.#validRound,
      validHash,
    };
    const blocks: SignerBlockRecord[] = [];
    const add = (block: Block | null, hash: Hex | null) => {
      if (block && hash && !blocks.some((b) => b.hash === hash)) blocks.push({ hash, height: block.header.height, block, json: () => blockToJson(block) });
    };
    add(this.#lockedBlock, this.#lockedHash);
    add(this.#validBlock, validHash);
    this.#o.signerState.save(state, blocks);
  }

  private hashOf(block: Block): Hex {
    for (const [hash, b] of this.#blocks) if (b === block) return hash;
    return hashHeader(block.header);
  }

  private loadSignerState(): SavedSignerState | undefined {
    const raw = this.#o.signerState.load() as Partial<SavedSignerState> | undefined;
    if (!raw || typeof raw.height !== "number" || typeof raw.round !== "number") return undefined;
    return raw as SavedSignerState;
  }

  private restore(saved: SavedSignerState): void {
    // Forgetting a lock could let this validator prevote against it: a named block that is
    // missing or damaged stops the start instead. (Stores written before blocks were kept
    // beside the state carry them inline as lockedBlock / validBlock.)
    const legacy = saved as Partial<Record<"lockedBlock" | "validBlock", BlockJson | null>>;
    const parse = (hash: Hex | null | undefined, inline: BlockJson | null | undefined): Block | null => {
      const json = hash ? this.#o.signerState.loadBlock(hash) : inline;
      if (!json) {
        if (hash) throw new Error(`signer state names block ${hash} but the store does not hold it`);
        return null;
      }
      const b = blockFromJson(json);
      if (!b.ok) throw new Error(`signer state block does not parse: ${b.reason}`);
      if (hash && hashHeader(b.block.header) !== hash) throw new Error(`signer state block does not hash to ${hash}`);
      return b.block;
    };
    this.#lockedBlock = parse(saved.lockedHash, legacy.lockedBlock);
    this.#lockedRound = this.#lockedBlock ? saved.lockedRound : -1;
    this.#lockedHash = this.#lockedBlock ? hashHeader(this.#lockedBlock.header) : null;
    this.#validBlock = parse(saved.validHash, legacy.validBlock);
    this.#validRound = this.#validBlock ? saved.validRound : -1;
    for (const b of [this.#lockedBlock, this.#validBlock]) if (b) this.#blocks.set(hashHeader(b.header), b);
    this.#round = saved.round;
  }
}
