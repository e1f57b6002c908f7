/**
 * What validators sign. digest = keccak256(abi.encode(bytes32 tag, uint256 chainId,
 * uint64 height, uint32 round, uint8 type, bytes32 blockHash, uint64 timeMs)), signed raw
 * (no "\x19Ethereum Signed Message" prefix) so a contract can `ecrecover(digest, v, r, s)`.
 * A nil vote signs blockHash = 0x00…00. `timeMs` is the voter's clock in a precommit for a
 * block (the block time of the next height is the stake-weighted median of these, see
 * time.ts); 0 in prevotes and nil precommits. Proposals sign `proposalDigest` (below).
 */
import { abiEncode } from "../abi.ts";
import { type Hex, fromHex, toHex } from "../hex.ts";
import { type Commit } from "./commit.ts";
import { CONSORTIUM_SCHEME, keccak256, ZERO_HASH } from "./domain.ts";

/** Tendermint's SignedMsgType numbers: prevote 1, precommit 2, proposal 32. */
export const VoteType = Object.freeze({ Prevote: 1, Precommit: 2, Proposal: 32 } as const);
export type VoteType = (typeof VoteType)[keyof typeof VoteType];

export const NIL_BLOCK_HASH: Hex = ZERO_HASH;

export interface VoteData {
  readonly chainId: number;
  readonly height: number;
  readonly round: number;
  readonly type: VoteType;
  /** NIL_BLOCK_HASH for a nil vote. */
  readonly blockHash: Hex;
  /** Precommits for a block: the voter's time in unix ms; otherwise 0 (the default). */
  readonly timeMs?: number;
}

const VOTE_TYPES = ["bytes32", "uint256", "uint64", "uint32", "uint8", "bytes32", "uint64"] as const;

export function voteSignBytes(v: VoteData): Uint8Array {
  return abiEncode(VOTE_TYPES, [CONSORTIUM_SCHEME.tags.vote, v.chainId, v.height, v.round, v.type, v.blockHash, v.timeMs ?? 0]);
}

export function voteDigest(v: VoteData): Uint8Array {
  return keccak256(voteSignBytes(v));
}

/** What a proposer signs besides the block hash: the fields a relaying peer could otherwise alter. */
export interface ProposalData {
  readonly chainId: number;
  readonly height: number;
  readonly round: number;
  readonly blockHash: Hex;
  /** The round of the polka a re-proposed block carries, or -1. */
  readonly polRound: number;
  /** The block's lastCommit, which its hash does not cover (null at height 1). */
  readonly lastCommit: Commit | null;
}

const PROPOSAL_TYPES = ["bytes32", "uint256", "uint64", "uint32", "uint8", "bytes32", "uint64", "bytes32"] as const;

/**
 * keccak256(abi.encode(bytes32 tag, uint256 chainId, uint64 height, uint32 round, uint8 32,
 * bytes32 blockHash, uint64 polRound + 1, bytes32 lastCommitHash)). Like Tendermint's
 * CanonicalProposal it covers POLRound, and the lastCommit too (the header does not commit
 * to it), so a peer relaying a copy with either changed presents a proposal whose signature
 * fails instead of one honest validators would prevote nil on. Never checked on an EVM.
 */
export function proposalDigest(p: ProposalData): Uint8Array {
  if (!Number.isSafeInteger(p.polRound) || p.polRound < -1) throw new RangeError(`polRound: expected an integer >= -1, got ${p.polRound}`);
  return keccak256(abiEncode(PROPOSAL_TYPES, [CONSORTIUM_SCHEME.tags.vote, p.chainId, p.height, p.round, VoteType.Proposal, p.blockHash, p.polRound + 1, commitHash(p.lastCommit)]));
}

/**
 * keccak256 over a commit's fields in a fixed order: uint64 height || uint32 round ||
 * blockHash || n 65-byte signatures || n uint64 times (big-endian); ZERO_HASH for none.
 */
export function commitHash(c: Commit | null): Hex {
  if (c === null) return ZERO_HASH;
  const out = new Uint8Array(8 + 4 + 32 + c.signatures.length * 65 + c.timesMs.length * 8);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(c.height));
  view.setUint32(8, c.round);
  out.set(fromHex(c.blockHash, "commit.blockHash", 32), 12);
  let at = 44;
  for (const sig of c.signatures) {
    out.set(fromHex(sig, "commit signature", 65), at);
    at += 65;
  }
  for (const t of c.timesMs) {
    view.setBigUint64(at, BigInt(t));
    at += 8;
  }
  return toHex(keccak256(out));
}
