/**
 * Connecting the real @hyperledger/fabric-gateway client with explicit deadlines on every
 * call (the client sets none by default).
 */
import * as grpc from "@grpc/grpc-js";
import { connect, hash, type Gateway, type Signer } from "@hyperledger/fabric-gateway";
import type { KeyObject } from "node:crypto";
import type { P256DigestSigner } from "../signer.ts";
import { signLowS } from "./crypto.ts";
import type { Identity } from "./identity.ts";

/** A client identity: its certificate and either its key here or a signer holding the key elsewhere. */
export type GatewayIdentity = Pick<Identity, "mspId" | "certPem"> & ({ readonly privateKey: Identity["privateKey"] } | { readonly signer: P256DigestSigner });

export interface Deadlines {
  readonly evaluateMs: number;
  readonly endorseMs: number;
  readonly submitMs: number;
  readonly commitStatusMs: number;
  /** Lifetime of one chaincode-events subscription; the watcher reopens it from its checkpoint. */
  readonly eventStreamMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { evaluateMs: 5_000, endorseMs: 15_000, submitMs: 5_000, commitStatusMs: 60_000, eventStreamMs: 300_000 };

/** ECDSA-SHA256 over the message with node:crypto, low-S and DER as Fabric requires. */
export function opensslSigner(privateKey: KeyObject): Signer {
  return (message) => Promise.resolve(signLowS(privateKey, message));
}

export interface GatewayConnection {
  readonly gateway: Gateway;
  readonly client: grpc.Client;
  close(): void;
}

export function connectGateway(address: string, identity: GatewayIdentity, deadlines: Omit<Deadlines, "eventStreamMs"> = DEFAULT_DEADLINES): GatewayConnection {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 100 * 1024 * 1024,
  });
  const gateway = connect({
    client,
    identity: { mspId: identity.mspId, credentials: Buffer.from(identity.certPem) },
    // A signer elsewhere gets the SHA-256 digest (as fabric-gateway's own signers do). With
    // our key, OpenSSL signs the whole message instead (hash.none hands it over unhashed) with
    // SHA-256 and low S — the same signature Fabric checks, without the client's pure-JS P-256
    // (about 1 ms a signature, three per transaction).
    ...("signer" in identity
      ? { signer: (digest: Uint8Array) => identity.signer.signDigest(digest), hash: hash.sha256 }
      : { signer: opensslSigner(identity.privateKey), hash: hash.none }),
    evaluateOptions: () => ({ deadline: Date.now() + deadlines.evaluateMs }),
    endorseOptions: () => ({ deadline: Date.now() + deadlines.endorseMs }),
    submitOptions: () => ({ deadline: Date.now() + deadlines.submitMs }),
    commitStatusOptions: () => ({ deadline: Date.now() + deadlines.commitStatusMs }),
  });
  return {
    gateway,
    client,
    close: () => {
      gateway.close();
      client.close();
    },
  };
}
