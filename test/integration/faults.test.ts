import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { startRelayer, type RelayerDaemon } from "../../relayer/daemon.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { DEVNET_KEYS, startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

type Mode = "up" | "down" | "flaky";

/**
 * A JSON-RPC proxy in front of the Hardhat node, as a bad RPC provider: "down" resets every
 * connection; "flaky" refuses eth_getLogs ranges above a random size and answers a share of
 * all requests with HTTP 429.
 */
async function startRpcProxy(target: string): Promise<{ url: string; mode: Mode; stats: { refusedRanges: number; tooMany: number }; close(): Promise<void> }> {
  const state = { mode: "up" as Mode, stats: { refusedRanges: 0, tooMany: 0 } };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    if (state.mode === "down") {
      req.socket.destroy();
      return;
    }
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      void (async () => {
        if (state.mode === "flaky" && Math.random() < 0.15) {
          state.stats.tooMany++;
          res.writeHead(429, { "content-type": "application/json", "retry-after": "0" });
          res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: 429, message: "Too Many Requests" } }));
          return;
        }
        const handle = async (r: { id: number; method: string; params: Array<{ fromBlock?: string; toBlock?: string }> }) => {
          if (state.mode === "flaky" && r.method === "eth_getLogs") {
            const cap = 2 + Math.floor(Math.random() * 6);
            const [from, to] = [Number(r.params[0]!.fromBlock), Number(r.params[0]!.toBlock)];
            if (to - from + 1 > cap) {
              state.stats.refusedRanges++;
              return { jsonrpc: "2.0", id: r.id, error: { code: -32005, message: `query exceeds max block range ${cap}` } };
            }
          }
          const answer = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(r) });
          return answer.json();
        };
        try {
          const parsed = JSON.parse(body);
          const out = await (Array.isArray(parsed) ? Promise.all(parsed.map(handle)) : handle(parsed));
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(out));
        } catch {
          res.destroy();
        }
      })();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
      if (m === "down") for (const s of sockets) s.destroy();
    },
    stats: state.stats,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("faults: the relayer's EVM node goes down or misbehaves", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: Devnet;
  let proxy: Awaited<ReturnType<typeof startRpcProxy>>;
  let daemon: RelayerDaemon;
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;
  const relayer = DEVNET_KEYS.relayer.address.toLowerCase() as Hex;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-faults-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 500, evmConfirmations: 1, pollMs: 100, startRelayer: false, log: silentLogger });
    proxy = await startRpcProxy(devnet.evm.url);
    const config = {
      ...devnet.config,
      api: { ...devnet.config.api, port: 0 },
      chains: devnet.config.chains.map((c) => (c.kind === "evm" ? { ...c, rpcUrl: proxy.url } : c)),
    };
    daemon = await startRelayer(config, silentLogger);
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(daemon.api.url, 5000, devnet.apiKey);
  });

  after(async () => {
    await daemon?.stop();
    await proxy?.close();
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an RPC outage of 10 blocks while 3 user locks happen: the relayer reconnects, backfills and answers all 3", async () => {
    const evm = user.get("evm")!;
    const swaps: { id: string; hashlock: Hex }[] = [];
    for (let i = 0; i < 3; i++) {
      const hashlock = `0x${createHash("sha256").update(randomBytes(32)).digest("hex")}` as Hex;
      const s = await api.post<{ id: string }>("/swaps", { from: "evm:KRWT", to: "consortium:KRW", amount: "3", hashlock, userFrom: evm.address, userTo: user.get("consortium")!.address });
      swaps.push({ id: s.id, hashlock });
    }
    proxy.mode = "down";
    const start = (await evm.head()).headHeight;
    const now = (await evm.head()).finalizedTime;
    for (const s of swaps) await evm.lock({ receiver: relayer, asset: "KRWT", amount: 300n, hashlock: s.hashlock, timelock: now + 1200 });
    await until("10 blocks", async () => (await evm.head()).headHeight >= start + 10);
    const down = await fetch(`${daemon.api.url}/readyz`);
    assert.equal(down.status, 503, "not ready while its EVM node is unreachable");
    assert.deepEqual(await Promise.all(swaps.map(async (s) => (await api.get<{ state: string }>(`/swaps/${s.id}`)).state)), ["awaiting_user_lock", "awaiting_user_lock", "awaiting_user_lock"]);
    proxy.mode = "up";
    for (const s of swaps) await until(`counter-lock for ${s.id}`, async () => (await api.get<{ state: string }>(`/swaps/${s.id}`)).state === "relayer_locked");
    assert.ok(daemon.metrics.reconnects.get({ chain: "evm" }) >= 1, "the reconnect was counted");
  });

  it("a node that caps log ranges at random sizes and answers 429 at random: swaps in both directions still complete", async () => {
    proxy.mode = "flaky";
    try {
      for (const [src, srcAsset, dst, dstAsset] of [
        ["evm", "KRWT", "consortium", "KRW"],
        ["consortium", "KRW", "evm", "KRWT"],
      ] as const) {
        const result = await runSwap({ relayer: api, source: user.get(src)!, dest: user.get(dst)!, fromAsset: srcAsset, toAsset: dstAsset, amount: "2", secretDir: join(dir, "secrets"), pollMs: 100, stepTimeoutMs: 90_000 });
        assert.ok(result.relayerClaim, `${src} -> ${dst}: the relayer claimed`);
      }
      assert.ok(proxy.stats.refusedRanges > 0, "log ranges were refused");
      assert.ok(proxy.stats.tooMany > 0, "429s were answered");
    } finally {
      proxy.mode = "up";
    }
  });

  it("an EVM reorg below the finality rule: a lock seen only at the head, then reorged away, is never acted on", async () => {
    const evm = user.get("evm")!;
    const consortium = user.get("consortium")!;
    const rpc = async (method: string, params: unknown[] = []) => {
      const res = await fetch(devnet.evm.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    };
    const hashlock = `0x${createHash("sha256").update(randomBytes(32)).digest("hex")}` as Hex;
    const swap = await api.post<{ id: string }>("/swaps", { from: "evm:ETH", to: "consortium:ISTH", amount: "0.01", hashlock, userFrom: evm.address, userTo: consortium.address });
    const relayerIsth = await consortium.balance("ISTH", relayer);
    const now = (await evm.head()).finalizedTime;
    await rpc("evm_setIntervalMining", [0]);
    await rpc("evm_setAutomine", [false]);
    const snapshot = await rpc("evm_snapshot");
    try {
      const locking = evm.lock({ receiver: relayer, asset: "ETH", amount: 10n ** 16n, hashlock, timelock: now + 1200 });
      await until("the lock in the pool", async () => ((await rpc("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] }).transactions.length > 0);
      await rpc("evm_mine"); // in the head block only: one confirmation short of final
      const lock = await locking;
      assert.ok(await evm.getLock(lock.lockId) === null, "not final yet, so not readable as final");
      await sleep(1500); // the relayer polls every 100 ms
      assert.equal((await api.get<{ state: string }>(`/swaps/${swap.id}`)).state, "awaiting_user_lock", "no action on a lock below the finality rule");
      assert.equal(await rpc("evm_revert", [snapshot]), true); // the block holding the lock is gone
    } finally {
      await rpc("evm_setAutomine", [true]);
      await rpc("evm_setIntervalMining", [500]);
    }
    const head = (await evm.head()).headHeight;
    await until("blocks after the reorg", async () => (await evm.head()).finalizedHeight > head + 2);
    assert.equal((await api.get<{ state: string }>(`/swaps/${swap.id}`)).state, "awaiting_user_lock");
    assert.equal(await consortium.balance("ISTH", relayer), relayerIsth, "the relayer moved nothing");
  });
});
