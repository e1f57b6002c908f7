import type { Hex } from "../../chains/ledger.ts";
import type { Secp256k1DigestSigner } from "../../chains/signer.ts";
import { Signer as SoftwareKey } from "../../chains/consortium/crypto.ts";
import type { KeySource } from "../config.ts";
import { unlockKeystore } from "./keystore.ts";
import { resolveKey } from "../config.ts";
import { connectRemoteSecp256k1 } from "./remote-signer.ts";

/**
 * What signs for the relayer on a consortium or EVM chain. The daemon obtains one per chain
 * at start and hands it to the adapter, which only ever asks it to sign digests: with an
 * external signer (a signing service, an HSM) the daemon process never holds the key.
 * Fabric identities (P-256) get theirs in fabric-ledger.ts.
 */
export type RelayerSigner = Secp256k1DigestSigner & {
  /** "software": the key is in this process; "external": another process or an HSM holds it. */
  readonly kind: "software" | "external";
};

/** A key held in this process (unlocked from a keystore, a file or the environment). */
export class SoftwareSigner implements RelayerSigner {
  readonly kind = "software" as const;
  readonly curve = "secp256k1" as const;
  readonly address: Hex;
  readonly #signer: SoftwareKey;

  constructor(privateKey: string) {
    this.#signer = SoftwareKey.fromPrivateKey(privateKey);
    this.address = this.#signer.address as Hex;
  }

  async signDigest(digest: Uint8Array): Promise<Uint8Array> {
    return this.#signer.sign(digest);
  }

  /** Logs and JSON show the address only. */
  toJSON(): { address: Hex } {
    return { address: this.address };
  }
}

/** Obtain the signer a chain's `key` config names (keystore files may prompt; external signers are asked for their key). */
export async function unlockSigner(source: KeySource, where: string, prompt?: (q: string) => Promise<string>): Promise<RelayerSigner> {
  if ("signer" in source) return connectRemoteSecp256k1(source.signer, source.address as Hex | undefined);
  if ("keystore" in source) return new SoftwareSigner(await unlockKeystore(source, prompt));
  return new SoftwareSigner(resolveKey(source, where));
}
