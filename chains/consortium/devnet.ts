/**
 * A local consortium chain of 4 validators and the node API (gRPC, 127.0.0.1) of validator 0.
 *
 * With `dataDir` (the default mode, what `npm start` runs) each validator is its own OS
 * process (`node/main.ts --home <dataDir>/validator-<i> --devnet`) talking gRPC to the others
 * on 127.0.0.1 ports picked at start; `clock.advance(sec)` moves every process's clock
 * through its devnet-only DevnetAdmin service (peer.proto), `advanceTime` also waits for
 * them. With `inMemory` (or `processes: false`) the 4 validators share this process over
 * the in-process transport and `nodes` exposes them (unit tests).
 *
 * DEVNET ONLY: validator keys and the KRW issuer key are derived from fixed public seeds
 * (crypto.ts derivePrivateKey), so anyone can sign as them. Genesis issues KRW (2 decimals)
 * with that issuer; balances are the caller's. With `dataDir`, the genesis is written to
 * `genesis.json` there and reused on restart, and each validator keeps its SQLite file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Hex } from "../../proofs/hex.ts";
import { type ValidatorSet } from "../../proofs/consortium/validators.ts";
import { InvalidInputError } from "../errors.ts";
import { createServer, type AddressInfo, type Server } from "node:net";
import { OffsetClock, systemClock } from "./clock.ts";
import { derivePrivateKey, Signer } from "./crypto.ts";
import { type ConsensusTimeouts, DEFAULT_MAX_CLOCK_SKEW_MS } from "./consensus/engine.ts";
import { InProcessNetwork } from "./consensus/transport.ts";
import { type Genesis, type GenesisJson, genesisFromJson, genesisToJson, makeGenesis } from "./genesis.ts";
import { type ChainLogger, quietLogger } from "./log.ts";
import { DEFAULT_MAX_PEER_MESSAGE_BYTES } from "./net/peer-wire.ts";
import { timeoutsFor, writeNodeHome } from "./node/home.ts";
import { NodeProcess } from "./node/process.ts";
import { ConsortiumClient } from "./rpc/client.ts";
import { LOCALHOST, type NodeServer, startNodeServer } from "./rpc/server.ts";
import { ValidatorNode } from "./validator.ts";

export const DEVNET_CHAIN_ID = 7770;
export const DEVNET_VALIDATOR_SEED = "isthmus/consortium/devnet/validator";
export const DEVNET_ISSUER_SEED = "isthmus/consortium/devnet/issuer";
export const DEVNET_VALIDATORS = 4;
export const DEVNET_STAKE = 100n;
export const DEVNET_BLOCK_INTERVAL_MS = 1000;

export interface ConsortiumDevnetOptions {
  /** Directory for genesis.json and the validators' SQLite files. Required unless inMemory. */
  readonly dataDir?: string;
  /** Keep every store in memory (tests); nothing survives stop(). */
  readonly inMemory?: boolean;
  /** gRPC port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Default 1000 ms. */
  readonly blockIntervalMs?: number;
  /** Initial balances in base units (ISTH has 18 decimals, KRW 2). */
  readonly balances?: readonly { readonly address: string; readonly asset: string; readonly amount: bigint }[];
  /** Every validator's clock; default a fresh OffsetClock over the system clock. Advance it to move chain time. */
  readonly clock?: OffsetClock;
  readonly chainId?: number;
  readonly maxClockSkewMs?: number;
  /** Consensus timeouts; default scaled to the block interval. */
  readonly timeouts?: ConsensusTimeouts;
  readonly log?: ChainLogger;
  /** One OS process per validator (default: true unless inMemory). Requires dataDir. */
  readonly processes?: boolean;
  /** Log level of the validator processes (their lines go to `log`). Default "info". */
  readonly processLogLevel?: "debug" | "info" | "warn" | "error";
}

export interface ConsortiumDevnet {
  /** "127.0.0.1:<port>" of the node API. */
  readonly endpoint: string;
  readonly port: number;
  readonly chainId: number;
  /** The validators (address, stake) as a trusted set for adapters, e.g. ConsortiumLedgerOptions.validators. */
  readonly validators: ValidatorSet["validators"];
  readonly validatorSet: ValidatorSet;
  readonly genesis: Genesis;
  /** The chain's assets (ISTH, KRW), e.g. for ConsortiumLedgerOptions.assets. */
  readonly assets: readonly { readonly symbol: string; readonly decimals: number; readonly id: string }[];
  /** Shared by every validator: `clock.advance(sec)` moves chain time forward for all. */
  readonly clock: OffsetClock;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  /** Timing for adapters: block interval and skew bound in seconds. */
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  /** The KRW issuer's devnet key (public, see the module comment). */
  readonly issuer: { readonly address: Hex; readonly privateKey: Hex };
  /** In-process mode: the validators. Empty in process mode. */
  readonly nodes: readonly ValidatorNode[];
  /** Process mode: one child process per validator (kill, restart, partition them). Empty in-process. */
  readonly processes: readonly NodeProcess[];
  /** Moves chain time forward on every validator and waits until each has the new clock. */
  advanceTime(sec: number): Promise<void>;
  stop(): Promise<void>;
}

export function devnetValidatorKeys(count = DEVNET_VALIDATORS): Hex[] {
  return Array.from({ length: count }, (_, i) => derivePrivateKey(DEVNET_VALIDATOR_SEED, i));
}

/** Timeouts that fit a block interval: a silent proposer costs about two intervals. */
export function devnetTimeouts(blockIntervalMs: number): ConsensusTimeouts {
  return timeoutsFor(blockIntervalMs);
}

export async function startConsortiumDevnet(opts: ConsortiumDevnetOptions = {}): Promise<ConsortiumDevnet> {
  if (!opts.inMemory && !opts.dataDir) throw new InvalidInputError("dataDir", "required unless inMemory is set");
  const processes = opts.processes ?? !opts.inMemory;
  if (processes && opts.inMemory) throw new InvalidInputError("processes", "validator processes need a dataDir, not inMemory");
  return processes ? startProcessDevnet(opts) : startInProcessDevnet(opts);
}

interface DevnetBasics {
  readonly log: ChainLogger;
  readonly blockIntervalMs: number;
  readonly maxClockSkewMs: number;
  readonly issuer: { readonly address: Hex; readonly privateKey: Hex };
  readonly keys: Hex[];
  readonly genesis: Genesis;
}

function devnetBasics(opts: ConsortiumDevnetOptions, nowMs: number): DevnetBasics {
  const issuerKey = derivePrivateKey(DEVNET_ISSUER_SEED, 0);
  const issuer = { address: Signer.fromPrivateKey(issuerKey).address, privateKey: issuerKey };
  const keys = devnetValidatorKeys();
  const fresh = makeGenesis({
    chainId: opts.chainId ?? DEVNET_CHAIN_ID,
    timeMs: nowMs,
    validators: keys.map((k) => ({ address: Signer.fromPrivateKey(k).address, stake: DEVNET_STAKE })),
    assets: [{ symbol: "KRW", decimals: 2, issuer: issuer.address }],
    balances: opts.balances ?? [],
  });
  return {
    log: opts.log ?? quietLogger,
    blockIntervalMs: opts.blockIntervalMs ?? DEVNET_BLOCK_INTERVAL_MS,
    maxClockSkewMs: opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
    issuer,
    keys,
    genesis: opts.inMemory ? fresh : loadOrWriteGenesis(opts.dataDir!, fresh),
  };
}

/** The clock of a process devnet: advancing it pushes the new offset to every validator process. */
class ProcessDevnetClock extends OffsetClock {
  #pending: Promise<void> = Promise.resolve();
  readonly #targets: () => readonly NodeProcess[];
  readonly #log: ChainLogger;

  constructor(offsetMs: number, targets: () => readonly NodeProcess[], log: ChainLogger) {
    super(undefined, offsetMs);
    this.#targets = targets;
    this.#log = log;
  }

  override advanceMs(ms: number): void {
    super.advanceMs(ms);
    this.#pending = this.push();
  }

  /** Resolves once every running validator has the current offset. */
  synced(): Promise<void> {
    return this.#pending;
  }

  push(): Promise<void> {
    const offset = this.offsetMs;
    return Promise.all(
      this.#targets()
        .filter((p) => p.running)
        .map((p) => p.setClockOffset(offset).then(() => undefined, (err: unknown) => this.#log.warn("could not move a validator's clock", { home: p.home, error: (err as Error).message }))),
    ).then(() => undefined);
  }
}

async function startProcessDevnet(opts: ConsortiumDevnetOptions): Promise<ConsortiumDevnet> {
  const dataDir = opts.dataDir!;
  const base = devnetBasics(opts, (opts.clock ?? systemClock).now());
  const { log, blockIntervalMs, maxClockSkewMs, issuer, keys, genesis } = base;
  const procs: NodeProcess[] = [];
  const clock = new ProcessDevnetClock(opts.clock?.offsetMs ?? 0, () => procs, log);
  const ports = await freePorts(keys.length * 2);
  const apiPort = (i: number) => (i === 0 && opts.port ? opts.port : ports[2 * i + 1]!);
  const p2p = (i: number) => `${LOCALHOST}:${ports[2 * i]!}`;
  const homes = keys.map((privateKey, i) => {
    const home = join(dataDir, `validator-${i}`);
    writeNodeHome(home, {
      genesis,
      privateKey,
      config: {
        p2pPort: ports[2 * i]!,
        apiPort: apiPort(i),
        peers: keys.map((_, j) => p2p(j)).filter((_, j) => j !== i),
        blockIntervalMs,
        maxClockSkewMs,
        timeouts: opts.timeouts ?? timeoutsFor(blockIntervalMs),
        maxPeerMessageBytes: DEFAULT_MAX_PEER_MESSAGE_BYTES,
      },
    });
    return home;
  });
  try {
    const started = await Promise.allSettled(
      homes.map((home) => NodeProcess.start({ home, devnet: true, clockOffsetMs: () => clock.offsetMs, logLevel: opts.processLogLevel ?? "info", log })),
    );
    for (const s of started) if (s.status === "fulfilled") procs.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    // After a restart the chain may be ahead of a fresh clock: move every validator's clock up to it.
    const heads = await Promise.all(procs.map((p) => withClient(p.apiEndpoint, (c) => c.getStatus())));
    const behind = Math.max(...heads.map((h) => h.lastBlockTimeMs)) - clock.now();
    if (behind > 0) {
      clock.advanceMs(behind + 1);
      log.info("advanced the devnet clock to the last block time", { advancedMs: behind + 1 });
    }
    await clock.synced();
  } catch (err) {
    await Promise.all(procs.map((p) => p.close()));
    throw err;
  }
  const endpoint = procs[0]!.apiEndpoint;
  log.info("consortium devnet started (one process per validator)", { endpoint, chainId: genesis.chainId, pids: procs.map((p) => p.pid) });
  let stopped = false;
  return {
    endpoint,
    port: Number(endpoint.split(":")[1]),
    ...chainFacts(genesis, clock, blockIntervalMs, maxClockSkewMs, issuer),
    nodes: [],
    processes: procs,
    async advanceTime(sec: number) {
      clock.advance(sec);
      await clock.synced();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(procs.map((p) => p.close()));
    },
  };
}

async function withClient<T>(endpoint: string, fn: (c: ConsortiumClient) => Promise<T>): Promise<T> {
  const c = new ConsortiumClient(endpoint);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Free 127.0.0.1 ports, held together while picked so they are distinct. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((res, rej) => {
      const s = createServer();
      s.once("error", rej);
      s.listen(0, LOCALHOST, () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  return ports;
}

/** The first port p ≥ `near` such that p .. p + n − 1 are all free on 127.0.0.1 (for initNodeHomes' contiguous ports). */
export async function contiguousFreePorts(n: number, near = 20000): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((res) => {
      const s = createServer();
      s.once("error", () => res(false));
      s.listen(port, LOCALHOST, () => s.close(() => res(true)));
    });
  for (let base = near; base + n <= 65535; base += n) {
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error(`no ${n} contiguous free ports from ${near}`);
}

async function startInProcessDevnet(opts: ConsortiumDevnetOptions): Promise<ConsortiumDevnet> {
  const clock = opts.clock ?? new OffsetClock();
  const { log, blockIntervalMs, maxClockSkewMs, issuer, keys, genesis } = devnetBasics(opts, clock.now());
  const network = new InProcessNetwork();
  const nodes: ValidatorNode[] = [];
  let server: NodeServer | undefined;
  try {
    keys.forEach((privateKey, i) => {
      nodes.push(
        ValidatorNode.open({
          genesis,
          privateKey,
          transport: network.connect(),
          clock,
          storePath: opts.inMemory ? ":memory:" : join(opts.dataDir!, `validator-${i}.sqlite`),
          blockIntervalMs,
          maxClockSkewMs,
          timeouts: opts.timeouts ?? devnetTimeouts(blockIntervalMs),
          log,
        }),
      );
    });
    catchUpClock(clock, Math.max(...nodes.map((n) => n.chain.head.header.timeMs)), log);
    for (const n of nodes) n.start();
    server = await startNodeServer({ node: nodes[0]!, port: opts.port ?? 0, log });
  } catch (err) {
    for (const n of nodes) n.stop();
    throw err;
  }
  const api = server;
  log.info("consortium devnet started", { endpoint: api.endpoint, chainId: genesis.chainId, height: nodes[0]!.chain.height });
  let stopped = false;
  return {
    endpoint: api.endpoint,
    port: api.port,
    ...chainFacts(genesis, clock, blockIntervalMs, maxClockSkewMs, issuer),
    nodes,
    processes: [],
    async advanceTime(sec: number) {
      clock.advance(sec);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await api.close();
      for (const n of nodes) n.stop();
    },
  };
}

/** Reuses dataDir/genesis.json if present (it must match the requested genesis apart from its time). */
function loadOrWriteGenesis(dataDir: string, fresh: Genesis): Genesis {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "genesis.json");
  if (!existsSync(file)) {
    writeFileSync(`${file}.tmp`, JSON.stringify(genesisToJson(fresh), null, 2) + "\n");
    renameSync(`${file}.tmp`, file);
    return fresh;
  }
  const saved = genesisFromJson(JSON.parse(readFileSync(file, "utf8")) as GenesisJson);
  const comparable = (g: Genesis) => JSON.stringify({ ...genesisToJson(g), timeMs: 0 });
  if (comparable(saved) !== comparable(fresh)) {
    throw new InvalidInputError("dataDir", `${file} holds a different genesis (chain id, validators, assets or balances); use a fresh dataDir`);
  }
  return saved;
}

/** After a restart the chain may be ahead of a fresh clock; proposals would then be untimely until it caught up. */
function catchUpClock(clock: OffsetClock, lastBlockTimeMs: number, log: ChainLogger): void {
  const behind = lastBlockTimeMs - clock.now();
  if (behind <= 0) return;
  clock.advanceMs(behind + 1);
  log.info("advanced the devnet clock to the last block time", { advancedMs: behind + 1 });
}

/** What both devnet modes report about the chain they run, the same way. */
function chainFacts(genesis: Genesis, clock: OffsetClock, blockIntervalMs: number, maxClockSkewMs: number, issuer: ConsortiumDevnet["issuer"]) {
  return {
    chainId: genesis.chainId,
    validators: genesis.validators.validators,
    validatorSet: genesis.validators,
    genesis,
    assets: genesis.assets.map((a) => ({ symbol: a.symbol, decimals: a.decimals, id: a.symbol })),
    clock,
    blockIntervalMs,
    maxClockSkewMs,
    blockTimeSec: blockIntervalMs / 1000,
    clockSkewSec: maxClockSkewMs / 1000,
    issuer,
  };
}
