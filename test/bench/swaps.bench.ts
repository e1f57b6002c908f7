/**
 * `npm run bench`: swaps through the in-process devnet, every route, printing JSON.
 * Phase latencies come from sequential swaps (one at a time per route); throughput from
 * a concurrent batch across all routes (50 per route: 200 swaps in flight). The relayer
 * runs as its own child process, as an operator runs it, so its CPU time (user + system,
 * from /proc) is its own, not the chains' or the users'. No thresholds: figures to compare runs.
 *   BENCH_SWAPS        sequential swaps per route (default 3)
 *   BENCH_BATCH        concurrent swaps per route in the throughput batch (default 50)
 *   BENCH_EVM_BLOCK_MS EVM block interval (default 1000; Hardhat block times step by at least
 *                      1 s, so faster blocks make EVM chain time outrun the wall clock)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap, type SwapFlowResult } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

const ROUTES = [
  ["consortium", "KRW", "evm", "KRWT", "10"],
  ["evm", "KRWT", "consortium", "KRW", "10"],
  ["consortium", "ISTH", "evm", "ETH", "10"],
  ["evm", "ETH", "consortium", "ISTH", "0.01"],
] as const;

/** User + system CPU seconds of a process so far (Linux /proc; clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

type Phase = keyof SwapFlowResult["seconds"];
const PHASES: Phase[] = ["userLockFinal", "relayerLockFinal", "userClaim", "relayerClaim", "total"];

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3), p50: q(0.5), max: s[s.length - 1]! };
}

async function main() {
  const sequential = Number(process.env.BENCH_SWAPS ?? 3);
  const batch = Number(process.env.BENCH_BATCH ?? 50);
  const evmBlockMs = Number(process.env.BENCH_EVM_BLOCK_MS ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), "isthmus-bench-"));
  const t0 = performance.now();
  const apiPort = await freePort();
  const devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs, evmConfirmations: 1, pollMs: 100, startRelayer: false, ports: { api: apiPort }, log: silentLogger });
  const daemon = spawn(process.execPath, ["bin/isthmus.js", "daemon", "--config", devnet.configFile], { env: { ...process.env, ISTHMUS_LOG_LEVEL: "error", ISTHMUS_PARENT_WATCHDOG: "1" }, stdio: ["pipe", "ignore", "inherit"] });
  const file = readDevnetFile(devnet.file);
  for (let i = 0; ; i++) {
    const ok = await fetch(`${file.api}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300 || daemon.exitCode !== null) throw new Error("the relayer daemon did not become ready");
    await new Promise((r) => setTimeout(r, 100));
  }
  const startupSec = (performance.now() - t0) / 1000;
  const ledgers = new Map<string, LedgerAdapter>(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
  const api = new RelayerClient(file.api, 10_000, file.apiKey);
  const swap = (r: (typeof ROUTES)[number]) =>
    runSwap({ relayer: api, source: ledgers.get(r[0])!, dest: ledgers.get(r[2])!, fromAsset: r[1], toAsset: r[3], amount: r[4], secretDir: join(dir, "secrets"), pollMs: 50 });
  try {
    const routes: Record<string, unknown> = {};
    for (const r of ROUTES) {
      const results: SwapFlowResult[] = [];
      for (let i = 0; i < sequential; i++) results.push(await swap(r));
      routes[`${r[0]}:${r[1]}->${r[2]}:${r[3]}`] = Object.fromEntries(
        PHASES.map((p) => [p, stats(results.map((x) => x.seconds[p]).filter((v): v is number => v !== null))]),
      );
    }
    const cpu0 = cpuSeconds(daemon.pid!);
    const tb = performance.now();
    const all = await Promise.all(ROUTES.flatMap((r) => Array.from({ length: batch }, () => swap(r).catch((err: Error) => err))));
    const batchSec = (performance.now() - tb) / 1000;
    const cpuSec = cpuSeconds(daemon.pid!) - cpu0;
    const ok = all.filter((x): x is SwapFlowResult => !(x instanceof Error));
    const completed = ok.filter((x) => x.relayerClaim !== null).length;
    const failures = [...new Set(all.filter((x): x is Error => x instanceof Error).map((e) => e.message))].slice(0, 5);
    const batchPhases = Object.fromEntries(PHASES.map((p) => [p, stats(ok.map((x) => x.seconds[p]).filter((v): v is number => v !== null))]));
    process.stdout.write(
      JSON.stringify(
        {
          bench: "swaps",
          devnet: { consortiumBlockMs: 250, evmBlockMs, evmConfirmations: 1, startupSec: +startupSec.toFixed(2) },
          sequentialPerRoute: sequential,
          phaseSeconds: routes,
          concurrent: {
            inFlight: all.length,
            completed,
            failed: all.length - ok.length,
            failures,
            seconds: +batchSec.toFixed(2),
            swapsPerSecond: +(completed / batchSec).toFixed(3),
            phaseSeconds: batchPhases,
            relayerCpuSeconds: +cpuSec.toFixed(2),
            relayerCpuMsPerSwap: completed ? +((cpuSec * 1000) / completed).toFixed(1) : null,
          },
        },
        null,
        2,
      ) + "\n",
    );
  } finally {
    await Promise.all([...ledgers.values()].map((l) => l.close()));
    daemon.kill("SIGTERM");
    await new Promise((r) => daemon.once("exit", r));
    await devnet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
