/** Verification code for the consortium chain: pure, no I/O, only @noble/* underneath. */
export { CONSORTIUM_SCHEME, ZERO_ADDRESS, ZERO_HASH, keccak256, sha256 } from "./domain.ts";
export { type RecoverResult, addressOfPublicKey, recoverAddress } from "./signature.ts";
export {
  type Validator,
  type ValidatorSet,
  exceedsOneThird,
  hashValidatorSet,
  isSupermajority,
  makeValidatorSet,
  stakeOf,
  totalStake,
} from "./validators.ts";
export { type Header, type DecodeHeaderResult, blockTimeSec, decodeHeader, encodeHeader, hashHeader, headerProblem } from "./header.ts";
export { NIL_BLOCK_HASH, type VoteData, VoteType, voteDigest, voteSignBytes } from "./vote.ts";
export { weightedMedianTime } from "./time.ts";
export { type Commit, type CommitVerification, type IgnoredSignature, type VerifyCommitOptions, commitProblem, verifyCommit } from "./commit.ts";
export {
  ASSET_SYMBOL_RE,
  type AssetRecord,
  type Decoded,
  type LockRecord,
  type LockStatus,
  type LockTerms,
  STATE_KEY_PREFIX,
  assetKey,
  balanceKey,
  decodeAsset,
  decodeBalance,
  decodeLock,
  decodeNonce,
  encodeAsset,
  encodeBalance,
  encodeLock,
  encodeNonce,
  isLockId,
  lockIdFor,
  lockKey,
  nonceKey,
} from "./state.ts";
export {
  type ChainEvent,
  type EncodedTxOutcome,
  type TxResultRecord,
  decodeEvent,
  decodeTxResult,
  encodeEvent,
  encodeTxResult,
  resultKey,
  resultsEntries,
  resultsRoot,
  txKey,
  txRoot,
} from "./results.ts";
export {
  type AnchorParams,
  type CommittedEntryParams,
  type CommittedTree,
  type EntryVerification,
  type EventProofParams,
  type EventProofVerification,
  type LockProofParams,
  type LockProofVerification,
  type LockAbsenceParams,
  type LockAbsenceVerification,
  type CommittedAbsenceParams,
  verifyCommittedAbsence,
  verifyCommittedEntry,
  verifyEventProof,
  verifyLockAbsence,
  verifyLockProof,
} from "./entry-proof.ts";
export {
  type HeaderUpdate,
  type StateProofVerification,
  type TrustResult,
  type TrustedState,
  LightClient,
  trustHeader,
  trustSet,
  verifyNextHeader,
  verifyStateAbsence,
  verifyStateProof,
} from "./light-client.ts";
export { type DuplicateVoteEvidence, type EvidenceVerification, type SignedVote, evidenceHash, evidenceProblem, verifyEvidence } from "./evidence.ts";
export {
  STAKING_KEY_PREFIX,
  type ScheduleEntry,
  type SlashingRecord,
  type StakingParams,
  type UnbondingEntry,
  decodeSchedule,
  decodeSlashing,
  decodeStakingParams,
  decodeUnbonding,
  decodeValidatorSet,
  encodeValidatorSet,
  setAtHeight,
  slashingKey,
  stakingParamsKey,
  unbondingKey,
  validatorScheduleKey,
} from "./staking.ts";
