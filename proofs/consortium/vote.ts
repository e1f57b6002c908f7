/**
 * What validators sign. digest = keccak256(abi.encode(bytes32 tag, uint256 chainId,
 * uint64 height, uint32 round, uint8 type, bytes32 blockHash, uint64 timeMs)), signed raw
 * (no "\x19Ethereum Signed Message" prefix) so a contract can `ecrecover(digest, v, r, s)`.
 * A nil vote signs blockHash = 0x00…00. `timeMs` is the voter's clock in a precommit for a
 * block (the block time of the next height is the stake-weighted median of these, see
 * time.ts); 0 in prevotes, nil precommits and proposals.
 */
import { abiEncode } from "../abi.ts";
import { type Hex } from "../hex.ts";
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
