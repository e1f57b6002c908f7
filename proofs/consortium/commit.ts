/**
 * Commits: the precommit signatures that made a block final. Anyone holding the validator
 * set can check one. A signature counts only when it is a valid low-s secp256k1 signature
 * over the precommit digest for (header.chainId, header.height, commit.round, hash(header))
 * and timesMs[i] by a validator of the set, once per validator; other entries are ignored,
 * not fatal, and the block is final iff the counted stake is MORE than 2/3 of the total.
 * The verification also yields the stake-weighted median of the counted precommit times
 * (time.ts): the time the NEXT block must carry when this commit is its lastCommit.
 */
import { type Hex, isHex, fromHex } from "../hex.ts";
import { type Header, hashHeader, headerProblem } from "./header.ts";
import { type RecoverResult, recoverAddress } from "./signature.ts";
import { type ValidatorSet, hashValidatorSet, isSupermajority, stakeOf, totalStake } from "./validators.ts";
import { weightedMedianTime } from "./time.ts";
import { VoteType, voteDigest } from "./vote.ts";

export interface Commit {
  readonly height: number;
  readonly round: number;
  readonly blockHash: Hex;
  /** 65-byte r || s || v precommit signatures. */
  readonly signatures: readonly Hex[];
  /** The time (unix ms) each precommit signed, aligned with `signatures`. */
  readonly timesMs: readonly number[];
}

export interface IgnoredSignature {
  readonly index: number;
  readonly reason: string;
}

export type CommitVerification =
  | {
      readonly ok: true;
      readonly blockHash: Hex;
      readonly signers: readonly Hex[];
      readonly signedStake: bigint;
      readonly totalStake: bigint;
      /** Stake-weighted median of the counted signers' precommit times. */
      readonly medianTimeMs: number;
      readonly ignored: readonly IgnoredSignature[];
    }
  | { readonly ok: false; readonly reason: string };

export interface VerifyCommitOptions {
  /** Signature recovery to use, e.g. a memoized recoverAddress; must behave exactly like it. */
  readonly recover?: (digest: Uint8Array, signature: Uint8Array) => RecoverResult;
}

export function verifyCommit(header: Header, commit: Commit, validatorSet: ValidatorSet, options: VerifyCommitOptions = {}): CommitVerification {
  const recover = options.recover ?? recoverAddress;
  const headerIssue = headerProblem(header);
  if (headerIssue) return { ok: false, reason: headerIssue };
  const commitIssue = commitProblem(commit);
  if (commitIssue) return { ok: false, reason: commitIssue };
  if (hashValidatorSet(validatorSet) !== header.validatorsHash) {
    return { ok: false, reason: "header.validatorsHash does not match the trusted validator set" };
  }
  if (commit.height !== header.height) return { ok: false, reason: `commit is for height ${commit.height}, header is ${header.height}` };
  const blockHash = hashHeader(header);
  if (commit.blockHash.toLowerCase() !== blockHash) return { ok: false, reason: "commit is for a different block hash" };

  const signers: Hex[] = [];
  const times: { timeMs: number; stake: bigint }[] = [];
  const ignored: IgnoredSignature[] = [];
  let signedStake = 0n;
  commit.signatures.forEach((sig, index) => {
    const timeMs = commit.timesMs[index]!;
    const digest = voteDigest({ chainId: header.chainId, height: header.height, round: commit.round, type: VoteType.Precommit, blockHash, timeMs });
    const recovered = recover(digest, fromHex(sig, "signature"));
    if (!recovered.ok) return ignored.push({ index, reason: recovered.reason });
    const stake = stakeOf(validatorSet, recovered.address);
    if (stake === undefined) return ignored.push({ index, reason: `signer ${recovered.address} is not a validator (or signed another vote)` });
    if (signers.includes(recovered.address)) return ignored.push({ index, reason: `duplicate signature by ${recovered.address}` });
    signers.push(recovered.address);
    times.push({ timeMs, stake });
    signedStake += stake;
  });
  const total = totalStake(validatorSet);
  if (!isSupermajority(signedStake, total)) {
    const why = ignored.length ? `; ignored: ${ignored.map((i) => `#${i.index} ${i.reason}`).join(", ")}` : "";
    return { ok: false, reason: `signed stake ${signedStake} of ${total} is not more than 2/3${why}` };
  }
  return { ok: true, blockHash, signers, signedStake, totalStake: total, medianTimeMs: weightedMedianTime(times), ignored };
}

/** Why `value` is not a well-formed commit, or undefined. */
export function commitProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "commit is not an object";
  const c = value as Record<string, unknown>;
  if (typeof c.height !== "number" || !Number.isSafeInteger(c.height) || c.height < 0) return "commit.height is not a non-negative integer";
  if (typeof c.round !== "number" || !Number.isInteger(c.round) || c.round < 0 || c.round > 0xffffffff) return "commit.round is not a uint32";
  if (!isHex(c.blockHash, 32)) return "commit.blockHash is not 32-byte hex";
  if (!Array.isArray(c.signatures)) return "commit.signatures is not an array";
  const bad = c.signatures.findIndex((s) => !isHex(s, 65));
  if (bad >= 0) return `commit.signatures[${bad}] is not 65-byte hex`;
  if (!Array.isArray(c.timesMs) || c.timesMs.length !== c.signatures.length) return "commit.timesMs is not a list aligned with commit.signatures";
  const badTime = c.timesMs.findIndex((t) => typeof t !== "number" || !Number.isSafeInteger(t) || t < 0);
  if (badTime >= 0) return `commit.timesMs[${badTime}] is not a non-negative integer`;
  return undefined;
}
