/**
 * Transaction authenticators: what follows the unsigned envelope in a signed tx, named by
 * its LAST byte so new schemes slot in without touching the envelope.
 *
 *   secp256k1 (last byte 27 or 28, 65 bytes): r || s || v over keccak256(unsigned), low-s;
 *     the sender is recovered (Ethereum keys: one key, the same address here and on EVM).
 *   P-256 (last byte 0x02, 129 bytes): x || y || r || s || 0x02, ECDSA P-256 with SHA-256
 *     over the unsigned bytes (what HSMs, Web Crypto and Fabric sign), low-s; the sender is
 *     address = last 20 bytes of keccak256(P256_ADDRESS_TAG || x || y) and the signature is
 *     verified by OpenSSL (node:crypto), about 5x faster than secp256k1 recovery in JS.
 *
 * Low-s in both schemes makes each tx's bytes (so its hash) unique for its content.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign as osslSign, verify as osslVerify } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { InvalidInputError } from "../errors.ts";
import { type Hex, concatBytes, fromHex, isHex, toHex } from "../../proofs/hex.ts";
import { keccak256 } from "../../proofs/consortium/domain.ts";
import { recoverAddress } from "../../proofs/consortium/signature.ts";
import { type Signer } from "./crypto.ts";

export type TxAuthScheme = "secp256k1" | "p256";

export const SECP256K1_AUTH_BYTES = 65;
export const P256_AUTH_BYTES = 129;
export const P256_SCHEME_BYTE = 0x02;
/** keccak256("isthmus.consortium.p256-address.v1"): keeps P-256 addresses apart from Ethereum ones. */
export const P256_ADDRESS_TAG = keccak256(new TextEncoder().encode("isthmus.consortium.p256-address.v1"));

const P256_N = p256.Point.Fn.ORDER;
const P256_HALF_N = P256_N >> 1n;
/** DER SubjectPublicKeyInfo prefix of an uncompressed P-256 key (id-ecPublicKey, prime256v1). */
const P256_SPKI_PREFIX = fromHex("0x3059301306072a8648ce3d020106082a8648ce3d030107034200", "spki prefix");

export type SplitTx =
  | { readonly ok: true; readonly scheme: TxAuthScheme; readonly unsigned: Uint8Array; readonly auth: Uint8Array }
  | { readonly ok: false; readonly reason: string };

/** Splits signed tx bytes into envelope and authenticator by the last byte. */
export function splitSignedTx(bytes: Uint8Array): SplitTx {
  const last = bytes[bytes.length - 1];
  const [scheme, size]: [TxAuthScheme, number] | [undefined, 0] =
    last === 27 || last === 28 ? ["secp256k1", SECP256K1_AUTH_BYTES] : last === P256_SCHEME_BYTE ? ["p256", P256_AUTH_BYTES] : [undefined, 0];
  if (!scheme) return { ok: false, reason: `unknown signature scheme (last byte ${last ?? "missing"})` };
  if (bytes.length <= size) return { ok: false, reason: "transaction too short" };
  return { ok: true, scheme, unsigned: bytes.subarray(0, bytes.length - size), auth: bytes.subarray(bytes.length - size) };
}

export type AuthResult = { readonly ok: true; readonly address: Hex } | { readonly ok: false; readonly reason: string };

/** The address that authorized `unsigned`, or why the authenticator is unusable. */
export function authenticate(scheme: TxAuthScheme, unsigned: Uint8Array, auth: Uint8Array): AuthResult {
  switch (scheme) {
    case "secp256k1":
      return recoverAddress(keccak256(unsigned), auth); // tx.ts remembers verified txs; no memo here
    case "p256":
      return verifyP256(unsigned, auth);
  }
}

export function p256Address(publicKeyXY: Uint8Array): Hex {
  return toHex(keccak256(concatBytes(P256_ADDRESS_TAG, publicKeyXY)).subarray(12));
}

const KEY_CACHE_SIZE = 20_000;
/** An imported P-256 key and the address it derives, or null when x || y is not a curve point. */
type ImportedKey = { readonly key: KeyObject; readonly address: Hex } | null;
// Importing a key into OpenSSL costs more than a verification, and its address a keccak: keep both.
const keyCache = new Map<string, ImportedKey>();

function p256Key(xy: Uint8Array): ImportedKey {
  const id = Buffer.from(xy.buffer, xy.byteOffset, xy.byteLength).toString("latin1");
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  let imported: ImportedKey;
  try {
    const key = createPublicKey({ key: Buffer.from(concatBytes(P256_SPKI_PREFIX, Uint8Array.of(0x04), xy)), format: "der", type: "spki" });
    imported = { key, address: p256Address(xy) };
  } catch {
    imported = null; // not a point on the curve
  }
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, imported);
  return imported;
}

function verifyP256(unsigned: Uint8Array, auth: Uint8Array): AuthResult {
  if (auth.length !== P256_AUTH_BYTES || auth[P256_AUTH_BYTES - 1] !== P256_SCHEME_BYTE) return { ok: false, reason: "P-256 authenticator is not 129 bytes ending in 0x02" };
  const xy = auth.subarray(0, 64);
  const r = toBigint(auth.subarray(64, 96));
  const s = toBigint(auth.subarray(96, 128));
  if (r < 1n || r >= P256_N) return { ok: false, reason: "signature r out of range" };
  if (s < 1n || s > P256_HALF_N) return { ok: false, reason: "signature s out of range (high-s)" };
  const imported = p256Key(xy);
  if (!imported) return { ok: false, reason: "P-256 public key is not a point on the curve" };
  const good = osslVerify("sha256", unsigned, { key: imported.key, dsaEncoding: "ieee-p1363" }, auth.subarray(64, 128));
  return good ? { ok: true, address: imported.address } : { ok: false, reason: "P-256 signature does not verify" };
}

/** A P-256 account key held by this process (OpenSSL signing; an HSM would sign the same bytes). */
export class P256Signer {
  readonly scheme = "p256" as const;
  readonly address: Hex;
  /** x || y (64 bytes). */
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  private constructor(secretKey: Uint8Array) {
    this.publicKey = p256.getPublicKey(secretKey, false).subarray(1);
    this.address = p256Address(this.publicKey);
    const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
    this.#key = createPrivateKey({
      key: { kty: "EC", crv: "P-256", d: b64(secretKey), x: b64(this.publicKey.subarray(0, 32)), y: b64(this.publicKey.subarray(32)) },
      format: "jwk",
    });
  }

  static fromPrivateKey(privateKey: string): P256Signer {
    if (!isHex(privateKey, 32)) throw new InvalidInputError("privateKey", "expected 32-byte 0x-hex");
    const key = fromHex(privateKey, "privateKey", 32);
    if (!p256.utils.isValidSecretKey(key)) throw new InvalidInputError("privateKey", "not a valid P-256 secret key");
    return new P256Signer(key);
  }

  /** The 129-byte authenticator for `unsigned`, low-s normalized. */
  authenticate(unsigned: Uint8Array): Uint8Array {
    const sig = osslSign("sha256", unsigned, { key: this.#key, dsaEncoding: "ieee-p1363" });
    let s = toBigint(sig.subarray(32, 64));
    if (s > P256_HALF_N) s = P256_N - s;
    const out = new Uint8Array(P256_AUTH_BYTES);
    out.set(this.publicKey, 0);
    out.set(sig.subarray(0, 32), 64);
    out.set(fromHex(`0x${s.toString(16).padStart(64, "0")}`, "s", 32), 96);
    out[128] = P256_SCHEME_BYTE;
    return out;
  }

  toJSON(): { address: Hex; scheme: "p256" } {
    return { address: this.address, scheme: "p256" };
  }
}

/** Who can sign a transaction: a secp256k1 `Signer` (Ethereum keys) or a `P256Signer`. */
export type TxSigner = Signer | P256Signer;

/** The authenticator `signer` produces for `unsigned`. */
export function txAuthenticator(signer: TxSigner, unsigned: Uint8Array): Uint8Array {
  return signer instanceof P256Signer ? signer.authenticate(unsigned) : signer.sign(keccak256(unsigned));
}

function toBigint(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`);
}
