/**
 * Equivocation evidence: two votes signed by one validator for DIFFERENT block ids at the
 * same (height, round, type). Either vote alone is harmless; together they prove the
 * validator broke the protocol, whoever presents them. The evidence is checked against the
 * validator set of its height; its hash does not depend on the order of the two votes, so
 * the same equivocation submitted twice (either way round) is recognized as a duplicate.
 */
import { abiEncode } from "../abi.ts";
import { type Hex, fromHex, isHex, toHex } from "../hex.ts";
import { keccak256 } from "./domain.ts";
import { type RecoverResult, recoverAddress } from "./signature.ts";
import { type ValidatorSet, stakeOf } from "./validators.ts";
import { VoteType, voteDigest } from "./vote.ts";

export interface SignedVote {
  readonly blockHash: Hex;
  /** The signed time (precommits for a block), else 0. */
  readonly timeMs: number;
  /** 65-byte r || s || v over the vote digest. */
  readonly signature: Hex;
}

export interface DuplicateVoteEvidence {
  readonly height: number;
  readonly round: number;
  readonly voteType: typeof VoteType.Prevote | typeof VoteType.Precommit;
  readonly a: SignedVote;
  readonly b: SignedVote;
}

export type EvidenceVerification =
  | { readonly ok: true; readonly validator: Hex; readonly stake: bigint; readonly evidenceHash: Hex }
  | { readonly ok: false; readonly reason: string };

/** Why `e` is not well-formed evidence, or undefined. */
export function evidenceProblem(e: DuplicateVoteEvidence): string | undefined {
  if (!Number.isSafeInteger(e.height) || e.height < 1) return "evidence height must be a positive integer";
  if (!Number.isInteger(e.round) || e.round < 0 || e.round > 0xffffffff) return "evidence round is not a uint32";
  if (e.voteType !== VoteType.Prevote && e.voteType !== VoteType.Precommit) return "evidence vote type must be prevote (1) or precommit (2)";
  for (const [name, v] of [["a", e.a], ["b", e.b]] as const) {
    if (!isHex(v.blockHash, 32)) return `vote ${name}: blockHash is not 32-byte hex`;
    if (!isHex(v.signature, 65)) return `vote ${name}: signature is not 65-byte hex`;
    if (!Number.isSafeInteger(v.timeMs) || v.timeMs < 0) return `vote ${name}: timeMs is not a non-negative integer`;
  }
  if (e.a.blockHash.toLowerCase() === e.b.blockHash.toLowerCase()) return "the two votes are for the same block id: not an equivocation";
  return undefined;
}

/**
 * Order-independent id: keccak256(abi.encode(height, round, type, lowHash, lowTime, highHash, highTime))
 * with the two votes ordered by block hash.
 */
export function evidenceHash(e: DuplicateVoteEvidence): Hex {
  const [x, y] = e.a.blockHash.toLowerCase() < e.b.blockHash.toLowerCase() ? [e.a, e.b] : [e.b, e.a];
  return toHex(
    keccak256(
      abiEncode(["uint64", "uint32", "uint8", "bytes32", "uint64", "bytes32", "uint64"], [e.height, e.round, e.voteType, x.blockHash, x.timeMs, y.blockHash, y.timeMs]),
    ),
  );
}

/** Both signatures recover to the same member of `set` (the set of `e.height`) over their vote digests. */
export function verifyEvidence(
  chainId: number,
  e: DuplicateVoteEvidence,
  set: ValidatorSet,
  recover: (digest: Uint8Array, signature: Uint8Array) => RecoverResult = recoverAddress,
): EvidenceVerification {
  const problem = evidenceProblem(e);
  if (problem) return { ok: false, reason: problem };
  const signerOf = (v: SignedVote): RecoverResult =>
    recover(voteDigest({ chainId, height: e.height, round: e.round, type: e.voteType, blockHash: v.blockHash.toLowerCase() as Hex, timeMs: v.timeMs }), fromHex(v.signature, "signature", 65));
  const a = signerOf(e.a);
  if (!a.ok) return { ok: false, reason: `vote a: ${a.reason}` };
  const b = signerOf(e.b);
  if (!b.ok) return { ok: false, reason: `vote b: ${b.reason}` };
  if (a.address !== b.address) return { ok: false, reason: `the votes are signed by different keys (${a.address}, ${b.address})` };
  const stake = stakeOf(set, a.address);
  if (stake === undefined) return { ok: false, reason: `signer ${a.address} is not a validator at height ${e.height}` };
  return { ok: true, validator: a.address, stake, evidenceHash: evidenceHash(e) };
}
