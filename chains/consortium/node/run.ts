/**
 * One validator node from its home directory: the chain (SQLite), consensus over the gRPC
 * peer transport, the peer server (Gossip + GetBlocks, and DevnetAdmin in devnet mode) and
 * the node API. `isthmus node --home <dir>` runs this in its own OS process.
 *
 * Start order: open and replay the store; bind the peer server (so peers can reach us);
 * start consensus; pull any blocks we miss from peers in batches (block sync); bind the API.
 * Consensus also catches up by itself through sync-request / sync-block gossip.
 *
 * A node whose key is not in the genesis validator set is a follower (follower.ts): no
 * consensus; it repeats the block sync every half block interval. So does a validator that
 * is not (yet) in the set (role "validator", e.g. joined with `init --join`): nobody gossips
 * to it until it is a member with an announced endpoint. Validators dial the endpoints
 * members announce on chain (peering.ts).
 */
import * as grpc from "@grpc/grpc-js";
import { createServer } from "node:net";
import { type Hex } from "../../../proofs/hex.ts";
import { IsthmusError } from "../../errors.ts";
import { OffsetClock } from "../clock.ts";
import { decodeMessage, encodeMessage } from "../consensus/messages.ts";
import { type ChainLogger, quietLogger } from "../log.ts";
import { GrpcTransport, gossipHandler } from "../net/grpc-transport.ts";
import { MAX_SYNC_BATCH, peerServices } from "../net/peer-wire.ts";
import { LOCALHOST, type NodeServer, startNodeServer } from "../rpc/server.ts";
import { stakeOf } from "../../../proofs/consortium/validators.ts";
import { type Block } from "../block.ts";
import { type Commit } from "../../../proofs/consortium/commit.ts";
import { Signer } from "../crypto.ts";
import { FollowerNode } from "../follower.ts";
import { ValidatorNode } from "../validator.ts";
import { genesisToJson } from "../genesis.ts";
import { loadNodeHome, timeoutsFor } from "./home.ts";
import { ChainPeering } from "./peering.ts";
import { endpointOf } from "../staking.ts";
import { widenConnectionWindow, widenStreamWindow } from "../net/flow-window.ts";

export interface StartNodeOptions {
  readonly home: string;
  /** Registers the DevnetAdmin service (clock offset, simulated partitions). Never in production. */
  readonly devnet?: boolean;
  /** Initial clock offset (devnet). */
  readonly clockOffsetMs?: number;
  readonly log?: ChainLogger;
}

export interface RunningNode {
  readonly address: Hex;
  readonly chainId: number;
  readonly p2pEndpoint: string;
  readonly apiEndpoint: string;
  /** The validator, or the follower when our key is not in the validator set. */
  readonly node: ValidatorNode | FollowerNode;
  readonly role: "validator" | "follower";
  readonly transport: GrpcTransport;
  readonly clock: OffsetClock;
  /** Blocks fetched by the start-up block sync. */
  readonly synced: number;
  stop(): Promise<void>;
}

const SYNC_CALL_DEADLINE_MS = 5000;

/** A port the home's config.json names is taken (most often: a node already runs from this home). */
export class NodePortBusyError extends IsthmusError {
  override name = "NodePortBusyError";
  constructor(home: string, key: "p2pPort" | "apiPort", port: number) {
    super("PORT_BUSY", `node home ${home}: ${LOCALHOST}:${port} (config.json ${key}) is in use; is a node already running from this home? stop it, or change ${key}`, { home, key, port });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, LOCALHOST, () => s.close(() => resolve(true)));
  });
}

/**
 * Checked before the store is opened: otherwise a second start from the same home replays the
 * chain beside the running node and then fails on gRPC's bind with a message naming no port
 * key. (The real binds below can still lose a race; this is for the common mistake.)
 */
async function assertNodePortsFree(home: string, config: { readonly p2pPort: number; readonly apiPort: number }): Promise<void> {
  for (const key of ["p2pPort", "apiPort"] as const) {
    const port = config[key];
    if (port !== 0 && !(await portFree(port))) throw new NodePortBusyError(home, key, port);
  }
}

export async function startNode(opts: StartNodeOptions): Promise<RunningNode> {
  const log = opts.log ?? quietLogger;
  const home = loadNodeHome(opts.home);
  const { config } = home;
  await assertNodePortsFree(opts.home, config);
  const clock = new OffsetClock(undefined, opts.clockOffsetMs ?? 0);
  const transport = new GrpcTransport({ peers: config.peers, maxMessageBytes: config.maxPeerMessageBytes, log });
  const inGenesisSet = stakeOf(home.genesis.validators, Signer.fromPrivateKey(home.privateKey).address) !== undefined;
  const isValidator = config.role === undefined ? inGenesisSet : config.role === "validator";
  let validator: ValidatorNode | FollowerNode;
  try {
    const common = {
      genesis: home.genesis,
      privateKey: home.privateKey,
      transport,
      clock,
      storePath: home.storePath,
      blockIntervalMs: config.blockIntervalMs,
      maxClockSkewMs: config.maxClockSkewMs,
      ...(config.maxBlockTxs ? { maxBlockTxs: config.maxBlockTxs } : {}),
      ...(config.stateHistory ? { stateHistory: config.stateHistory } : {}),
      log,
    };
    validator = isValidator ? ValidatorNode.open({
      genesis: home.genesis,
      privateKey: home.privateKey,
      transport,
      clock,
      storePath: home.storePath,
      blockIntervalMs: config.blockIntervalMs,
      maxClockSkewMs: config.maxClockSkewMs,
      timeouts: config.timeouts ?? timeoutsFor(config.blockIntervalMs),
      ...(config.maxBlockTxs ? { maxBlockTxs: config.maxBlockTxs } : {}),
      ...(config.stateHistory ? { stateHistory: config.stateHistory } : {}),
      log,
    }) : FollowerNode.open(common);
  } catch (err) {
    transport.close();
    throw err;
  }

  const peerServer = new grpc.Server({ "grpc.max_receive_message_length": config.maxPeerMessageBytes, "grpc.max_send_message_length": config.maxPeerMessageBytes });
  // Gossip is paced by this server's HTTP/2 windows: room for a whole message per stream, both lanes per connection (flow-window.ts).
  const windowed = widenStreamWindow(peerServer, config.maxPeerMessageBytes);
  const services = peerServices();
  peerServer.addService(services.Peer.service, {
    gossip: gossipHandler(transport, log),
    getBlocks: (call: grpc.ServerUnaryCall<{ fromHeight: number; max: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const { chain } = validator;
      const from = Math.max(1, Number(call.request.fromHeight) || 1);
      const max = Math.min(MAX_SYNC_BATCH, Math.max(1, call.request.max || MAX_SYNC_BATCH));
      const blocks: Buffer[] = [];
      let bytes = 0;
      for (let h = from; h <= chain.height && blocks.length < max; h++) {
        const b = chain.block(h);
        if (!b) break;
        const wire = Buffer.from(encodeMessage({ type: "sync-block", block: b, commit: b.commit }), "utf8");
        if (bytes + wire.length > config.maxPeerMessageBytes - 1024 && blocks.length > 0) break;
        bytes += wire.length;
        blocks.push(wire);
      }
      cb(null, { head: chain.height, blocks });
    },
    getNodeInfo: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      cb(null, {
        chainId: home.genesis.chainId,
        genesisJson: JSON.stringify(genesisToJson(home.genesis)),
        peers: [...(selfEndpoint ? [selfEndpoint] : []), ...transport.peers],
        height: validator.chain.height,
        blockIntervalMs: config.blockIntervalMs,
      });
    },
  });
  if (opts.devnet) {
    peerServer.addService(services.DevnetAdmin.service, {
      setClockOffset: (call: grpc.ServerUnaryCall<{ offsetMs: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const want = Number(call.request.offsetMs);
        if (!Number.isSafeInteger(want)) return cb({ code: grpc.status.INVALID_ARGUMENT, details: "offsetMs: expected an integer" });
        if (want > clock.offsetMs) clock.advanceMs(want - clock.offsetMs);
        cb(null, { offsetMs: clock.offsetMs });
      },
      setBlockedPeers: (call: grpc.ServerUnaryCall<{ endpoints: string[] }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        transport.setBlocked(call.request.endpoints ?? []);
        cb(null, { endpoints: transport.blocked });
      },
    });
  }

  let api: NodeServer | undefined;
  let selfEndpoint: string | undefined;
  let peering: ChainPeering | undefined;
  try {
    const p2pPort = await new Promise<number>((resolve, reject) =>
      peerServer.bindAsync(`${LOCALHOST}:${config.p2pPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    if (!windowed || !widenConnectionWindow(peerServer, 2 * config.maxPeerMessageBytes)) {
      log.warn("peer server: HTTP/2 flow-control windows left at the default (this grpc-js version hides them); gossip is slower under load");
    }
    selfEndpoint = `${LOCALHOST}:${p2pPort}`;
    validator.start();
    const node = validator;
    const target: SyncTarget = {
      height: () => node.chain.height,
      adopt: (b, c) => (node instanceof ValidatorNode ? node.engine.adoptCommitted(b, c) : node.adoptCommitted(b, c)),
    };
    const synced = await syncFromPeers(target, transport, log);
    let following: NodeJS.Timeout | undefined;
    {
      let busy = false;
      // A member hears blocks through consensus gossip once the others dial it (static peers,
      // or its announced endpoint is on chain); anyone else pulls them.
      const gossipedTo = () =>
        node instanceof ValidatorNode &&
        stakeOf(node.chain.validatorSetAt(node.chain.height + 1), node.address) !== undefined &&
        (config.announce === undefined || endpointOf(node.chain.kv, node.address) === config.announce);
      following = setInterval(() => {
        if (busy || gossipedTo()) return;
        busy = true;
        void syncFromPeers(target, transport, log).finally(() => (busy = false));
      }, Math.max(50, Math.floor(config.blockIntervalMs / 2)));
    }
    peering = new ChainPeering({
      node,
      transport,
      selfEndpoint,
      intervalMs: Math.max(50, Math.floor(config.blockIntervalMs / 2)),
      log,
      ...(config.announce && node instanceof ValidatorNode
        ? { announce: { endpoint: config.announce, privateKey: home.privateKey, submit: (b: Uint8Array) => void node.submitTx(b), nextNonce: () => node.mempool.nextNonce(node.address) } }
        : {}),
    });
    api = await startNodeServer({ node: validator, port: config.apiPort, log, ...(config.verifyWorkers !== undefined ? { verifyWorkers: config.verifyWorkers } : {}) });
    const apiServer = api;
    log.info("node started", { role: isValidator ? "validator" : "follower", address: validator.address, height: validator.chain.height, p2p: `${LOCALHOST}:${p2pPort}`, api: apiServer.endpoint, synced, devnet: !!opts.devnet });
    // A node run by hand should say it is making progress without being asked.
    let reportedHeight = validator.chain.height;
    const progress = setInterval(() => {
      const height = validator.chain.height;
      log.info("progress", { height, blocksInLastMinute: height - reportedHeight });
      reportedHeight = height;
    }, 60_000);
    progress.unref();
    let stopped = false;
    return {
      address: validator.address,
      chainId: home.genesis.chainId,
      p2pEndpoint: `${LOCALHOST}:${p2pPort}`,
      apiEndpoint: apiServer.endpoint,
      node: validator,
      role: isValidator ? "validator" : "follower",
      transport,
      clock,
      synced,
      async stop() {
        if (stopped) return;
        stopped = true;
        if (following) clearInterval(following);
        peering?.stop();
        clearInterval(progress);
        await apiServer.close();
        await shutdown(peerServer);
        validator.stop();
      },
    };
  } catch (err) {
    peering?.stop();
    await api?.close();
    peerServer.forceShutdown();
    validator.stop();
    throw err;
  }
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * Block sync: while some peer's head is above ours, fetch the next batch from it and adopt
 * each block (its commit is verified and it is re-executed; a bad one ends the pass with that
 * peer). Peers that do not answer are skipped. Returns the number of blocks adopted.
 */
export interface SyncTarget {
  height(): number;
  adopt(block: Block, commit: Commit): { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

export async function syncFromPeers(validator: SyncTarget, transport: GrpcTransport, log: ChainLogger): Promise<number> {
  let adopted = 0;
  for (const peer of transport.reachablePeers()) {
    for (;;) {
      const from = validator.height() + 1;
      let res: { head: number; blocks: Buffer[] };
      try {
        res = await new Promise((resolve, reject) =>
          peer.client.getBlocks({ fromHeight: from, max: MAX_SYNC_BATCH }, { deadline: Date.now() + SYNC_CALL_DEADLINE_MS }, (err, r) => (err ? reject(err) : resolve(r as { head: number; blocks: Buffer[] }))),
        );
      } catch (err) {
        log.debug("block sync: peer did not answer", { peer: peer.endpoint, error: (err as Error).message });
        break;
      }
      if (res.blocks.length === 0) break;
      let progressed = false;
      for (const raw of res.blocks) {
        const msg = decodeMessage(Buffer.from(raw).toString("utf8"));
        if (!msg || msg.type !== "sync-block") {
          log.warn("block sync: malformed block from peer", { peer: peer.endpoint });
          break;
        }
        if (msg.block.header.height < validator.height() + 1) continue; // consensus got there first
        const r = validator.adopt(msg.block, msg.commit);
        if (!r.ok) {
          log.warn("block sync: block refused", { peer: peer.endpoint, height: msg.block.header.height, reason: r.reason });
          break;
        }
        adopted++;
        progressed = true;
      }
      if (!progressed || validator.height() >= res.head) break;
    }
  }
  return adopted;
}
