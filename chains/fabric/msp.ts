/**
 * The channel's MSPs: which CA roots each organisation trusts, and how a serialized identity
 * (msp.SerializedIdentity{mspid, id_bytes = PEM certificate}) is validated against them,
 * with the messages Fabric's msp/mspimpl.go gives.
 */
import { msp } from "@hyperledger/fabric-protos";
import { X509Certificate, type KeyObject } from "node:crypto";
import type { FabricRole } from "./identity.ts";

export interface ValidIdentity {
  readonly mspId: string;
  readonly certPem: string;
  readonly publicKey: KeyObject;
  readonly roles: readonly string[];
  /** The SerializedIdentity bytes exactly as received. */
  readonly serialized: Uint8Array;
  /** Validity window (ms since epoch), checked on every use. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export class IdentityError extends Error {
  override name = "IdentityError";
}

export class MspManager {
  readonly #roots = new Map<string, X509Certificate>();
  readonly #cache = new Map<string, ValidIdentity>();

  constructor(orgs: readonly { mspId: string; caCertPem: string }[]) {
    for (const o of orgs) this.#roots.set(o.mspId, new X509Certificate(o.caCertPem));
  }

  get mspIds(): string[] {
    return [...this.#roots.keys()];
  }

  /** Throws IdentityError with Fabric's wording when the identity is not valid for its MSP. */
  validate(serialized: Uint8Array): ValidIdentity {
    const cacheKey = Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength).toString("latin1");
    const hit = this.#cache.get(cacheKey);
    if (hit) {
      this.#checkWindow(hit.notBefore, hit.notAfter);
      return hit;
    }
    let sid: msp.SerializedIdentity;
    try {
      sid = msp.SerializedIdentity.deserializeBinary(serialized);
    } catch (err) {
      throw new IdentityError(`could not deserialize a SerializedIdentity: ${(err as Error).message}`);
    }
    const mspId = sid.getMspid();
    const root = this.#roots.get(mspId);
    if (!root) throw new IdentityError(`MSP ${mspId} is not defined on channel`);
    let cert: X509Certificate;
    const pem = Buffer.from(sid.getIdBytes_asU8()).toString("utf8");
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new IdentityError("the supplied identity is not valid: could not decode pem bytes");
    }
    if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) {
      throw new IdentityError("the supplied identity is not valid: x509: certificate signed by unknown authority");
    }
    if (cert.ca) throw new IdentityError("the supplied identity is not valid: A CA certificate cannot be used directly by this MSP");
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    this.#checkWindow(notBefore, notAfter);
    const roles = [...cert.subject.matchAll(/^OU=(.*)$/gm)].map((m) => m[1]!);
    if (!roles.some((r) => ["client", "peer", "orderer", "admin"].includes(r))) {
      throw new IdentityError("the supplied identity is not valid: The identity does not contain OU [CLIENT, PEER, ORDERER, ADMIN]");
    }
    const v: ValidIdentity = { mspId, certPem: pem, publicKey: cert.publicKey, roles, serialized, notBefore, notAfter };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(cacheKey, v);
    return v;
  }

  #checkWindow(notBefore: number, notAfter: number): void {
    const now = Date.now();
    if (notBefore > now || notAfter < now) {
      throw new IdentityError("the supplied identity is not valid: x509: certificate has expired or is not yet valid");
    }
  }
}

export function hasRole(id: ValidIdentity, role: FabricRole): boolean {
  return id.roles.includes(role);
}

export function serializeIdentity(mspId: string, certPem: string): Uint8Array {
  const sid = new msp.SerializedIdentity();
  sid.setMspid(mspId);
  sid.setIdBytes(Buffer.from(certPem, "utf8"));
  return sid.serializeBinary();
}
