/**
 * A Fabric lock proof: the block holding the transaction that wrote the lock, checked from a
 * block the verifier trusts and the channel's configuration.
 *
 *  1. the block's data_hash is SHA-256 of its envelopes;
 *  2. the previous-hash chain: `headers` (consecutive, oldest first) then the block itself
 *     link by previous_hash = SHA-256(DER header) and reach the trusted block (its number
 *     and hash) — at the chain's start (the first header's predecessor) or inside it;
 *  3. the orderer signatures in metadata[SIGNATURES] (each over value ‖ signature_header ‖
 *     header bytes) are valid, by identities of the channel's MSPs, and satisfy
 *     /Channel/Orderer/BlockValidation — so the orderer vouches for this block, and through
 *     previous_hash for every ancestor back to the trusted one;
 *  4. the transaction: ENDORSER_TRANSACTION on the trusted channel, txID = SHA-256(nonce ‖
 *     creator), the creator's signature on the payload, the endorsed response for this very
 *     proposal (proposal_hash), status < 400, chaincode name;
 *  5. its endorsements (signature over proposal_response_payload ‖ endorser) satisfy
 *     /Channel/Application/Endorsement (the chaincode's default policy; invalid endorsements
 *     are ignored, as the committer does);
 *  6. the transactions filter marks it VALID;
 *  7. its write set in the chaincode's namespace writes the lock's key, and the value is a
 *     well-formed lock whose fields hash to its id.
 *
 * Limits: the transactions filter is the committing peer's verdict and is not covered by
 * the orderer's signature. Everything a block alone can show is re-checked (signatures,
 * endorsement policy, txID, proposal hash); MVCC and duplicate-txID validity need the
 * channel's state and rest on the filter. A proof shows the lock as written by that
 * transaction, not that no later transaction changed it.
 */
import { common, ledger, peer } from "@hyperledger/fabric-protos";
import type { ChannelConfig } from "./channel-config.ts";
import { ordererSignatureProblem } from "./block.ts";
import { type BlockHeaderFields, blockDataHash, blockHeaderHash, computeTxId, concat, equalBytes, hexOf, sha256 } from "./encoding.ts";
import { type FabricIdentity, validateIdentity } from "./identity.ts";
import { type FabricLock, lockStateKey, parseLockRecord } from "./lock-record.ts";
import { satisfiesPolicy } from "./policy.ts";
import { signatureProblem } from "./signature.ts";

export interface FabricLockProofInput {
  readonly config: ChannelConfig;
  /** The block the verifier trusts; default: the config block itself. */
  readonly trusted?: { readonly number: number; readonly hash: Uint8Array };
  readonly chaincode: string;
  readonly lockId: string;
  /** The serialized common.Block holding the transaction. */
  readonly block: Uint8Array;
  readonly txIndex: number;
  /** Headers of the blocks before `block`, consecutive, oldest first, ending at block - 1. */
  readonly headers: readonly BlockHeaderFields[];
}

export type FabricLockProofResult =
  | { readonly ok: true; readonly height: number; readonly blockHash: `0x${string}`; readonly dataHash: `0x${string}`; readonly txId: string; readonly txTime: number; readonly endorsers: readonly string[]; readonly lock: FabricLock }
  | { readonly ok: false; readonly reason: string };

const VALID = peer.TxValidationCode.VALID;

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function codeName(code: number): string {
  return Object.entries(peer.TxValidationCode).find(([, v]) => v === code)?.[0] ?? String(code);
}

/** Verifies the proof; never throws on bad bytes. */
export function verifyFabricLockProof(p: FabricLockProofInput): FabricLockProofResult {
  try {
    return verify(p);
  } catch (err) {
    return fail(`malformed Fabric proof: ${(err as Error).message}`);
  }
}

function verify(p: FabricLockProofInput): FabricLockProofResult {
  const block = common.Block.deserializeBinary(p.block);
  const h = block.getHeader();
  const envs = block.getData()?.getDataList_asU8() ?? [];
  if (!h) return fail("block has no header");
  const header: BlockHeaderFields = { number: h.getNumber(), previousHash: h.getPreviousHash_asU8(), dataHash: h.getDataHash_asU8() };
  const height = header.number;
  // 1. data hash
  if (!equalBytes(header.dataHash, blockDataHash(envs))) return fail(`block ${height}: data_hash does not match its ${envs.length} envelopes`);
  // 2. previous-hash chain to the trusted block
  const chainProblem = checkChain([...p.headers, header], p.trusted ?? { number: p.config.blockNumber, hash: p.config.blockHash });
  if (chainProblem) return fail(chainProblem);
  // the transaction's time: certificates are judged at it
  if (!Number.isSafeInteger(p.txIndex) || p.txIndex < 0 || p.txIndex >= envs.length) return fail(`txIndex ${p.txIndex} is not in block ${height} (${envs.length} transactions)`);
  const env = common.Envelope.deserializeBinary(envs[p.txIndex]!);
  const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
  const ph = payload.getHeader();
  if (!ph) return fail("transaction payload has no header");
  const chdr = common.ChannelHeader.deserializeBinary(ph.getChannelHeader_asU8());
  const shdr = common.SignatureHeader.deserializeBinary(ph.getSignatureHeader_asU8());
  const ts = chdr.getTimestamp();
  if (!ts) return fail("transaction has no timestamp");
  const txTime = ts.getSeconds();
  const atMs = txTime * 1000;
  // 3. orderer signatures
  const ordererProblem = ordererSignatureProblem(block, header, p.config, atMs);
  if (ordererProblem) return fail(`block ${height}: ${ordererProblem}`);
  // 4. the transaction itself
  if (chdr.getType() !== common.HeaderType.ENDORSER_TRANSACTION) return fail(`transaction ${p.txIndex} is of type ${chdr.getType()}, not ENDORSER_TRANSACTION`);
  if (chdr.getChannelId() !== p.config.channel) return fail(`transaction is on channel ${JSON.stringify(chdr.getChannelId())}, not the trusted ${JSON.stringify(p.config.channel)}`);
  const txId = chdr.getTxId();
  if (computeTxId(shdr.getNonce_asU8(), shdr.getCreator_asU8()) !== txId) return fail(`txID ${txId} is not SHA-256(nonce ‖ creator)`);
  const creator = validateIdentity(shdr.getCreator_asU8(), p.config.msps, atMs);
  if (!creator.ok) return fail(`transaction creator: ${creator.reason}`);
  const creatorSig = signatureProblem(creator.identity.publicKey, env.getPayload_asU8(), env.getSignature_asU8());
  if (creatorSig) return fail(`transaction creator's ${creatorSig}`);
  const actions = peer.Transaction.deserializeBinary(payload.getData_asU8()).getActionsList();
  if (actions.length !== 1) return fail(`transaction has ${actions.length} actions, expected 1`);
  const cap = peer.ChaincodeActionPayload.deserializeBinary(actions[0]!.getPayload_asU8());
  const action = cap.getAction();
  if (!action) return fail("transaction has no endorsed action");
  const prpBytes = action.getProposalResponsePayload_asU8();
  const prp = peer.ProposalResponsePayload.deserializeBinary(prpBytes);
  const expectHash = sha256(ph.getChannelHeader_asU8(), ph.getSignatureHeader_asU8(), cap.getChaincodeProposalPayload_asU8());
  if (!equalBytes(prp.getProposalHash_asU8(), expectHash)) return fail("endorsed response's proposal_hash is not this transaction's proposal");
  const cca = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
  const ns = cca.getChaincodeId()?.getName() ?? "";
  if (ns !== p.chaincode) return fail(`transaction invokes chaincode ${JSON.stringify(ns)}, not ${JSON.stringify(p.chaincode)}`);
  const status = cca.getResponse()?.getStatus() ?? 0;
  if (status < 200 || status >= 400) return fail(`chaincode response status ${status} is not a success`);
  // 5. endorsements
  const endorsers: FabricIdentity[] = [];
  const ignored: string[] = [];
  for (const [i, e] of action.getEndorsementsList().entries()) {
    const id = validateIdentity(e.getEndorser_asU8(), p.config.msps, atMs);
    if (!id.ok) {
      ignored.push(`endorsement ${i}: ${id.reason}`);
      continue;
    }
    const sig = signatureProblem(id.identity.publicKey, concat(prpBytes, e.getEndorser_asU8()), e.getSignature_asU8());
    if (sig) {
      ignored.push(`endorsement ${i} (${id.identity.mspId}): ${sig}`);
      continue;
    }
    endorsers.push(id.identity);
  }
  if (!satisfiesPolicy(p.config.application, "Endorsement", endorsers)) {
    const valid = endorsers.map((e) => e.mspId).join(", ") || "none";
    return fail(`endorsement policy /Channel/Application/Endorsement is not satisfied (valid endorsements from: ${valid}${ignored.length ? `; ${ignored.join("; ")}` : ""})`);
  }
  // 6. the committer's verdict
  const filter = block.getMetadata()?.getMetadataList_asU8()[common.BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array();
  if (filter.length !== envs.length) return fail(`transactions filter has ${filter.length} codes for ${envs.length} transactions`);
  if (filter[p.txIndex] !== VALID) return fail(`transaction ${txId} is marked ${codeName(filter[p.txIndex]!)} in the transactions filter, not VALID`);
  // 7. the lock's write
  const key = lockStateKey(p.lockId);
  let written: Uint8Array | null = null;
  for (const nsrw of ledger.rwset.TxReadWriteSet.deserializeBinary(cca.getResults_asU8()).getNsRwsetList()) {
    if (nsrw.getNamespace() !== ns) continue;
    for (const w of ledger.rwset.kvrwset.KVRWSet.deserializeBinary(nsrw.getRwset_asU8()).getWritesList()) {
      if (w.getKey() !== key) continue;
      if (w.getIsDelete()) return fail(`transaction ${txId} deletes lock ${p.lockId}`);
      written = w.getValue_asU8();
    }
  }
  if (written === null) return fail(`transaction ${txId} does not write lock ${p.lockId}`);
  const lock = parseLockRecord(written);
  if (typeof lock === "string") return fail(lock);
  if (lock.lockId !== p.lockId) return fail(`written lock is ${lock.lockId}, not ${p.lockId}`);
  return { ok: true, height, blockHash: hexOf(blockHeaderHash(header)), dataHash: hexOf(header.dataHash), txId, txTime, endorsers: endorsers.map((e) => e.mspId), lock };
}

function checkChain(chain: readonly BlockHeaderFields[], trusted: { readonly number: number; readonly hash: Uint8Array }): string | null {
  for (let i = 1; i < chain.length; i++) {
    const [a, b] = [chain[i - 1]!, chain[i]!];
    if (b.number !== a.number + 1) return `header chain: block ${b.number} follows block ${a.number}`;
    if (!equalBytes(b.previousHash, blockHeaderHash(a))) return `header chain: block ${b.number}'s previous_hash is not the hash of block ${a.number}`;
  }
  const first = chain[0]!;
  const last = chain.at(-1)!;
  if (trusted.number === first.number - 1) {
    return equalBytes(first.previousHash, trusted.hash) ? null : `header chain: block ${first.number}'s previous_hash is not the trusted block ${trusted.number}'s hash ${hexOf(trusted.hash)}`;
  }
  if (trusted.number < first.number || trusted.number > last.number) return `trusted block ${trusted.number} is not covered by the proof's headers ${first.number}..${last.number}`;
  const at = chain[trusted.number - first.number]!;
  return equalBytes(blockHeaderHash(at), trusted.hash) ? null : `block ${trusted.number} hashes to ${hexOf(blockHeaderHash(at))}, not the trusted ${hexOf(trusted.hash)}`;
}
