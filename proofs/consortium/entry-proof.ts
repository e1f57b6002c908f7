/**
 * Proofs that an entry is committed by a final block: the commit must be signed by more
 * than 2/3 of the trusted validators' stake, and the entry's Merkle proof must lead to the
 * root the header names — a sparse Merkle proof for the state (stateRoot), an RFC 6962 audit
 * path for the block's lists (txRoot, resultsRoot). `verifyLockProof`, `verifyLockAbsence`
 * and `verifyEventProof` add the typed decoding.
 */
import { type Hex, fromHex } from "../hex.ts";
import { type MerkleProof, verifyKvProof } from "../merkle.ts";
import { type SparseAbsenceProof, type SparseProof, verifySparseAbsence, verifySparseProof } from "../sparse-merkle.ts";
import { type Commit, verifyCommit } from "./commit.ts";
import { CONSORTIUM_SCHEME } from "./domain.ts";
import { type Header } from "./header.ts";
import { type ChainEvent, decodeEvent, resultKey } from "./results.ts";
import { type LockRecord, decodeLock, lockIdFor, lockKey } from "./state.ts";
import { type ValidatorSet } from "./validators.ts";

export type CommittedTree = "state" | "results" | "txs";

/** What a verifier trusts a priori, e.g. from the genesis file. */
export interface AnchorParams {
  readonly chainId: number;
  readonly validatorSet: ValidatorSet;
  readonly header: Header;
  readonly commit: Commit;
}

/** The state is a sparse Merkle tree; a block's txs and results are RFC 6962 lists. */
export type CommittedEntryParams = AnchorParams & { readonly key: Uint8Array; readonly value: Uint8Array } & (
    | { readonly tree: "state"; readonly proof: SparseProof }
    | { readonly tree: "results" | "txs"; readonly proof: MerkleProof }
  );

export type EntryVerification =
  | { readonly ok: true; readonly height: number; readonly blockHash: Hex; readonly root: Hex }
  | { readonly ok: false; readonly reason: string };

const ROOT_FIELD: Record<CommittedTree, "stateRoot" | "resultsRoot" | "txRoot"> = { state: "stateRoot", results: "resultsRoot", txs: "txRoot" };

export function verifyCommittedEntry(p: CommittedEntryParams): EntryVerification {
  if (p.header?.chainId !== p.chainId) return { ok: false, reason: `header is for chain ${String(p.header?.chainId)}, expected ${p.chainId}` };
  const commit = verifyCommit(p.header, p.commit, p.validatorSet);
  if (!commit.ok) return { ok: false, reason: `commit: ${commit.reason}` };
  const root = p.header[ROOT_FIELD[p.tree]];
  const rootBytes = fromHex(root, "root", 32);
  const proof =
    p.tree === "state"
      ? verifySparseProof(CONSORTIUM_SCHEME.state, rootBytes, p.key, p.value, p.proof)
      : verifyKvProof(CONSORTIUM_SCHEME.merkle, rootBytes, p.key, p.value, p.proof);
  if (!proof.ok) return { ok: false, reason: `${p.tree} proof: ${proof.reason}` };
  return { ok: true, height: p.header.height, blockHash: commit.blockHash, root };
}

export interface CommittedAbsenceParams extends AnchorParams {
  readonly key: Uint8Array;
  readonly absence: SparseAbsenceProof;
}

/** Establishes that the state of a final block has NO entry for `key` (its path ends empty or at another key's leaf). */
export function verifyCommittedAbsence(p: CommittedAbsenceParams): EntryVerification {
  if (p.header?.chainId !== p.chainId) return { ok: false, reason: `header is for chain ${String(p.header?.chainId)}, expected ${p.chainId}` };
  const commit = verifyCommit(p.header, p.commit, p.validatorSet);
  if (!commit.ok) return { ok: false, reason: `commit: ${commit.reason}` };
  const absent = verifySparseAbsence(CONSORTIUM_SCHEME.state, fromHex(p.header.stateRoot, "stateRoot", 32), p.key, p.absence);
  if (!absent.ok) return { ok: false, reason: `state absence proof: ${absent.reason}` };
  return { ok: true, height: p.header.height, blockHash: commit.blockHash, root: p.header.stateRoot };
}

export interface LockProofParams extends AnchorParams {
  readonly lockId: Hex;
  /** The encoded lock record (state value) the proof is for. */
  readonly value: Uint8Array;
  readonly proof: SparseProof;
}

export type LockProofVerification =
  | { readonly ok: true; readonly lockId: Hex; readonly lock: LockRecord; readonly height: number; readonly stateRoot: Hex; readonly blockHash: Hex }
  | { readonly ok: false; readonly reason: string };

/** Establishes that the lock `lockId` with the fields encoded in `value` is in the committed state. */
export function verifyLockProof(p: LockProofParams): LockProofVerification {
  const decoded = decodeLock(p.value);
  if (!decoded.ok) return { ok: false, reason: `lock value: ${decoded.reason}` };
  const lockId = p.lockId.toLowerCase() as Hex;
  if (lockIdFor(decoded.value.sender, decoded.value) !== lockId) return { ok: false, reason: "lock fields do not hash to the lock id" };
  const entry = verifyCommittedEntry({ ...p, tree: "state", key: lockKey(lockId), value: p.value, proof: p.proof });
  if (!entry.ok) return entry;
  return { ok: true, lockId, lock: decoded.value, height: entry.height, stateRoot: entry.root, blockHash: entry.blockHash };
}

export interface LockAbsenceParams extends AnchorParams {
  readonly lockId: Hex;
  readonly absence: SparseAbsenceProof;
}

export type LockAbsenceVerification =
  | { readonly ok: true; readonly lockId: Hex; readonly height: number; readonly stateRoot: Hex; readonly blockHash: Hex }
  | { readonly ok: false; readonly reason: string };

/** Establishes that NO lock `lockId` is in the committed state of a final block (its path ends empty or at another key's leaf). */
export function verifyLockAbsence(p: LockAbsenceParams): LockAbsenceVerification {
  const lockId = p.lockId.toLowerCase() as Hex;
  const r = verifyCommittedAbsence({ ...p, key: lockKey(lockId) });
  if (!r.ok) return r;
  return { ok: true, lockId, height: r.height, stateRoot: r.root, blockHash: r.blockHash };
}

export interface EventProofParams extends AnchorParams {
  readonly txIndex: number;
  /** Position of the event among its transaction's events (0-based). */
  readonly eventIndex: number;
  readonly value: Uint8Array;
  readonly proof: MerkleProof;
}

export type EventProofVerification =
  | { readonly ok: true; readonly txHash: Hex; readonly event: ChainEvent; readonly height: number; readonly blockHash: Hex }
  | { readonly ok: false; readonly reason: string };

/** Establishes that the block's results commit to `value` as event `eventIndex` of tx `txIndex`. */
export function verifyEventProof(p: EventProofParams): EventProofVerification {
  if (!Number.isInteger(p.txIndex) || p.txIndex < 0 || p.txIndex > 0xffffffff) return { ok: false, reason: "bad txIndex" };
  if (!Number.isInteger(p.eventIndex) || p.eventIndex < 0 || p.eventIndex >= 0xffffffff) return { ok: false, reason: "bad eventIndex" };
  const decoded = decodeEvent(p.value);
  if (!decoded.ok) return { ok: false, reason: `event value: ${decoded.reason}` };
  const key = resultKey(p.txIndex, p.eventIndex + 1);
  const entry = verifyCommittedEntry({ ...p, tree: "results", key, value: p.value, proof: p.proof });
  if (!entry.ok) return entry;
  return { ok: true, txHash: decoded.value.txHash, event: decoded.value.event, height: entry.height, blockHash: entry.blockHash };
}
