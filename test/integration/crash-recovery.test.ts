import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
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
  /** The child's last stderr, for failure messages. */
  stderr = "";

  constructor(
    private readonly configFile: string,
    private readonly api: RelayerClient,
  ) {}

  async start(failpoint?: string): Promise<void> {
    const env = { ...process.env, ISTHMUS_LOG_LEVEL: "error", ISTHMUS_FAILPOINTS: failpoint ?? "" };
    const child = spawn(process.execPath, ["bin/isthmus.js", "daemon", "--config", this.configFile], { env: { ...env, ISTHMUS_PARENT_WATCHDOG: "1" }, stdio: ["pipe", "ignore", "pipe"] });
    this.stderr = "";
    child.stderr!.on("data", (d) => (this.stderr = (this.stderr + d).slice(-2000)));
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
    await until("daemon api", async () => {
      // A restarted daemon may reach its next failpoint before its API answers: that is the
      // crash under test, and waitExit() reports it.
      if (failpoint && child.signalCode === "SIGKILL") return true;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited at start: ${this.stderr}`);
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

  // A failed test must not leave its daemon holding the API port for the next one.
  afterEach(async () => {
    await daemon?.stop();
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

  // Every route, with the base units each side moves. ETH legs also pay gas, so they are
  // checked to within GAS in the relayer's disfavour (paying twice would be far outside it).
  const GAS = 10n ** 15n;
  const ROUTES = [
    { src: "consortium", srcAsset: "KRW", dst: "evm", dstAsset: "KRWT", amount: "12.34", amountIn: 1234n, amountOut: 1234n },
    { src: "evm", srcAsset: "KRWT", dst: "consortium", dstAsset: "KRW", amount: "12.34", amountIn: 1234n, amountOut: 1234n },
    { src: "consortium", srcAsset: "ISTH", dst: "evm", dstAsset: "ETH", amount: "10", amountIn: 10n ** 19n, amountOut: 10n ** 16n },
    { src: "evm", srcAsset: "ETH", dst: "consortium", dstAsset: "ISTH", amount: "0.01", amountIn: 10n ** 16n, amountOut: 10n ** 19n },
  ] as const;
  const routeOf = (r: (typeof ROUTES)[number]) => `${r.src}:${r.srcAsset}->${r.dst}:${r.dstAsset}`;
  /** Paid `expected` exactly, or (ETH) plus less than GAS of fees. */
  const paid = (asset: string, actual: bigint, expected: bigint, what: string) => {
    if (asset !== "ETH") return assert.equal(actual, expected, what);
    assert.ok(actual >= expected && actual < expected + GAS, `${what}: paid ${actual}, expected ${expected} plus gas`);
  };
  /** Received `expected` exactly, or (ETH) less than GAS short of it. */
  const received = (asset: string, actual: bigint, expected: bigint, what: string) => {
    if (asset !== "ETH") return assert.equal(actual, expected, what);
    assert.ok(actual <= expected && actual > expected - GAS, `${what}: received ${actual}, expected ${expected} less gas`);
  };

  // The steps of a completing swap, in the order a swap reaches them.
  const STEPS = ["after:relayer_locking", "sent:counter-lock", "after:relayer_locked", "after:relayer_claiming", "sent:claim"] as const;

  for (const r of ROUTES) {
    it(`${routeOf(r)}: killed at every step in turn (${STEPS.join(", ")}), restarted each time, completes paying once`, async () => {
      const src = user.get(r.src)!;
      const dst = user.get(r.dst)!;
      const before = await balances(src, r.srcAsset, dst, r.dstAsset);
      await daemon.start(`${STEPS[0]}@${routeOf(r)}`);
      const swap = runSwap({ relayer: api, source: src, dest: dst, fromAsset: r.srcAsset, toAsset: r.dstAsset, amount: r.amount, secretDir: join(dir, "secrets"), pollMs: 100, stepTimeoutMs: 90_000 });
      swap.catch(() => {});
      for (let i = 0; i < STEPS.length; i++) {
        assert.equal(await daemon.waitExit(), "SIGKILL", `the daemon died at ${STEPS[i]}`);
        await daemon.start(i + 1 < STEPS.length ? `${STEPS[i + 1]}@${routeOf(r)}` : undefined);
      }
      const result = await swap;
      assert.ok(result.relayerClaim, "the relayer claimed after its last restart");
      assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
      const after = await balances(src, r.srcAsset, dst, r.dstAsset);
      paid(r.dstAsset, before.relayerDst - after.relayerDst, r.amountOut, "relayer paid exactly once");
      received(r.srcAsset, after.relayerSrc - before.relayerSrc, r.amountIn, "relayer was paid exactly once");
      received(r.dstAsset, after.userDst - before.userDst, r.amountOut, "user received once");
      paid(r.srcAsset, before.userSrc - after.userSrc, r.amountIn, "user paid once");
    });
  }

  it("SIGTERM: the daemon serves /metrics and /readyz, then drains and exits 0", async () => {
    await daemon.start();
    const ready = await until("ready", async () => {
      const res = await fetch(`${api.baseUrl}/readyz`);
      return res.status === 200 ? ((await res.json()) as { chains: Record<string, { ok: boolean }> }) : null;
    });
    assert.deepEqual(Object.keys(ready.chains).sort(), ["consortium", "evm", "fabric"]);
    const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
    assert.match(metrics, /^isthmus_chain_finalized_height\{chain="evm"\} \d+$/m);
    assert.match(metrics, /^isthmus_wallet_balance\{chain="consortium",asset="KRW"\} \d+/m);
    assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
  });

  const REFUND_STEPS = ["after:relayer_refunding", "sent:refund"] as const;
  for (const r of ROUTES) {
    it(`${routeOf(r)}: counter-lock expires; killed at ${REFUND_STEPS.join(" then ")}, restarted, refunds once`, async () => {
      const src = user.get(r.src)!;
      const dst = user.get(r.dst)!;
      await daemon.start(`${REFUND_STEPS[0]}@${routeOf(r)}`);
      const before = await dst.balance(r.dstAsset, relayer);
      const preimage = randomBytes(32);
      const hashlock = `0x${createHash("sha256").update(preimage).digest("hex")}` as Hex;
      const created = await api.post<{ id: string }>("/swaps", { from: `${r.src}:${r.srcAsset}`, to: `${r.dst}:${r.dstAsset}`, amount: r.amount, hashlock, userFrom: src.address, userTo: dst.address });
      const head = await src.head();
      await src.lock({ receiver: relayer, asset: r.srcAsset, amount: r.amountIn, hashlock, timelock: head.finalizedTime + 600 });
      const locked = await until("counter-lock", async () => {
        const s = await api.get<{ state: string; counterLock?: { timelock: number } }>(`/swaps/${created.id}`);
        return s.state === "relayer_locked" ? s : null;
      });
      paid(r.dstAsset, before - (await dst.balance(r.dstAsset, relayer)), r.amountOut, "counter-locked once");
      await devnet.advanceTime(locked.counterLock!.timelock - (await dst.head()).finalizedTime + 5);
      assert.equal(await daemon.waitExit(), "SIGKILL", `died at ${REFUND_STEPS[0]}; stderr: ${daemon.stderr}`);
      await daemon.start(`${REFUND_STEPS[1]}@${routeOf(r)}`);
      assert.equal(await daemon.waitExit(), "SIGKILL", `died at ${REFUND_STEPS[1]}; stderr: ${daemon.stderr}`);
      await daemon.start();
      await until("refunded", async () => (await api.get<{ state: string }>(`/swaps/${created.id}`)).state === "refunded");
      assert.equal(await daemon.stop(), 0, "graceful stop exits 0");
      paid(r.dstAsset, before - (await dst.balance(r.dstAsset, relayer)), 0n, "counter-lock refunded exactly once");
    });
  }
});
