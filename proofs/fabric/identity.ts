/**
 * An identity in a Fabric message (msp.SerializedIdentity{mspid, id_bytes = PEM certificate})
 * validated against the channel's MSPs as fabric/msp/mspimpl.go does: the certificate must be
 * issued by one of the MSP's roots (directly or through one of its intermediates), must not
 * be a CA, must be valid at the given time, and with NodeOUs enabled carries its role in the
 * subject's OU.
 */
import { msp } from "@hyperledger/fabric-protos";
import { X509Certificate, type KeyObject } from "node:crypto";
import type { NodeRole, OrgMsp } from "./channel-config.ts";

export interface FabricIdentity {
  readonly mspId: string;
  readonly roles: ReadonlySet<NodeRole>;
  readonly publicKey: KeyObject;
  readonly subject: string;
}

export type IdentityCheck = { readonly ok: true; readonly identity: FabricIdentity } | { readonly ok: false; readonly reason: string };

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Identities already found valid for a given MSP map (the chain and role checks do not
 * change; the validity window is checked on every use). Keyed by the map, so a different
 * channel config never sees another's cache.
 */
const validated = new WeakMap<ReadonlyMap<string, OrgMsp>, Map<string, { identity: FabricIdentity; notBefore: number; notAfter: number }>>();

/** Validates serialized identity bytes against the channel's MSPs at unix time `atMs`. */
export function validateIdentity(serialized: Uint8Array, msps: ReadonlyMap<string, OrgMsp>, atMs: number): IdentityCheck {
  let cache = validated.get(msps);
  if (!cache) validated.set(msps, (cache = new Map()));
  const key = Buffer.from(serialized).toString("base64");
  const hit = cache.get(key);
  if (hit) {
    if (hit.notBefore > atMs || hit.notAfter < atMs) return { ok: false, reason: `${hit.identity.mspId} identity's certificate is not valid at ${new Date(atMs).toISOString()}` };
    return { ok: true, identity: hit.identity };
  }
  const r = validateUncached(serialized, msps, atMs);
  if (r.ok) {
    if (cache.size >= 1024) cache.clear();
    cache.set(key, { identity: r.identity, notBefore: r.notBefore, notAfter: r.notAfter });
  }
  return r;
}

function validateUncached(serialized: Uint8Array, msps: ReadonlyMap<string, OrgMsp>, atMs: number): { ok: false; reason: string } | { ok: true; identity: FabricIdentity; notBefore: number; notAfter: number } {
  let sid: msp.SerializedIdentity;
  try {
    sid = msp.SerializedIdentity.deserializeBinary(serialized);
  } catch {
    return { ok: false, reason: "identity is not a SerializedIdentity" };
  }
  const mspId = sid.getMspid();
  const m = msps.get(mspId);
  if (!m) return { ok: false, reason: `MSP ${JSON.stringify(mspId)} is not defined on the channel` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(sid.getIdBytes_asU8()));
  } catch {
    return { ok: false, reason: `${mspId} identity's certificate does not decode` };
  }
  const chained = m.roots.some((r) => issuedBy(cert, r)) || m.intermediates.some((i) => issuedBy(cert, i) && m.roots.some((r) => issuedBy(i, r)));
  if (!chained) return { ok: false, reason: `${mspId} identity ${cert.subject.replace(/\n/g, ", ")} is not issued by the MSP's CA` };
  if (cert.ca) return { ok: false, reason: `${mspId} identity is a CA certificate` };
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (notBefore > atMs || notAfter < atMs) return { ok: false, reason: `${mspId} identity's certificate is not valid at ${new Date(atMs).toISOString()}` };
  const roles = new Set<NodeRole>();
  if (m.nodeOus) {
    for (const ou of cert.subject.matchAll(/^OU=(.*)$/gm)) {
      const role = m.nodeOus.get(ou[1]!);
      if (role) roles.add(role);
    }
    if (roles.size !== 1) return { ok: false, reason: `${mspId} identity must carry exactly one NodeOU role, has ${roles.size}` };
  }
  return { ok: true, identity: { mspId, roles, publicKey: cert.publicKey, subject: cert.subject.replace(/\n/g, ", ") }, notBefore, notAfter };
}
