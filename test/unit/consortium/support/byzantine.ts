/**
 * A Byzantine validator for consensus simulations: it holds a real key and a real chain, so
 * everything it sends is validly signed and every block it proposes passes `check`, but it
 * follows no rule. It equivocates wherever it can:
 * - at each height it splits the honest validators into two random groups;
 * - as proposer (ahead of time, for its next turns) it signs two different valid blocks for
 *   a round and sends one to each group, or one fresh block to all, ignoring any polka
 *   (sometimes the block is an older one, re-proposed with the round of the most prevotes
 *   for it that it has seen, which it forwards: a real polka if there was one);
 * - it prevotes and precommits every block it has seen in a round, telling each group its
 *   own story: the first block of the round to one group, the second to the other, nil to a
 *   group left without a block ("split"), or, at some heights, each vote to a random group or
 *   to everyone, so that receivers count different first votes ("chaos");
 * - it sends votes for rounds and heights nobody is in, for blocks nobody proposed;
 * - it keeps re-sending what it sent, to the same peers, before and after GST.
 * It learns committed blocks from the honest chains (an adversary may know everything).
 */
import { type Hex, toHex } from "../../../../proofs/hex.ts";
import { type Commit } from "../../../../proofs/consortium/commit.ts";
import { hashHeader } from "../../../../proofs/consortium/header.ts";
import { NIL_BLOCK_HASH, proposalDigest, VoteType, voteDigest } from "../../../../proofs/consortium/vote.ts";
import { type Block } from "../../../../chains/consortium/block.ts";
import { type Chain } from "../../../../chains/consortium/chain.ts";
import { type Clock } from "../../../../chains/consortium/clock.ts";
import { type Signer } from "../../../../chains/consortium/crypto.ts";
import { type ConsensusMessage, type ProposalMessage, type VoteMessage } from "../../../../chains/consortium/consensus/messages.ts";
import { ProposerSchedule } from "../../../../chains/consortium/consensus/proposer.ts";
import { alice, bob, tx } from "../helpers.ts";
import { type SimTransport } from "./sim-network.ts";
import { type VirtualTime } from "./virtual-time.ts";

export interface ByzantineOptions {
  readonly signer: Signer;
  readonly chain: Chain;
  readonly transport: SimTransport;
  /** Indexes of the honest validators on the network. */
  readonly honest: readonly number[];
  readonly rng: () => number;
  readonly clock: Clock;
  readonly time: VirtualTime;
  readonly resendMs: number;
}

export class ByzantineValidator {
  readonly #o: ByzantineOptions;
  readonly #schedule: ProposerSchedule;
  readonly #chainId: number;
  /** Blocks seen at the current height, by round. */
  #blocks = new Map<number, Map<Hex, Block>>();
  #entered = new Set<number>();
  #proposed = new Set<number>();
  /** Prevotes for blocks at this height (ours and received), by `${round}:${hash}`. */
  #prevotes = new Map<string, VoteMessage[]>();
  #sent: { m: ConsensusMessage; to: readonly number[] }[] = [];
  #groups: [number[], number[]];
  #chaos: boolean;
  readonly stats = { conflictingProposals: 0, votes: 0, strayVotes: 0 };

  constructor(o: ByzantineOptions) {
    this.#o = o;
    this.#schedule = new ProposerSchedule(o.chain.validatorSet);
    this.#chainId = o.chain.chainId;
    this.#groups = this.split();
    this.#chaos = o.rng() < 0.3;
  }

  get height(): number {
    return this.#o.chain.height + 1;
  }

  start(): void {
    this.#o.transport.onMessage((m) => this.receive(m));
    this.#o.time.setInterval(() => this.resend(), this.#o.resendMs);
  }

  /** A block the honest validators committed: follow it (the first one seen at each height). */
  learnCommitted(block: Block, commit: Commit): void {
    if (block.header.height !== this.height) return;
    this.#o.chain.commit(block, commit);
    this.#blocks = new Map();
    this.#entered = new Set();
    this.#proposed = new Set();
    this.#prevotes = new Map();
    this.#sent = [];
    this.#groups = this.split();
    this.#chaos = this.#o.rng() < 0.3;
  }

  private receive(m: ConsensusMessage): void {
    if ((m.type !== "proposal" && m.type !== "vote") || m.height !== this.height) return;
    if (m.type === "vote") this.keepPrevote(m);
    this.enterRound(m.round);
    if (m.type === "proposal" && m.block.header.height === this.height) this.see(m.round, m.block);
  }

  private enterRound(round: number): void {
    if (this.#entered.has(round)) return;
    this.#entered.add(round);
    // Proposals for our next turns go out now: a receiver keeps them until it reaches their round.
    for (let r = round; r <= round + 2; r++) {
      if (this.#schedule.proposer(this.height, r) === this.#o.signer.address && !this.#proposed.has(r)) this.proposeTwo(r);
    }
    this.strayVotes(round);
    if (!this.#chaos) {
      const height = this.height;
      this.#o.time.setTimeout(() => height === this.height && this.sendNil(round), 30);
    }
  }

  /** Votes for `block` in `round` (once), to `to`, or by the height's mode. */
  private see(round: number, block: Block, to?: readonly number[]): void {
    const hash = hashHeader(block.header);
    let blocks = this.#blocks.get(round);
    if (!blocks) this.#blocks.set(round, (blocks = new Map()));
    if (blocks.has(hash)) return;
    blocks.set(hash, block);
    to ??= this.#chaos ? undefined : this.#groups[(blocks.size - 1) % 2]!;
    for (const type of [VoteType.Prevote, VoteType.Precommit] as const) {
      this.emit(this.vote(type, round, hash, block), to ?? this.pickPeers());
      this.stats.votes++;
    }
  }

  /**
   * Split mode, a while into a round: nil votes to each group we told of no block in it. A
   * receiver counts our first vote, so the group that saw a block from us keeps that one.
   */
  private sendNil(round: number): void {
    const told = this.#blocks.get(round)?.size ?? 0;
    if (told >= 2) return;
    const to = told === 0 ? [...this.#o.honest] : this.#groups[1];
    for (const type of [VoteType.Prevote, VoteType.Precommit] as const) this.emit(this.vote(type, round, NIL_BLOCK_HASH), to);
  }

  /** Two different valid blocks for one round, each signed, each to a different group. */
  private proposeTwo(round: number): void {
    this.#proposed.add(round);
    const chain = this.#o.chain;
    const me = this.#o.signer.address;
    const now = this.#o.clock.now();
    const a = chain.propose([], now, me).block;
    // A transfer (amount = round + 1) makes the second block differ from the first in every round.
    const transfer = tx(alice, chain.account(alice.address).nonce, { kind: "transfer", to: bob.address, asset: "KRW", amount: BigInt(round + 1) });
    let b = chain.propose([transfer.bytes], now, me).block;
    let bPolRound = -1;
    let polka: VoteMessage[] = [];
    const older = [...this.#blocks.entries()].filter(([r]) => r < round).flatMap(([r, m]) => [...m].map(([hash, block]) => ({ r, block, prevotes: this.#prevotes.get(`${r}:${hash}`) ?? [] })));
    if (older.length > 0 && this.#o.rng() < 0.5) {
      // An earlier block with the round of the most prevotes for it we saw (a real polka, if any).
      const pick = older.reduce((best, o) => (o.prevotes.length > best.prevotes.length || (o.prevotes.length === best.prevotes.length && this.#o.rng() < 0.5) ? o : best));
      b = pick.block;
      bPolRound = pick.r;
      polka = pick.prevotes;
    }
    if (this.#o.rng() < 0.5) {
      // One fresh block for everyone: only the lock rules keep a validator locked elsewhere off it.
      this.emit(this.proposal(round, b, bPolRound), this.#o.honest);
      for (const v of polka) this.emit(v, this.#o.honest);
      this.see(round, b, this.#o.honest);
      return;
    }
    const [left, right] = this.#groups;
    this.emit(this.proposal(round, a, -1), left);
    this.emit(this.proposal(round, b, bPolRound), right);
    for (const v of polka) this.emit(v, right);
    this.stats.conflictingProposals++;
    this.see(round, a, left);
    this.see(round, b, right);
  }

  /** Votes nobody asked for: later rounds, the next and previous height, unknown blocks, nil. */
  private strayVotes(round: number): void {
    const h = this.height;
    const random = () => toHex(Uint8Array.from({ length: 32 }, () => Math.floor(this.#o.rng() * 256))) as Hex;
    const targets: [number, number, Hex][] = [
      [h, round + 1 + Math.floor(this.#o.rng() * 3), random()],
      [h, round, NIL_BLOCK_HASH],
      [h + 1, Math.floor(this.#o.rng() * 3), random()],
      [Math.max(1, h - 1), round, random()],
    ];
    for (const [height, r, hash] of targets) {
      const type = this.#o.rng() < 0.5 ? VoteType.Prevote : VoteType.Precommit;
      this.emit(this.vote(type, r, hash, undefined, height), this.pickPeers());
      this.stats.strayVotes++;
    }
  }

  private resend(): void {
    for (const s of this.#sent) if (this.#o.rng() < 0.5) this.#o.transport.sendTo(this.#chaos ? this.pickPeers() : s.to, s.m);
  }

  private keepPrevote(v: VoteMessage): void {
    if (v.voteType !== VoteType.Prevote || v.blockHash === NIL_BLOCK_HASH || v.height !== this.height) return;
    const key = `${v.round}:${v.blockHash}`;
    const kept = this.#prevotes.get(key) ?? [];
    if (!kept.some((k) => k.signature === v.signature)) this.#prevotes.set(key, [...kept, v]);
  }

  private emit(m: ConsensusMessage, to: readonly number[]): void {
    if (m.type === "vote") this.keepPrevote(m);
    if (m.type !== "vote" || m.height === this.height) this.#sent.push({ m, to });
    this.#o.transport.sendTo(to, m);
  }

  private proposal(round: number, block: Block, polRound: number): ProposalMessage {
    const blockHash = hashHeader(block.header);
    const signature = this.#o.signer.signHex(proposalDigest({ chainId: this.#chainId, height: this.height, round, blockHash, polRound, lastCommit: block.lastCommit }));
    return { type: "proposal", height: this.height, round, polRound, block, signature };
  }

  private vote(type: typeof VoteType.Prevote | typeof VoteType.Precommit, round: number, blockHash: Hex, block?: Block, height = this.height): VoteMessage {
    const now = Math.floor(this.#o.clock.now());
    const timeMs = type === VoteType.Precommit && blockHash !== NIL_BLOCK_HASH ? Math.max(now, (block?.header.timeMs ?? 0) + 1) : 0;
    const signature = this.#o.signer.signHex(voteDigest({ chainId: this.#chainId, height, round, type, blockHash, timeMs }));
    return { type: "vote", voteType: type, height, round, blockHash, timeMs, signature };
  }

  /** Everyone half the time, else a random non-empty group. */
  private pickPeers(): number[] {
    if (this.#o.rng() < 0.5) return [...this.#o.honest];
    const some = this.#o.honest.filter(() => this.#o.rng() < 0.5);
    return some.length > 0 ? some : [this.#o.honest[Math.floor(this.#o.rng() * this.#o.honest.length)]!];
  }

  /** The honest validators in two random non-empty groups. */
  private split(): [number[], number[]] {
    const shuffled = [...this.#o.honest];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(this.#o.rng() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const cut = 1 + Math.floor(this.#o.rng() * (shuffled.length - 1));
    return [shuffled.slice(0, cut), shuffled.slice(cut)];
  }
}
