/**
 * Reading blocks back: the per-transaction facts the Deliver service (filtered blocks),
 * the gateway's ChaincodeEvents and the adapter need, plus the checks anyone can run on a
 * block (data hash, previous-hash chain, orderer signature).
 */
import { common, peer } from "@hyperledger/fabric-protos";
import type { KeyObject } from "node:crypto";
import { verifyFabricSignature } from "./crypto.ts";
import { blockDataHash, blockHeaderBytes, blockHeaderHash } from "./protoutil.ts";

export interface BlockTx {
  readonly txId: string;
  readonly type: number;
  readonly code: number;
  readonly chaincodeId: string;
  readonly event: peer.ChaincodeEvent | null;
}

export function txsFilter(block: common.Block): Uint8Array {
  return block.getMetadata()!.getMetadataList_asU8()[common.BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array();
}

/** Decodes each envelope of a block far enough to name its tx, code, chaincode and event. */
export function decodeBlockTxs(block: common.Block): BlockTx[] {
  const filter = txsFilter(block);
  return block.getData()!.getDataList_asU8().map((envBytes, i) => decodeBlockTx(envBytes, filter[i] ?? peer.TxValidationCode.NOT_VALIDATED));
}

/** One envelope of a block, with its validation code (what decodeBlockTxs gives for it). */
export function decodeBlockTx(envBytes: Uint8Array, code: number): BlockTx {
  try {
    const env = common.Envelope.deserializeBinary(envBytes);
    const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
    const chdr = common.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8());
    let chaincodeId = "";
    let event: peer.ChaincodeEvent | null = null;
    if (chdr.getType() === common.HeaderType.ENDORSER_TRANSACTION) {
      const tx = peer.Transaction.deserializeBinary(payload.getData_asU8());
      const action = tx.getActionsList()[0];
      if (action) {
        const cap = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
        const prp = peer.ProposalResponsePayload.deserializeBinary(cap.getAction()!.getProposalResponsePayload_asU8());
        const cca = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
        return endorserTx(chdr.getTxId(), code, cca);
      }
    }
    return { txId: chdr.getTxId(), type: chdr.getType(), code, chaincodeId, event };
  } catch {
    return { txId: "", type: -1, code, chaincodeId: "", event: null };
  }
}

/** An endorser transaction's BlockTx from its decoded ChaincodeAction (the committer has it at hand). */
export function endorserTx(txId: string, code: number, cca: peer.ChaincodeAction): BlockTx {
  const evBytes = cca.getEvents_asU8();
  return {
    txId,
    type: common.HeaderType.ENDORSER_TRANSACTION,
    code,
    chaincodeId: cca.getChaincodeId()?.getName() ?? "",
    event: evBytes.length > 0 ? peer.ChaincodeEvent.deserializeBinary(evBytes) : null,
  };
}

/** The DeliverFiltered form of a block; `txs` when the caller has already decoded them. */
export function filteredBlockOf(block: common.Block, channel: string, txs: readonly BlockTx[] = decodeBlockTxs(block)): peer.FilteredBlock {
  const fb = new peer.FilteredBlock();
  fb.setChannelId(channel);
  fb.setNumber(block.getHeader()!.getNumber());
  for (const t of txs) {
    const ft = new peer.FilteredTransaction();
    ft.setTxid(t.txId);
    ft.setType(t.type as never);
    ft.setTxValidationCode(t.code as never);
    if (t.event) {
      const fe = new peer.ChaincodeEvent();
      fe.setChaincodeId(t.event.getChaincodeId());
      fe.setTxId(t.event.getTxId());
      fe.setEventName(t.event.getEventName());
      const fca = new peer.FilteredChaincodeAction();
      fca.setChaincodeEvent(fe);
      const fta = new peer.FilteredTransactionActions();
      fta.addChaincodeActions(fca);
      ft.setTransactionActions(fta);
    }
    fb.addFilteredTransactions(ft);
  }
  return fb;
}

export type BlockCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Checks block `b` on its own and against its predecessor: data_hash over the envelopes,
 * previous_hash = hash of the predecessor's header, and (for blocks after genesis) the
 * orderer's signature over value ‖ signature_header ‖ header bytes.
 */
export function verifyBlock(b: common.Block, prev: common.Block | null, ordererKey: KeyObject): BlockCheck {
  const h = b.getHeader();
  if (!h) return { ok: false, reason: "no header" };
  if (!Buffer.from(h.getDataHash_asU8()).equals(blockDataHash(b.getData()!))) return { ok: false, reason: "data_hash mismatch" };
  if (prev) {
    if (h.getNumber() !== prev.getHeader()!.getNumber() + 1) return { ok: false, reason: "not the successor" };
    if (!Buffer.from(h.getPreviousHash_asU8()).equals(blockHeaderHash(prev.getHeader()!))) return { ok: false, reason: "previous_hash mismatch" };
  }
  if (h.getNumber() === 0) return { ok: true };
  const mdBytes = b.getMetadata()!.getMetadataList_asU8()[common.BlockMetadataIndex.SIGNATURES];
  if (!mdBytes || mdBytes.length === 0) return { ok: false, reason: "no orderer signature" };
  const md = common.Metadata.deserializeBinary(mdBytes);
  const sigs = md.getSignaturesList();
  if (sigs.length === 0) return { ok: false, reason: "no orderer signature" };
  for (const s of sigs) {
    const msg = Buffer.concat([md.getValue_asU8(), s.getSignatureHeader_asU8(), blockHeaderBytes(h)]);
    const r = verifyFabricSignature(ordererKey, msg, s.getSignature_asU8());
    if (!r.ok) return { ok: false, reason: `orderer signature: ${r.reason}` };
  }
  return { ok: true };
}
