/**
 * What validators send each other, and its wire form (JSON, bytes as 0x-hex). Decoding is
 * strict and never throws: a malformed message is dropped. Signatures are checked by the
 * engine, not here.
 *
 * A proposal is signed like a vote with type 32 (proposal) over the block hash; its
 * polRound is not signed: it only points at prevotes the receiver verifies itself.
 */
import { type Hex, isHex, fromHex, toHex } from "../../../proofs/hex.ts";
import { type Commit, commitProblem } from "../../../proofs/consortium/commit.ts";
import { type Header } from "../../../proofs/consortium/header.ts";
import { VoteType } from "../../../proofs/consortium/vote.ts";
import { type Block, blockFromJson, blockToJson } from "../block.ts";

export interface ProposalMessage {
  readonly type: "proposal";
  readonly height: number;
  readonly round: number;
  /** Round of the polka that justifies re-proposing this block, or -1. */
  readonly polRound: number;
  readonly block: Block;
  readonly signature: Hex;
}

export interface VoteMessage {
  readonly type: "vote";
  readonly voteType: typeof VoteType.Prevote | typeof VoteType.Precommit;
  readonly height: number;
  readonly round: number;
  /** NIL_BLOCK_HASH for nil. */
  readonly blockHash: Hex;
  /** Precommit for a block: the signed vote time (unix ms); otherwise 0. */
  readonly timeMs: number;
  readonly signature: Hex;
}

/** Most transactions one gossip message carries. */
export const MAX_TXS_PER_MESSAGE = 512;

/** Gossip of transactions a node admitted to its mempool, batched (1..MAX_TXS_PER_MESSAGE). */
export interface TxsMessage {
  readonly type: "txs";
  readonly txs: readonly Uint8Array[];
}

/** "I am at `height` and need its committed block." */
export interface SyncRequestMessage {
  readonly type: "sync-request";
  readonly height: number;
}

/** A committed block and its commit, for a node that fell behind. */
export interface SyncBlockMessage {
  readonly type: "sync-block";
  readonly block: Block;
  readonly commit: Commit;
}

/** Most transactions a compact proposal names (and a request asks for). */
export const MAX_COMPACT_TXS = 65_536;

/**
 * A proposal naming its transactions by hash (compact.ts): the receivers already hold
 * nearly all of them from gossip, rebuild the block from their mempool and fetch the rest.
 * Signed like a full proposal (over the block hash, which commits to the txs by txRoot).
 */
export interface CompactProposalMessage {
  readonly type: "compact-proposal";
  readonly height: number;
  readonly round: number;
  readonly polRound: number;
  readonly header: Header;
  readonly lastCommit: Commit | null;
  readonly txHashes: readonly Hex[];
  readonly signature: Hex;
}

/** "I lack these txs of the (height, round) proposal." */
export interface ProposalTxRequestMessage {
  readonly type: "proposal-tx-request";
  readonly height: number;
  readonly round: number;
  readonly hashes: readonly Hex[];
}

/** Transactions of a (height, round) proposal, answering a request (1..MAX_TXS_PER_MESSAGE). */
export interface ProposalTxsMessage {
  readonly type: "proposal-txs";
  readonly height: number;
  readonly round: number;
  readonly txs: readonly Uint8Array[];
}

export type ConsensusMessage =
  | ProposalMessage
  | VoteMessage
  | TxsMessage
  | SyncRequestMessage
  | SyncBlockMessage
  | CompactProposalMessage
  | ProposalTxRequestMessage
  | ProposalTxsMessage;

export function encodeMessage(m: ConsensusMessage): string {
  switch (m.type) {
    case "proposal":
      return JSON.stringify({ ...m, block: blockToJson(m.block) });
    case "txs":
      return JSON.stringify({ type: "txs", txs: m.txs.map(toHex) });
    case "proposal-txs":
      return JSON.stringify({ ...m, txs: m.txs.map(toHex) });
    case "sync-block":
      return JSON.stringify({ ...m, block: blockToJson(m.block) });
    default:
      return JSON.stringify(m);
  }
}

export function decodeMessage(raw: string): ConsensusMessage | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  switch (v.type) {
    case "proposal": {
      if (!isHeight(v.height) || !isRound(v.round) || !Number.isInteger(v.polRound)) return undefined;
      const polRound = v.polRound as number;
      if (polRound < -1 || polRound >= (v.round as number) || !isHex(v.signature, 65)) return undefined;
      const block = blockFromJson(v.block);
      if (!block.ok) return undefined;
      return { type: "proposal", height: v.height, round: v.round, polRound, block: block.block, signature: lower(v.signature) };
    }
    case "vote": {
      if (v.voteType !== VoteType.Prevote && v.voteType !== VoteType.Precommit) return undefined;
      if (!isHeight(v.height) || !isRound(v.round) || !isHex(v.blockHash, 32) || !isHex(v.signature, 65)) return undefined;
      if (typeof v.timeMs !== "number" || !Number.isSafeInteger(v.timeMs) || v.timeMs < 0) return undefined;
      return { type: "vote", voteType: v.voteType, height: v.height, round: v.round, blockHash: lower(v.blockHash), timeMs: v.timeMs, signature: lower(v.signature) };
    }
    case "txs": {
      const txs = v.txs;
      if (!Array.isArray(txs) || txs.length < 1 || txs.length > MAX_TXS_PER_MESSAGE || !txs.every((t) => isHex(t))) return undefined;
      return { type: "txs", txs: txs.map((t: Hex) => fromHex(t, "tx")) };
    }
    case "compact-proposal": {
      if (!isHeight(v.height) || !isRound(v.round) || !Number.isInteger(v.polRound)) return undefined;
      const polRound = v.polRound as number;
      if (polRound < -1 || polRound >= (v.round as number) || !isHex(v.signature, 65)) return undefined;
      if (!isHashList(v.txHashes)) return undefined;
      // The header and lastCommit rules of a full block, with no txs.
      const shell = blockFromJson({ header: v.header, txs: [], lastCommit: v.lastCommit });
      if (!shell.ok) return undefined;
      const { header, lastCommit } = shell.block;
      return { type: "compact-proposal", height: v.height, round: v.round, polRound, header, lastCommit, txHashes: v.txHashes.map(lower), signature: lower(v.signature) };
    }
    case "proposal-tx-request":
      if (!isHeight(v.height) || !isRound(v.round) || !isHashList(v.hashes) || v.hashes.length === 0) return undefined;
      return { type: "proposal-tx-request", height: v.height, round: v.round, hashes: v.hashes.map(lower) };
    case "proposal-txs": {
      const txs = v.txs;
      if (!isHeight(v.height) || !isRound(v.round)) return undefined;
      if (!Array.isArray(txs) || txs.length < 1 || txs.length > MAX_TXS_PER_MESSAGE || !txs.every((t) => isHex(t))) return undefined;
      return { type: "proposal-txs", height: v.height, round: v.round, txs: txs.map((t: Hex) => fromHex(t, "tx")) };
    }
    case "sync-request":
      return isHeight(v.height) ? { type: "sync-request", height: v.height } : undefined;
    case "sync-block": {
      const block = blockFromJson(v.block);
      if (!block.ok || commitProblem(v.commit)) return undefined;
      return { type: "sync-block", block: block.block, commit: v.commit as Commit };
    }
    default:
      return undefined;
  }
}

function isHashList(v: unknown): v is Hex[] {
  return Array.isArray(v) && v.length <= MAX_COMPACT_TXS && v.every((h) => isHex(h, 32));
}

function isHeight(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1;
}

function isRound(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function lower(h: Hex): Hex {
  return h.toLowerCase() as Hex;
}
