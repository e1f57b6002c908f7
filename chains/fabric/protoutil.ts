/**
 * Fabric's hashing and message-nesting rules (fabric/protoutil). Signed or hashed bytes are
 * always the bytes as received, never re-serialized.
 */
import { common, peer } from "@hyperledger/fabric-protos";
import { sha256 } from "./crypto.ts";
import { encodeMessage } from "./protowire.ts";

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derInteger(v: number): Buffer {
  let hex = BigInt(v).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  let b = Buffer.from(hex, "hex");
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return derTlv(0x02, b);
}

/** protoutil.BlockHeaderBytes: DER SEQUENCE{INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash}. */
export function blockHeaderBytes(h: common.BlockHeader): Buffer {
  return derTlv(
    0x30,
    Buffer.concat([derInteger(h.getNumber()), derTlv(0x04, h.getPreviousHash_asU8()), derTlv(0x04, h.getDataHash_asU8())]),
  );
}

/** protoutil.BlockHeaderHash: what the next block's previous_hash holds. */
export function blockHeaderHash(h: common.BlockHeader): Buffer {
  return sha256(blockHeaderBytes(h));
}

/** protoutil.ComputeBlockDataHash (2.x): SHA-256 over the concatenated envelope bytes. */
export function blockDataHash(data: common.BlockData): Buffer {
  return sha256(...data.getDataList_asU8());
}

/** txID = hex(SHA256(nonce ‖ creator)) (protoutil.ComputeTxID). */
export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
  return sha256(nonce, creator).toString("hex");
}

export interface ParsedProposal {
  readonly signedProposal: peer.SignedProposal;
  /** The SignedProposal marshalled once, for each endorser's TRANSACTION message. */
  readonly signedProposalBytes: Uint8Array;
  readonly proposalBytes: Uint8Array;
  readonly proposal: peer.Proposal;
  readonly header: common.Header;
  readonly channelHeader: common.ChannelHeader;
  readonly signatureHeader: common.SignatureHeader;
  readonly chaincodeProposalPayload: peer.ChaincodeProposalPayload;
  readonly chaincodeName: string;
  readonly input: peer.ChaincodeInput;
  /** `input` marshalled once, the TRANSACTION payload every endorser sends its chaincode (as the peer marshals it). */
  readonly inputBytes: Uint8Array;
  readonly txId: string;
  /** The ChaincodeProposalPayload without its transient map (what the transaction carries). */
  readonly cppWithoutTransient: Uint8Array;
  /** SHA256(channel_header ‖ signature_header ‖ cppWithoutTransient). */
  readonly proposalHash: Buffer;
}

export class MalformedError extends Error {
  override name = "MalformedError";
}

export function parseSignedProposal(sp: peer.SignedProposal): ParsedProposal {
  try {
    const proposalBytes = sp.getProposalBytes_asU8();
    const proposal = peer.Proposal.deserializeBinary(proposalBytes);
    const header = common.Header.deserializeBinary(proposal.getHeader_asU8());
    const channelHeader = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
    const signatureHeader = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
    const cpp = peer.ChaincodeProposalPayload.deserializeBinary(proposal.getPayload_asU8());
    const cis = peer.ChaincodeInvocationSpec.deserializeBinary(cpp.getInput_asU8());
    const spec = cis.getChaincodeSpec();
    const input = spec?.getInput();
    const chaincodeName = spec?.getChaincodeId()?.getName() ?? "";
    if (!input || !chaincodeName) throw new MalformedError("chaincode spec has no input or chaincode id");
    const noTransient = new peer.ChaincodeProposalPayload();
    noTransient.setInput(cpp.getInput_asU8());
    const cppWithoutTransient = noTransient.serializeBinary();
    const proposalHash = sha256(header.getChannelHeader_asU8(), header.getSignatureHeader_asU8(), cppWithoutTransient);
    return {
      signedProposal: sp,
      signedProposalBytes: encodeMessage([
        [1, proposalBytes],
        [2, sp.getSignature_asU8()],
      ]),
      proposalBytes,
      proposal,
      header,
      channelHeader,
      signatureHeader,
      chaincodeProposalPayload: cpp,
      chaincodeName,
      input,
      inputBytes: input.serializeBinary(),
      txId: channelHeader.getTxId(),
      cppWithoutTransient,
      proposalHash,
    };
  } catch (err) {
    if (err instanceof MalformedError) throw err;
    throw new MalformedError(`error unmarshalling proposal: ${(err as Error).message}`);
  }
}

/** The txs filter and commit-status codes (peer.TxValidationCode). */
export const Code = peer.TxValidationCode;
export type CodeValue = number;

export function codeName(code: number): string {
  const entry = Object.entries(peer.TxValidationCode).find(([, v]) => v === code);
  return entry ? entry[0] : String(code);
}
