/**
 * `npm run bench`: swaps through the in-process devnet, every route, printing JSON.
 * Phase latencies come from sequential swaps (one at a time per route); throughput from
 * a concurrent batch across all routes. No thresholds: figures to compare runs.
 *   BENCH_SWAPS   sequential swaps per route (default 3)
 *   BENCH_BATCH   concurrent swaps per route in the throughput batch (default 4)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../relayer/api/client.ts";
import { runSwap, type SwapFlowResult } from "../../relayer/client/swap-flow.ts";
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

type Phase = keyof SwapFlowResult["seconds"];
const PHASES: Phase[] = ["userLockFinal", "relayerLockFinal", "userClaim", "relayerClaim", "total"];

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3), p50: q(0.5), max: s[s.length - 1]! };
}

async function main() {
  const sequential = Number(process.env.BENCH_SWAPS ?? 3);
  const batch = Number(process.env.BENCH_BATCH ?? 4);
  const dir = mkdtempSync(join(tmpdir(), "isthmus-bench-"));
  const t0 = performance.now();
  const devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, log: silentLogger });
  const startupSec = (performance.now() - t0) / 1000;
  const file = readDevnetFile(devnet.file);
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
    const tb = performance.now();
    const all = await Promise.all(ROUTES.flatMap((r) => Array.from({ length: batch }, () => swap(r))));
    const batchSec = (performance.now() - tb) / 1000;
    const completed = all.filter((x) => x.relayerClaim !== null).length;
    process.stdout.write(
      JSON.stringify(
        {
          bench: "swaps",
          devnet: { consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, startupSec: +startupSec.toFixed(2) },
          sequentialPerRoute: sequential,
          phaseSeconds: routes,
          concurrent: { swaps: all.length, completed, seconds: +batchSec.toFixed(2), swapsPerSecond: +(completed / batchSec).toFixed(3) },
        },
        null,
        2,
      ) + "\n",
    );
  } finally {
    await Promise.all([...ledgers.values()].map((l) => l.close()));
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
