import {
  AbstractSigner,
  hashMessage,
  Signature,
  Transaction,
  TypedDataEncoder,
  getBytes,
  hexlify,
  resolveAddress,
  type Provider,
  type TransactionLike,
  type TransactionRequest,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import { InvalidInputError } from "../errors.ts";
import type { Secp256k1DigestSigner } from "../signer.ts";

/**
 * An ethers signer whose key lives behind a Secp256k1DigestSigner (another process, an HSM):
 * ethers builds and hashes the transaction, only the 32-byte digest goes out to be signed.
 */
export class DigestSignerWallet extends AbstractSigner {
  readonly address: string;
  readonly #signer: Secp256k1DigestSigner;

  constructor(signer: Secp256k1DigestSigner, provider: Provider | null = null) {
    super(provider);
    this.#signer = signer;
    this.address = signer.address;
  }

  async getAddress(): Promise<string> {
    return this.address;
  }

  connect(provider: Provider | null): DigestSignerWallet {
    return new DigestSignerWallet(this.#signer, provider);
  }

  async signTransaction(request: TransactionRequest): Promise<string> {
    const { to, from } = await Promise.all([
      request.to ? resolveAddress(request.to, this.provider) : undefined,
      request.from ? resolveAddress(request.from, this.provider) : undefined,
    ]).then(([t, f]) => ({ to: t, from: f }));
    if (from !== undefined && from.toLowerCase() !== this.address.toLowerCase()) {
      throw new InvalidInputError("transaction.from", `is ${from}, but this signer is ${this.address}`);
    }
    const tx = Transaction.from({ ...request, to: to ?? null, from: undefined } as TransactionLike<string>);
    tx.signature = await this.#sign(tx.unsignedHash);
    return tx.serialized;
  }

  async signMessage(message: string | Uint8Array): Promise<string> {
    return (await this.#sign(hashMessage(message))).serialized;
  }

  async signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return (await this.#sign(TypedDataEncoder.hash(domain, types, value))).serialized;
  }

  async #sign(digestHex: string): Promise<Signature> {
    const raw = await this.#signer.signDigest(getBytes(digestHex));
    if (raw.length !== 65) throw new InvalidInputError("signature", `the signer returned ${raw.length} bytes, expected 65 (r || s || v)`);
    return Signature.from(hexlify(raw));
  }
}
