/**
 * Connecting the real @hyperledger/fabric-gateway client with explicit deadlines on every
 * call (the client sets none by default).
 */
import * as grpc from "@grpc/grpc-js";
import { connect, signers, type Gateway } from "@hyperledger/fabric-gateway";
import type { P256DigestSigner } from "../signer.ts";
import type { Identity } from "./identity.ts";

/** A client identity: its certificate and either its key here or a signer holding the key elsewhere. */
export type GatewayIdentity = Pick<Identity, "mspId" | "certPem"> & ({ readonly privateKey: Identity["privateKey"] } | { readonly signer: P256DigestSigner });

export interface Deadlines {
  readonly evaluateMs: number;
  readonly endorseMs: number;
  readonly submitMs: number;
  readonly commitStatusMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { evaluateMs: 5_000, endorseMs: 15_000, submitMs: 5_000, commitStatusMs: 60_000 };

export interface GatewayConnection {
  readonly gateway: Gateway;
  readonly client: grpc.Client;
  close(): void;
}

export function connectGateway(address: string, identity: GatewayIdentity, deadlines: Deadlines = DEFAULT_DEADLINES): GatewayConnection {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 100 * 1024 * 1024,
  });
  const gateway = connect({
    client,
    identity: { mspId: identity.mspId, credentials: Buffer.from(identity.certPem) },
    signer: "signer" in identity ? (digest) => identity.signer.signDigest(digest) : signers.newPrivateKeySigner(identity.privateKey),
    hash: undefined,
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
