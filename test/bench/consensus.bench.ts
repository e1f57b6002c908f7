/**
 * `npm run bench` (second document): the consortium chain's own throughput. For 1 and 4
 * validators, each its own OS process over gRPC on 127.0.0.1 (node homes from
 * `initNodeHomes`), pre-signed transfers from many senders are submitted through the node
 * API in SubmitTxs batches (BENCH_INFLIGHT lanes of senders per node, senders spread over the nodes,
 * optionally paced to an offered rate); a transfer is final when the block holding it is
 * seen through GetBlock on validator 0. Prints one JSON document per run: finalized TPS,
 * commit latency (submit → seen final) p50/p99, blocks and mean txs per block, CPU ms per
 * tx of each validator process (utime + stime from /proc/<pid>/stat over the run; robust
 * to a busy machine, unlike wall time) and of the bench client, and the load average; and,
 * measured in the same run, this machine's signature-verification rates for both tx
 * schemes (secp256k1: pure-JS @noble recover as the chain uses it, and OpenSSL verify;
 * P-256: OpenSSL verify as the chain uses it) as the ceiling. No thresholds: figures to
 * compare runs.
 *   BENCH_TXS        transfers per P-256 run (default 6000: at 1000 txs per block, 2000 was
 *                    two or three blocks, and the first block's wait weighed on the figure)
 *   BENCH_SECP_TXS   transfers per secp256k1 run (default 2000)
 *   BENCH_BATCH      transactions per SubmitTxs call (default 100)
 *   BENCH_INFLIGHT   SubmitTxs calls in flight per node (default 4), each on its own lane of
 *                    senders (see BENCH_LANES); with 1 the node idles for every round trip and
 *                    the bench measures the client's latency
 *   BENCH_LANES      "senders" (default): a sender's txs all travel in one lane, so they reach
 *                    the node in nonce order; "nonces": lane k carries every sender's nonces
 *                    n ≡ k (mod BENCH_INFLIGHT), so one sender's txs are in several calls at
 *                    once and may arrive out of order (the node queues them, mempool.ts)
 *   BENCH_RATE       offered load in tx/s over all nodes (default 0: as fast as admitted)
 *   BENCH_PACED_RATE with 4 validators (P-256), one more run at this offered rate (default
 *                    600 tx/s; 0: none): commit latency at a load the network sustains, where
 *                    an unpaced run's latency is only the time to drain its backlog
 *   BENCH_BLOCK_MS   block interval of an idle chain (default 500)
 *   BENCH_PROPOSE_MS propose timeout (default 2000; prevote / precommit half, delta a quarter)
 *   BENCH_VERIFY_WORKERS signature worker threads per node for SubmitTxs (default 0 = none)
 *   BENCH_SCHEMES    tx signature schemes to run, comma-separated (default "p256,secp256k1";
 *                    the secp256k1 run is 4 validators only, to stay within ~2 minutes)
 *   BENCH_VALIDATORS network sizes to run (default "1,4")
 */
import { createSign, createVerify, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak256 } from "../../proofs/consortium/domain.ts";
import { recoverAddress } from "../../proofs/consortium/signature.ts";
import { type Hex, toHex } from "../../proofs/hex.ts";
import { derivePrivateKey, Signer } from "../../chains/consortium/crypto.ts";
import { freePorts } from "../../chains/consortium/devnet.ts";
import { homePaths, initNodeHomes } from "../../chains/consortium/node/home.ts";
import { NodeProcess } from "../../chains/consortium/node/process.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { signTx } from "../../chains/consortium/tx.ts";
import { authenticate, P256Signer, type TxAuthScheme, type TxSigner, txAuthenticator } from "../../chains/consortium/tx-auth.ts";

const P256_TXS = Number(process.env.BENCH_TXS ?? 6000);
const SECP_TXS = Number(process.env.BENCH_SECP_TXS ?? 2000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 0);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 600);
const PROPOSE_MS = Number(process.env.BENCH_PROPOSE_MS ?? 2000);
const VERIFY_WORKERS = Number(process.env.BENCH_VERIFY_WORKERS ?? 0);
const TIMEOUTS = { proposeMs: PROPOSE_MS, prevoteMs: Math.ceil(PROPOSE_MS / 2), precommitMs: Math.ceil(PROPOSE_MS / 2), deltaMs: Math.ceil(PROPOSE_MS / 4) };
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 500);
/** How long a run waits for its txs to finalize after the last submission (ms). */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 120) * 1000;
const PER_SENDER = 20; // below the mempool's per-sender cap (64)
const LANES = process.env.BENCH_LANES ?? "senders";
if (LANES !== "senders" && LANES !== "nonces") throw new Error(`BENCH_LANES: expected "senders" or "nonces", got ${LANES}`);
const CHAIN_ID = 7771;
const SCHEMES = (process.env.BENCH_SCHEMES ?? "p256,secp256k1").split(",").map((x) => x.trim()) as TxAuthScheme[];
const SIZES = new Set((process.env.BENCH_VALIDATORS ?? "1,4").split(",").map(Number));
for (const s of SCHEMES) if (s !== "p256" && s !== "secp256k1") throw new Error(`BENCH_SCHEMES: unknown scheme ${s}`);

function senderKey(scheme: TxAuthScheme, i: number): TxSigner {
  const key = derivePrivateKey(`bench/sender/${scheme}`, i);
  return scheme === "p256" ? P256Signer.fromPrivateKey(key) : Signer.fromPrivateKey(key);
}

/** The nodes' warnings and errors, to stderr (stdout is the JSON document). */
const stderrLog = {
  debug: (msg: string, f?: object) => process.stderr.write(`${JSON.stringify({ level: "debug", msg, ...f })}\n`),
  info: (msg: string, f?: object) => process.stderr.write(`${JSON.stringify({ level: "info", msg, ...f })}\n`),
  warn: (msg: string, f?: object) => process.stderr.write(`${JSON.stringify({ level: "warn", msg, ...f })}\n`),
  error: (msg: string, f?: object) => process.stderr.write(`${JSON.stringify({ level: "error", msg, ...f })}\n`),
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Operations per second of `op` over about `ms` milliseconds. */
function rate(ms: number, op: (i: number) => void): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 50; i++) op(n++);
  }
  return n / ((performance.now() - t0) / 1000);
}

function verifyRates() {
  const signer = Signer.fromPrivateKey(derivePrivateKey("bench/verify", 0));
  const digests = Array.from({ length: 256 }, (_, i) => keccak256(Uint8Array.of(i, 1, 2, 3)));
  const sigs = digests.map((d) => signer.sign(d));
  const nobleRecover = rate(1500, (i) => {
    if (!recoverAddress(digests[i % 256]!, sigs[i % 256]!).ok) throw new Error("recover failed");
  });
  const pub = secp256k1.getPublicKey(fromHexKey(derivePrivateKey("bench/verify", 1)));
  const compact = digests.map((d) => secp256k1.sign(d, fromHexKey(derivePrivateKey("bench/verify", 1)), { prehash: false }));
  const nobleVerify = rate(1500, (i) => {
    if (!secp256k1.verify(compact[i % 256]!, digests[i % 256]!, pub, { prehash: false })) throw new Error("verify failed");
  });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
  const msgs = digests.map((d) => Buffer.from(d));
  const osslSigs = msgs.map((m) => createSign("sha256").update(m).sign(privateKey));
  const opensslVerify = rate(1500, (i) => {
    if (!createVerify("sha256").update(msgs[i % 256]!).verify(publicKey, osslSigs[i % 256]!)) throw new Error("verify failed");
  });
  // The chain's own tx-authentication path (tx-auth.ts) over a realistic 320-byte envelope.
  const envelopes = digests.map((d) => Uint8Array.from({ length: 320 }, (_, j) => d[j % 32]!));
  const chainRate = (signer: TxSigner) => {
    const auths = envelopes.map((e) => txAuthenticator(signer, e));
    const scheme = signer instanceof P256Signer ? "p256" : "secp256k1";
    return Math.round(rate(1500, (i) => {
      if (!authenticate(scheme, envelopes[i % 256]!, auths[i % 256]!).ok) throw new Error("authenticate failed");
    }));
  };
  // secp256k1 recovery is memoized per (digest, signature) for votes: defeat it with fresh digests.
  const freshSigner = Signer.fromPrivateKey(derivePrivateKey("bench/verify", 2));
  const fresh = Array.from({ length: 4096 }, (_, i) => {
    const e = Uint8Array.from({ length: 320 }, (_, j) => (i * 7 + j) & 0xff);
    e[0] = i >> 8;
    e[1] = i & 0xff;
    return { e, a: txAuthenticator(freshSigner, e) };
  });
  const chainSecp = Math.round(rate(1500, (i) => {
    const f = fresh[i % 4096]!;
    if (!authenticate("secp256k1", f.e, f.a).ok) throw new Error("authenticate failed");
  }));
  return {
    secp256k1: { nobleRecoverPerSec: Math.round(nobleRecover), nobleVerifyPerSec: Math.round(nobleVerify), opensslVerifyPerSec: Math.round(opensslVerify), chainTxAuthPerSec: chainSecp },
    p256: { opensslVerifyPerSec: chainRate(P256Signer.fromPrivateKey(derivePrivateKey("bench/verify", 3))) },
  };
}

function fromHexKey(k: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(k.slice(2), "hex"));
}

async function runNetwork(validators: number, scheme: TxAuthScheme, rate: number) {
  const count = scheme === "p256" ? P256_TXS : SECP_TXS;
  const dir = mkdtempSync(join(tmpdir(), `isthmus-bench-${validators}v-`));
  const senders = Array.from({ length: Math.ceil(count / PER_SENDER) }, (_, i) => senderKey(scheme, i));
  const sink = Signer.fromPrivateKey(derivePrivateKey("bench/sink", 0)).address;
  const ports = await freePorts(2 * validators);
  // initNodeHomes wants a contiguous block: find one whose ports are all free.
  const base = await contiguousFreeBase(2 * validators, ports[0]!);
  const net = initNodeHomes({
    dir,
    validators,
    chainId: CHAIN_ID,
    basePort: base,
    blockIntervalMs: BLOCK_MS,
    balances: senders.map((s) => ({ address: s.address, asset: "ISTH", amount: 10n ** 24n })),
  });
  // Under load blocks follow each other without waiting (the proposer starts when it has
  // txs), so the propose timeout only bounds a dead proposer's turn: give it room for a busy
  // shared machine instead of tying it to the block interval.
  for (const h of net.homes) {
    const file = homePaths(h.home).config;
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, timeouts: TIMEOUTS, verifyWorkers: VERIFY_WORKERS }, null, 2));
  }
  const procs: NodeProcess[] = [];
  const clients: ConsortiumClient[] = [];
  try {
    procs.push(...(await Promise.all(net.homes.map((h) => NodeProcess.start({ home: h.home, devnet: false, logLevel: (process.env.BENCH_NODE_LOG as "warn" | "info" | "debug" | undefined) ?? "warn", log: stderrLog })))));
    clients.push(...procs.map((p) => new ConsortiumClient(p.apiEndpoint, { deadlineMs: 5_000 })));
    // Pre-sign (not timed).
    const txs = senders.flatMap((s, si) =>
      Array.from({ length: PER_SENDER }, (_, n) => signTx(s, { chainId: CHAIN_ID, nonce: n, body: { kind: "transfer", to: sink, asset: "ISTH", amount: BigInt(1 + si) } })),
    ).slice(0, count);
    // Wait for the chain to be producing.
    const watcher = clients[0]!;
    while ((await watcher.getStatus()).height < 2) await new Promise((r) => setTimeout(r, 50));
    let seenHeight = (await watcher.getStatus()).height;

    const submittedAt = new Map<Hex, number>();
    const finalAt = new Map<Hex, number>();
    let rejected = 0;
    // refusals by the chain's code (a bench that is refused must say why, not only how often)
    const rejectedBy = new Map<string, number>();
    const blockSizes: { height: number; txs: number }[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const block = await watcher.getBlock(seenHeight + 1).catch((err: Error) => {
          process.stderr.write(`${JSON.stringify({ level: "warn", msg: "watcher: getBlock failed", error: err.message })}\n`);
          return undefined;
        });
        if (!block) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const now = performance.now();
        seenHeight++;
        for (const t of block.txs) finalAt.set(toHex(keccak256(t)), now);
        blockSizes.push({ height: seenHeight, txs: block.txs.length });
      }
    })();

    const cpu0 = procs.map((p) => cpuMsOf(p.pid!));
    const client0 = process.cpuUsage();
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    // Senders are spread over the nodes, and a node's txs over INFLIGHT lanes; a lane sends
    // its txs nonce-major (every sender's nonce 0, then every nonce 1, ...) in batches, one
    // call at a time. Concurrent calls may reach the node in any order (HTTP/2 streams
    // interleave). By default a node's senders are split over its lanes, so one sender's txs
    // never travel in two calls at once; BENCH_LANES=nonces splits each sender's nonces over
    // the lanes instead, as a pipelining client would, and relies on the node's queue.
    const lanes: { node: number; txs: typeof txs }[] = [];
    clients.forEach((_, ni) => {
      for (let k = 0; k < INFLIGHT; k++) lanes.push({ node: ni, txs: [] });
    });
    for (let n = 0; n < PER_SENDER; n++) {
      senders.forEach((_, si) => {
        const t = txs[si * PER_SENDER + n];
        const node = si % clients.length;
        const lane = LANES === "nonces" ? n % INFLIGHT : Math.floor(si / clients.length) % INFLIGHT;
        if (t) lanes[node * INFLIGHT + lane]!.txs.push(t);
      });
    }
    const laneRate = rate > 0 ? rate / lanes.length : 0;
    await Promise.all(
      lanes.map(async ({ node, txs: list }, j) => {
        // Paced lanes are staggered (lane j starts j / lanes of a batch interval late), so the
        // offered load arrives as one batch every BATCH / rate seconds, not all lanes at once.
        const offset = (j / lanes.length) * BATCH;
        for (let i = 0; i < list.length; i += BATCH) {
          if (laneRate > 0) {
            const wait = t0 + ((i + offset) / laneRate) * 1000 - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          const batch = list.slice(i, i + BATCH);
          const at = performance.now();
          for (const t of batch) submittedAt.set(t.hash, at);
          const results = await clients[node]!.submitTxs(batch.map((t) => t.bytes)).catch((err: Error) => {
            process.stderr.write(`${JSON.stringify({ level: "warn", msg: "SubmitTxs failed", error: err.message })}\n`);
            return batch.map(() => ({ accepted: false as const, error: { code: "CALL_FAILED" } }));
          });
          for (const r of results) {
            if (r.accepted) continue;
            rejected++;
            rejectedBy.set(r.error.code, (rejectedBy.get(r.error.code) ?? 0) + 1);
          }
        }
      }),
    );
    const submitDone = performance.now();
    const deadline = performance.now() + DEADLINE_MS;
    while (finalAt.size < txs.length - rejected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watching = false;
    await watch;
    if (finalAt.size < txs.length - rejected) {
      const status = await Promise.all(clients.map((c) => c.getStatus().catch((e: Error) => e.message)));
      process.stderr.write(`${JSON.stringify({ level: "warn", msg: "not every tx finalized before the deadline", finalized: finalAt.size, status }, (_, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
    }
    const lastFinal = Math.max(...finalAt.values());
    const cpuMs = procs.map((p, i) => cpuMsOf(p.pid!) - cpu0[i]!);
    const client = process.cpuUsage(client0);
    const load1 = loadavg()[0]!;
    const benchBlocks = blockSizes.filter((b) => b.txs > 0);
    const latencies = txs.filter((t) => finalAt.has(t.hash)).map((t) => finalAt.get(t.hash)! - submittedAt.get(t.hash)!).sort((a, b) => a - b);
    return {
      validators,
      scheme,
      txs: txs.length,
      finalized: finalAt.size,
      rejected,
      ...(rejected > 0 ? { rejectedBy: Object.fromEntries(rejectedBy) } : {}),
      offeredRate: rate > 0 ? rate : "unpaced",
      submitSeconds: round((submitDone - t0) / 1000, 2),
      finalizedTps: round(finalAt.size / ((lastFinal - t0) / 1000)),
      commitLatencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)), max: Math.round(latencies.at(-1) ?? NaN) },
      blocksWithTxs: benchBlocks.length,
      meanTxsPerBlock: round(benchBlocks.reduce((a, b) => a + b.txs, 0) / Math.max(1, benchBlocks.length)),
      maxTxsPerBlock: Math.max(0, ...benchBlocks.map((b) => b.txs)),
      cpuMsPerTxPerValidator: cpuMs.map((ms) => round(ms / Math.max(1, finalAt.size), 3)),
      benchClientCpuMsPerTx: round((client.user + client.system) / 1000 / Math.max(1, finalAt.size), 3),
      loadAverage1m: { start: round(load0, 2), end: round(load1, 2) },
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
function cpuMsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return NaN; // no /proc (not Linux): the JSON then shows null
  }
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SEC;
}

/** USER_HZ: 100 on Linux for every architecture node runs on here. */
const CLOCK_TICKS_PER_SEC = 100;

/** A base port such that base .. base + n - 1 are free now (near a port the OS just handed out). */
async function contiguousFreeBase(n: number, near: number): Promise<number> {
  const { createServer } = await import("node:net");
  const free = (port: number) =>
    new Promise<boolean>((res) => {
      const s = createServer();
      s.once("error", () => res(false));
      s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
    });
  for (let base = Math.min(near, 60000); base < 65000; base += n) {
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await free(p);
    if (ok) return base;
  }
  throw new Error("no block of free ports");
}

const ceiling = verifyRates();
const runs = [];
for (const scheme of SCHEMES) {
  if (SIZES.has(1) && (scheme === "p256" || SCHEMES.length === 1)) runs.push(await runNetwork(1, scheme, RATE));
  if (SIZES.has(4)) runs.push(await runNetwork(4, scheme, RATE));
  if (SIZES.has(4) && scheme === "p256" && PACED_RATE > 0 && RATE === 0) runs.push(await runNetwork(4, scheme, PACED_RATE));
}
process.stdout.write(
  JSON.stringify(
    {
      bench: "consortium-consensus",
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      params: { txs: { p256: P256_TXS, secp256k1: SECP_TXS }, submitBatch: BATCH, submitInFlightPerNode: INFLIGHT, lanes: LANES, offeredRate: RATE > 0 ? RATE : "unpaced", pacedRun: RATE === 0 && PACED_RATE > 0 ? PACED_RATE : "none", blockIntervalMs: BLOCK_MS, timeouts: TIMEOUTS, verifyWorkers: VERIFY_WORKERS, transport: "gRPC between OS processes on 127.0.0.1" },
      verifyCeilingPerCore: ceiling,
      runs,
      note: "Each validator process verifies each tx signature once (mempool admission; proposing and checking a block reuse it). Ceiling per core: p256.opensslVerifyPerSec for P-256 txs, secp256k1.chainTxAuthPerSec (pure-JS recovery) for secp256k1 txs. 4 validators on one machine each verify every tx, so their shared ceiling is cores x rate / 4.",
    },
    null,
    2,
  ) + "\n",
);
process.exit(0);
