/**
 * `npm run bench` (second document): the consortium chain's own throughput. For 1 and 4
 * validators, each its own OS process over gRPC on 127.0.0.1 (node homes from
 * `initNodeHomes`), pre-signed transfers from many senders are submitted through the node
 * API with a bounded number in flight; a transfer is final when the block holding it is
 * seen through GetBlock on validator 0. Prints one JSON document: finalized TPS, commit
 * latency (submit → seen final) p50/p99, and, measured in the same run, this machine's
 * secp256k1 rates (pure-JS @noble recover as the chain uses it, and OpenSSL verify through
 * node:crypto) as the ceiling. No thresholds: figures to compare runs.
 *   BENCH_TXS        transfers per run (default 2000)
 *   BENCH_INFLIGHT   submissions in flight (default 64)
 *   BENCH_BLOCK_MS   block interval (default 500; consensus timeouts scale with it)
 */
import { createSign, createVerify, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak256 } from "../../proofs/consortium/domain.ts";
import { recoverAddress } from "../../proofs/consortium/signature.ts";
import { type Hex, toHex } from "../../proofs/hex.ts";
import { derivePrivateKey, Signer } from "../../chains/consortium/crypto.ts";
import { freePorts } from "../../chains/consortium/devnet.ts";
import { initNodeHomes } from "../../chains/consortium/node/home.ts";
import { NodeProcess } from "../../chains/consortium/node/process.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { signTx } from "../../chains/consortium/tx.ts";

const TXS = Number(process.env.BENCH_TXS ?? 2000);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 500);
const PER_SENDER = 20; // below the mempool's per-sender cap (64)
const CHAIN_ID = 7771;

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
  return { nobleRecoverPerSec: Math.round(nobleRecover), nobleVerifyPerSec: Math.round(nobleVerify), opensslVerifyPerSec: Math.round(opensslVerify) };
}

function fromHexKey(k: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(k.slice(2), "hex"));
}

async function runNetwork(validators: number) {
  const dir = mkdtempSync(join(tmpdir(), `isthmus-bench-${validators}v-`));
  const senders = Array.from({ length: Math.ceil(TXS / PER_SENDER) }, (_, i) => Signer.fromPrivateKey(derivePrivateKey("bench/sender", i)));
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
  const procs: NodeProcess[] = [];
  const clients: ConsortiumClient[] = [];
  try {
    procs.push(...(await Promise.all(net.homes.map((h) => NodeProcess.start({ home: h.home, devnet: false, logLevel: "warn" })))));
    clients.push(...procs.map((p) => new ConsortiumClient(p.apiEndpoint, { deadlineMs: 30_000 })));
    // Pre-sign (not timed).
    const txs = senders.flatMap((s, si) =>
      Array.from({ length: PER_SENDER }, (_, n) => signTx(s, { chainId: CHAIN_ID, nonce: n, body: { kind: "transfer", to: sink, asset: "ISTH", amount: BigInt(1 + si) } })),
    ).slice(0, TXS);
    // Wait for the chain to be producing.
    const watcher = clients[0]!;
    while ((await watcher.getStatus()).height < 2) await new Promise((r) => setTimeout(r, 50));
    let seenHeight = (await watcher.getStatus()).height;

    const submittedAt = new Map<Hex, number>();
    const finalAt = new Map<Hex, number>();
    let rejected = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const block = await watcher.getBlock(seenHeight + 1);
        if (!block) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const now = performance.now();
        seenHeight++;
        for (const t of block.txs) finalAt.set(toHex(keccak256(t)), now);
      }
    })();

    const t0 = performance.now();
    let next = 0;
    // Txs of one sender go to one node in nonce order; senders are spread over the nodes.
    const bySender = new Map<number, typeof txs>();
    txs.forEach((t, i) => {
      const k = Math.floor(i / PER_SENDER);
      bySender.set(k, [...(bySender.get(k) ?? []), t]);
    });
    const queues = [...bySender.entries()];
    const worker = async () => {
      for (;;) {
        const q = queues[next++];
        if (!q) return;
        const [k, list] = q;
        const client = clients[k % clients.length]!;
        for (const t of list) {
          submittedAt.set(t.hash, performance.now());
          try {
            await client.submitTx(t.bytes);
          } catch {
            rejected++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(INFLIGHT, queues.length) }, worker));
    const submitDone = performance.now();
    const deadline = performance.now() + 120_000;
    while (finalAt.size < txs.length - rejected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watching = false;
    await watch;
    const lastFinal = Math.max(...finalAt.values());
    const latencies = txs.filter((t) => finalAt.has(t.hash)).map((t) => finalAt.get(t.hash)! - submittedAt.get(t.hash)!).sort((a, b) => a - b);
    return {
      validators,
      txs: txs.length,
      finalized: finalAt.size,
      rejected,
      blocks: seenHeight,
      submitSeconds: round((submitDone - t0) / 1000, 2),
      finalizedTps: round(finalAt.size / ((lastFinal - t0) / 1000)),
      commitLatencyMs: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)), max: Math.round(latencies.at(-1) ?? NaN) },
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

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
const one = await runNetwork(1);
const four = await runNetwork(4);
process.stdout.write(
  JSON.stringify(
    {
      bench: "consortium-consensus",
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      params: { txs: TXS, inflight: INFLIGHT, blockIntervalMs: BLOCK_MS, transport: "gRPC between OS processes on 127.0.0.1" },
      secp256k1: ceiling,
      runs: [one, four],
      note: "Each tx signature is recovered by every validator that admits it (gossip) and again when a block is checked; the chain uses pure-JS @noble recovery, so nobleRecoverPerSec is its single-core ceiling.",
    },
    null,
    2,
  ) + "\n",
);
process.exit(0);
