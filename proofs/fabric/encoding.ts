/**
 * Fabric's hashing rules (fabric/protoutil), recomputed from the bytes as received:
 * block header bytes are DER SEQUENCE{INTEGER number, OCTET STRING previous_hash,
 * OCTET STRING data_hash} (protoutil.BlockHeaderBytes), the header hash is SHA-256 of them,
 * the data hash is SHA-256 over the concatenated envelopes (protoutil.ComputeBlockDataHash,
 * 2.x), and a txID is hex(SHA-256(nonce ‖ creator)) (protoutil.ComputeTxID).
 */
import { createHash } from "node:crypto";

export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}

function derTlv(tag: number, body: Uint8Array): Uint8Array {
  return concat(Uint8Array.from([tag, ...derLength(body.length)]), body);
}

function derUint(v: number): Uint8Array {
  let hex = BigInt(v).toString(16);
  if (hex.length % 2) hex = "0" + hex;
  let b: Uint8Array = Uint8Array.from(Buffer.from(hex, "hex"));
  if (b[0]! & 0x80) b = concat(Uint8Array.of(0), b);
  return derTlv(0x02, b);
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface BlockHeaderFields {
  readonly number: number;
  readonly previousHash: Uint8Array;
  readonly dataHash: Uint8Array;
}

export function blockHeaderBytes(h: BlockHeaderFields): Uint8Array {
  return derTlv(0x30, concat(derUint(h.number), derTlv(0x04, h.previousHash), derTlv(0x04, h.dataHash)));
}

export function blockHeaderHash(h: BlockHeaderFields): Uint8Array {
  return sha256(blockHeaderBytes(h));
}

export function blockDataHash(envelopes: readonly Uint8Array[]): Uint8Array {
  return sha256(...envelopes);
}

export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
  return Buffer.from(sha256(nonce, creator)).toString("hex");
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

export function hexOf(b: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(b).toString("hex")}`;
}
