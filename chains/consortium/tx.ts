/**
 * Transactions. A signed transaction is
 *   unsigned = abi.encode(bytes32 tag, uint256 chainId, address from, uint64 nonce, uint8 kind, bytes body)
 *   bytes    = unsigned || authenticator (tx-auth.ts: secp256k1 r || s || v over
 *              keccak256(unsigned), or P-256 x || y || r || s || 0x02; the last byte names it)
 *   hash     = keccak256(bytes)
 * `from` is declared and must equal the address the authenticator proves, so a
 * tampered signature reads as BAD_SIGNATURE rather than as some unrelated account.
 * Each process verifies a tx's signature once: `checkTxStateless` remembers verified tx
 * hashes (the hash covers the signature), so mempool admission, proposing and checking a
 * block do not pay for it again.
 *
 * Bodies (kind: abi types):
 *   1 transfer: (address to, string asset, uint256 amount)
 *   2 issue:    (address to, string asset, uint256 amount)
 *   3 lock:     (address receiver, string asset, uint256 amount, bytes32 hashlock, uint64 timelock)
 *   4 claim:    (bytes32 lockId, bytes32 preimage)
 *   5 refund:   (bytes32 lockId)
 *   6 bond:     (uint256 amount)            ISTH from the sender's balance to its validator stake
 *   7 unbond:   (uint256 amount)            stake back to the balance after the unbonding period
 *   8 evidence: (uint64 height, uint32 round, uint8 voteType, bytes32 blockHashA, uint64 timeMsA,
 *                bytes signatureA, bytes32 blockHashB, uint64 timeMsB, bytes signatureB)
 *               two conflicting votes of one validator (proofs/consortium/evidence.ts); anyone may submit
 *   9 delegate:   (address validator, uint256 amount)   ISTH from the sender's balance to that validator's power
 *  10 undelegate: (address validator, uint256 amount)   back to the balance after the unbonding period
 *  11 endpoint:   (string p2pEndpoint)                  a validator announces where its peers reach it ("host:port")
 */
import { abiDecode, abiEncode } from "../../proofs/abi.ts";
import { type Hex, concatBytes, fromHex, toHex } from "../../proofs/hex.ts";
import { CONSORTIUM_SCHEME, ZERO_ADDRESS, keccak256 } from "../../proofs/consortium/domain.ts";
import { ASSET_SYMBOL_RE } from "../../proofs/consortium/state.ts";
import { type DuplicateVoteEvidence, evidenceProblem } from "../../proofs/consortium/evidence.ts";
import { endpointProblem } from "../../proofs/consortium/staking.ts";
import { reject, TxErrorCode } from "./codes.ts";
import type { Secp256k1DigestSigner } from "../signer.ts";
import { authenticate, splitSignedTx, type TxAuthScheme, txAuthenticator, type TxSigner } from "./tx-auth.ts";

export const MAX_TX_BYTES = 4096;

export type TxBody =
  | { readonly kind: "transfer"; readonly to: Hex; readonly asset: string; readonly amount: bigint }
  | { readonly kind: "issue"; readonly to: Hex; readonly asset: string; readonly amount: bigint }
  | { readonly kind: "lock"; readonly receiver: Hex; readonly asset: string; readonly amount: bigint; readonly hashlock: Hex; readonly timelock: number }
  | { readonly kind: "claim"; readonly lockId: Hex; readonly preimage: Hex }
  | { readonly kind: "refund"; readonly lockId: Hex }
  | { readonly kind: "bond"; readonly amount: bigint }
  | { readonly kind: "unbond"; readonly amount: bigint }
  | { readonly kind: "evidence"; readonly evidence: DuplicateVoteEvidence }
  | { readonly kind: "delegate"; readonly validator: Hex; readonly amount: bigint }
  | { readonly kind: "undelegate"; readonly validator: Hex; readonly amount: bigint }
  | { readonly kind: "endpoint"; readonly endpoint: string };

export type TxKind = TxBody["kind"];

export interface UnsignedTx {
  readonly chainId: number;
  readonly from: Hex;
  readonly nonce: number;
  readonly body: TxBody;
}

export interface SignedTx extends UnsignedTx {
  readonly scheme: TxAuthScheme;
  /** The authenticator (65-byte secp256k1 signature, or P-256 key + signature + 0x02). */
  readonly signature: Hex;
  readonly hash: Hex;
  /** The signed bytes; never mutate them (decoding is memoized by this array's identity). */
  readonly bytes: Uint8Array;
}

const KIND_CODE: Record<TxKind, number> = { transfer: 1, issue: 2, lock: 3, claim: 4, refund: 5, bond: 6, unbond: 7, evidence: 8, delegate: 9, undelegate: 10, endpoint: 11 };
const TX_TYPES = ["bytes32", "uint256", "address", "uint64", "uint8", "bytes"] as const;
const AMOUNT_TYPES = ["address", "string", "uint256"] as const;
const LOCK_TYPES = ["address", "string", "uint256", "bytes32", "uint64"] as const;
const CLAIM_TYPES = ["bytes32", "bytes32"] as const;
const REFUND_TYPES = ["bytes32"] as const;
const STAKE_TYPES = ["uint256"] as const;
const DELEGATION_TYPES = ["address", "uint256"] as const;
const ENDPOINT_TYPES = ["string"] as const;
const EVIDENCE_TYPES = ["uint64", "uint32", "uint8", "bytes32", "uint64", "bytes", "bytes32", "uint64", "bytes"] as const;

export function encodeBody(body: TxBody): Uint8Array {
  switch (body.kind) {
    case "transfer":
    case "issue":
      return abiEncode(AMOUNT_TYPES, [body.to, body.asset, body.amount]);
    case "lock":
      return abiEncode(LOCK_TYPES, [body.receiver, body.asset, body.amount, body.hashlock, body.timelock]);
    case "claim":
      return abiEncode(CLAIM_TYPES, [body.lockId, body.preimage]);
    case "refund":
      return abiEncode(REFUND_TYPES, [body.lockId]);
    case "bond":
    case "unbond":
      return abiEncode(STAKE_TYPES, [body.amount]);
    case "evidence": {
      const e = body.evidence;
      return abiEncode(EVIDENCE_TYPES, [e.height, e.round, e.voteType, e.a.blockHash, e.a.timeMs, fromHex(e.a.signature, "signature"), e.b.blockHash, e.b.timeMs, fromHex(e.b.signature, "signature")]);
    }
    case "delegate":
    case "undelegate":
      return abiEncode(DELEGATION_TYPES, [body.validator, body.amount]);
    case "endpoint":
      return abiEncode(ENDPOINT_TYPES, [body.endpoint]);
  }
}

export function encodeUnsignedTx(tx: UnsignedTx): Uint8Array {
  return abiEncode(TX_TYPES, [CONSORTIUM_SCHEME.tags.tx, tx.chainId, tx.from, tx.nonce, KIND_CODE[tx.body.kind], encodeBody(tx.body)]);
}

export function txSigningDigest(tx: UnsignedTx): Uint8Array {
  return keccak256(encodeUnsignedTx(tx));
}

/** Signs as `signer`; checks the body first so a malformed tx is never signed. */
export function signTx(signer: TxSigner, tx: Omit<UnsignedTx, "from">): SignedTx {
  const problem = bodyProblem(tx.body);
  if (problem) throw reject(TxErrorCode.MALFORMED_TX, problem);
  const unsigned: UnsignedTx = { ...tx, from: signer.address };
  const unsignedBytes = encodeUnsignedTx(unsigned);
  return decodeTx(concatBytes(unsignedBytes, txAuthenticator(signer, unsignedBytes))); // canonical (lower-case) fields
}

/** signTx for a signer that may live elsewhere (another process, an HSM): the same bytes, signed asynchronously. */
export async function signTxWith(signer: Secp256k1DigestSigner, tx: Omit<UnsignedTx, "from">): Promise<SignedTx> {
  const problem = bodyProblem(tx.body);
  if (problem) throw reject(TxErrorCode.MALFORMED_TX, problem);
  const unsignedBytes = encodeUnsignedTx({ ...tx, from: signer.address });
  const signature = await signer.signDigest(keccak256(unsignedBytes));
  // secp256k1's authenticator (tx-auth.ts): r || s || v, v = 27/28 naming the scheme too.
  if (signature.length !== 65) throw reject(TxErrorCode.MALFORMED_TX, `the signer returned ${signature.length} bytes, expected 65`);
  return decodeTx(concatBytes(unsignedBytes, signature));
}

export function txHashOf(bytes: Uint8Array): Hex {
  return decodedByBytes.get(bytes)?.hash ?? toHex(keccak256(bytes));
}

/** keccak256 of signed tx bytes, as bytes: remembered for decoded txs (txRoot leaves reuse it). */
export function txHashBytesOf(bytes: Uint8Array): Uint8Array {
  return hashBytesByBytes.get(bytes) ?? keccak256(bytes);
}

/**
 * Decoded txs by the identity of their `bytes` (a SignedTx's own copy, never mutated): the
 * mempool hands those same arrays to the proposer and to compact-proposal assembly, so a
 * block of pooled txs is not decoded and hashed again. Other arrays are decoded afresh.
 */
const decodedByBytes = new WeakMap<Uint8Array, SignedTx>();
/** The same txs' hashes as bytes (SignedTx.hash is its hex). */
const hashBytesByBytes = new WeakMap<Uint8Array, Uint8Array>();

/** Parses signed tx bytes strictly; throws MALFORMED_TX. Does not check chain id or signature. */
export function decodeTx(bytes: Uint8Array): SignedTx {
  const known = decodedByBytes.get(bytes);
  if (known) return known;
  if (!(bytes instanceof Uint8Array)) throw reject(TxErrorCode.MALFORMED_TX, "transaction is not bytes");
  if (bytes.length > MAX_TX_BYTES) throw reject(TxErrorCode.MALFORMED_TX, `transaction is ${bytes.length} bytes, limit ${MAX_TX_BYTES}`);
  const split = splitSignedTx(bytes);
  if (!split.ok) throw reject(TxErrorCode.MALFORMED_TX, split.reason);
  const outer = abiDecode(TX_TYPES, split.unsigned);
  if (!outer.ok) throw reject(TxErrorCode.MALFORMED_TX, `envelope: ${outer.reason}`);
  const [tag, chainId, from, nonce, kindCode, bodyBytes] = outer.values;
  if (tag !== CONSORTIUM_SCHEME.tags.tx) throw reject(TxErrorCode.MALFORMED_TX, "not a consortium transaction (domain tag)");
  if (chainId > BigInt(Number.MAX_SAFE_INTEGER)) throw reject(TxErrorCode.MALFORMED_TX, "chain id too large");
  if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) throw reject(TxErrorCode.MALFORMED_TX, "nonce too large");
  const body = decodeBody(Number(kindCode), bodyBytes);
  const problem = bodyProblem(body);
  if (problem) throw reject(TxErrorCode.MALFORMED_TX, problem);
  const copy = bytes.slice();
  const hash = keccak256(copy);
  const tx: SignedTx = {
    chainId: Number(chainId),
    from,
    nonce: Number(nonce),
    body,
    scheme: split.scheme,
    signature: toHex(split.auth),
    hash: toHex(hash),
    bytes: copy,
  };
  decodedByBytes.set(copy, tx);
  hashBytesByBytes.set(copy, hash);
  return tx;
}

/**
 * Everything checkable without state: well-formed, for this chain, signed by `from`.
 * Throws MALFORMED_TX, WRONG_CHAIN_ID or BAD_SIGNATURE, in that order.
 */
export function checkTxStateless(bytes: Uint8Array, chainId: number): SignedTx {
  const tx = decodeTx(bytes);
  if (tx.chainId !== chainId) throw reject(TxErrorCode.WRONG_CHAIN_ID, `transaction is for chain ${tx.chainId}, this is chain ${chainId}`, { txHash: tx.hash });
  if (verifiedSenders.get(tx.hash) === tx.from) return tx;
  const split = splitSignedTx(tx.bytes);
  if (!split.ok) throw reject(TxErrorCode.MALFORMED_TX, split.reason, { txHash: tx.hash }); // decodeTx already split it
  const signer = authenticate(split.scheme, split.unsigned, split.auth);
  if (!signer.ok) throw reject(TxErrorCode.BAD_SIGNATURE, signer.reason, { txHash: tx.hash });
  if (signer.address !== tx.from) {
    throw reject(TxErrorCode.BAD_SIGNATURE, `signature is by ${signer.address}, not by sender ${tx.from}`, { txHash: tx.hash });
  }
  if (verifiedSenders.size >= VERIFIED_MEMORY) verifiedSenders.delete(verifiedSenders.keys().next().value!);
  verifiedSenders.set(tx.hash, tx.from);
  return tx;
}

/**
 * Records that `tx`'s authenticator was verified to be by `address` elsewhere in this
 * process (verify-pool.ts runs `authenticate` on these exact bytes in a worker thread), so
 * `checkTxStateless` skips it. Only a verifier of the same bytes may call this.
 */
export function rememberVerifiedSender(tx: SignedTx, address: Hex): void {
  if (address !== tx.from) return;
  if (verifiedSenders.size >= VERIFIED_MEMORY) verifiedSenders.delete(verifiedSenders.keys().next().value!);
  verifiedSenders.set(tx.hash, address);
}

/** Whether `checkTxStateless` would still verify `tx`'s signature. */
export function signatureUnchecked(tx: SignedTx): boolean {
  return verifiedSenders.get(tx.hash) !== tx.from;
}

/** Enough for the mempool's whole capacity plus a few blocks of gossip. */
const VERIFIED_MEMORY = 100_000;
/** tx hash → its verified sender. The hash is over the whole signed bytes, so a hit means identical bytes. */
const verifiedSenders = new Map<Hex, Hex>();

function decodeBody(kind: number, data: Uint8Array): TxBody {
  const fail = (reason: string) => reject(TxErrorCode.MALFORMED_TX, `body: ${reason}`);
  switch (kind) {
    case KIND_CODE.transfer:
    case KIND_CODE.issue: {
      const d = abiDecode(AMOUNT_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      const [to, asset, amount] = d.values;
      return { kind: kind === KIND_CODE.transfer ? "transfer" : "issue", to, asset, amount };
    }
    case KIND_CODE.lock: {
      const d = abiDecode(LOCK_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      const [receiver, asset, amount, hashlock, timelock] = d.values;
      if (timelock > BigInt(Number.MAX_SAFE_INTEGER)) throw fail("timelock too large");
      return { kind: "lock", receiver, asset, amount, hashlock, timelock: Number(timelock) };
    }
    case KIND_CODE.claim: {
      const d = abiDecode(CLAIM_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      return { kind: "claim", lockId: d.values[0], preimage: d.values[1] };
    }
    case KIND_CODE.refund: {
      const d = abiDecode(REFUND_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      return { kind: "refund", lockId: d.values[0] };
    }
    case KIND_CODE.bond:
    case KIND_CODE.unbond: {
      const d = abiDecode(STAKE_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      return { kind: kind === KIND_CODE.bond ? "bond" : "unbond", amount: d.values[0] };
    }
    case KIND_CODE.evidence: {
      const d = abiDecode(EVIDENCE_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      const [height, round, voteType, hashA, timeA, sigA, hashB, timeB, sigB] = d.values;
      for (const n of [height, timeA, timeB]) if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw fail("evidence height or time too large");
      if (voteType !== 1n && voteType !== 2n) throw fail("evidence vote type must be 1 (prevote) or 2 (precommit)");
      return {
        kind: "evidence",
        evidence: {
          height: Number(height),
          round: Number(round),
          voteType: Number(voteType) as 1 | 2,
          a: { blockHash: hashA, timeMs: Number(timeA), signature: toHex(sigA) },
          b: { blockHash: hashB, timeMs: Number(timeB), signature: toHex(sigB) },
        },
      };
    }
    case KIND_CODE.delegate:
    case KIND_CODE.undelegate: {
      const d = abiDecode(DELEGATION_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      return { kind: kind === KIND_CODE.delegate ? "delegate" : "undelegate", validator: d.values[0], amount: d.values[1] };
    }
    case KIND_CODE.endpoint: {
      const d = abiDecode(ENDPOINT_TYPES, data);
      if (!d.ok) throw fail(d.reason);
      return { kind: "endpoint", endpoint: d.values[0] };
    }
    default:
      throw fail(`unknown transaction kind ${kind}`);
  }
}

/** Field rules shared by signing and decoding. */
function bodyProblem(body: TxBody): string | undefined {
  switch (body.kind) {
    case "transfer":
    case "issue":
      if (body.to === ZERO_ADDRESS) return "recipient is the zero address";
      return amountProblem(body.asset, body.amount);
    case "lock":
      if (body.receiver === ZERO_ADDRESS) return "receiver is the zero address";
      if (!Number.isSafeInteger(body.timelock) || body.timelock <= 0) return "timelock must be a positive integer (unix seconds)";
      return amountProblem(body.asset, body.amount);
    case "claim":
    case "refund":
      return undefined;
    case "bond":
    case "unbond":
      return body.amount > 0n ? undefined : "amount must be positive";
    case "evidence":
      return evidenceProblem(body.evidence);
    case "delegate":
    case "undelegate":
      if (body.validator === ZERO_ADDRESS) return "validator is the zero address";
      return body.amount > 0n ? undefined : "amount must be positive";
    case "endpoint":
      return endpointProblem(body.endpoint);
  }
}

function amountProblem(asset: string, amount: bigint): string | undefined {
  if (!ASSET_SYMBOL_RE.test(asset)) return `invalid asset symbol ${JSON.stringify(asset)}`;
  if (amount <= 0n) return "amount must be positive";
  return undefined;
}
