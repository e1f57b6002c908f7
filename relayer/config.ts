import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { IsthmusError } from "../chains/errors.ts";
import { parseAmount, parseRate, type Rate } from "./core/amount.ts";
import { parseAssetRef, type AssetRef } from "./core/route.ts";
import type { TimelockPolicy } from "./core/timelock.ts";
import { unlockKeystoreSync } from "./keys/keystore.ts";
import type { RemoteSignerConfig } from "./keys/remote-signer.ts";
import { DEFAULT_BURST, DEFAULT_RATE_PER_MINUTE, type TenantConfig } from "./api/auth.ts";

/** A config problem, naming the file, the key path and what is wrong. */
export class ConfigError extends IsthmusError {
  override name = "ConfigError";
  constructor(file: string, path: string, problem: string) {
    super("CONFIG_INVALID", `${file}: ${path || "(root)"}: ${problem}`, { file, path, problem });
  }
}

export type KeySource =
  | { readonly hex: string }
  | { readonly env: string }
  | { readonly file: string }
  /** An encrypted JSON keystore (scrypt); the password from an env var, a file, or a prompt at start. */
  | { readonly keystore: string; readonly passwordEnv?: string; readonly passwordFile?: string }
  /** An external signer (a signing service, an HSM) holds the key; `address`, when given, must be the one it reports. */
  | { readonly signer: RemoteSignerConfig; readonly address?: string };

export interface AssetConfig {
  readonly symbol: string;
  readonly decimals: number;
  readonly id: string;
}

export interface ConsortiumChainConfig {
  readonly kind: "consortium";
  readonly name: string;
  readonly endpoint: string;
  readonly chainId: number;
  /** The trusted validator set (from genesis): the adapter verifies every commit against it. */
  readonly validators: readonly { readonly address: string; readonly stake: bigint }[];
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  readonly key: KeySource;
}

export interface EvmChainConfig {
  readonly kind: "evm";
  readonly name: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly htlc: string;
  readonly confirmations: number;
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  readonly assets: readonly AssetConfig[];
  readonly key: KeySource;
}

/** A Fabric channel running the Isthmus chaincode; the identity is an MSP certificate and key, not a hex key. */
export interface FabricChainConfig {
  readonly kind: "fabric";
  readonly name: string;
  /** The peer's gateway endpoint, host:port. */
  readonly gateway: string;
  readonly channel: string;
  readonly chaincode: string;
  readonly mspId: string;
  /** Directory holding cert.pem and, unless `signer` is set, key.pem of the client identity. */
  readonly identityDir: string;
  /** An external signer holding the identity's P-256 key (then key.pem is neither needed nor read). */
  readonly signer?: RemoteSignerConfig;
  /** PEM file of the orderer's certificate, trusted for block signatures. */
  readonly ordererCert: string;
  /**
   * The channel's config block (a serialized common.Block, e.g. from `peer channel fetch config`),
   * trusted: its MSPs and policies judge the blocks and locks the relayer acts on. Unset: the
   * block 0 the peer first serves is trusted on first use.
   */
  readonly configBlock: string | null;
  readonly blockTimeSec: number;
  readonly clockSkewSec: number;
  readonly assets: readonly AssetConfig[];
}

export type ChainConfig = ConsortiumChainConfig | EvmChainConfig | FabricChainConfig;

export interface RouteConfig {
  readonly from: AssetRef;
  readonly to: AssetRef;
  readonly rate: Rate;
  /** Human amounts of the `from` asset; converted once adapters know decimals. */
  readonly min: string;
  readonly max: string;
}

export interface RelayerConfig {
  readonly file: string;
  readonly store: string;
  readonly api: { readonly host: string; readonly port: number; readonly tenants: readonly TenantConfig[] };
  /** A listener of its own for /metrics, /healthz and /readyz (Prometheus on an internal interface); absent or null: only the API port serves them. */
  readonly metrics?: { readonly listen: { readonly host: string; readonly port: number } | null };
  readonly pollMs: number;
  readonly scheduling: { readonly concurrencyPerChain: number };
  readonly timelocks: TimelockPolicy;
  readonly chains: readonly ChainConfig[];
  readonly routes: readonly RouteConfig[];
}

/** Defaults, also the documentation of every key (see relayer.example.yaml). */
export const DEFAULT_TIMELOCKS: TimelockPolicy = {
  safetyBufferSec: 10,
  minClaimWindowSec: 60,
  maxRelayerLockSec: 1800,
  quoteTtlSec: 900,
  reactionSec: 3,
};

type Obj = Record<string, unknown>;

/** Tiny labelled readers: each failure names the key path. Unknown keys are refused. */
class Reader {
  constructor(readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new ConfigError(this.file, path, problem);
  }

  object(path: string, v: unknown, allowed: readonly string[]): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "must be a mapping");
    for (const k of Object.keys(v as Obj)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `unknown key (allowed: ${allowed.join(", ")})`);
    }
    return v as Obj;
  }

  list(path: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "must be a list");
    return v;
  }

  string(path: string, v: unknown, fallback?: string): string {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || v.length === 0) this.fail(path, v === undefined ? "is required" : "must be a non-empty string");
    return v;
  }

  number(path: string, v: unknown, opts: { fallback?: number; min?: number; integer?: boolean } = {}): number {
    if (v === undefined && opts.fallback !== undefined) return opts.fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, v === undefined ? "is required" : "must be a number");
    if (opts.integer && !Number.isInteger(v)) this.fail(path, "must be an integer");
    if (opts.min !== undefined && v < opts.min) this.fail(path, `must be at least ${opts.min}`);
    return v;
  }

  address(path: string, v: unknown): string {
    const s = this.string(path, v);
    if (!/^0x[0-9a-fA-F]{40}$/.test(s)) this.fail(path, `"${s}" is not a 20-byte 0x address`);
    return s.toLowerCase();
  }

  guard<T>(path: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      this.fail(path, err instanceof Error ? err.message : String(err));
    }
  }
}

function join(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function readRemoteSigner(r: Reader, path: string, v: unknown): RemoteSignerConfig {
  const o = r.object(path, v, ["url", "keyId", "tokenEnv", "timeoutMs"]);
  const url = r.string(join(path, "url"), o.url);
  if (!/^https?:\/\/[^\s]+$/.test(url)) r.fail(join(path, "url"), "must be an http(s) URL");
  const keyId = r.string(join(path, "keyId"), o.keyId);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(keyId)) r.fail(join(path, "keyId"), "must be 1-128 characters of A-Z a-z 0-9 . _ -");
  return {
    url,
    keyId,
    ...(o.tokenEnv !== undefined ? { tokenEnv: r.string(join(path, "tokenEnv"), o.tokenEnv) } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: r.number(join(path, "timeoutMs"), o.timeoutMs, { integer: true, min: 1 }) } : {}),
  };
}

function readKey(r: Reader, path: string, v: unknown): KeySource {
  const o = r.object(path, v, ["hex", "env", "file", "keystore", "passwordEnv", "passwordFile", "signer", "address"]);
  const set = ["hex", "env", "file", "keystore", "signer"].filter((k) => o[k] !== undefined);
  if (set.length !== 1) r.fail(path, "give exactly one of keystore, env, file, hex or signer");
  if (o.signer !== undefined) {
    return {
      signer: readRemoteSigner(r, join(path, "signer"), o.signer),
      ...(o.address !== undefined ? { address: r.address(join(path, "address"), o.address) } : {}),
    };
  }
  if (o.address !== undefined) r.fail(join(path, "address"), "goes with signer (the address an external signer must report)");
  if (o.keystore !== undefined) {
    if (o.passwordEnv !== undefined && o.passwordFile !== undefined) r.fail(path, "give at most one of passwordEnv or passwordFile (neither: asked at start)");
    return {
      keystore: r.string(join(path, "keystore"), o.keystore),
      ...(o.passwordEnv !== undefined ? { passwordEnv: r.string(join(path, "passwordEnv"), o.passwordEnv) } : {}),
      ...(o.passwordFile !== undefined ? { passwordFile: r.string(join(path, "passwordFile"), o.passwordFile) } : {}),
    };
  }
  if (o.passwordEnv !== undefined || o.passwordFile !== undefined) r.fail(path, "passwordEnv and passwordFile go with keystore");
  if (o.hex !== undefined) {
    const hex = r.string(join(path, "hex"), o.hex);
    if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) r.fail(join(path, "hex"), "must be a 32-byte 0x-hex private key");
    return { hex };
  }
  if (o.env !== undefined) return { env: r.string(join(path, "env"), o.env) };
  return { file: r.string(join(path, "file"), o.file) };
}

function readChain(r: Reader, path: string, name: string, v: unknown): ChainConfig {
  const kind = (v as Obj | null)?.kind;
  const common = ["kind", "chainId", "blockTimeSec", "clockSkewSec", "key"];
  if (kind === "consortium") {
    const o = r.object(path, v, [...common, "endpoint", "validators"]);
    const validators = r.list(join(path, "validators"), o.validators).map((item, i) => {
      const p = join(join(path, "validators"), i);
      const vo = r.object(p, item, ["address", "stake"]);
      const stake = vo.stake;
      if (typeof stake !== "number" && typeof stake !== "string") r.fail(join(p, "stake"), "must be a number or decimal string");
      return { address: r.address(join(p, "address"), vo.address), stake: r.guard(join(p, "stake"), () => BigInt(stake)) };
    });
    if (validators.length === 0) r.fail(join(path, "validators"), "must list at least one validator");
    return {
      kind,
      name,
      endpoint: r.string(join(path, "endpoint"), o.endpoint),
      chainId: r.number(join(path, "chainId"), o.chainId, { integer: true, min: 1 }),
      validators,
      blockTimeSec: r.number(join(path, "blockTimeSec"), o.blockTimeSec, { fallback: 1, min: 0.01 }),
      clockSkewSec: r.number(join(path, "clockSkewSec"), o.clockSkewSec, { fallback: 2, min: 0 }),
      key: readKey(r, join(path, "key"), o.key),
    };
  }
  if (kind === "evm") {
    const o = r.object(path, v, [...common, "rpcUrl", "htlc", "confirmations", "assets"]);
    const assets = r.list(join(path, "assets"), o.assets).map((item, i) => {
      const p = join(join(path, "assets"), i);
      const ao = r.object(p, item, ["symbol", "decimals", "id"]);
      return {
        symbol: r.string(join(p, "symbol"), ao.symbol),
        decimals: r.number(join(p, "decimals"), ao.decimals, { integer: true, min: 0 }),
        id: r.address(join(p, "id"), ao.id),
      };
    });
    const rpcUrl = r.string(join(path, "rpcUrl"), o.rpcUrl);
    if (!/^https?:\/\//.test(rpcUrl)) r.fail(join(path, "rpcUrl"), "must be an http(s) URL");
    return {
      kind,
      name,
      rpcUrl,
      chainId: r.number(join(path, "chainId"), o.chainId, { integer: true, min: 1 }),
      htlc: r.address(join(path, "htlc"), o.htlc),
      confirmations: r.number(join(path, "confirmations"), o.confirmations, { fallback: 2, integer: true, min: 0 }),
      blockTimeSec: r.number(join(path, "blockTimeSec"), o.blockTimeSec, { fallback: 12, min: 0.01 }),
      clockSkewSec: r.number(join(path, "clockSkewSec"), o.clockSkewSec, { fallback: 15, min: 0 }),
      assets,
      key: readKey(r, join(path, "key"), o.key),
    };
  }
  if (kind === "fabric") {
    const o = r.object(path, v, ["kind", "gateway", "channel", "chaincode", "mspId", "identityDir", "signer", "ordererCert", "configBlock", "blockTimeSec", "clockSkewSec", "assets"]);
    const assets =
      o.assets === undefined
        ? [{ symbol: "KRW", decimals: 2, id: "KRW" }]
        : r.list(join(path, "assets"), o.assets).map((item, i) => {
            const p = join(join(path, "assets"), i);
            const ao = r.object(p, item, ["symbol", "decimals", "id"]);
            return {
              symbol: r.string(join(p, "symbol"), ao.symbol),
              decimals: r.number(join(p, "decimals"), ao.decimals, { integer: true, min: 0 }),
              id: r.string(join(p, "id"), ao.id),
            };
          });
    const gateway = r.string(join(path, "gateway"), o.gateway);
    if (!/^[^\s:/]+:[0-9]{1,5}$/.test(gateway)) r.fail(join(path, "gateway"), `"${gateway}" is not host:port`);
    return {
      kind,
      name,
      gateway,
      channel: r.string(join(path, "channel"), o.channel),
      chaincode: r.string(join(path, "chaincode"), o.chaincode),
      mspId: r.string(join(path, "mspId"), o.mspId),
      identityDir: r.string(join(path, "identityDir"), o.identityDir),
      ...(o.signer !== undefined ? { signer: readRemoteSigner(r, join(path, "signer"), o.signer) } : {}),
      ordererCert: r.string(join(path, "ordererCert"), o.ordererCert),
      configBlock: o.configBlock === undefined ? null : r.string(join(path, "configBlock"), o.configBlock),
      blockTimeSec: r.number(join(path, "blockTimeSec"), o.blockTimeSec, { fallback: 1, min: 0.01 }),
      // the chaincode's bound on proposal timestamps (chains/fabric/chaincode TIME_BOUND_SEC)
      clockSkewSec: r.number(join(path, "clockSkewSec"), o.clockSkewSec, { fallback: 30, min: 0 }),
      assets,
    };
  }
  return r.fail(join(path, "kind"), `must be "consortium" or "evm" or "fabric", got ${JSON.stringify(kind)}`);
}

function readChainsWith(r: Reader, v: unknown): ChainConfig[] {
  const chainsObj = r.object("chains", v, Object.keys((v as Obj | undefined) ?? {}));
  return Object.entries(chainsObj).map(([name, c]) => {
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) r.fail(join("chains", name), "chain names are lower-case letters, digits, - and _");
    return readChain(r, join("chains", name), name, c);
  });
}

/** "host:port" (port 0 picks a free one). */
function readListen(r: Reader, path: string, v: unknown): { host: string; port: number } {
  const text = r.string(path, v);
  const m = /^([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) r.fail(path, `"${text}" is not host:port (e.g. 127.0.0.1:7709)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** The `chains` section alone, as the CLI reads it from a devnet file. */
export function readChains(v: unknown, file: string): ChainConfig[] {
  return readChainsWith(new Reader(file), v);
}

/** Validate a parsed YAML document. Relative paths (store, key files) stay relative to the caller's cwd. */
export function readConfig(doc: unknown, file: string): RelayerConfig {
  const r = new Reader(file);
  const o = r.object("", doc, ["store", "api", "metrics", "pollMs", "scheduling", "timelocks", "chains", "routes"]);
  const metricsSection = r.object("metrics", o.metrics ?? {}, ["listen"]);
  const sched = r.object("scheduling", o.scheduling ?? {}, ["concurrencyPerChain"]);
  const api = r.object("api", o.api ?? {}, ["host", "port", "tenants"]);
  const tenants = r.list("api.tenants", api.tenants ?? []).map((item, i) => {
    const p = join("api.tenants", i);
    const to = r.object(p, item, ["name", "keySha256", "ratePerMinute", "burst"]);
    const keySha256 = r.string(join(p, "keySha256"), to.keySha256).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(keySha256)) r.fail(join(p, "keySha256"), "must be the 64-hex-digit sha256 of the API key (npx isthmus apikey new)");
    return {
      name: r.string(join(p, "name"), to.name),
      keySha256,
      ratePerMinute: r.number(join(p, "ratePerMinute"), to.ratePerMinute, { fallback: DEFAULT_RATE_PER_MINUTE, min: 1 }),
      burst: r.number(join(p, "burst"), to.burst, { fallback: DEFAULT_BURST, integer: true, min: 1 }),
    };
  });
  const names = new Set<string>();
  for (const [i, t] of tenants.entries()) {
    if (names.has(t.name)) r.fail(join(join("api.tenants", i), "name"), `duplicate tenant "${t.name}"`);
    names.add(t.name);
  }
  const tl = r.object("timelocks", o.timelocks ?? {}, Object.keys(DEFAULT_TIMELOCKS));
  const timelocks = Object.fromEntries(
    // Whole seconds: ledgers take integer timelocks.
    Object.entries(DEFAULT_TIMELOCKS).map(([k, d]) => [k, r.number(join("timelocks", k), tl[k], { fallback: d, min: 0, integer: true })]),
  ) as unknown as TimelockPolicy;
  const chains = readChainsWith(r, o.chains);
  if (chains.length < 2) r.fail("chains", "at least two chains are needed to swap");
  const routes = r.list("routes", o.routes).map((item, i) => {
    const p = join("routes", i);
    const ro = r.object(p, item, ["from", "to", "rate", "min", "max"]);
    const from = r.guard(join(p, "from"), () => parseAssetRef(r.string(join(p, "from"), ro.from), "from"));
    const to = r.guard(join(p, "to"), () => parseAssetRef(r.string(join(p, "to"), ro.to), "to"));
    for (const [ref, key] of [[from, "from"], [to, "to"]] as const) {
      if (!chains.some((c) => c.name === ref.chain)) r.fail(join(p, key), `chain "${ref.chain}" is not under chains`);
    }
    if (from.chain === to.chain) r.fail(p, "from and to must be on different chains");
    const rate = r.guard(join(p, "rate"), () => parseRate(String(ro.rate ?? ""), "rate"));
    const min = String(ro.min ?? "");
    const max = String(ro.max ?? "");
    // Decimals are unknown until adapters start; check the shape now, the value later.
    r.guard(join(p, "min"), () => parseAmount(min, 36, "min"));
    r.guard(join(p, "max"), () => parseAmount(max, 36, "max"));
    return { from, to, rate, min, max };
  });
  return {
    file,
    store: r.string("store", o.store),
    api: {
      host: r.string("api.host", api.host, "127.0.0.1"),
      port: r.number("api.port", api.port, { fallback: 7700, integer: true, min: 0 }),
      tenants,
    },
    metrics: { listen: metricsSection.listen === undefined ? null : readListen(r, "metrics.listen", metricsSection.listen) },
    pollMs: r.number("pollMs", o.pollMs, { fallback: 500, integer: true, min: 10 }),
    scheduling: { concurrencyPerChain: r.number("scheduling.concurrencyPerChain", sched.concurrencyPerChain, { fallback: 4, integer: true, min: 1 }) },
    timelocks,
    chains,
    routes,
  };
}

export function loadConfig(file: string): RelayerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, "", `cannot read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, "", `not valid YAML: ${(err as Error).message}`);
  }
  return readConfig(doc, file);
}

export function resolveKey(source: KeySource, where: string): string {
  let hex: string;
  if ("signer" in source) throw new ConfigError(where, "key.signer", "the key is held by an external signer; this command needs a key in this process");
  if ("keystore" in source) return unlockKeystoreSync(source);
  if ("hex" in source) hex = source.hex;
  else if ("env" in source) {
    const v = process.env[source.env];
    if (!v) throw new ConfigError(where, "key.env", `environment variable ${source.env} is not set`);
    hex = v.trim();
  } else {
    try {
      hex = readFileSync(source.file, "utf8").trim();
    } catch (err) {
      throw new ConfigError(where, "key.file", `cannot read ${source.file}: ${(err as Error).message}`);
    }
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(where, "key", "the key is not a 32-byte 0x-hex private key");
  return hex;
}
