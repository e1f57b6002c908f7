import { IsthmusError } from "../../chains/errors.ts";
import type { Hex } from "../../chains/ledger.ts";
import { Signer as SoftwareKey } from "../../chains/consortium/crypto.ts";
import type { KeySource } from "../config.ts";
import { unlockKeystore } from "./keystore.ts";
import { resolveKey } from "../config.ts";

/**
 * What signs for the relayer on one chain. The daemon obtains one per chain at start and
 * never sees key material through it; a hardware security module implements the same
 * interface (address + digest signing) and plugs in at `unlockSigner`.
 */
export interface RelayerSigner {
  readonly address: Hex;
  /** "software": the key is in this process; "external": an HSM or remote signer holds it. */
  readonly kind: "software" | "external";
  /** 65 bytes r || s || v (v = 27/28) over a 32-byte digest, RFC 6979, low-s. */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

/**
 * The chain adapters of this version sign in-process and take the raw key; a signer that
 * cannot hand one over (an HSM) is refused for them with this error rather than half-working.
 */
export class SignerNotExportableError extends IsthmusError {
  override name = "SignerNotExportableError";
  constructor(chain: string) {
    super("SIGNER_NOT_EXPORTABLE", `chain ${chain}: its adapter signs in-process and needs a software key; external signers are not wired to adapters yet`, { chain });
  }
}

/** A key held in this process (unlocked from a keystore, a file or the environment). */
export class SoftwareSigner implements RelayerSigner {
  readonly kind = "software" as const;
  readonly address: Hex;
  readonly #key: string;
  readonly #signer: SoftwareKey;

  constructor(privateKey: string) {
    this.#signer = SoftwareKey.fromPrivateKey(privateKey);
    this.#key = privateKey;
    this.address = this.#signer.address as Hex;
  }

  async signDigest(digest: Uint8Array): Promise<Uint8Array> {
    return this.#signer.sign(digest);
  }

  /** For the in-process adapters only. */
  exportKey(): string {
    return this.#key;
  }

  /** Logs and JSON show the address only. */
  toJSON(): { address: Hex } {
    return { address: this.address };
  }
}

/** Unlock the signer a chain's `key` config names (keystore files may prompt). */
export async function unlockSigner(source: KeySource, where: string, prompt?: (q: string) => Promise<string>): Promise<RelayerSigner> {
  if ("keystore" in source) return new SoftwareSigner(await unlockKeystore(source, prompt));
  return new SoftwareSigner(resolveKey(source, where));
}

/** The raw key an in-process adapter needs, or a typed refusal. */
export function adapterKey(signer: RelayerSigner, chain: string): string {
  if (signer instanceof SoftwareSigner) return signer.exportKey();
  throw new SignerNotExportableError(chain);
}
