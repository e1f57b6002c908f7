/** Blocks as proposed and as committed, and their JSON form for storage and the wire. */
import { type Hex, isHex, fromHex, toHex } from "../../proofs/hex.ts";
import { type Commit, commitProblem } from "../../proofs/consortium/commit.ts";
import { type Header, headerProblem } from "../../proofs/consortium/header.ts";
import { type EncodedTxOutcome } from "../../proofs/consortium/results.ts";

/**
 * What a proposer proposes: the header (with the post-state roots), the signed txs, and the
 * commit of the previous block (null at height 1) whose stake-weighted median precommit time
 * is this block's time (proofs/consortium/time.ts).
 */
export interface Block {
  readonly header: Header;
  readonly txs: readonly Uint8Array[];
  readonly lastCommit: Commit | null;
}

/** A final block: the block, its hash, the commit that made it final and the tx outcomes. */
export interface CommittedBlock extends Block {
  readonly hash: Hex;
  readonly commit: Commit;
  readonly outcomes: readonly EncodedTxOutcome[];
}

export interface BlockJson {
  readonly header: Header;
  readonly txs: readonly Hex[];
  readonly lastCommit: Commit | null;
}

export interface CommittedBlockJson extends BlockJson {
  readonly hash: Hex;
  readonly commit: Commit;
  readonly outcomes: readonly { readonly result: Hex; readonly events: readonly Hex[] }[];
}

export function blockToJson(b: Block): BlockJson {
  return { header: b.header, txs: b.txs.map(toHex), lastCommit: b.lastCommit };
}

/** Parses untrusted JSON; returns a reason instead of throwing. */
export function blockFromJson(value: unknown): { ok: true; block: Block } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "block is not an object" };
  const v = value as Record<string, unknown>;
  const problem = headerProblem(v.header);
  if (problem) return { ok: false, reason: problem };
  if (!Array.isArray(v.txs) || !v.txs.every((t) => isHex(t))) return { ok: false, reason: "block.txs is not a list of hex" };
  let lastCommit: Commit | null = null;
  if (v.lastCommit !== null) {
    const problem = commitProblem(v.lastCommit);
    if (problem) return { ok: false, reason: `lastCommit: ${problem}` };
    lastCommit = normalizeCommit(v.lastCommit as Commit);
  }
  const h = v.header as Header;
  const header: Header = {
    chainId: h.chainId,
    height: h.height,
    timeMs: h.timeMs,
    prevHash: h.prevHash.toLowerCase() as Hex,
    txRoot: h.txRoot.toLowerCase() as Hex,
    resultsRoot: h.resultsRoot.toLowerCase() as Hex,
    stateRoot: h.stateRoot.toLowerCase() as Hex,
    validatorsHash: h.validatorsHash.toLowerCase() as Hex,
    nextValidatorsHash: h.nextValidatorsHash.toLowerCase() as Hex,
    proposer: h.proposer.toLowerCase() as Hex,
  };
  return { ok: true, block: { header, txs: (v.txs as Hex[]).map((t) => fromHex(t, "tx")), lastCommit } };
}

export function committedToJson(b: CommittedBlock): CommittedBlockJson {
  return {
    ...blockToJson(b),
    hash: b.hash,
    commit: b.commit,
    outcomes: b.outcomes.map((o) => ({ result: toHex(o.result), events: o.events.map(toHex) })),
  };
}

export function committedFromJson(value: unknown): { ok: true; block: CommittedBlock } | { ok: false; reason: string } {
  const base = blockFromJson(value);
  if (!base.ok) return base;
  const v = value as Record<string, unknown>;
  if (!isHex(v.hash, 32)) return { ok: false, reason: "block.hash is not 32-byte hex" };
  const problem = commitProblem(v.commit);
  if (problem) return { ok: false, reason: problem };
  if (!Array.isArray(v.outcomes)) return { ok: false, reason: "block.outcomes is not a list" };
  const outcomes: EncodedTxOutcome[] = [];
  for (const o of v.outcomes as unknown[]) {
    const r = o as { result?: unknown; events?: unknown };
    if (!isHex(r?.result) || !Array.isArray(r.events) || !r.events.every((e) => isHex(e))) return { ok: false, reason: "malformed outcome" };
    outcomes.push({ result: fromHex(r.result, "result"), events: (r.events as Hex[]).map((e) => fromHex(e, "event")) });
  }
  if (outcomes.length !== base.block.txs.length) return { ok: false, reason: `${outcomes.length} outcomes for ${base.block.txs.length} txs` };
  const commit = normalizeCommit(v.commit as Commit);
  return { ok: true, block: { ...base.block, hash: (v.hash as string).toLowerCase() as Hex, commit, outcomes } };
}

function normalizeCommit(c: Commit): Commit {
  return { height: c.height, round: c.round, blockHash: c.blockHash.toLowerCase() as Hex, signatures: c.signatures.map((s) => s.toLowerCase() as Hex), timesMs: [...c.timesMs] };
}
