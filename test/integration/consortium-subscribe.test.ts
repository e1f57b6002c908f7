/**
 * Block subscriptions across real node deaths: 4 validator OS processes and a follower full
 * node (a 5th home made by `isthmus node init --join`, its key in no validator set). One
 * verified subscriber (ConsortiumLedger.subscribeBlocks) reads from validator 3, another from
 * the follower; each node is SIGKILLed while its subscriber is following live blocks, the
 * chain moves on without it, it is restarted (same home, ports and SQLite file), and its
 * subscriber must resume there with every height exactly once, in order.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { stakeOf } from "../../proofs/consortium/validators.ts";
import { type Hex } from "../../proofs/hex.ts";
import { ConsortiumLedger } from "../../chains/consortium/adapter.ts";
import { derivePrivateKey } from "../../chains/consortium/crypto.ts";
import { contiguousFreePorts } from "../../chains/consortium/devnet.ts";
import { initNodeHomes } from "../../chains/consortium/node/home.ts";
import { NodeProcess } from "../../chains/consortium/node/process.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { eventually } from "./support/eventually.ts";

const BLOCK_MS = 250;
const CHAIN_ID = 4343;
const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** A running subscription whose deliveries the test can read while it runs. */
interface Watch {
  readonly heights: number[];
  readonly hashes: Map<number, Hex>;
  retries: number;
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

function watch(ledger: ConsortiumLedger, fromHeight: number): Watch {
  const stop = new AbortController();
  const w = { heights: [] as number[], hashes: new Map<number, Hex>(), retries: 0, stop } as Omit<Watch, "done"> & { done?: Promise<void> };
  w.done = (async () => {
    for await (const block of ledger.subscribeBlocks(fromHeight, { signal: stop.signal, retryDelayMs: () => 200, onRetry: () => w.retries++ })) {
      w.heights.push(block.header.height);
      w.hashes.set(block.header.height, block.hash);
    }
  })();
  return w as Watch;
}

const last = (w: Watch) => w.heights[w.heights.length - 1] ?? 0;

describe("consortium subscriptions: a subscriber's node is SIGKILLed and restarted", function () {
  this.timeout(300_000);
  let dir: string;
  const procs: NodeProcess[] = [];
  const clients: ConsortiumClient[] = [];
  const ledgers: ConsortiumLedger[] = [];
  const watches: Watch[] = [];

  after(async () => {
    for (const w of watches) w.stop.abort();
    await Promise.allSettled(watches.map((w) => w.done));
    for (const l of ledgers) await l.close();
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("resumes on a validator and on a follower full node without gap or duplicate", async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-sub-"));
    const base = await contiguousFreePorts(10, 20_000 + Math.floor(Math.random() * 12_000));
    const net = initNodeHomes({ dir, validators: 4, chainId: CHAIN_ID, basePort: base, blockIntervalMs: BLOCK_MS });
    procs.push(...(await Promise.all(net.homes.map((h) => NodeProcess.start({ home: h.home, devnet: false, logLevel: "warn" })))));
    const followerHome = join(dir, "follower");
    await promisify(execFile)(process.execPath, [join(REPO, "bin/isthmus.js"), "node", "init", "--home", followerHome, "--join", procs[0]!.p2pEndpoint, "--base-port", String(base + 8), "--chain-id", String(CHAIN_ID)], { cwd: REPO });
    const follower = await NodeProcess.start({ home: followerHome, devnet: false, logLevel: "warn" });
    procs.push(follower);
    clients.push(...procs.map((p) => new ConsortiumClient(p.apiEndpoint)));
    const status = await clients[0]!.getStatus();
    assert.equal(stakeOf(status.validators, follower.address), undefined, "the 5th node is no validator: it runs as a follower");

    const height = async (i: number) => (await clients[i]!.getStatus()).height;
    const options = {
      name: "consortium",
      chainId: CHAIN_ID,
      validators: status.validators.validators,
      blockTimeSec: BLOCK_MS / 1000,
      clockSkewSec: status.maxClockSkewMs / 1000,
      privateKey: derivePrivateKey("test/subscribe/reader", 0),
    };
    const onValidator = await ConsortiumLedger.connect({ ...options, endpoint: procs[3]!.apiEndpoint });
    const onFollower = await ConsortiumLedger.connect({ ...options, endpoint: follower.apiEndpoint });
    ledgers.push(onValidator, onFollower);
    const a = watch(onValidator, 1);
    const b = watch(onFollower, 1);
    watches.push(a, b);

    for (const [w, node, i] of [
      [a, procs[3]!, 3],
      [b, follower, 4],
    ] as const) {
      await eventually("the subscriber to follow live blocks", 60_000, async () => ((await height(0)) >= 3 && last(w) >= (await height(0)) - 1 ? true : undefined));
      const before = w.retries;
      await node.kill("SIGKILL");
      assert.equal(node.running, false);
      const atKill = last(w);
      await eventually("the chain to move on without the killed node", 60_000, async () => ((await height(0)) >= atKill + 5 ? true : undefined));
      assert.ok(w.retries > before, "the subscriber is reconnecting");
      await node.start();
      const target = (await height(0)) + 5;
      await eventually(`the subscriber on node ${i} to pass height ${target}`, 90_000, async () => (last(w) >= target ? true : undefined));
    }

    for (const w of [a, b]) w.stop.abort();
    await Promise.all([a.done, b.done]);
    for (const w of [a, b]) {
      assert.deepEqual(w.heights, Array.from({ length: w.heights.length }, (_, k) => k + 1), "every height from 1, once, in order");
    }
    const common = Math.min(last(a), last(b));
    for (let h = 1; h <= common; h++) assert.equal(a.hashes.get(h), b.hashes.get(h), `the same block ${h} from both nodes`);
  });
});
