/**
 * Connecting the real @hyperledger/fabric-gateway client with explicit deadlines on every
 * call (the client sets none by default).
 */
import * as grpc from "@grpc/grpc-js";
import { connect, signers, type Gateway, type Signer } from "@hyperledger/fabric-gateway";
import type { Identity } from "./identity.ts";

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

/** A client identity and what signs for it: its private key, or a fabric-gateway Signer (HSM, a dApp's own). */
export type GatewayIdentity = Pick<Identity, "mspId" | "certPem"> & ({ readonly privateKey: Identity["privateKey"] } | { readonly signer: Signer });

export function connectGateway(address: string, identity: GatewayIdentity, deadlines: Deadlines = DEFAULT_DEADLINES): GatewayConnection {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 100 * 1024 * 1024,
  });
  const gateway = connect({
    client,
    identity: { mspId: identity.mspId, credentials: Buffer.from(identity.certPem) },
    signer: "signer" in identity ? identity.signer : signers.newPrivateKeySigner(identity.privateKey),
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
