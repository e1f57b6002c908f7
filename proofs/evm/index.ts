/** Verification code for EVM chains: pure, no I/O, only @noble/hashes underneath. */
export { type RlpDecoded, type RlpItem, decodeRlp, decodeScalar, encodeRlp, encodeScalar } from "./rlp.ts";
export { type MptResult, verifySecureTrieProof } from "./mpt.ts";
export { EVM_HEADER_FIELDS, type EvmHeader, type HeaderCheck, checkHeader, checkHeaderChain } from "./header.ts";
export {
  HTLC_LOCK_SLOTS,
  type EvmAccount,
  type EvmLock,
  type EvmLockStatus,
  type HtlcLockProofParams,
  type HtlcLockVerification,
  type StorageProof,
  htlcLockId,
  htlcLockSlots,
  verifyHtlcLockProof,
} from "./htlc-lock.ts";
export { type EvmLockProofParams, type EvmLockProofVerification, verifyEvmLockProof } from "./lock-proof.ts";
