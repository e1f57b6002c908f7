/**
 * `isthmus node init --join <peer endpoint>`: a home for a node joining a running network.
 * Asks that node's peer port (GetNodeInfo) for the genesis, the chain id, its block interval
 * and the peers it knows, then writes a home with a fresh key whose config dials those peers,
 * runs as role "validator" (it follows without signing until a bond of its key takes effect)
 * and announces its own p2p endpoint on chain once bonded (config `announce`, peering.ts).
 *
 * The genesis is taken on first use from the node named: an operator who does not run that
 * node checks the printed chain id and genesis validators hash against what the consortium
 * published (`--chain-id` refuses a mismatch outright).
 */
import * as grpc from "@grpc/grpc-js";
import { hashValidatorSet } from "../../../proofs/consortium/validators.ts";
import { type Hex } from "../../../proofs/hex.ts";
import { InvalidInputError, IsthmusError } from "../../errors.ts";
import { type GenesisJson, genesisFromJson } from "../genesis.ts";
import { PEER_CHANNEL_OPTIONS, peerServices } from "../net/peer-wire.ts";
import { parseNodeConfig, timeoutsFor, writeNodeHome } from "./home.ts";

export const JOIN_FAILED = "CONSORTIUM_JOIN_FAILED";
const ENDPOINT_RE = /^127\.0\.0\.1:\d{1,5}$/;

export interface NodeInfo {
  readonly chainId: number;
  readonly genesis: GenesisJson;
  readonly peers: readonly string[];
  readonly height: number;
  readonly blockIntervalMs: number;
}

/** GetNodeInfo from a node's peer port; throws IsthmusError(JOIN_FAILED) naming the endpoint. */
export async function fetchNodeInfo(endpoint: string, deadlineMs = 10_000): Promise<NodeInfo> {
  if (!ENDPOINT_RE.test(endpoint)) throw new InvalidInputError("--join", `expected a peer endpoint "127.0.0.1:port", got ${JSON.stringify(endpoint)}`);
  const client = new (peerServices().Peer)(endpoint, grpc.credentials.createInsecure(), PEER_CHANNEL_OPTIONS) as unknown as grpc.Client & {
    getNodeInfo(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void): void;
  };
  try {
    const r = await new Promise<{ chainId: number; genesisJson: string; peers: string[]; height: number; blockIntervalMs: number }>((resolve, reject) =>
      client.getNodeInfo({}, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res as never))),
    );
    let genesis: GenesisJson;
    try {
      genesis = JSON.parse(r.genesisJson) as GenesisJson;
    } catch (err) {
      throw new IsthmusError(JOIN_FAILED, `node ${endpoint} sent a genesis that is not JSON: ${(err as Error).message}`, { endpoint });
    }
    if (genesis.chainId !== Number(r.chainId)) throw new IsthmusError(JOIN_FAILED, `node ${endpoint} reports chain ${r.chainId} but its genesis is for chain ${genesis.chainId}`, { endpoint });
    return { chainId: Number(r.chainId), genesis, peers: (r.peers ?? []).filter((p) => ENDPOINT_RE.test(p)), height: Number(r.height), blockIntervalMs: Number(r.blockIntervalMs) };
  } catch (err) {
    if (err instanceof IsthmusError) throw err;
    // The likeliest cause: the node's API port (the one clients use) given for its peer port.
    const hint = (err as Partial<grpc.ServiceError>).code === grpc.status.UNIMPLEMENTED ? ` (that port answers gRPC but is not a node's peer port; is it its API port? --join takes the p2pPort in the node's config.json)` : "";
    throw new IsthmusError(JOIN_FAILED, `could not ask ${endpoint} for the network's genesis: ${(err as Error).message}${hint}`, { endpoint }, { cause: err });
  } finally {
    client.close();
  }
}

export interface JoinOptions {
  readonly home: string;
  /** A running node's peer endpoint. */
  readonly join: string;
  /** This node's peer port; its API port is p2pPort + 1. */
  readonly p2pPort: number;
  /** Refuse unless the network is this chain. */
  readonly expectChainId?: number;
}

export interface JoinResult {
  readonly chainId: number;
  readonly genesisValidatorsHash: Hex;
  readonly home: string;
  readonly address: Hex;
  readonly p2p: string;
  readonly api: string;
  readonly peers: readonly string[];
}

export async function initJoiningHome(o: JoinOptions): Promise<JoinResult> {
  if (!Number.isInteger(o.p2pPort) || o.p2pPort < 1024 || o.p2pPort > 65534) throw new InvalidInputError("--base-port", "expected a port in 1024..65534 (the API takes the next one)");
  const info = await fetchNodeInfo(o.join);
  if (o.expectChainId !== undefined && o.expectChainId !== info.chainId) {
    throw new IsthmusError(JOIN_FAILED, `node ${o.join} serves chain ${info.chainId}, not the expected ${o.expectChainId}`, { endpoint: o.join });
  }
  const genesis = genesisFromJson(info.genesis);
  const self = `127.0.0.1:${o.p2pPort}`;
  const peers = [...new Set([o.join, ...info.peers])].filter((p) => p !== self);
  const blockIntervalMs = info.blockIntervalMs > 0 ? info.blockIntervalMs : 1000;
  const config = parseNodeConfig({
    p2pPort: o.p2pPort,
    apiPort: o.p2pPort + 1,
    peers,
    blockIntervalMs,
    timeouts: timeoutsFor(blockIntervalMs),
    role: "validator",
    announce: self,
  });
  const { address } = writeNodeHome(o.home, { genesis, config });
  return { chainId: genesis.chainId, genesisValidatorsHash: hashValidatorSet(genesis.validators), home: o.home, address, p2p: self, api: `127.0.0.1:${o.p2pPort + 1}`, peers };
}
