/**
 * Where the docker-target suite finds a real Fabric network: from the environment, with the
 * defaults docker-compose.yml publishes (peer0.org1's gateway on 127.0.0.1:7051, channel and
 * chaincode "isthmus", identities written by fabric-init and ca.org1 to
 * ./.isthmus/compose/identities).
 */
import { resolve } from "node:path";

export interface FabricEndpoints {
  /** True when ISTHMUS_FABRIC_GATEWAY names a network someone else runs (the suite does not start compose). */
  readonly external: boolean;
  readonly gateway: string;
  readonly channel: string;
  readonly chaincode: string;
  /** Holds <MSP>/<name>/{cert.pem,key.pem} and orderer.pem. */
  readonly identities: string;
  readonly ordererCert: string;
  /** Identity dirs under `identities`: the KRW issuer (isthmus.role=issuer), the relayer and a user. */
  readonly issuer: { readonly mspId: string; readonly dir: string };
  readonly relayer: { readonly mspId: string; readonly dir: string };
  readonly user: { readonly mspId: string; readonly dir: string };
}

export const COMPOSE_DEFAULTS = {
  gateway: "127.0.0.1:7051",
  channel: "isthmus",
  chaincode: "isthmus",
  identities: ".isthmus/compose/identities",
  issuer: "Org1MSP/issuer",
  relayer: "Org1MSP/User1",
  user: "Org2MSP/User1",
} as const;

function identityAt(root: string, spec: string, variable: string): { mspId: string; dir: string } {
  const [mspId, ...path] = spec.split("/");
  if (!mspId || path.length === 0 || path.some((p) => p === "" || p === "..")) {
    throw new Error(`${variable}="${spec}" must be <MSP id>/<path of the identity dir under that MSP's dir>, e.g. Org1MSP/User1`);
  }
  return { mspId, dir: resolve(root, mspId, ...path) };
}

export function fabricEndpoints(env: NodeJS.ProcessEnv = process.env): FabricEndpoints {
  const identities = resolve(env.ISTHMUS_FABRIC_IDENTITIES ?? COMPOSE_DEFAULTS.identities);
  return {
    external: env.ISTHMUS_FABRIC_GATEWAY !== undefined && env.ISTHMUS_FABRIC_GATEWAY !== "",
    gateway: env.ISTHMUS_FABRIC_GATEWAY || COMPOSE_DEFAULTS.gateway,
    channel: env.ISTHMUS_FABRIC_CHANNEL || COMPOSE_DEFAULTS.channel,
    chaincode: env.ISTHMUS_FABRIC_CHAINCODE || COMPOSE_DEFAULTS.chaincode,
    identities,
    ordererCert: resolve(env.ISTHMUS_FABRIC_ORDERER_CERT || resolve(identities, "orderer.pem")),
    issuer: identityAt(identities, env.ISTHMUS_FABRIC_ISSUER || COMPOSE_DEFAULTS.issuer, "ISTHMUS_FABRIC_ISSUER"),
    relayer: identityAt(identities, env.ISTHMUS_FABRIC_RELAYER || COMPOSE_DEFAULTS.relayer, "ISTHMUS_FABRIC_RELAYER"),
    user: identityAt(identities, env.ISTHMUS_FABRIC_USER || COMPOSE_DEFAULTS.user, "ISTHMUS_FABRIC_USER"),
  };
}
