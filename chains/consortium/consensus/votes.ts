/**
 * Vote bookkeeping for one height: per round, the prevotes and precommits received, with
 * stake tallies. A validator's first vote of a kind in a round is the one that counts; a
 * different second one is equivocation and is reported. It counts too, for its block only,
 * once a proposal claims +2/3 prevotes for that block (`track`, Tendermint's peer-maj23):
 * else a Byzantine validator that prevoted nil to some and the block to others keeps the
 * polka unprovable to the former forever. Counting an equivocator for two blocks is safe:
 * two +2/3 tallies still share more than 1/3 of the stake, so some honest validator would
 * have voted for both, which it never does.
 */
import { type Hex } from "../../../proofs/hex.ts";
import { NIL_BLOCK_HASH, VoteType } from "../../../proofs/consortium/vote.ts";
import { type ValidatorSet, exceedsOneThird, isSupermajority, stakeOf, totalStake } from "../../../proofs/consortium/validators.ts";

export interface Vote {
  readonly type: typeof VoteType.Prevote | typeof VoteType.Precommit;
  readonly round: number;
  readonly blockHash: Hex;
  readonly validator: Hex;
  readonly signature: Hex;
  /** Signed time of a precommit for a block; 0 otherwise. */
  readonly timeMs: number;
}

export type AddVoteResult = "added" | "duplicate" | "equivocation" | "not-a-validator";

/** Conflicting votes kept per validator until their block is tracked (bounds what an equivocator costs us). */
const MAX_CONFLICTING_PER_VALIDATOR = 4;

export class VoteSet {
  readonly #set: ValidatorSet;
  readonly #total: bigint;
  readonly #byValidator = new Map<Hex, Vote>();
  /** Per block hash, the votes counted for it: first votes, and conflicting ones for tracked blocks. */
  readonly #byHash = new Map<Hex, Map<Hex, Vote>>();
  readonly #stakeByHash = new Map<Hex, bigint>();
  readonly #tracked = new Set<Hex>();
  readonly #conflicting = new Map<Hex, Vote[]>();
  #stake = 0n;

  constructor(set: ValidatorSet) {
    this.#set = set;
    this.#total = totalStake(set);
  }

  add(vote: Vote): AddVoteResult {
    const stake = stakeOf(this.#set, vote.validator);
    if (stake === undefined) return "not-a-validator";
    const prior = this.#byValidator.get(vote.validator);
    if (prior) {
      if (prior.blockHash === vote.blockHash) return "duplicate";
      if (this.#tracked.has(vote.blockHash)) {
        this.count(vote, stake);
      } else {
        const kept = this.#conflicting.get(vote.validator) ?? [];
        if (kept.length < MAX_CONFLICTING_PER_VALIDATOR && !kept.some((v) => v.blockHash === vote.blockHash)) this.#conflicting.set(vote.validator, [...kept, vote]);
      }
      return "equivocation";
    }
    this.#byValidator.set(vote.validator, vote);
    this.count(vote, stake);
    this.#stake += stake;
    return "added";
  }

  /** A proposal claims +2/3 for `blockHash` here: conflicting votes for it count from now on. */
  track(blockHash: Hex): void {
    if (this.#tracked.has(blockHash)) return;
    this.#tracked.add(blockHash);
    for (const kept of this.#conflicting.values()) {
      for (const v of kept) if (v.blockHash === blockHash) this.count(v, stakeOf(this.#set, v.validator)!);
    }
  }

  private count(vote: Vote, stake: bigint): void {
    let votes = this.#byHash.get(vote.blockHash);
    if (!votes) this.#byHash.set(vote.blockHash, (votes = new Map()));
    if (votes.has(vote.validator)) return;
    votes.set(vote.validator, vote);
    this.#stakeByHash.set(vote.blockHash, (this.#stakeByHash.get(vote.blockHash) ?? 0n) + stake);
  }

  /** +2/3 of the stake voted for `blockHash` (NIL_BLOCK_HASH for nil). */
  hasSupermajorityFor(blockHash: Hex): boolean {
    return isSupermajority(this.#stakeByHash.get(blockHash) ?? 0n, this.#total);
  }

  /** +2/3 of the stake voted, for anything. */
  hasSupermajorityAny(): boolean {
    return isSupermajority(this.#stake, this.#total);
  }

  /** The non-nil block hash with +2/3, if any. */
  supermajorityBlock(): Hex | undefined {
    for (const [hash, stake] of this.#stakeByHash) {
      if (hash !== NIL_BLOCK_HASH && isSupermajority(stake, this.#total)) return hash;
    }
    return undefined;
  }

  /** Signatures of the votes for `blockHash`, ordered by validator address. */
  signaturesFor(blockHash: Hex): Hex[] {
    return this.votesFor(blockHash).map((v) => v.signature);
  }

  /** The signatures and signed times of the votes for `blockHash`, ordered by validator address (a commit's parts). */
  commitParts(blockHash: Hex): { signatures: Hex[]; timesMs: number[] } {
    const votes = this.votesFor(blockHash);
    return { signatures: votes.map((v) => v.signature), timesMs: votes.map((v) => v.timeMs) };
  }

  private votesFor(blockHash: Hex): Vote[] {
    return [...(this.#byHash.get(blockHash)?.values() ?? [])].sort((a, b) => (a.validator < b.validator ? -1 : 1));
  }

  validators(): Iterable<Hex> {
    return this.#byValidator.keys();
  }

  /** The vote of `validator` that counts here (its first), if any. */
  voteOf(validator: Hex): Vote | undefined {
    return this.#byValidator.get(validator);
  }
}

export class HeightVotes {
  readonly #set: ValidatorSet;
  readonly #rounds = new Map<number, { prevotes: VoteSet; precommits: VoteSet }>();

  constructor(set: ValidatorSet) {
    this.#set = set;
  }

  add(vote: Vote): AddVoteResult {
    const r = this.round(vote.round);
    return (vote.type === VoteType.Prevote ? r.prevotes : r.precommits).add(vote);
  }

  prevotes(round: number): VoteSet {
    return this.round(round).prevotes;
  }

  precommits(round: number): VoteSet {
    return this.round(round).precommits;
  }

  rounds(): number[] {
    return [...this.#rounds.keys()].sort((a, b) => a - b);
  }

  /** More than 1/3 of the stake sent some vote in `round` (Tendermint's f+1 round-skip trigger). */
  hasOneThirdIn(round: number): boolean {
    const r = this.#rounds.get(round);
    if (!r) return false;
    const seen = new Set<Hex>([...r.prevotes.validators(), ...r.precommits.validators()]);
    let stake = 0n;
    for (const v of seen) stake += stakeOf(this.#set, v) ?? 0n;
    return exceedsOneThird(stake, totalStake(this.#set));
  }

  /**
   * The highest round r such that validators whose latest vote is in a round ≥ r hold more
   * than 1/3 of the stake (so at least one correct validator has reached r), or -1. A
   * generalization of the f+1 rule for validators that drifted apart (e.g. started at
   * different times): only liveness depends on it, never safety.
   */
  catchUpRound(): number {
    const latest = new Map<Hex, number>();
    for (const [round, r] of this.#rounds) {
      for (const v of [...r.prevotes.validators(), ...r.precommits.validators()]) latest.set(v, Math.max(latest.get(v) ?? -1, round));
    }
    const total = totalStake(this.#set);
    let stake = 0n;
    for (const [v, round] of [...latest].sort((a, b) => b[1] - a[1])) {
      stake += stakeOf(this.#set, v) ?? 0n;
      if (exceedsOneThird(stake, total)) return round;
    }
    return -1;
  }

  private round(round: number) {
    let r = this.#rounds.get(round);
    if (!r) {
      r = { prevotes: new VoteSet(this.#set), precommits: new VoteSet(this.#set) };
      this.#rounds.set(round, r);
    }
    return r;
  }
}
