/**
 * Fabric's signature rule (fabric/bccsp/sw/ecdsa.go verifyECDSA): ECDSA over SHA-256, DER
 * ECDSA-Sig-Value, and s at most n/2 (bccsp/utils IsLowS) — a high-S signature is refused
 * even though it verifies. Untrusted bytes give a reason, never an exception.
 */
import { verify, type KeyObject } from "node:crypto";

/** Order of the P-256 group (SEC 2, 2.4.2). */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
export const P256_HALF_N = P256_N >> 1n;

/** Parses an ECDSA-Sig-Value (RFC 3279 2.2.3) of a P-256 signature; null on malformed input. */
export function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  let i = 2;
  const out: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (der[i] !== 0x02) return null;
    const len = der[i + 1]!;
    if (len === 0 || len > 33 || i + 2 + len > der.length) return null;
    out.push(BigInt("0x" + Buffer.from(der.subarray(i + 2, i + 2 + len)).toString("hex")));
    i += 2 + len;
  }
  return i === der.length ? { r: out[0]!, s: out[1]! } : null;
}

/** null when valid, else why not. */
export function signatureProblem(key: KeyObject, message: Uint8Array, signature: Uint8Array): string | null {
  const sig = parseDerSignature(signature);
  if (!sig) return "signature is not a DER ECDSA signature";
  if (sig.r <= 0n || sig.s <= 0n) return "signature R and S must be larger than zero";
  if (sig.s > P256_HALF_N) return "signature S is not in the lower half of the order (Fabric requires low-S)";
  try {
    return verify("sha256", message, { key, dsaEncoding: "der" }, signature) ? null : "signature does not verify";
  } catch (err) {
    return `signature does not verify: ${(err as Error).message}`;
  }
}
