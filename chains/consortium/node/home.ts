/**
 * A node's home directory:
 *
 *   config.json    ports, peers, timing (every key below; unknown keys are refused)
 *   genesis.json   chain id, validators and stakes, assets, initial balances
 *   key.json       { "privateKey": "0x…" } (mode 0600): this validator's secp256k1 key
 *   data/chain.sqlite   blocks, commits, signer state (created on first start)
 *
 * `initNodeHomes` writes one home per validator of a fresh network (`isthmus node init`).
 * Files are written to a temp name and renamed, so a crash never leaves half a file.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Hex, isHex, toHex } from "../../../proofs/hex.ts";
import { InvalidInputError, IsthmusError } from "../../errors.ts";
import { Signer } from "../crypto.ts";
import { type ConsensusTimeouts, DEFAULT_MAX_CLOCK_SKEW_MS } from "../consensus/engine.ts";
import { type Genesis, type GenesisJson, type GenesisParams, genesisFromJson, genesisToJson, makeGenesis } from "../genesis.ts";
import { DEFAULT_MAX_PEER_MESSAGE_BYTES } from "../net/peer-wire.ts";
import { endpointProblem } from "../../../proofs/consortium/staking.ts";

export interface NodeConfig {
  /** Peer (validator-to-validator) gRPC port on 127.0.0.1; 0 = any free port. */
  readonly p2pPort: number;
  /** Node API (consortium.proto) port on 127.0.0.1; 0 = any free port. */
  readonly apiPort: number;
  /** Other validators' peer endpoints, "127.0.0.1:port". */
  readonly peers: readonly string[];
  /** Pause after a commit before the next height (default 1000). */
  readonly blockIntervalMs: number;
  /** Bound on |proposal time − own clock| for a fresh proposal (default 2000). */
  readonly maxClockSkewMs: number;
  /** Consensus timeouts; default scaled to the block interval. */
  readonly timeouts?: ConsensusTimeouts;
  /** Largest peer message accepted (default 4 MiB). */
  readonly maxPeerMessageBytes: number;
  /** Largest number of txs in a block (default 500). */
  readonly maxBlockTxs?: number;
  /** Heights back from the head at which the node serves state proofs (GetState; default 32). Each costs only its block's touched tree paths. */
  readonly stateHistory?: number;
  /** Worker threads checking SubmitTxs signatures off the main thread (default 0 = none). */
  readonly verifyWorkers?: number;
  /**
   * "validator" runs consensus even when the key is not (yet) in the genesis set: the node
   * follows without signing and signs from the height its bond takes effect. Default: a
   * validator iff the key is in the genesis set, else a follower.
   */
  readonly role?: "validator" | "follower";
  /**
   * The peer endpoint ("host:port") this node announces on chain (tx kind 11, signed by its
   * key) once it is a bonded validator, so the other validators dial it without a restart.
   * `isthmus node init --join` sets it; absent = announce nothing.
   */
  readonly announce?: string;
}

export class NodeHomeError extends IsthmusError {
  override name = "NodeHomeError";
  constructor(home: string, problem: string) {
    super("NODE_HOME_INVALID", `node home ${home}: ${problem}`, { home });
  }
}

const CONFIG_KEYS = new Set(["p2pPort", "apiPort", "peers", "blockIntervalMs", "maxClockSkewMs", "timeouts", "maxPeerMessageBytes", "maxBlockTxs", "stateHistory", "verifyWorkers", "role", "announce"]);
const ENDPOINT_RE = /^127\.0\.0\.1:\d{1,5}$/;

export function homePaths(home: string) {
  return {
    config: join(home, "config.json"),
    genesis: join(home, "genesis.json"),
    key: join(home, "key.json"),
    data: join(home, "data"),
    store: join(home, "data", "chain.sqlite"),
  };
}

/** Timeouts that fit a block interval: a silent proposer costs about two intervals. */
export function timeoutsFor(blockIntervalMs: number): ConsensusTimeouts {
  const base = Math.max(50, blockIntervalMs);
  return { proposeMs: base, prevoteMs: Math.ceil(base / 2), precommitMs: Math.ceil(base / 2), deltaMs: Math.ceil(base / 4) };
}

export function parseNodeConfig(value: unknown, where = "config.json"): NodeConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidInputError(where, "expected a JSON object");
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!CONFIG_KEYS.has(k)) throw new InvalidInputError(`${where}: ${k}`, "unknown key");
  const int = (k: string, dflt: number | undefined, min: number, max: number): number => {
    const x = v[k] ?? dflt;
    if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) throw new InvalidInputError(`${where}: ${k}`, `expected an integer in [${min}, ${max}]`);
    return x;
  };
  const peers = v.peers ?? [];
  if (!Array.isArray(peers) || !peers.every((p) => typeof p === "string" && ENDPOINT_RE.test(p))) {
    throw new InvalidInputError(`${where}: peers`, 'expected a list of "127.0.0.1:port"');
  }
  let timeouts: ConsensusTimeouts | undefined;
  if (v.timeouts !== undefined) {
    const t = v.timeouts as Record<string, unknown>;
    const keys = ["proposeMs", "prevoteMs", "precommitMs", "deltaMs"] as const;
    if (typeof t !== "object" || t === null || Object.keys(t).some((k) => !(keys as readonly string[]).includes(k)) || !keys.every((k) => Number.isInteger(t[k]) && (t[k] as number) >= 1)) {
      throw new InvalidInputError(`${where}: timeouts`, "expected {proposeMs, prevoteMs, precommitMs, deltaMs}, positive integers");
    }
    timeouts = t as unknown as ConsensusTimeouts;
  }
  return {
    p2pPort: int("p2pPort", undefined, 0, 65535),
    apiPort: int("apiPort", undefined, 0, 65535),
    peers: peers as string[],
    blockIntervalMs: int("blockIntervalMs", 1000, 1, 3_600_000),
    maxClockSkewMs: int("maxClockSkewMs", DEFAULT_MAX_CLOCK_SKEW_MS, 1, 3_600_000),
    ...(timeouts ? { timeouts } : {}),
    maxPeerMessageBytes: int("maxPeerMessageBytes", DEFAULT_MAX_PEER_MESSAGE_BYTES, 1024, 1 << 30),
    ...(v.maxBlockTxs !== undefined ? { maxBlockTxs: int("maxBlockTxs", undefined, 1, 100_000) } : {}),
    ...(v.stateHistory !== undefined ? { stateHistory: int("stateHistory", undefined, 1, 100_000) } : {}),
    ...(v.verifyWorkers !== undefined ? { verifyWorkers: int("verifyWorkers", undefined, 0, 16) } : {}),
    ...(v.role !== undefined ? { role: roleOf(v.role, where) } : {}),
    ...(v.announce !== undefined ? { announce: announceOf(v.announce, where) } : {}),
  };
}

export interface NodeHome {
  readonly home: string;
  readonly config: NodeConfig;
  readonly genesis: Genesis;
  readonly privateKey: Hex;
  readonly storePath: string;
}

export function loadNodeHome(home: string): NodeHome {
  const p = homePaths(home);
  const readJson = (file: string): unknown => {
    if (!existsSync(file)) throw new NodeHomeError(home, `missing ${file} (run \`isthmus node init --home ${home}\`)`);
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new NodeHomeError(home, `${file} is not JSON: ${(err as Error).message}`);
    }
  };
  const config = parseNodeConfig(readJson(p.config), p.config);
  const genesis = genesisFromJson(readJson(p.genesis) as GenesisJson);
  const key = readJson(p.key) as { privateKey?: unknown };
  if (!isHex(key.privateKey, 32)) throw new NodeHomeError(home, `${p.key}: privateKey must be 32-byte 0x-hex`);
  mkdirSync(p.data, { recursive: true });
  return { home, config, genesis, privateKey: key.privateKey.toLowerCase() as Hex, storePath: p.store };
}

function writeAtomic(file: string, text: string, mode = 0o644): void {
  writeFileSync(`${file}.tmp`, text, { mode });
  renameSync(`${file}.tmp`, file);
}

/** Writes (or rewrites) a home; an existing genesis must be the same chain, an existing key is kept unless given. */
export function writeNodeHome(home: string, parts: { genesis: Genesis; privateKey?: Hex; config: NodeConfig }): { address: Hex } {
  const p = homePaths(home);
  mkdirSync(p.data, { recursive: true });
  const genesisText = JSON.stringify(genesisToJson(parts.genesis), null, 2) + "\n";
  if (existsSync(p.genesis) && readFileSync(p.genesis, "utf8") !== genesisText) {
    throw new NodeHomeError(home, "holds a different genesis.json; use a fresh home");
  }
  writeAtomic(p.genesis, genesisText);
  let privateKey = parts.privateKey;
  if (!privateKey) {
    if (existsSync(p.key)) privateKey = loadKey(home);
    else privateKey = toHex(randomBytes(32));
  }
  const address = Signer.fromPrivateKey(privateKey).address;
  writeAtomic(p.key, JSON.stringify({ address, privateKey }, null, 2) + "\n", 0o600);
  writeAtomic(p.config, JSON.stringify(parts.config, null, 2) + "\n");
  return { address };
}

function loadKey(home: string): Hex {
  const k = JSON.parse(readFileSync(homePaths(home).key, "utf8")) as { privateKey?: unknown };
  if (!isHex(k.privateKey, 32)) throw new NodeHomeError(home, "key.json: privateKey must be 32-byte 0x-hex");
  return k.privateKey as Hex;
}

export interface InitNetworkOptions {
  /** Parent directory: one home per validator, `<dir>/node<i>`; with one validator, `dir` itself. */
  readonly dir: string;
  readonly validators: number;
  readonly chainId: number;
  /** Validator i gets p2p port basePort + 2i and API port basePort + 2i + 1. */
  readonly basePort: number;
  readonly blockIntervalMs?: number;
  readonly stake?: bigint;
  /** Keys; default fresh random ones. */
  readonly privateKeys?: readonly Hex[];
  readonly assets?: GenesisParams["assets"];
  readonly balances?: GenesisParams["balances"];
  readonly timeMs?: number;
}

export interface InitNetworkResult {
  readonly chainId: number;
  readonly homes: readonly { readonly home: string; readonly address: Hex; readonly p2p: string; readonly api: string }[];
}

/** `isthmus node init`: keys, one genesis listing every validator, and configs that point at each other. */
export function initNodeHomes(o: InitNetworkOptions): InitNetworkResult {
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 100) throw new InvalidInputError("validators", "expected 1..100");
  if (!Number.isInteger(o.basePort) || o.basePort < 1024 || o.basePort + 2 * o.validators > 65535) throw new InvalidInputError("basePort", "expected a port ≥ 1024 leaving room for 2 ports per validator");
  const keys = o.privateKeys ?? Array.from({ length: o.validators }, () => toHex(randomBytes(32)));
  if (keys.length !== o.validators) throw new InvalidInputError("privateKeys", `expected ${o.validators}`);
  const homes = keys.map((_, i) => (o.validators === 1 ? o.dir : join(o.dir, `node${i}`)));
  for (const h of homes) if (existsSync(homePaths(h).genesis)) throw new InvalidInputError("home", `${h} is already initialized`);
  const genesis = makeGenesis({
    chainId: o.chainId,
    timeMs: o.timeMs ?? Date.now(),
    validators: keys.map((k) => ({ address: Signer.fromPrivateKey(k).address, stake: o.stake ?? 100n })),
    assets: o.assets ?? [],
    balances: o.balances ?? [],
  });
  const p2p = (i: number) => `127.0.0.1:${o.basePort + 2 * i}`;
  const blockIntervalMs = o.blockIntervalMs ?? 1000;
  const out = keys.map((privateKey, i) => {
    const config: NodeConfig = {
      p2pPort: o.basePort + 2 * i,
      apiPort: o.basePort + 2 * i + 1,
      peers: keys.map((_, j) => p2p(j)).filter((_, j) => j !== i),
      blockIntervalMs,
      maxClockSkewMs: DEFAULT_MAX_CLOCK_SKEW_MS,
      timeouts: timeoutsFor(blockIntervalMs),
      maxPeerMessageBytes: DEFAULT_MAX_PEER_MESSAGE_BYTES,
    };
    const { address } = writeNodeHome(homes[i]!, { genesis, privateKey, config });
    return { home: homes[i]!, address, p2p: p2p(i), api: `127.0.0.1:${config.apiPort}` };
  });
  return { chainId: genesis.chainId, homes: out };
}

function announceOf(value: unknown, where: string): string {
  const problem = typeof value === "string" ? endpointProblem(value) : "expected a string";
  if (problem) throw new InvalidInputError(`${where}: announce`, problem);
  return value as string;
}

function roleOf(value: unknown, where: string): "validator" | "follower" {
  if (value === "validator" || value === "follower") return value;
  throw new InvalidInputError(`${where}: role`, `must be "validator" or "follower", got ${JSON.stringify(value)}`);
}
