/**
 * One HTLC lock proven against one block header: the header's fields hash to its block
 * hash (YP 4.3), and the lock's account and storage proofs lead to its stateRoot.
 */
import { type Hex, isHex } from "../hex.ts";
import { checkHeader } from "./header.ts";
import { type EvmAccount, type EvmLock, type StorageProof, verifyHtlcLockProof } from "./htlc-lock.ts";

export interface EvmLockProofParams {
  /** The block header, as eth_getBlockByNumber returns it. */
  readonly header: unknown;
  /** When given, the header must hash to it. */
  readonly blockHash?: Hex;
  readonly htlc: Hex;
  readonly lockId: Hex;
  readonly accountProof: readonly Hex[];
  readonly storageProof: readonly StorageProof[];
}

export type EvmLockProofVerification =
  | { readonly ok: true; readonly height: number; readonly blockHash: Hex; readonly stateRoot: Hex; readonly timestamp: number; readonly account: EvmAccount; readonly lock: EvmLock | null }
  | { readonly ok: false; readonly reason: string };

export function verifyEvmLockProof(p: EvmLockProofParams): EvmLockProofVerification {
  if (p.blockHash !== undefined && !isHex(p.blockHash, 32)) throw new TypeError("verifyEvmLockProof: blockHash must be 32-byte hex");
  const h = checkHeader(p.header);
  if (!h.ok) return { ok: false, reason: `header: ${h.reason}` };
  if (p.blockHash !== undefined && h.hash !== p.blockHash.toLowerCase()) return { ok: false, reason: `header hashes to ${h.hash}, not ${p.blockHash.toLowerCase()}` };
  const r = verifyHtlcLockProof({ stateRoot: h.stateRoot, htlc: p.htlc, lockId: p.lockId, accountProof: p.accountProof, storageProof: p.storageProof });
  if (!r.ok) return r;
  return { ok: true, height: h.number, blockHash: h.hash, stateRoot: h.stateRoot, timestamp: h.timestamp, account: r.account, lock: r.lock };
}
