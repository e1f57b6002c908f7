/**
 * The consortium validator's per-transaction pipeline in one process, without network or
 * consensus, as CPU microseconds per transaction per stage: what `consensus.bench.ts`
 * measures end to end, taken apart so a change to one stage can be measured alone.
 *
 * Phase 1 (a child process, so no cache of this one is warm): a proposer admits pre-signed
 * P-256 transfers as client txs, proposes and commits blocks; the blocks are written out.
 * Phase 2 (this process): a fresh validator receives each block's txs as gossip (fresh byte
 * arrays, as a peer message would give it), checks the block rebuilt from its mempool and
 * commits it, as every non-proposing validator does for every block.
 *
 *   BENCH_PIPELINE_TXS     transfers (default 8000), BENCH_PIPELINE_SENDERS (default 400),
 *   BENCH_PIPELINE_BLOCK   txs per block (default 1000), BENCH_PIPELINE_HISTORY the chains'
 *   stateHistory (default 2: from block 2 on, each commit also moves the state table, as
 *   every commit does once a chain is stateHistory blocks long)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashHeader } from "../../proofs/consortium/header.ts";
import { type Commit } from "../../proofs/consortium/commit.ts";
import { VoteType, voteDigest } from "../../proofs/consortium/vote.ts";
import { type Block, type CommittedBlock } from "../../chains/consortium/block.ts";
import { decodeCommittedBinary, encodeCommittedBinary } from "../../chains/consortium/block-binary.ts";
import { Chain } from "../../chains/consortium/chain.ts";
import { derivePrivateKey, Signer } from "../../chains/consortium/crypto.ts";
import { type Genesis, makeGenesis } from "../../chains/consortium/genesis.ts";
import { Mempool } from "../../chains/consortium/mempool.ts";
import { BlockStore } from "../../chains/consortium/store.ts";
import { type SignedTx, signTx } from "../../chains/consortium/tx.ts";
import { P256Signer } from "../../chains/consortium/tx-auth.ts";

const TXS = Number(process.env.BENCH_PIPELINE_TXS ?? 8000);
const SENDERS = Number(process.env.BENCH_PIPELINE_SENDERS ?? 400);
const BLOCK = Number(process.env.BENCH_PIPELINE_BLOCK ?? 1000);
const HISTORY = Number(process.env.BENCH_PIPELINE_HISTORY ?? 2);
const CHAIN_ID = 7772;
const GENESIS_MS = 1_800_000_000_000;

const validators = [0, 1, 2, 3].map((i) => Signer.fromPrivateKey(derivePrivateKey("bench/pipeline/validator", i)));
const senders = Array.from({ length: SENDERS }, (_, i) => P256Signer.fromPrivateKey(derivePrivateKey("bench/pipeline/sender", i)));
const sink = Signer.fromPrivateKey(derivePrivateKey("bench/pipeline/sink", 0)).address;

function genesis(): Genesis {
  return makeGenesis({
    chainId: CHAIN_ID,
    timeMs: GENESIS_MS,
    validators: validators.map((v) => ({ address: v.address, stake: 100n })),
    assets: [],
    balances: senders.map((s) => ({ address: s.address, asset: "ISTH", amount: 10n ** 24n })),
  });
}

function commitFor(header: Block["header"], timeMs: number): Commit {
  const blockHash = hashHeader(header);
  const digest = voteDigest({ chainId: CHAIN_ID, height: header.height, round: 0, type: VoteType.Precommit, blockHash, timeMs });
  return { height: header.height, round: 0, blockHash, signatures: validators.map((v) => v.signHex(digest)), timesMs: validators.map(() => timeMs) };
}

/** CPU µs (user + system) of this process spent in `f`, added to `acc[stage]`. */
function timed<T>(acc: Record<string, number>, stage: string, f: () => T): T {
  const t0 = process.cpuUsage();
  const out = f();
  const d = process.cpuUsage(t0);
  acc[stage] = (acc[stage] ?? 0) + d.user + d.system;
  return out;
}

function perTx(acc: Record<string, number>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(acc)) {
    out[k] = Math.round((v / n) * 10) / 10;
    total += v;
  }
  out.total = Math.round((total / n) * 10) / 10;
  return out;
}

/** Phase 1: the proposer's side; returns its per-stage costs and writes the committed blocks to `file`. */
function propose(dir: string, file: string): Record<string, number> {
  const chain = Chain.open({ genesis: genesis(), store: new BlockStore(join(dir, "proposer.sqlite")), maxBlockTxs: BLOCK, stateHistory: HISTORY });
  const mempool = new Mempool(chain, { now: () => chain.head.header.timeMs + 1 }, { maxTxs: TXS + 1 });
  const perSender = Math.ceil(TXS / SENDERS);
  const txs: SignedTx[] = [];
  for (let n = 0; n < perSender; n++) for (let s = 0; s < SENDERS && txs.length < TXS; s++) txs.push(signTx(senders[s]!, { chainId: CHAIN_ID, nonce: n, body: { kind: "transfer", to: sink, asset: "ISTH", amount: BigInt(1 + s) } }));
  const acc: Record<string, number> = {};
  const blocks: CommittedBlock[] = [];
  let next = 0;
  let timeMs = GENESIS_MS + 1000;
  while (chain.height * BLOCK < TXS) {
    // Admit one block's worth (plus what is left over) as client txs, then propose and commit it.
    timed(acc, "admit (client: decode, verify, dry run)", () => {
      for (const end = Math.min(TXS, next + BLOCK); next < end; next++) mempool.add(Uint8Array.from(txs[next]!.bytes), "client");
    });
    const head = chain.head;
    const lastCommit = head.header.height === 0 ? null : commitFor(head.header, timeMs);
    const { block } = timed(acc, "propose (execute, roots)", () => chain.propose(mempool.reap(BLOCK), timeMs, validators[0]!.address, lastCommit));
    const committed = timed(acc, "commit (store, apply, mempool update)", () => chain.commit(block, commitFor(block.header, timeMs + 1)));
    blocks.push(committed);
    timeMs += 1000;
  }
  writeFileSync(file, JSON.stringify(blocks.map((b) => Buffer.from(encodeCommittedBinary(b)).toString("base64"))));
  chain.store.close();
  return perTx(acc, TXS);
}

/** Phase 2: a validator that did not propose: gossip in, check, commit. */
function follow(dir: string, file: string): Record<string, number> {
  const blocks = (JSON.parse(readFileSync(file, "utf8")) as string[]).map((b) => {
    const d = decodeCommittedBinary(Buffer.from(b, "base64"));
    if (!d.ok) throw new Error(`stored block: ${d.reason}`);
    return d.block;
  });
  const chain = Chain.open({ genesis: genesis(), store: new BlockStore(join(dir, "follower.sqlite")), maxBlockTxs: BLOCK, stateHistory: HISTORY });
  const mempool = new Mempool(chain, { now: () => chain.head.header.timeMs + 1 }, { maxTxs: TXS + 1 });
  const acc: Record<string, number> = {};
  for (const b of blocks) {
    const fromPool = timed(acc, "gossip admit (decode, verify)", () => b.txs.map((t) => mempool.add(Uint8Array.from(t), "peer").bytes));
    const block: Block = { header: b.header, txs: fromPool, lastCommit: b.lastCommit };
    const check = timed(acc, "check (execute, roots)", () => chain.check(block));
    if (!check.ok) throw new Error(`block ${b.header.height} does not check: ${check.reason}`);
    timed(acc, "commit (store, apply, mempool update)", () => chain.commit(block, b.commit));
  }
  chain.store.close();
  return perTx(acc, TXS);
}

const role = process.argv[2];
if (role === "--propose") {
  const [dir, file] = process.argv.slice(3) as [string, string];
  process.stdout.write(JSON.stringify(propose(dir, file)));
} else {
  const dir = mkdtempSync(join(tmpdir(), "isthmus-pipeline-"));
  try {
    const file = join(dir, "blocks.json");
    const proposer = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--propose", dir, file], { encoding: "utf8", maxBuffer: 1 << 26 })) as Record<string, number>;
    const follower = follow(dir, file);
    process.stdout.write(
      JSON.stringify(
        {
          bench: "consortium-pipeline",
          params: { txs: TXS, senders: SENDERS, blockTxs: BLOCK, stateHistory: HISTORY, scheme: "p256", store: "SQLite file" },
          cpuMicrosPerTx: { proposer, follower },
          note: "CPU µs per tx of one process per stage (process.cpuUsage), no network or consensus. A 4-validator network on 2 cores reaches 2,000 TPS only if a validator's whole share stays near 220 µs.",
        },
        null,
        2,
      ) + "\n",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
