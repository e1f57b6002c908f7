/**
 * Fabric's hashing and message-nesting rules (fabric/protoutil). Signed or hashed bytes are
 * always the bytes as received, never re-serialized.
 */
import { common, peer } from "@hyperledger/fabric-protos";
import { sha256 } from "./crypto.ts";
import { encodeMessage, WireReader } from "./protowire.ts";

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

/** What a proposal check reads of a SignedProposal (google-protobuf's, or EndorseRequestIn's). */
export interface SignedProposalLike {
  getProposalBytes_asU8(): Uint8Array;
  getSignature_asU8(): Uint8Array;
}

export interface ParsedProposal {
  readonly signedProposal: SignedProposalLike;
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

export function parseSignedProposal(sp: SignedProposalLike): ParsedProposal {
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
    // ChaincodeProposalPayload{input} without the transient map (google-protobuf's bytes)
    const cppWithoutTransient = encodeMessage([[1, cpp.getInput_asU8()]]);
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

/**
 * A gateway SubmitRequest{transaction_id, channel_id, prepared_transaction: Envelope{payload,
 * signature}} read straight from its bytes (one per transaction), with google-protobuf's
 * readings: the last occurrence of a field wins, unknown fields are passed over; a truncated
 * message or a known field with another wire type is refused (the call fails as when
 * google-protobuf cannot decode it).
 */
export class SubmitRequestIn {
  transactionId = "";
  channelId = "";
  /** the prepared transaction, if the request carries one */
  envelope: { readonly payload: Uint8Array; readonly signature: Uint8Array } | null = null;

  constructor(bytes: Uint8Array) {
    const r = new WireReader(bytes);
    while (r.next()) {
      if (r.field === 1) {
        r.expect(2);
        this.transactionId = r.string();
      } else if (r.field === 2) {
        r.expect(2);
        this.channelId = r.string();
      } else if (r.field === 3) {
        r.expect(2);
        const [payload, signature] = bytesFields12(r.bytes());
        this.envelope = { payload, signature };
      } else r.skip();
    }
  }

  /** The Envelope as google-protobuf serializes it: what the orderer puts in the block. */
  envelopeBytes(): Buffer {
    const e = this.envelope!;
    return encodeMessage([
      [1, e.payload],
      [2, e.signature],
    ]);
  }
}

const EMPTY_BYTES: Uint8Array = new Uint8Array();

/** Fields 1 and 2 of a message whose two fields are bytes (Envelope, SignedProposal); absent ones empty. */
function bytesFields12(bytes: Uint8Array): readonly [Uint8Array, Uint8Array] {
  const e = new WireReader(bytes);
  let first = EMPTY_BYTES;
  let second = EMPTY_BYTES;
  while (e.next()) {
    if (e.field === 1) {
      e.expect(2);
      first = e.bytes();
    } else if (e.field === 2) {
      e.expect(2);
      second = e.bytes();
    } else e.skip();
  }
  return [first, second];
}

/** A SignedProposal's two fields, as read from an EndorseRequest. */
class SignedProposalIn implements SignedProposalLike {
  constructor(
    readonly proposalBytes: Uint8Array,
    readonly signature: Uint8Array,
  ) {}
  getProposalBytes_asU8(): Uint8Array {
    return this.proposalBytes;
  }
  getSignature_asU8(): Uint8Array {
    return this.signature;
  }
}

/**
 * A gateway EndorseRequest{transaction_id, channel_id, proposed_transaction: SignedProposal,
 * endorsing_organizations} read straight from its bytes (one per transaction), with
 * google-protobuf's readings as SubmitRequestIn: the last occurrence of a singular field wins,
 * repeated strings accumulate, unknown fields are passed over.
 */
export class EndorseRequestIn {
  transactionId = "";
  channelId = "";
  proposedTransaction: SignedProposalLike | undefined = undefined;
  readonly endorsingOrganizations: string[] = [];

  constructor(bytes: Uint8Array) {
    const r = new WireReader(bytes);
    while (r.next()) {
      if (r.field === 1) {
        r.expect(2);
        this.transactionId = r.string();
      } else if (r.field === 2) {
        r.expect(2);
        this.channelId = r.string();
      } else if (r.field === 3) {
        r.expect(2);
        const [proposal, signature] = bytesFields12(r.bytes());
        this.proposedTransaction = new SignedProposalIn(proposal, signature);
      } else if (r.field === 4) {
        r.expect(2);
        this.endorsingOrganizations.push(r.string());
      } else r.skip();
    }
  }
}

/** The txs filter and commit-status codes (peer.TxValidationCode). */
export const Code = peer.TxValidationCode;
export type CodeValue = number;

export function codeName(code: number): string {
  const entry = Object.entries(peer.TxValidationCode).find(([, v]) => v === code);
  return entry ? entry[0] : String(code);
}
