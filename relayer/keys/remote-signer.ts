import { createPublicKey } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { hexlify, recoverAddress, Signature } from "ethers";
import { IsthmusError } from "../../chains/errors.ts";
import type { Hex } from "../../chains/ledger.ts";
import type { P256DigestSigner, Secp256k1DigestSigner } from "../../chains/signer.ts";

/**
 * The client side of an external signer: a separate process (a signing service in front of
 * an HSM, or the signer the tests start) holds the keys and signs 32-byte digests over HTTP.
 * The daemon keeps no key material; it checks every answer against the key it expects.
 *
 * Protocol (JSON over HTTP; `Authorization: Bearer <token>` when a token is configured):
 *   GET  {url}/v1/keys/{keyId}        -> { curve: "secp256k1", address } | { curve: "p256", publicKeyPem }
 *   POST {url}/v1/keys/{keyId}/sign   { digest: 0x<32 bytes> } -> { signature: 0x... }
 *     secp256k1: 65 bytes r || s || v (v = 27/28), low-s; p256: ASN.1 DER, low-s.
 */
export interface RemoteSignerConfig {
  readonly url: string;
  readonly keyId: string;
  /** Environment variable holding the bearer token the signer requires (none: no header). */
  readonly tokenEnv?: string;
  /** Per-request timeout; default 10000. */
  readonly timeoutMs?: number;
}

export class RemoteSignerError extends IsthmusError {
  override name = "RemoteSignerError";
  constructor(keyId: string, url: string, problem: string, options?: { cause?: unknown }) {
    super("REMOTE_SIGNER", `external signer ${url} key "${keyId}": ${problem}`, { keyId, url }, options);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

class SignerHttp {
  readonly #cfg: RemoteSignerConfig;
  readonly #token: string | null;

  constructor(cfg: RemoteSignerConfig) {
    this.#cfg = cfg;
    if (cfg.tokenEnv !== undefined) {
      const t = process.env[cfg.tokenEnv];
      if (!t) throw this.error(`environment variable ${cfg.tokenEnv} (the signer's bearer token) is not set`);
      this.#token = t;
    } else {
      this.#token = null;
    }
  }

  error(problem: string, cause?: unknown): RemoteSignerError {
    return new RemoteSignerError(this.#cfg.keyId, this.#cfg.url, problem, cause === undefined ? undefined : { cause });
  }

  async call(method: "GET" | "POST", suffix: string, body?: unknown): Promise<Record<string, unknown>> {
    const url = `${this.#cfg.url.replace(/\/+$/, "")}/v1/keys/${encodeURIComponent(this.#cfg.keyId)}${suffix}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { "content-type": "application/json", ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (err) {
      throw this.error(`unreachable: ${(err as Error).message}`, err);
    }
    const text = await res.text();
    if (!res.ok) throw this.error(`answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    try {
      const doc = JSON.parse(text) as unknown;
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("not an object");
      return doc as Record<string, unknown>;
    } catch {
      throw this.error("answered with something that is not a JSON object");
    }
  }

  async sign(digest: Uint8Array): Promise<Uint8Array> {
    if (digest.length !== 32) throw this.error(`asked to sign ${digest.length} bytes; digests are 32`);
    const doc = await this.call("POST", "/sign", { digest: hexlify(digest) });
    if (typeof doc.signature !== "string" || !/^0x([0-9a-fA-F]{2})+$/.test(doc.signature)) throw this.error("sign answer has no 0x-hex signature");
    return Buffer.from(doc.signature.slice(2), "hex");
  }
}

/** A consortium/EVM account held by an external signer; `expected`, when configured, must match what it reports. */
export async function connectRemoteSecp256k1(cfg: RemoteSignerConfig, expected?: Hex): Promise<Secp256k1DigestSigner & { readonly kind: "external" }> {
  const http = new SignerHttp(cfg);
  const info = await http.call("GET", "");
  if (info.curve !== "secp256k1") throw http.error(`holds a ${String(info.curve)} key; this chain needs secp256k1`);
  if (typeof info.address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(info.address)) throw http.error("key info has no address");
  const address = info.address.toLowerCase() as Hex;
  if (expected !== undefined && expected.toLowerCase() !== address) throw http.error(`holds ${address}, the config expects ${expected.toLowerCase()}`);
  return {
    kind: "external",
    curve: "secp256k1",
    address,
    async signDigest(digest) {
      const sig = await http.sign(digest);
      // A signature by another key (or high-s, which Signature.from refuses) would only surface as a refused transaction.
      let signer: string;
      try {
        if (sig.length !== 65) throw new Error(`${sig.length} bytes`);
        // Consortium txs name their scheme by the last byte (27/28 = secp256k1): 0/1 is unreadable there.
        if (sig[64] !== 27 && sig[64] !== 28) throw new Error(`v is ${sig[64]}, expected 27 or 28`);
        signer = recoverAddress(digest, Signature.from(hexlify(sig))).toLowerCase();
      } catch (err) {
        throw http.error(`returned an unusable signature (${(err as Error).message})`);
      }
      if (signer !== address) throw http.error(`signature recovers to ${signer}, not ${address}`);
      return sig;
    },
  };
}

function spki(pem: string): string {
  return createPublicKey(pem).export({ type: "spki", format: "der" }).toString("hex");
}

/** A Fabric identity whose key an external signer holds; its public key must be the certificate's. */
export async function connectRemoteP256(cfg: RemoteSignerConfig, certPem: string): Promise<P256DigestSigner & { readonly kind: "external" }> {
  const http = new SignerHttp(cfg);
  const info = await http.call("GET", "");
  if (info.curve !== "p256") throw http.error(`holds a ${String(info.curve)} key; a Fabric identity needs P-256`);
  if (typeof info.publicKeyPem !== "string") throw http.error("key info has no publicKeyPem");
  let pub: string;
  try {
    pub = spki(info.publicKeyPem);
  } catch (err) {
    throw http.error(`publicKeyPem does not parse: ${(err as Error).message}`);
  }
  if (pub !== spki(certPem)) throw http.error("its public key is not the one in the identity's certificate");
  const point = createPublicKey(info.publicKeyPem).export({ type: "spki", format: "der" }).subarray(-65);
  return {
    kind: "external",
    curve: "p256",
    async signDigest(digest) {
      const sig = await http.sign(digest);
      // Fabric refuses high-s signatures; a wrong or malformed one is caught here, naming the signer.
      if (!p256.verify(sig, digest, point, { prehash: false, format: "der", lowS: true })) throw http.error("returned a P-256 signature that does not verify (or is not low-s DER)");
      return sig;
    },
  };
}
