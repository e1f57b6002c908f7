/**
 * Checks on one block that anyone holding the channel config can run: data_hash over the
 * envelopes, previous_hash = hash of the predecessor's header, and orderer signatures
 * (metadata[SIGNATURES], each over value ‖ signature_header ‖ header bytes) by channel
 * identities satisfying /Channel/Orderer/BlockValidation. Plus the lock keys each VALID
 * transaction of a chaincode writes, which is how a follower finds a lock's latest write.
 */
import { common, ledger, peer } from "@hyperledger/fabric-protos";
import type { ChannelConfig } from "./channel-config.ts";
import { type BlockHeaderFields, blockDataHash, blockHeaderBytes, blockHeaderHash, concat, equalBytes } from "./encoding.ts";
import { type FabricIdentity, validateIdentity } from "./identity.ts";
import { satisfiesPolicy } from "./policy.ts";
import { signatureProblem } from "./signature.ts";

export function headerOf(block: common.Block): BlockHeaderFields | null {
  const h = block.getHeader();
  return h ? { number: h.getNumber(), previousHash: h.getPreviousHash_asU8(), dataHash: h.getDataHash_asU8() } : null;
}

/** null when the orderer signatures are valid and satisfy BlockValidation at time `atMs`, else why not. */
export function ordererSignatureProblem(block: common.Block, header: BlockHeaderFields, config: ChannelConfig, atMs: number): string | null {
  const mdBytes = block.getMetadata()?.getMetadataList_asU8()[common.BlockMetadataIndex.SIGNATURES];
  if (!mdBytes || mdBytes.length === 0) return "no orderer signature";
  const md = common.Metadata.deserializeBinary(mdBytes);
  const sigs = md.getSignaturesList();
  if (sigs.length === 0) return "no orderer signature";
  const headerBytes = blockHeaderBytes(header);
  const signers: FabricIdentity[] = [];
  for (const [i, s] of sigs.entries()) {
    const shdr = common.SignatureHeader.deserializeBinary(s.getSignatureHeader_asU8());
    const id = validateIdentity(shdr.getCreator_asU8(), config.msps, atMs);
    if (!id.ok) return `orderer signature ${i}: ${id.reason}`;
    const problem = signatureProblem(id.identity.publicKey, concat(md.getValue_asU8(), s.getSignatureHeader_asU8(), headerBytes), s.getSignature_asU8());
    if (problem) return `orderer signature ${i} (${id.identity.mspId}): ${problem}`;
    signers.push(id.identity);
  }
  return satisfiesPolicy(config.orderer, "BlockValidation", signers) ? null : `orderer signatures by ${signers.map((s) => s.mspId).join(", ")} do not satisfy /Channel/Orderer/BlockValidation`;
}

export type FabricBlockCheck = { readonly ok: true; readonly header: BlockHeaderFields; readonly hash: Uint8Array; readonly block: common.Block } | { readonly ok: false; readonly reason: string };

/**
 * Checks a serialized block as the successor of `prev` (its number and header hash):
 * data hash, link, and orderer signatures judged at `atMs`. Never throws on bad bytes.
 */
export function checkFabricBlock(bytes: Uint8Array, prev: { readonly number: number; readonly hash: Uint8Array }, config: ChannelConfig, atMs: number): FabricBlockCheck {
  try {
    const block = common.Block.deserializeBinary(bytes);
    const header = headerOf(block);
    if (!header) return { ok: false, reason: "block has no header" };
    if (header.number !== prev.number + 1) return { ok: false, reason: `block ${header.number} is not the successor of ${prev.number}` };
    if (!equalBytes(header.dataHash, blockDataHash(block.getData()?.getDataList_asU8() ?? []))) return { ok: false, reason: `block ${header.number}: data_hash does not match its envelopes` };
    if (!equalBytes(header.previousHash, prev.hash)) return { ok: false, reason: `block ${header.number}'s previous_hash is not the hash of block ${prev.number}` };
    const sig = ordererSignatureProblem(block, header, config, atMs);
    if (sig) return { ok: false, reason: `block ${header.number}: ${sig}` };
    return { ok: true, header, hash: blockHeaderHash(header), block };
  } catch (err) {
    return { ok: false, reason: `block does not decode: ${(err as Error).message}` };
  }
}

const LOCK_KEY = /^\u0000lock\u0000(0x[0-9a-f]{64})\u0000$/;

/** Lock ids written by each transaction the filter marks VALID that invokes `chaincode`. */
export function lockWritesOf(block: common.Block, chaincode: string): { readonly txIndex: number; readonly lockId: `0x${string}` }[] {
  const filter = block.getMetadata()?.getMetadataList_asU8()[common.BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array();
  const out: { txIndex: number; lockId: `0x${string}` }[] = [];
  block.getData()?.getDataList_asU8().forEach((envBytes, txIndex) => {
    if (filter[txIndex] !== peer.TxValidationCode.VALID) return;
    try {
      const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(envBytes).getPayload_asU8());
      const chdr = common.ChannelHeader.deserializeBinary(payload.getHeader()?.getChannelHeader_asU8() ?? new Uint8Array());
      if (chdr.getType() !== common.HeaderType.ENDORSER_TRANSACTION) return;
      for (const action of peer.Transaction.deserializeBinary(payload.getData_asU8()).getActionsList()) {
        const prp = peer.ProposalResponsePayload.deserializeBinary(peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8()).getAction()?.getProposalResponsePayload_asU8() ?? new Uint8Array());
        const cca = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
        if (cca.getChaincodeId()?.getName() !== chaincode) continue;
        for (const nsrw of ledger.rwset.TxReadWriteSet.deserializeBinary(cca.getResults_asU8()).getNsRwsetList()) {
          if (nsrw.getNamespace() !== chaincode) continue;
          for (const w of ledger.rwset.kvrwset.KVRWSet.deserializeBinary(nsrw.getRwset_asU8()).getWritesList()) {
            const m = LOCK_KEY.exec(w.getKey());
            if (m) out.push({ txIndex, lockId: m[1] as `0x${string}` });
          }
        }
      }
    } catch {
      // a transaction that does not decode writes nothing we can prove
    }
  });
  return out;
}
