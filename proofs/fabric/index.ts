export { type ChannelConfig, type ConfigRead, type NodeRole, type OrgMsp, type PolicyGroup, readChannelConfig } from "./channel-config.ts";
export { type BlockHeaderFields, blockDataHash, blockHeaderBytes, blockHeaderHash, computeTxId } from "./encoding.ts";
export { type FabricIdentity, type IdentityCheck, validateIdentity } from "./identity.ts";
export { type FabricLock, type FabricLockStatus, fabricLockId, lockStateKey, parseLockRecord } from "./lock-record.ts";
export { type FabricLockProofInput, type FabricLockProofResult, verifyFabricLockProof } from "./lock-proof.ts";
export { satisfiesPolicy } from "./policy.ts";
export { signatureProblem } from "./signature.ts";
export { type FabricBlockCheck, checkFabricBlock, headerOf, lockWritesOf, ordererSignatureProblem } from "./block.ts";
