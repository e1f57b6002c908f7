/**
 * A local consortium chain: 4 validators in this process over the in-process transport,
 * and the node API (gRPC, 127.0.0.1) on validator 0.
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
import { OffsetClock } from "./clock.ts";
import { derivePrivateKey, Signer } from "./crypto.ts";
import { type ConsensusTimeouts, DEFAULT_MAX_CLOCK_SKEW_MS } from "./consensus/engine.ts";
import { InProcessNetwork } from "./consensus/transport.ts";
import { type Genesis, type GenesisJson, genesisFromJson, genesisToJson, makeGenesis } from "./genesis.ts";
import { type ChainLogger, quietLogger } from "./log.ts";
import { type NodeServer, startNodeServer } from "./rpc/server.ts";
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
  readonly nodes: readonly ValidatorNode[];
  stop(): Promise<void>;
}

export function devnetValidatorKeys(count = DEVNET_VALIDATORS): Hex[] {
  return Array.from({ length: count }, (_, i) => derivePrivateKey(DEVNET_VALIDATOR_SEED, i));
}

/** Timeouts that fit a block interval: a silent proposer costs about two intervals. */
export function devnetTimeouts(blockIntervalMs: number): ConsensusTimeouts {
  const base = Math.max(50, blockIntervalMs);
  return { proposeMs: base, prevoteMs: Math.ceil(base / 2), precommitMs: Math.ceil(base / 2), deltaMs: Math.ceil(base / 4) };
}

export async function startConsortiumDevnet(opts: ConsortiumDevnetOptions = {}): Promise<ConsortiumDevnet> {
  if (!opts.inMemory && !opts.dataDir) throw new InvalidInputError("dataDir", "required unless inMemory is set");
  const log = opts.log ?? quietLogger;
  const clock = opts.clock ?? new OffsetClock();
  const blockIntervalMs = opts.blockIntervalMs ?? DEVNET_BLOCK_INTERVAL_MS;
  const maxClockSkewMs = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const issuerKey = derivePrivateKey(DEVNET_ISSUER_SEED, 0);
  const issuer = { address: Signer.fromPrivateKey(issuerKey).address, privateKey: issuerKey };
  const keys = devnetValidatorKeys();

  const fresh = makeGenesis({
    chainId: opts.chainId ?? DEVNET_CHAIN_ID,
    timeMs: clock.now(),
    validators: keys.map((k) => ({ address: Signer.fromPrivateKey(k).address, stake: DEVNET_STAKE })),
    assets: [{ symbol: "KRW", decimals: 2, issuer: issuer.address }],
    balances: opts.balances ?? [],
  });
  const genesis = opts.inMemory ? fresh : loadOrWriteGenesis(opts.dataDir!, fresh);

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
    nodes,
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
