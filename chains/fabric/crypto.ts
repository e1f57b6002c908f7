/**
 * Fabric's signature rules (fabric/bccsp/sw/ecdsa.go): ECDSA P-256 over SHA-256, DER-encoded,
 * and s must be at most n/2 ("low-S"); a high-S signature is refused even if it verifies.
 * node:crypto does not normalise s, so everything this network signs goes through signLowS.
 */
import { createHash, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

import { P256_HALF_N, P256_N, parseDerSignature } from "../../proofs/fabric/signature.ts";

// The DER rules and the group order are the offline verifier's (proofs/fabric), so the
// network and the proofs cannot disagree on what a well-formed signature is.
export { P256_HALF_N, P256_N, parseDerSignature };

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

function bigToDerInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  let b = Buffer.from(hex, "hex");
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

export function encodeDerSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([bigToDerInt(r), bigToDerInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

const N_BYTES = Buffer.from(P256_N.toString(16).padStart(64, "0"), "hex");
const HALF_N_BYTES = Buffer.from(P256_HALF_N.toString(16).padStart(64, "0"), "hex");

/** n − s for a 32-byte big-endian s < n (byte arithmetic: this runs for every signature made). */
function orderMinus(s: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32);
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const d = N_BYTES[i]! - s[i]! - borrow;
    out[i] = d & 0xff;
    borrow = d < 0 ? 1 : 0;
  }
  return out;
}

/** A DER INTEGER of a 32-byte big-endian unsigned value: minimal, with a 0x00 before a high bit. */
function derUnsigned(v: Uint8Array): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const pad = v[i]! & 0x80 ? 1 : 0;
  const out = Buffer.allocUnsafe(2 + pad + v.length - i);
  out[0] = 0x02;
  out[1] = pad + v.length - i;
  if (pad) out[2] = 0;
  out.set(v.subarray(i), 2 + pad);
  return out;
}

/** ECDSA-SHA256 signature with s normalised to the lower half, DER-encoded (what Fabric accepts). */
export function signLowS(key: KeyObject, message: Uint8Array): Buffer {
  const raw = nodeSign("sha256", message, { key, dsaEncoding: "ieee-p1363" });
  const r = raw.subarray(0, 32);
  let s: Uint8Array = raw.subarray(32);
  if (Buffer.compare(s, HALF_N_BYTES) > 0) s = orderMinus(s);
  const ri = derUnsigned(r);
  const si = derUnsigned(s);
  return Buffer.concat([Buffer.from([0x30, ri.length + si.length]), ri, si]);
}

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Fabric's verify: DER parse, low-S rule, then ECDSA-SHA256 over the message bytes. */
export function verifyFabricSignature(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): SignatureCheck {
  const sig = parseDerSignature(signature);
  if (!sig) return { ok: false, reason: "failed unmashalling signature" };
  if (sig.r <= 0n || sig.s <= 0n) return { ok: false, reason: "invalid signature, R and S must be larger than zero" };
  // fabric/bccsp/utils/ecdsa.go IsLowS
  if (sig.s > P256_HALF_N) return { ok: false, reason: "invalid S. Must be smaller than half the order" };
  const ok = nodeVerify("sha256", message, { key: publicKey, dsaEncoding: "der" }, signature);
  return ok ? { ok: true } : { ok: false, reason: "signature verification failed" };
}

/**
 * Signature checks answered once per exact (public key, message, signature): a triple that
 * verified once verifies always, so repeating the ECDSA work adds nothing. In this one-process
 * network the same envelope is checked by the orderer's ingress and again by the committer,
 * and the endorsements the committer checks were made by this network's own endorsers
 * (`sign` records them). A remembered triple is found by its signature bytes and answers only
 * when the key (SHA-256 of its SPKI) and the message bytes are identical too; anything else is
 * verified. Failures are not remembered; the low-S and DER rules are part of the checked
 * result, so a remembered answer is the answer verifyFabricSignature would give. Entries live
 * from endorsement or ingress until commit, so a few thousand cover the transactions in flight;
 * an evicted one is simply verified again.
 */
export class SignatureChecks {
  readonly #keyIds = new WeakMap<KeyObject, Buffer>();
  /** signature bytes (latin1) → the key id and a copy of the message it verified for */
  readonly #known = new Map<string, { keyId: Buffer; message: Buffer }>();
  readonly #max: number;

  constructor(max = 8_192) {
    this.#max = max;
  }

  /** signLowS, remembering the signature as valid for the key's public half. */
  sign(privateKey: KeyObject, message: Uint8Array): Buffer {
    const sig = signLowS(privateKey, message);
    this.#remember(this.#keyId(privateKey), message, sig);
    return sig;
  }

  verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): SignatureCheck {
    const keyId = this.#keyId(publicKey);
    const hit = this.#known.get(latin1(signature));
    if (hit && hit.keyId.equals(keyId) && hit.message.equals(message)) return { ok: true };
    const r = verifyFabricSignature(publicKey, message, signature);
    if (r.ok) this.#remember(keyId, message, signature);
    return r;
  }

  #remember(keyId: Buffer, message: Uint8Array, signature: Uint8Array): void {
    const k = latin1(signature);
    this.#known.delete(k); // re-inserted last, so eviction stays oldest-first
    if (this.#known.size >= this.#max) this.#known.delete(this.#known.keys().next().value!);
    // a copy: the caller's bytes may be a view into a larger buffer it reuses or frees
    this.#known.set(k, { keyId, message: Buffer.from(message) });
  }

  /** SHA-256 of the key's SPKI, so a private key and its certificate's public key agree. */
  #keyId(key: KeyObject): Buffer {
    let id = this.#keyIds.get(key);
    if (id === undefined) {
      const pub = key.type === "private" ? createPublicKey(key) : key;
      id = sha256(pub.export({ type: "spki", format: "der" }));
      this.#keyIds.set(key, id);
    }
    return id;
  }
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}
