import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "../../../chains/ledger.ts";
import { hashApiKey } from "../../../relayer/api/auth.ts";
import { DEFAULT_TIMELOCKS, type RelayerConfig } from "../../../relayer/config.ts";
import { parseRate } from "../../../relayer/core/amount.ts";
import { runRelayer, type RelayerDaemon } from "../../../relayer/daemon.ts";
import { createLogger } from "../../../relayer/log.ts";
import { FakeLedger } from "./fake-ledger.ts";

/** A relayer daemon over two fake ledgers (alpha: asset A, beta: asset B), with one tenant. */
export const API_KEY = "isk_test_acme";
export const RELAYER = `0x${"22".repeat(20)}` as Hex;
export const USER = `0x${"11".repeat(20)}` as Hex;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, f: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function secret(): { preimage: Hex; hashlock: Hex } {
  const p = randomBytes(32);
  return { preimage: `0x${p.toString("hex")}`, hashlock: `0x${createHash("sha256").update(p).digest("hex")}` };
}

/** Parse Prometheus text into `name{labels}` → value, checking every line's shape. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `malformed exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export interface Rig {
  dir: string;
  alpha: FakeLedger;
  beta: FakeLedger;
  daemon: RelayerDaemon;
  lines: string[];
  config: RelayerConfig;
}

export async function startRig(overrides: Partial<RelayerConfig> = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "isthmus-ops-"));
  const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
  const beta = new FakeLedger("beta", RELAYER, ["B"]);
  const config: RelayerConfig = {
    file: "test.yaml",
    store: join(dir, "relayer.db"),
    api: { host: "127.0.0.1", port: 0, tenants: [{ name: "acme", keySha256: hashApiKey(API_KEY), ratePerMinute: 6000, burst: 1000 }] },
    pollMs: 20,
    scheduling: { concurrencyPerChain: 4 },
    timelocks: DEFAULT_TIMELOCKS,
    chains: [],
    routes: [
      { from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), min: "1", max: "1000" },
      { from: { chain: "beta", asset: "B" }, to: { chain: "alpha", asset: "A" }, rate: parseRate("1"), min: "1", max: "1000" },
    ],
    ...overrides,
  };
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const daemon = await runRelayer(config, new Map([["alpha", alpha], ["beta", beta]]), log).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return { dir, alpha, beta, daemon, lines, config };
}

export async function stopRig(rig: Rig | undefined): Promise<void> {
  if (!rig) return;
  for (const l of [rig.alpha, rig.beta]) l.gate = null;
  await rig.daemon.stop();
  rmSync(rig.dir, { recursive: true, force: true });
}

export async function http(url: string, init?: RequestInit): Promise<{ status: number; body: any; text: string; type: string | null }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, text, type: res.headers.get("content-type") };
}

export const post = (url: string, body: unknown, key: string | null = API_KEY) =>
  http(url, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });

/** Register a swap alpha:A -> beta:B and lock for it as the user. */
export async function lockedSwap(rig: Rig, amount = "5"): Promise<{ id: string; preimage: Hex; hashlock: Hex }> {
  const s = secret();
  const created = await post(`${rig.daemon.api.url}/swaps`, { from: "alpha:A", to: "beta:B", amount, hashlock: s.hashlock, userFrom: USER, userTo: USER });
  assert.equal(created.status, 201, created.text);
  rig.alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: BigInt(Number(amount) * 100), hashlock: s.hashlock, timelock: rig.alpha.time + 3600 });
  return { id: created.body.id, ...s };
}

