/**
 * The consortium chain as a real network: 4 validator OS processes talking gRPC on
 * 127.0.0.1 (startConsortiumDevnet's process mode). One network serves the tests in order;
 * each leaves it healthy for the next.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { type ConsortiumDevnet, freePorts, startConsortiumDevnet } from "../../chains/consortium/devnet.ts";
import { writeNodeHome } from "../../chains/consortium/node/home.ts";
import { NodeProcess } from "../../chains/consortium/node/process.ts";
import { encodeMessage } from "../../chains/consortium/consensus/messages.ts";
import { MAX_MALFORMED_PER_STREAM, peerServices } from "../../chains/consortium/net/peer-wire.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { signTx } from "../../chains/consortium/tx.ts";
import { alice, bob } from "../unit/consortium/helpers.ts";
import { eventually } from "./support/eventually.ts";

const BLOCK_MS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("consortium network: 4 validator processes over gRPC", function () {
  this.timeout(120_000);
  let dir: string;
  let devnet: ConsortiumDevnet;
  let clients: ConsortiumClient[];
  const heights = () => Promise.all(clients.map((c) => c.getStatus().then((s) => s.height)));

  /** Every node has the same block hash at every height up to the lowest head. */
  async function assertNoFork(): Promise<number> {
    const top = Math.min(...(await heights()));
    for (let h = 1; h <= top; h++) {
      const hashes = await Promise.all(clients.map((c) => c.getBlock(h).then((b) => b!.hash)));
      assert.equal(new Set(hashes).size, 1, `one block at height ${h} on every validator (got ${hashes.join(", ")})`);
    }
    return top;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-net-"));
    devnet = await startConsortiumDevnet({ dataDir: dir, blockIntervalMs: BLOCK_MS, balances: [{ address: alice.address, asset: "KRW", amount: 1_000n }] });
    clients = devnet.processes.map((p) => new ConsortiumClient(p.apiEndpoint));
  });

  after(async () => {
    for (const c of clients ?? []) c.close();
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs each validator in its own process and finalizes a transfer submitted to any of them", async () => {
    const pids = devnet.processes.map((p) => p.pid);
    assert.equal(new Set(pids).size, 4);
    assert.ok(!pids.includes(process.pid));
    const t = signTx(alice, { chainId: devnet.chainId, nonce: 0, body: { kind: "transfer", to: bob.address, asset: "KRW", amount: 250n } });
    await clients[2]!.submitTx(t.bytes);
    await eventually("the transfer on every validator", 15_000, async () => {
      const accounts = await Promise.all(clients.map((c) => c.getAccount(bob.address)));
      return accounts.every((a) => a.balances.get("KRW") === 250n) ? true : undefined;
    });
  });

  it("rejects malformed and oversized peer messages without crashing", async () => {
    const target = devnet.processes[0]!;
    const Peer = peerServices().Peer;
    const raw = new Peer(target.p2pEndpoint, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 }) as unknown as grpc.Client & {
      gossip(cb: (err: grpc.ServiceError | null, res?: { accepted: number; rejected: number }) => void): grpc.ClientWritableStream<{ payload: Buffer }>;
    };
    try {
      const junk = [
        Buffer.from("not json"),
        Buffer.from("{}"),
        Buffer.from('{"type":"vote","voteType":1,"height":-1}'),
        Buffer.from(JSON.stringify({ type: "proposal", height: 1, round: 0, polRound: 5, block: {}, signature: "0x00" })),
        Buffer.from([0xff, 0xfe, 0x00, 0x80]),
        Buffer.alloc(0),
      ];
      // Decodable but forged: a vote whose signature recovers to nobody in the set, and a tx of garbage bytes.
      const forgedVote = Buffer.from(encodeMessage({ type: "vote", voteType: 1, height: 1, round: 0, blockHash: `0x${"11".repeat(32)}`, timeMs: 0, signature: `0x${"22".repeat(64)}1b` }));
      const junkTx = Buffer.from(encodeMessage({ type: "txs", txs: [new Uint8Array([1, 2, 3])] }));
      const ended = await new Promise<grpc.ServiceError | null>((resolve) => {
        const stream = raw.gossip((err) => resolve(err));
        stream.write({ payload: forgedVote });
        stream.write({ payload: junkTx });
        for (let i = 0; i <= MAX_MALFORMED_PER_STREAM; i++) stream.write({ payload: junk[i % junk.length]! });
        stream.end();
      });
      assert.equal(ended?.code, grpc.status.INVALID_ARGUMENT, "a stream of garbage is cut off");

      const oversized = await new Promise<grpc.ServiceError | null>((resolve) => {
        const stream = raw.gossip((err) => resolve(err));
        stream.write({ payload: Buffer.alloc(5 * 1024 * 1024, 0x7b) });
        stream.end();
      });
      assert.equal(oversized?.code, grpc.status.RESOURCE_EXHAUSTED, "a message over the cap is refused");
    } finally {
      raw.close();
    }
    assert.ok(target.running, "the node survived");
    const before = (await clients[0]!.getStatus()).height;
    await eventually("blocks after the garbage", 10_000, async () => ((await clients[0]!.getStatus()).height >= before + 3 ? true : undefined));
  });

  it("stays live with one validator killed (SIGKILL); restarted, it catches up and rejoins", async () => {
    const victim = devnet.processes[3]!;
    const others = clients.slice(0, 3);
    await victim.kill("SIGKILL");
    assert.equal(victim.running, false);
    const atKill = Math.max(...(await Promise.all(others.map((c) => c.getStatus().then((s) => s.height)))));
    await eventually("3 validators to finalize 8 more blocks", 20_000, async () => {
      const hs = await Promise.all(others.map((c) => c.getStatus().then((s) => s.height)));
      return Math.min(...hs) >= atKill + 8 ? true : undefined;
    });
    await victim.start();
    const lead = Math.max(...(await Promise.all(others.map((c) => c.getStatus().then((s) => s.height)))));
    await eventually("the restarted validator to catch up", 20_000, async () => ((await clients[3]!.getStatus()).height >= lead + 2 ? true : undefined));
    // It takes part again: with another validator down, the chain still needs it (3 of 4).
    await devnet.processes[2]!.kill("SIGKILL");
    const without2 = (await clients[3]!.getStatus()).height;
    await eventually("progress that needs the restarted validator's votes", 20_000, async () => ((await clients[3]!.getStatus()).height >= without2 + 3 ? true : undefined));
    await devnet.processes[2]!.start();
    await eventually("validator 2 to catch up", 20_000, async () => {
      const hs = await heights();
      return hs[2]! >= Math.max(...hs) - 1 ? true : undefined;
    });
    await assertNoFork();
  });

  it("halts without forking under a 2/2 partition and resumes when it heals", async () => {
    const [a, b, c, d] = devnet.processes;
    const side1 = [a!, b!];
    const side2 = [c!, d!];
    await Promise.all([
      ...side1.map((p) => p.setBlockedPeers(side2.map((q) => q.p2pEndpoint))),
      ...side2.map((p) => p.setBlockedPeers(side1.map((q) => q.p2pEndpoint))),
    ]);
    let top: number;
    try {
      await sleep(1500); // a block already decided in flight may still land
      const frozen = await heights();
      top = Math.max(...frozen);
      await sleep(3000);
      // A validator that lagged may still fetch a block decided before the partition from
      // its side's peer; no height above the top may be finalized by anyone.
      const after = await heights();
      assert.ok(after.every((h) => h <= top), `no side has 2/3 of the stake: nothing is finalized past ${top} (heights ${after.join(", ")})`);
    } finally {
      await Promise.all(devnet.processes.map((p) => p.setBlockedPeers([])));
    }
    await eventually("progress after healing", 30_000, async () => {
      const hs = await heights();
      return Math.min(...hs) >= top + 3 ? true : undefined;
    });
    await assertNoFork();
  });

  it("devnet advanceTime moves every validator's clock: block time follows", async () => {
    const before = await clients[1]!.getStatus();
    await devnet.advanceTime(3600);
    await eventually("a block stamped an hour later", 15_000, async () => {
      const s = await clients[1]!.getStatus();
      return s.lastBlockTimeMs >= before.lastBlockTimeMs + 3_600_000 ? true : undefined;
    });
    await assertNoFork();
  });

  it("a non-validator full node follows the chain by block sync and relays a client's transaction", async () => {
    const home = join(dir, "follower");
    const [p2pPort, apiPort] = await freePorts(2);
    writeNodeHome(home, {
      genesis: devnet.genesis,
      config: { p2pPort: p2pPort!, apiPort: apiPort!, peers: devnet.processes.map((p) => p.p2pEndpoint), blockIntervalMs: BLOCK_MS, maxClockSkewMs: 2000, maxPeerMessageBytes: 4 * 1024 * 1024 },
    });
    const follower = await NodeProcess.start({ home, devnet: false, logLevel: "warn" });
    const fc = new ConsortiumClient(follower.apiEndpoint);
    try {
      assert.ok(!devnet.validators.some((v) => v.address === follower.address), "not a validator");
      const lead = Math.max(...(await heights()));
      await eventually("the follower to reach the validators' height", 20_000, async () => ((await fc.getStatus()).height >= lead ? true : undefined));
      const h = (await fc.getStatus()).height;
      assert.equal((await fc.getBlock(h))!.hash, (await clients[0]!.getBlock(h))!.hash, "same chain");
      const t = signTx(alice, { chainId: devnet.chainId, nonce: 1, body: { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n } });
      await fc.submitTx(t.bytes);
      await eventually("the transfer relayed by the follower to be final everywhere", 20_000, async () => {
        const all = await Promise.all([...clients, fc].map((c) => c.getAccount(bob.address)));
        return all.every((a) => a.balances.get("KRW") === 255n) ? true : undefined;
      });
    } finally {
      fc.close();
      await follower.close();
    }
  });
});

describe("consortium validator processes", function () {
  this.timeout(60_000);
  const REPO = fileURLToPath(new URL("../..", import.meta.url));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("die with their parent, even when the parent is SIGKILLed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "isthmus-orphan-"));
    const script = `
      import { startConsortiumDevnet } from "./chains/consortium/devnet.ts";
      const d = await startConsortiumDevnet({ dataDir: ${JSON.stringify(dir)}, blockIntervalMs: 200 });
      console.log("PIDS " + d.processes.map((p) => p.pid).join(","));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    parent.stdout.on("data", (d: Buffer) => (out += d.toString()));
    parent.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await eventually("the parent to report its validators", 30_000, async () => (/PIDS ([\d,]+)/.test(out) ? true : undefined));
      const pids = /PIDS ([\d,]+)/.exec(out)![1]!.split(",").map(Number);
      assert.equal(pids.length, 4);
      assert.ok(pids.every(alive));
      parent.kill("SIGKILL");
      await eventually("every orphaned validator to exit", 10_000, async () => (pids.every((p) => !alive(p)) ? true : undefined));
    } finally {
      parent.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
