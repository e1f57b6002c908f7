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

function bytesToBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + Buffer.from(b).toString("hex"));
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

/** ECDSA-SHA256 signature with s normalised to the lower half, DER-encoded (what Fabric accepts). */
export function signLowS(key: KeyObject, message: Uint8Array): Buffer {
  const raw = nodeSign("sha256", message, { key, dsaEncoding: "ieee-p1363" });
  const r = bytesToBig(raw.subarray(0, 32));
  let s = bytesToBig(raw.subarray(32));
  if (s > P256_HALF_N) s = P256_N - s;
  return encodeDerSignature(r, s);
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
 * (`sign` records them). Failures are not cached; the low-S and DER rules are part of the
 * checked result, so a cached answer is the answer verifyFabricSignature would give.
 */
export class SignatureChecks {
  readonly #keyIds = new WeakMap<KeyObject, Buffer>();
  readonly #known = new Set<string>();
  readonly #max: number;

  constructor(max = 50_000) {
    this.#max = max;
  }

  /** signLowS, remembering the signature as valid for the key's public half. */
  sign(privateKey: KeyObject, message: Uint8Array): Buffer {
    const sig = signLowS(privateKey, message);
    this.#remember(this.#entry(privateKey, message, sig));
    return sig;
  }

  verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): SignatureCheck {
    const entry = this.#entry(publicKey, message, signature);
    if (this.#known.has(entry)) return { ok: true };
    const r = verifyFabricSignature(publicKey, message, signature);
    if (r.ok) this.#remember(entry);
    return r;
  }

  #remember(entry: string): void {
    if (this.#known.size >= this.#max) this.#known.delete(this.#known.values().next().value!);
    this.#known.add(entry);
  }

  /** SHA-256 of the key's SPKI (so a private key and its certificate's public key agree), message and signature. */
  #entry(key: KeyObject, message: Uint8Array, signature: Uint8Array): string {
    let id = this.#keyIds.get(key);
    if (id === undefined) {
      const pub = key.type === "private" ? createPublicKey(key) : key;
      id = sha256(pub.export({ type: "spki", format: "der" }));
      this.#keyIds.set(key, id);
    }
    const sigLen = Buffer.alloc(4);
    sigLen.writeUInt32BE(signature.length);
    return sha256(id, sigLen, signature, message).toString("latin1");
  }
}
