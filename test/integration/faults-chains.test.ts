/**
 * Faults on the consortium and Fabric connections and a deep EVM reorg, against the devnet
 * with the relayer in-process: a TCP proxy stands between the relayer and the consortium
 * node / the Fabric gateway (the user's own connections go direct), and Hardhat snapshots
 * rewind the EVM chain below blocks the relayer had taken as final.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { startRelayer, type RelayerDaemon } from "../../relayer/daemon.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { createLogger, silentLogger } from "../../relayer/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

/** A TCP proxy (gRPC passes through untouched); `down` cuts every connection and refuses new ones. */
async function startTcpProxy(target: string): Promise<{ address: string; down: boolean; close(): Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return client.destroy();
    const upstream = createConnection({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    get down() {
      return down;
    },
    set down(v: boolean) {
      down = v;
      if (v) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const newHashlock = () => {
  const preimage = `0x${randomBytes(32).toString("hex")}` as Hex;
  return { preimage, hashlock: `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex };
};

describe("faults: consortium and Fabric outages, an EVM reorg deeper than the finality rule", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;
  let consortiumProxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let fabricProxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let daemon: RelayerDaemon;
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;
  let relayerOn: Map<string, Hex>;
  const logLines: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-faults-chains-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 500, evmConfirmations: 1, pollMs: 100, startRelayer: false, log: silentLogger });
    const byKind = (k: string) => devnet.config.chains.find((c) => c.kind === k)!;
    consortiumProxy = await startTcpProxy((byKind("consortium") as { endpoint: string }).endpoint);
    fabricProxy = await startTcpProxy((byKind("fabric") as { gateway: string }).gateway);
    const config = {
      ...devnet.config,
      api: { ...devnet.config.api, port: 0 },
      metrics: { listen: null },
      chains: devnet.config.chains.map((c) =>
        c.kind === "consortium" ? { ...c, endpoint: consortiumProxy.address } : c.kind === "fabric" ? { ...c, gateway: fabricProxy.address } : c,
      ),
    };
    daemon = await startRelayer(config, createLogger({ level: "warn", write: (l) => logLines.push(l) }));
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(daemon.api.url, 5000, devnet.apiKey);
    relayerOn = new Map((await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status")).chains.map((c) => [c.name, c.relayer]));
  });

  after(async () => {
    await daemon?.stop();
    await consortiumProxy?.close();
    await fabricProxy?.close();
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Register 3 swaps from `src`, cut the relayer's link to it, lock 3 times (plus fillers) until 10 blocks passed, restore it. */
  async function outageWhileLocking(src: string, asset: string, dst: string, proxy: { down: boolean }, fillers: number): Promise<void> {
    const source = user.get(src)!;
    const swaps: { id: string; hashlock: Hex }[] = [];
    for (let i = 0; i < 3; i++) {
      const { hashlock } = newHashlock();
      const s = await api.post<{ id: string }>("/swaps", { from: `${src}:${asset}`, to: `${dst}:KRW${dst === "evm" ? "T" : ""}`, amount: "3", hashlock, userFrom: source.address, userTo: user.get(dst)!.address });
      swaps.push({ id: s.id, hashlock });
    }
    proxy.down = true;
    const start = (await source.head()).headHeight;
    const now = (await source.head()).finalizedTime;
    for (const s of swaps) await source.lock({ receiver: relayerOn.get(src)!, asset, amount: 300n, hashlock: s.hashlock, timelock: now + 1200 });
    // Fillers make blocks on a chain that cuts blocks only for transactions (Fabric); none is for the relayer.
    for (let i = 0; i < fillers; i++) await source.lock({ receiver: `0x${randomBytes(20).toString("hex")}` as Hex, asset, amount: 1n, hashlock: newHashlock().hashlock, timelock: now + 1200 });
    await until("10 blocks", async () => (await source.head()).headHeight >= start + 10);
    const ready = await fetch(`${daemon.api.url}/readyz`);
    assert.equal(ready.status, 503, `not ready while ${src} is unreachable`);
    assert.equal(((await ready.json()) as { chains: Record<string, { ok: boolean }> }).chains[src]!.ok, false);
    for (const s of swaps) assert.equal((await api.get<{ state: string }>(`/swaps/${s.id}`)).state, "awaiting_user_lock");
    proxy.down = false;
    for (const s of swaps) await until(`counter-lock for ${s.id}`, async () => (await api.get<{ state: string }>(`/swaps/${s.id}`)).state === "relayer_locked");
    assert.ok(daemon.metrics.reconnects.get({ chain: src }) >= 1, "the reconnect was counted");
  }

  it("an RPC outage of 10 blocks on the consortium chain while 3 user locks happen: reconnect, backfill, all 3 answered", async () => {
    await outageWhileLocking("consortium", "KRW", "evm", consortiumProxy, 0);
  });

  it("a Fabric gateway outage of 10 blocks while 3 user locks happen: reconnect, backfill, all 3 answered", async () => {
    await outageWhileLocking("fabric", "KRW", "consortium", fabricProxy, 7);
  });

  it("an EVM reorg deeper than the finality rule: the relayer does not act twice, reports it (log + metric) and stops trusting the chain", async () => {
    const evm = user.get("evm")!;
    const consortium = user.get("consortium")!;
    const rpc = async (method: string, params: unknown[] = []) => {
      const res = await fetch(devnet.evm.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    };
    const { preimage, hashlock } = newHashlock();
    const swap = await api.post<{ id: string }>("/swaps", { from: "evm:KRWT", to: "consortium:KRW", amount: "4", hashlock, userFrom: evm.address, userTo: consortium.address });
    const relayerKrw = await consortium.balance("KRW", relayerOn.get("consortium")!);
    const snapshot = await rpc("evm_snapshot");
    const head0 = (await evm.head()).headHeight;
    await evm.lock({ receiver: relayerOn.get("evm")!, asset: "KRWT", amount: 400n, hashlock, timelock: (await evm.head()).finalizedTime + 1200 });
    // Final at 1 confirmation: the relayer verifies the lock and counter-locks once.
    const locked = await until("counter-lock", async () => {
      const s = await api.get<{ state: string; counterLock: { lockId: Hex } }>(`/swaps/${swap.id}`);
      return s.state === "relayer_locked" ? s : null;
    });
    assert.equal(relayerKrw - (await consortium.balance("KRW", relayerOn.get("consortium")!)), 400n);
    // Rewind below the lock, which was final by the rule, and let the chain grow past it again.
    const deepest = (await evm.head()).headHeight;
    assert.equal(await rpc("evm_revert", [snapshot]), true);
    assert.ok((await evm.head()).headHeight <= head0 + 1, "the chain was rewound");
    await until("the new fork past the old head", async () => (await evm.head()).finalizedHeight > deepest + 2);
    const inFork = await evm.getLock(locked.counterLock.lockId).catch(() => null);
    assert.equal(inFork, null, "nothing of this swap exists on the new EVM fork");

    // The user claims the counter-lock (revealing the preimage): the relayer would claim on EVM,
    // but the lock it would claim was reorged away below finality; it must refuse to act.
    await consortium.claim(locked.counterLock.lockId, preimage);
    await until("finality violation reported", async () => daemon.metrics.finalityViolations.get({ chain: "evm" }) >= 1);
    await sleep(2000);
    const after = await api.get<{ state: string }>(`/swaps/${swap.id}`);
    assert.equal(after.state, "relayer_claiming", "it waits for an operator; it neither completes nor fails the swap");
    assert.ok(logLines.some((l) => /finalized history changed/.test(l) && l.includes(swap.id)), "logged at error level with the swap id");
    const m = await fetch(`${daemon.api.url}/metrics`).then((r) => r.text());
    assert.match(m, /isthmus_finality_violations_total\{chain="evm"\} [1-9]/);
    // Acted once: no second counter-lock, however often it was asked to advance.
    assert.equal(relayerKrw - (await consortium.balance("KRW", relayerOn.get("consortium")!)), 400n);
  });
});
