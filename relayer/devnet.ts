import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { startConsortiumDevnet, type ConsortiumDevnet } from "../chains/consortium/devnet.ts";
import { IsthmusError } from "../chains/errors.ts";
import { deployEvmContracts, type EvmDeployment } from "../chains/evm/deploy.ts";
import { hardhatAccount, startHardhatNode, type HardhatNode } from "../chains/evm/hardhat-node.ts";
import { FabricLedger } from "../chains/fabric/adapter.ts";
import { TIME_BOUND_SEC } from "../chains/fabric/chaincode/src/htlc.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../chains/fabric/devnet.ts";
import { fabricAddress } from "../chains/fabric/identity.ts";
import type { Hex } from "../chains/ledger.ts";
import { newApiKey } from "./api/auth.ts";
import { readConfig, type RelayerConfig } from "./config.ts";
import type { TimelockPolicy } from "./core/timelock.ts";
import { startRelayer, type RelayerDaemon } from "./daemon.ts";
import { writeDevnetFile, type DevnetFile } from "./devnet-file.ts";
import type { Logger } from "./log.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** Devnet keys are Hardhat's public test accounts: #0 deploys, #1 is the demo user, #2 the relayer. */
export const DEVNET_KEYS = { deployer: hardhatAccount(0), user: hardhatAccount(1), relayer: hardhatAccount(2) } as const;

const ISTH = 10n ** 18n;
const KRW = 100n; // 2 decimals

export interface DevnetOptions {
  /** Directory for every ledger's and the relayer's state; wiped at start (the EVM node is in-memory anyway). */
  readonly dir: string;
  /** 0 = any free port. */
  readonly ports?: { readonly consortium?: number; readonly evm?: number; readonly api?: number; readonly fabric?: number; readonly metrics?: number };
  readonly consortiumBlockMs?: number;
  readonly evmBlockMs?: number;
  readonly evmConfirmations?: number;
  readonly pollMs?: number;
  readonly timelocks?: Partial<TimelockPolicy>;
  /** Start the relayer daemon in-process (default). Tests of its crash recovery run it as a child instead. */
  readonly startRelayer?: boolean;
  readonly log: Logger;
}

export interface Devnet {
  /** devnet.json: what the CLI reads. */
  readonly file: string;
  readonly configFile: string;
  readonly config: RelayerConfig;
  /** The demo tenant's API key (its sha256 is in the config; the key is in the devnet file). */
  readonly apiKey: string;
  /** Null when started with `startRelayer: false`. */
  readonly relayer: RelayerDaemon | null;
  readonly consortium: ConsortiumDevnet;
  readonly evm: HardhatNode;
  readonly deployment: EvmDeployment;
  /** The embedded Fabric network; demo identities are under `<dir>/fabric/crypto/<MSP>/users/<name>`. */
  readonly fabric: FabricNode;
  readonly services: readonly { readonly name: string; readonly address: string }[];
  /** Move every ledger's chain time forward together (tests: expiry without sleeping). */
  advanceTime(sec: number): Promise<void>;
  stop(): Promise<void>;
}

export class DevnetStartError extends IsthmusError {
  override name = "DevnetStartError";
  constructor(step: string, cause: unknown) {
    super("DEVNET_START_FAILED", `devnet: ${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { step }, { cause });
  }
}

/** Compile the contracts once if a fresh clone has no artifacts yet. */
export function ensureCompiled(): void {
  if (existsSync(join(REPO_ROOT, "artifacts/contracts/HTLC.sol/HTLC.json"))) return;
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve("hardhat/package.json")), "internal/cli/bootstrap.js");
  const res = spawnSync(process.execPath, [cli, "compile", "--quiet"], { cwd: REPO_ROOT, encoding: "utf8" });
  if (res.status !== 0) throw new DevnetStartError("compiling contracts", new Error((res.stderr || res.stdout).trim().slice(-2000)));
}

/**
 * The whole devnet: the consortium chain (4 validators), a Hardhat node with our contracts,
 * demo balances on both, and the relayer daemon configured for both pairs.
 */
export async function startDevnet(opts: DevnetOptions): Promise<Devnet> {
  const dir = resolve(opts.dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      await stopAll();
      throw err instanceof IsthmusError ? err : new DevnetStartError(name, err);
    }
  };

  await step("compiling contracts", async () => ensureCompiled());
  const { user, relayer, deployer } = DEVNET_KEYS;

  const consortium = await step("starting the consortium chain", () =>
    startConsortiumDevnet({
      dataDir: join(dir, "consortium"),
      port: opts.ports?.consortium ?? 0,
      blockIntervalMs: opts.consortiumBlockMs ?? 1000,
      balances: [
        { address: user.address, asset: "ISTH", amount: 1_000_000n * ISTH },
        { address: user.address, asset: "KRW", amount: 100_000_000n * KRW },
        { address: relayer.address, asset: "ISTH", amount: 1_000_000n * ISTH },
        { address: relayer.address, asset: "KRW", amount: 100_000_000n * KRW },
      ],
    }),
  );
  stops.push(() => consortium.stop());

  const evmBlockMs = opts.evmBlockMs ?? 1000;
  const evm = await step("starting the Hardhat node", () =>
    startHardhatNode({ port: opts.ports?.evm ?? 0, chainId: 31337, blockIntervalMs: evmBlockMs, stateDir: join(dir, "hardhat") }),
  );
  stops.push(() => evm.stop());

  const deployment = await step("deploying contracts", () =>
    deployEvmContracts({
      rpcUrl: evm.url,
      chainId: evm.chainId,
      deployerKey: deployer.privateKey,
      mints: [
        { to: user.address, amount: 100_000_000n * KRW },
        { to: relayer.address, amount: 100_000_000n * KRW },
      ],
    }),
  );

  // Fabric: identities are certificates (Org1MSP "relayer" for the relayer, "alice" for the demo user).
  const fabric = await step("starting the Fabric network", () => startFabricNode({ dir: join(dir, "fabric"), port: opts.ports?.fabric ?? 0 }));
  stops.push(() => fabric.close());
  const fabricIds = join(dir, "fabric", "crypto");
  // The channel's config block, as an operator would fetch it once and trust it from then on.
  const fabricConfigBlock = join(dir, "fabric", "channel-config.block");
  writeFileSync(fabricConfigBlock, fabric.network.getBlock(0)!.serializeBinary());
  const fabricWho = (key: Hex) => (key === relayer.privateKey ? "relayer" : "alice");
  await step("issuing KRW on Fabric", async () => {
    const issuerId = fabric.network.identity("Org1MSP", "issuer");
    const issuer = new FabricLedger({
      name: "fabric",
      gatewayAddress: fabric.network.address,
      channel: fabric.network.channel,
      chaincode: CHAINCODE_NAME,
      mspId: issuerId.mspId,
      certPem: issuerId.certPem,
      keyPem: issuerId.keyPem,
      ordererCertPem: fabric.network.ordererCertPem,
    });
    try {
      for (const who of ["alice", "relayer"]) {
        const id = fabric.network.identity("Org1MSP", who);
        await issuer.mint("KRW", fabricAddress(id.mspId, id.certPem), 100_000_000n * KRW);
      }
    } finally {
      await issuer.close();
    }
  });

  const chainsFor = (key: Hex) => ({
    consortium: {
      kind: "consortium",
      endpoint: consortium.endpoint,
      chainId: consortium.chainId,
      validators: consortium.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })),
      blockTimeSec: (opts.consortiumBlockMs ?? 1000) / 1000,
      clockSkewSec: consortium.clockSkewSec,
      key: { hex: key },
    },
    evm: {
      kind: "evm",
      rpcUrl: evm.url,
      chainId: evm.chainId,
      htlc: deployment.htlc,
      confirmations: opts.evmConfirmations ?? 2,
      blockTimeSec: Math.max(evmBlockMs, 1) / 1000,
      clockSkewSec: 2,
      assets: [
        { symbol: "ETH", decimals: 18, id: ZERO_ADDRESS },
        { symbol: "KRWT", decimals: 2, id: deployment.krwt },
      ],
      key: { hex: key },
    },
    fabric: {
      kind: "fabric",
      gateway: fabric.network.address,
      channel: fabric.network.channel,
      chaincode: CHAINCODE_NAME,
      mspId: "Org1MSP",
      identityDir: join(fabricIds, "Org1MSP", "users", fabricWho(key)),
      ordererCert: join(fabricIds, "OrdererMSP", "users", "orderer0", "cert.pem"),
      configBlock: fabricConfigBlock,
      blockTimeSec: 1,
      clockSkewSec: TIME_BOUND_SEC,
    },
  });

  const demoKey = newApiKey();
  const configDoc = {
    store: join(dir, "relayer.db"),
    api: { host: "127.0.0.1", port: opts.ports?.api ?? 0, tenants: [{ name: "demo", keySha256: demoKey.keySha256, ratePerMinute: 60_000, burst: 1000 }] },
    metrics: { listen: `127.0.0.1:${opts.ports?.metrics ?? 0}` },
    pollMs: opts.pollMs ?? 250,
    timelocks: { ...opts.timelocks },
    chains: chainsFor(relayer.privateKey),
    routes: [
      { from: "consortium:KRW", to: "evm:KRWT", rate: "1", min: "1", max: "1000000" },
      { from: "evm:KRWT", to: "consortium:KRW", rate: "1", min: "1", max: "1000000" },
      { from: "consortium:ISTH", to: "evm:ETH", rate: "0.001", min: "1", max: "100000" },
      { from: "evm:ETH", to: "consortium:ISTH", rate: "1000", min: "0.001", max: "100" },
      { from: "fabric:KRW", to: "consortium:KRW", rate: "1", min: "1", max: "1000000" },
      { from: "consortium:KRW", to: "fabric:KRW", rate: "1", min: "1", max: "1000000" },
      { from: "fabric:KRW", to: "evm:KRWT", rate: "1", min: "1", max: "1000000" },
      { from: "evm:KRWT", to: "fabric:KRW", rate: "1", min: "1", max: "1000000" },
    ],
  };
  const configFile = join(dir, "relayer.yaml");
  writeFileSync(
    configFile,
    "# Written by the devnet (npm start). Keys here are Hardhat's public test keys: never use them elsewhere.\n" + toYaml(configDoc),
    { mode: 0o600 },
  );
  const config = readConfig(configDoc, configFile);
  const daemon = opts.startRelayer === false ? null : await step("starting the relayer", () => startRelayer(config, opts.log));
  if (daemon) stops.push(() => daemon.stop());
  const apiUrl = daemon?.api.url ?? `http://${config.api.host}:${config.api.port}`;

  const services = [
    { name: "consortium", address: consortium.endpoint },
    { name: "evm", address: evm.url },
    { name: "relayer-api", address: apiUrl },
    ...(daemon?.metricsServer ? [{ name: "metrics", address: `${daemon.metricsServer.url}/metrics` }] : []),
    { name: "fabric", address: fabric.network.address },
    { name: "fabric ids", address: `${fabricIds} (demo user: Org1MSP/users/alice, relayer: Org1MSP/users/relayer)` },
  ];
  const file = join(dir, "devnet.json");
  const devnetFile: DevnetFile = {
    api: apiUrl,
    apiKey: demoKey.key,
    chains: chainsFor(user.privateKey),
    users: { demo: { address: user.address, privateKey: user.privateKey } },
    relayer: { address: relayer.address },
    relayerOn: { fabric: fabricAddress("Org1MSP", fabric.network.identity("Org1MSP", "relayer").certPem) },
    services,
  };
  writeDevnetFile(file, devnetFile);

  return {
    file,
    configFile,
    config,
    apiKey: demoKey.key,
    relayer: daemon,
    consortium,
    evm,
    deployment,
    fabric,
    services,
    async advanceTime(sec: number) {
      await consortium.advanceTime(sec);
      await rpc(evm.url, "evm_increaseTime", [sec]);
      await rpc(evm.url, "evm_mine", []);
    },
    stop: stopAll,
  };
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}
