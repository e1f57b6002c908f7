/**
 * Fabric's signature rules (fabric/bccsp/sw/ecdsa.go): ECDSA P-256 over SHA-256, DER-encoded,
 * and s must be at most n/2 ("low-S"); a high-S signature is refused even if it verifies.
 * node:crypto does not normalise s, so everything this network signs goes through signLowS.
 */
import { createHash, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

/** Order of the P-256 group (SEC 2, 2.4.2). */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const P256_HALF_N = P256_N >> 1n;

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

/** Parses an ECDSA-Sig-Value (RFC 3279 2.2.3); null on malformed input (untrusted bytes never throw). */
export function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } | null {
  const b = Buffer.from(der);
  if (b.length < 8 || b[0] !== 0x30 || b[1] !== b.length - 2) return null;
  let i = 2;
  const out: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (b[i] !== 0x02) return null;
    const len = b[i + 1]!;
    if (len === 0 || i + 2 + len > b.length) return null;
    out.push(bytesToBig(b.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  if (i !== b.length) return null;
  return { r: out[0]!, s: out[1]! };
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
