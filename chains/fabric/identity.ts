/**
 * Organisations and identities: a CA per org (self-signed, P-256) issuing certificates with
 * Fabric's NodeOU roles in the subject's OU (client, peer, orderer, admin), as fabric-ca does.
 * Attributes go in Fabric CA's extension 1.2.3.4.5.6.7.8.1 as {"attrs":{...}}, which the
 * chaincode shim's ClientIdentity reads. Material is written to disk as PEM files once and
 * read back on restart, so identities (and the addresses derived from them) are stable.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "./crypto.ts";

x509.cryptoProvider.set(webcrypto as never);

export type FabricRole = "client" | "peer" | "orderer" | "admin";

/** Fabric CA's attribute extension (fabric-ca lib/attrmgr). */
export const FABRIC_ATTR_OID = "1.2.3.4.5.6.7.8.1";

export interface IdentitySpec {
  readonly name: string;
  readonly role: FabricRole;
  readonly attrs?: Readonly<Record<string, string>>;
}

export interface OrgSpec {
  readonly mspId: string;
  /** DNS-like domain, e.g. "org1.example.com". */
  readonly domain: string;
  readonly identities: readonly IdentitySpec[];
}

export interface Identity {
  readonly name: string;
  readonly mspId: string;
  readonly role: FabricRole;
  readonly certPem: string;
  readonly keyPem: string;
  readonly privateKey: KeyObject;
}

export interface Org {
  readonly mspId: string;
  readonly domain: string;
  readonly caCertPem: string;
  readonly identities: ReadonlyMap<string, Identity>;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

function writeAtomic(file: string, data: string): void {
  writeFileSync(file + ".tmp", data, { mode: 0o600 });
  renameSync(file + ".tmp", file);
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

async function createOrgFiles(dir: string, spec: OrgSpec): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const caKeys = await newKeys();
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + TEN_YEARS_MS);
  const caName = `C=US, ST=North Carolina, O=${spec.domain}, CN=ca.${spec.domain}`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  let serial = 2;
  for (const id of spec.identities) {
    const keys = await newKeys();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ];
    if (id.attrs) {
      extensions.push(new x509.Extension(FABRIC_ATTR_OID, false, Buffer.from(JSON.stringify({ attrs: id.attrs }))));
    }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial.toString(16).padStart(2, "0"),
      subject: `C=US, ST=North Carolina, OU=${id.role}, CN=${id.name}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions,
    });
    serial++;
    const idDir = join(dir, "users", id.name);
    mkdirSync(idDir, { recursive: true });
    writeAtomic(join(idDir, "key.pem"), await exportKeyPem(keys.privateKey));
    writeAtomic(join(idDir, "cert.pem"), cert.toString("pem") + "\n");
    writeAtomic(join(idDir, "role"), id.role);
  }
  writeAtomic(join(dir, "ca.key.pem"), await exportKeyPem(caKeys.privateKey));
  // written last: its presence means the org is complete
  writeAtomic(join(dir, "ca.pem"), ca.toString("pem") + "\n");
}

/** Loads the org's material from `dir`, creating it first when absent. */
export async function loadOrCreateOrg(dir: string, spec: OrgSpec): Promise<Org> {
  if (!existsSync(join(dir, "ca.pem"))) await createOrgFiles(dir, spec);
  const identities = new Map<string, Identity>();
  for (const id of spec.identities) {
    const idDir = join(dir, "users", id.name);
    const keyPem = readFileSync(join(idDir, "key.pem"), "utf8");
    identities.set(id.name, {
      name: id.name,
      mspId: spec.mspId,
      role: readFileSync(join(idDir, "role"), "utf8") as FabricRole,
      certPem: readFileSync(join(idDir, "cert.pem"), "utf8"),
      keyPem,
      privateKey: createPrivateKey(keyPem),
    });
  }
  return { mspId: spec.mspId, domain: spec.domain, caCertPem: readFileSync(join(dir, "ca.pem"), "utf8"), identities };
}

/** Reads an identity written by loadOrCreateOrg (e.g. by a CLI that only has the directory). */
export function readIdentityDir(idDir: string, mspId: string): Identity {
  const keyPem = readFileSync(join(idDir, "key.pem"), "utf8");
  return {
    name: idDir.split(/[\\/]/).pop()!,
    mspId,
    role: readFileSync(join(idDir, "role"), "utf8") as FabricRole,
    certPem: readFileSync(join(idDir, "cert.pem"), "utf8"),
    keyPem,
    privateKey: createPrivateKey(keyPem),
  };
}

/**
 * Isthmus address of a Fabric identity: the last 20 bytes of
 * sha256(mspId ‖ 0x00 ‖ SubjectPublicKeyInfo DER). The key controls the account, as on the
 * other ledgers; the chaincode computes the same from the proposal's creator certificate.
 */
export function fabricAddress(mspId: string, certPem: string): `0x${string}` {
  const spki = new X509Certificate(certPem).publicKey.export({ format: "der", type: "spki" });
  return `0x${sha256(Buffer.from(mspId, "utf8"), Buffer.from([0]), spki).subarray(12).toString("hex")}`;
}

export function publicKeyOf(certPem: string): KeyObject {
  return createPublicKey(new X509Certificate(certPem).publicKey.export({ format: "pem", type: "spki" }));
}
