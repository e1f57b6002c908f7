import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../relayer/api/client.ts";
import { runSwap } from "../../relayer/client/swap-flow.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { DEVNET_KEYS, startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

/** The relayer daemon as a real child process, the way an operator runs it. */
class DaemonProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<NodeJS.Signals | number | null> = Promise.resolve(null);

  constructor(
    private readonly configFile: string,
    private readonly api: RelayerClient,
  ) {}

  async start(failpoint?: string): Promise<void> {
    const env = { ...process.env, ISTHMUS_LOG_LEVEL: "error", ISTHMUS_FAILPOINTS: failpoint ?? "" };
    const child = spawn(process.execPath, ["bin/isthmus.js", "daemon", "--config", this.configFile], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
    await until("daemon api", async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited at start: ${stderr}`);
      return (await this.api.get<{ ok: boolean }>("/healthz")).ok;
    }, 30_000);
  }

  /** Resolves with how the process ended: "SIGKILL" for a failpoint. */
  async waitExit(timeoutMs = 60_000): Promise<NodeJS.Signals | number | null> {
    return Promise.race([this.exited, sleep(timeoutMs).then(() => Promise.reject(new Error("daemon did not exit")))]);
  }

  /** SIGTERM and wait; resolves with the exit code (0 for a graceful stop) or the signal. */
  async stop(): Promise<NodeJS.Signals | number | null> {
    let how: NodeJS.Signals | number | null = null;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      how = await this.waitExit(15_000);
    }
    this.child = null;
    return how;
  }
}

describe("relayer crash recovery: kill -9 at each step, restart, each swap finishes exactly once", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;
  let daemon: DaemonProcess;
  const relayer = DEVNET_KEYS.relayer.address.toLowerCase() as Hex;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-crash-"));
    const apiPort = await freePort();
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, startRelayer: false, ports: { api: apiPort }, log: silentLogger });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(file.api, 2000, file.apiKey);
    daemon = new DaemonProcess(devnet.configFile, api);
  });

  after(async () => {
    await daemon?.stop();
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const balances = async (src: LedgerAdapter, srcAsset: string, dst: LedgerAdapter, dstAsset: string) => ({
    relayerSrc: await src.balance(srcAsset, relayer),
    relayerDst: await dst.balance(dstAsset, relayer),
    userSrc: await src.balance(srcAsset),
    userDst: await dst.balance(dstAsset),
  });

  const completing = [
    ["after:relayer_locking", "consortium", "KRW", "evm", "KRWT"],
    ["sent:counter-lock", "evm", "KRWT", "consortium", "KRW"],
    ["after:relayer_locked", "consortium", "KRW", "evm", "KRWT"],
    ["after:relayer_claiming", "evm", "KRWT", "consortium", "KRW"],
    ["sent:claim", "consortium", "KRW", "evm", "KRWT"],
  ] as const;

  for (const [point, srcName, srcAsset, dstName, dstAsset] of completing) {
    it(`killed at ${point} (${srcName}:${srcAsset} -> ${dstName}:${dstAsset}): restarts and completes, paying once`, async () => {
      const src = user.get(srcName)!;
      const dst = user.get(dstName)!;
      await daemon.start(point);
      const before = await balances(src, srcAsset, dst, dstAsset);
      const swap = runSwap({ relayer: api, source: src, dest: dst, fromAsset: srcAsset, toAsset: dstAsset, amount: "12.34", secretDir: join(dir, "secrets"), pollMs: 100, stepTimeoutMs: 90_000 });
      swap.catch(() => {});
      assert.equal(await daemon.waitExit(), "SIGKILL", "the daemon died at the failpoint");
      await daemon.start();
      const result = await swap;
      assert.ok(result.relayerClaim, "the relayer claimed after its restart");
      assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
      const after = await balances(src, srcAsset, dst, dstAsset);
      assert.equal(after.relayerDst, before.relayerDst - 1234n, "relayer paid exactly once");
      assert.equal(after.relayerSrc, before.relayerSrc + 1234n, "relayer was paid exactly once");
      assert.equal(after.userDst, before.userDst + 1234n);
      assert.equal(after.userSrc, before.userSrc - 1234n);
    });
  }

  it("SIGTERM: the daemon serves /metrics and /readyz, then drains and exits 0", async () => {
    await daemon.start();
    const ready = await until("ready", async () => {
      const res = await fetch(`${api.baseUrl}/readyz`);
      return res.status === 200 ? ((await res.json()) as { chains: Record<string, { ok: boolean }> }) : null;
    });
    assert.deepEqual(Object.keys(ready.chains).sort(), ["consortium", "evm"]);
    const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
    assert.match(metrics, /^isthmus_chain_finalized_height\{chain="evm"\} \d+$/m);
    assert.match(metrics, /^isthmus_wallet_balance\{chain="consortium",asset="KRW"\} \d+/m);
    assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
  });

  for (const point of ["after:relayer_refunding", "sent:refund"]) {
    it(`killed at ${point}: restarts and refunds its counter-lock once`, async () => {
      const src = user.get("consortium")!;
      const dst = user.get("evm")!;
      await daemon.start(point);
      const before = await dst.balance("KRWT", relayer);
      const preimage = randomBytes(32);
      const hashlock = `0x${createHash("sha256").update(preimage).digest("hex")}` as Hex;
      const created = await api.post<{ id: string }>("/swaps", { from: "consortium:KRW", to: "evm:KRWT", amount: "5", hashlock, userFrom: src.address, userTo: dst.address });
      const head = await src.head();
      await src.lock({ receiver: relayer, asset: "KRW", amount: 500n, hashlock, timelock: head.finalizedTime + 600 });
      const locked = await until("counter-lock", async () => {
        const s = await api.get<{ state: string; counterLock?: { timelock: number } }>(`/swaps/${created.id}`);
        return s.state === "relayer_locked" ? s : null;
      });
      assert.equal(await dst.balance("KRWT", relayer), before - 500n);
      await devnet.advanceTime(locked.counterLock!.timelock - (await dst.head()).finalizedTime + 5);
      assert.equal(await daemon.waitExit(), "SIGKILL");
      await daemon.start();
      await until("refunded", async () => (await api.get<{ state: string }>(`/swaps/${created.id}`)).state === "refunded");
      assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
      assert.equal(await dst.balance("KRWT", relayer), before, "counter-lock refunded exactly once");
    });
  }
});
