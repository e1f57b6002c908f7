import type { Hex } from "./ledger.ts";

/**
 * What signs for an adapter's account when the key is not handed to the adapter: a key held
 * in another process, a remote signing service or an HSM. One interface per curve, because
 * the chains disagree on what a signature is.
 */

/** Consortium and EVM accounts: 65 bytes r || s || v (v = 27/28) over a 32-byte digest, low-s. */
export interface Secp256k1DigestSigner {
  readonly curve: "secp256k1";
  readonly address: Hex;
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

/** Fabric identities (X.509, ECDSA P-256): an ASN.1 DER signature over a SHA-256 digest, low-s as Fabric requires. */
export interface P256DigestSigner {
  readonly curve: "p256";
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

export type DigestSigner = Secp256k1DigestSigner | P256DigestSigner;
