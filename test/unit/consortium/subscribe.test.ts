/**
 * SubscribeBlocks / SubscribeEvents over real gRPC, served from an in-process chain whose
 * blocks the test commits itself (so every interleaving is chosen, not waited for), and the
 * resuming client iterators (rpc/resume.ts) across a server restart and a cut connection.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { verifyEventProof } from "../../../proofs/consortium/entry-proof.ts";
import { type Chain } from "../../../chains/consortium/chain.ts";
import { systemClock } from "../../../chains/consortium/clock.ts";
import { Mempool } from "../../../chains/consortium/mempool.ts";
import { ConsortiumClient, type NodeBlock } from "../../../chains/consortium/rpc/client.ts";
import { subscriptionRetryDelayMs } from "../../../chains/consortium/rpc/resume.ts";
import { type NodeServer, startNodeServer } from "../../../chains/consortium/rpc/server.ts";
import { consortiumService } from "../../../chains/consortium/rpc/wire.ts";
import { LedgerError } from "../../../chains/errors.ts";
import { alice, bob, commitBlock, openChain, secret, tx, until } from "./helpers.ts";

/** A chain whose method `prop` is replaced; everything else is the real chain's. */
function withOverride(chain: Chain, overrides: Record<string, unknown>): Chain {
  return new Proxy(chain, {
    get(target, prop) {
      if (typeof prop === "string" && prop in overrides) return overrides[prop];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Chain;
}

function serve(chain: Chain, extra: { port?: number; maxSubscriptions?: number } = {}): Promise<NodeServer> {
  const mempool = new Mempool(chain, systemClock);
  return startNodeServer({ node: { chain, mempool, blockIntervalMs: 100, maxClockSkewMs: 2000, submitTx: (b) => mempool.add(b) }, ...extra });
}

/** Takes `n` items from an async iterator, then stops it (break = cancel). */
async function take<T>(it: AsyncIterable<T>, n: number, each?: (item: T, i: number) => void): Promise<T[]> {
  const out: T[] = [];
  if (n === 0) return out;
  for await (const item of it) {
    out.push(item);
    each?.(item, out.length - 1);
    if (out.length === n) break;
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("consortium node API: SubscribeBlocks / SubscribeEvents", function () {
  this.timeout(60_000);
  let chain: Chain;
  let time: number;
  const next = (txs: Parameters<typeof commitBlock>[1] = []) => commitBlock(chain, txs, (time += 10));
  const servers: NodeServer[] = [];
  const clients: ConsortiumClient[] = [];
  const start = async (c: Chain = chain, extra: { port?: number; maxSubscriptions?: number } = {}) => {
    const s = await serve(c, extra);
    servers.push(s);
    const client = new ConsortiumClient(s.endpoint, { chain: "consortium" });
    clients.push(client);
    return { server: s, client };
  };

  beforeEach(() => {
    chain = openChain();
    time = Date.now() - 60_000;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.close();
  });

  it("back-fills from the store, then follows live commits: every height once, in order, as GetBlock answers it", async () => {
    for (let i = 0; i < 5; i++) next();
    const { server, client } = await start();
    const got = await take(client.subscribeBlocks(2), 9, (b) => {
      // Live from height 5 on: each delivery commits the next block.
      if (b.header.height >= 5) next();
    });
    assert.deepEqual(got.map((b) => b.header.height), range(2, 10));
    assert.deepEqual(got[3], await client.getBlock(5), "the same block, hash, commit, txs and outcomes as GetBlock");
    await until(() => server.subscriptions().active === 0, 5_000, "the cancelled stream to close");
  });

  it("a block committed while the back-fill is being read is sent once, in its place", async () => {
    for (let i = 0; i < 6; i++) next();
    let injected = 0;
    // Each store read of the back-fill at heights 2 and 4 commits a new block first: the
    // commit notification lands while the subscriber is reading, not waiting.
    const racing = withOverride(chain, {
      block: (h: number) => {
        if ((h === 2 || h === 4) && injected < 2) {
          injected++;
          next();
        }
        return chain.block(h);
      },
    });
    const { client } = await start(racing);
    const got = await take(client.subscribeBlocks(1), 8);
    assert.equal(injected, 2);
    assert.deepEqual(got.map((b) => b.header.height), range(1, 8));
    assert.equal(new Set(got.map((b) => b.hash)).size, 8);
  });

  it("a fromHeight past the head waits for that height, then delivers it", async () => {
    for (let i = 0; i < 3; i++) next();
    const { server, client } = await start();
    const it = client.subscribeBlocks(6)[Symbol.asyncIterator]();
    let first: NodeBlock | undefined;
    const pending = it.next().then((r) => (first = r.value as NodeBlock));
    await until(() => server.subscriptions().waitingForCommit === 1, 5_000, "the subscriber to wait at the head");
    next();
    next();
    assert.equal(server.subscriptions().subscribers[0]!.nextHeight, 6, "heights 4 and 5 are not sent");
    assert.equal(first, undefined, "nothing delivered before height 6 exists");
    next();
    await pending;
    assert.equal(first!.header.height, 6);
    await it.return?.();
  });

  it("cancellation (break, AbortSignal, a raw cancel) releases each subscription and its commit listener", async () => {
    for (let i = 0; i < 3; i++) next();
    let listeners = 0;
    const counted = withOverride(chain, {
      onCommit: (fn: Parameters<Chain["onCommit"]>[0]) => {
        listeners++;
        const off = chain.onCommit(fn);
        let on = true;
        return () => {
          if (on) listeners--;
          on = false;
          off();
        };
      },
    });
    const { server, client } = await start(counted);
    const baseline = listeners; // the mempool's own

    // 1: a consumer that breaks after back-fill.
    await take(client.subscribeBlocks(1), 2);
    await until(() => server.subscriptions().active === 0, 5_000, "the stream left by break to close");
    assert.equal(listeners, baseline);
    // 2: an AbortSignal while waiting for a future height.
    const ac = new AbortController();
    const waiting = take(client.subscribeEvents(10, { signal: ac.signal }), 1);
    // 3: a raw stream cancelled by the gRPC client.
    const Ctor = consortiumService();
    const raw = new Ctor(server.endpoint, grpc.credentials.createInsecure()) as unknown as grpc.Client & { subscribeBlocks(req: object): grpc.ClientReadableStream<unknown> };
    const call = raw.subscribeBlocks({ fromHeight: 1 });
    call.on("error", () => {});
    call.on("data", () => {});
    await until(() => server.subscriptions().waitingForCommit === 2, 5_000, "two subscribers at the head");
    assert.deepEqual(server.subscriptions().subscribers.map((s) => s.method).sort(), ["SubscribeBlocks", "SubscribeEvents"]);
    assert.equal(listeners, baseline + 2, "one commit listener per open subscription");

    ac.abort();
    assert.deepEqual(await waiting, [], "an aborted subscription ends without an item");
    call.cancel();
    await until(() => server.subscriptions().active === 0, 5_000, "every subscription to close");
    assert.equal(listeners, baseline, "no commit listener left behind");
    raw.close();
    next();
    assert.equal(server.subscriptions().active, 0);
  });

  it("a consumer that stops reading pauses its subscriber on gRPC backpressure: the store is not read ahead", async () => {
    next();
    // Large blocks at every height up to a far head: flow control, not the head, must stop the reader.
    const far = 1_000_000;
    const padding = new Uint8Array(32 * 1024).fill(7);
    let reads = 0;
    const big = withOverride(chain, {
      height: far,
      block: (h: number) => {
        reads++;
        const b = chain.block(1)!;
        return { ...b, header: { ...b.header, height: h }, txs: [padding] };
      },
    });
    const { server, client } = await start(big);
    const it = client.streamBlocks(1)[Symbol.asyncIterator]();
    assert.equal(((await it.next()).value as NodeBlock).header.height, 1);
    await until(() => server.subscriptions().waitingForDrain === 1, 10_000, "the subscriber to wait for 'drain'");
    const paused = server.subscriptions().subscribers[0]!;
    assert.equal(paused.waiting, "drain");
    assert.equal(reads, paused.nextHeight - 1, "every block read was written: nothing is read ahead");
    assert.ok(paused.buffered <= 16, `at most the stream's high-water mark of messages buffered, got ${paused.buffered}`);
    assert.ok(paused.nextHeight < 1_000, `stopped near the consumer (next ${paused.nextHeight}), not near the head ${far}`);
    // Reading again resumes it: the pause was backpressure, not a stall.
    for (let i = 0; i < 200; i++) await it.next();
    await until(() => server.subscriptions().subscribers[0]!.nextHeight > paused.nextHeight + 150, 10_000, "the subscriber to move on");
    await it.return?.();
    await until(() => server.subscriptions().active === 0, 5_000, "the stream to close");
  });

  it("resumes at the next height after the server restarts (no gap, no duplicate)", async () => {
    for (let i = 0; i < 3; i++) next();
    const first = await start();
    const port = first.server.port;
    const retries: number[] = [];
    const sub = first.client.subscribeBlocks(1, { retryDelayMs: () => 50, onRetry: (r) => retries.push(r.resumeAt) });
    const got = await take(sub, 10, (b) => {
      if (b.header.height === 3) {
        // The node goes away with the subscriber at the head, blocks land while it is down.
        void first.server.close().then(async () => {
          next();
          next();
          await start(chain, { port });
          next();
          next();
          next();
          next();
          next();
        });
      }
    });
    assert.deepEqual(got.map((b) => b.header.height), range(1, 10));
    assert.ok(retries.length >= 1 && retries.every((h) => h === 4), `reconnected at height 4 (${retries.join(", ")})`);
  });

  it("resumes at the next height after the connection is cut mid-stream", async () => {
    for (let i = 0; i < 12; i++) next();
    const { server } = await start();
    // A TCP relay to the node whose open connections the test destroys.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((inbound) => {
      const outbound = net.connect(server.port, "127.0.0.1");
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const client = new ConsortiumClient(`127.0.0.1:${(relay.address() as net.AddressInfo).port}`);
    clients.push(client);
    try {
      let cuts = 0;
      const got = await take(client.subscribeBlocks(1, { retryDelayMs: () => 20 }), 20, (b) => {
        if (b.header.height === 5 || b.header.height === 14) {
          cuts++;
          for (const s of sockets) s.destroy();
        }
        if (b.header.height >= 12) next();
      });
      assert.equal(cuts, 2);
      assert.deepEqual(got.map((b) => b.header.height), range(1, 20));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => relay.close(r));
    }
  });

  it("streams every height's events with proofs that verify, filtered by kind", async () => {
    next();
    const { hashlock } = secret(3);
    const lock = { kind: "lock" as const, receiver: bob.address, asset: "KRW", amount: 5n, hashlock, timelock: Math.floor(Date.now() / 1000) + 3600 };
    next([tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 7n }), tx(alice, 1, lock)]);
    next();
    const { client } = await start();
    const all = await take(client.subscribeEvents(1), 3);
    assert.deepEqual(all.map((b) => b.header.height), [1, 2, 3], "heights without events come too");
    assert.deepEqual(all.map((b) => b.events.length), [0, 2, 0]);
    const trusted = { chainId: chain.chainId, validatorSet: chain.validatorSetAt(2) };
    const kinds = all[1]!.events.map((e) => {
      const v = verifyEventProof({ ...trusted, header: all[1]!.header, commit: all[1]!.commit, ...e });
      assert.ok(v.ok, v.ok ? "" : v.reason);
      return v.event.kind;
    });
    assert.deepEqual(kinds, ["transfer", "locked"]);

    const locked = await take(client.subscribeEvents(2, { kinds: ["locked"] }), 1);
    assert.equal(locked[0]!.events.length, 1);
    const v = verifyEventProof({ ...trusted, header: locked[0]!.header, commit: locked[0]!.commit, ...locked[0]!.events[0]! });
    assert.ok(v.ok && v.event.kind === "locked");
  });

  it("refuses what asking again cannot fix, without retrying: fromHeight 0, an unknown event kind", async () => {
    next();
    const { client } = await start();
    let retried = 0;
    const isInvalid = (err: unknown) => err instanceof LedgerError && err.details.grpcCode === grpc.status.INVALID_ARGUMENT;
    await assert.rejects(take(client.subscribeBlocks(0, { onRetry: () => retried++ }), 1), isInvalid);
    await assert.rejects(take(client.subscribeEvents(1, { kinds: ["minted"], onRetry: () => retried++ }), 1), (err: unknown) => isInvalid(err) && /unknown event kind "minted"/.test((err as Error).message));
    assert.equal(retried, 0);
  });

  it("caps the number of subscriptions with RESOURCE_EXHAUSTED", async () => {
    next();
    const { server, client } = await start(chain, { maxSubscriptions: 1 });
    const it = client.streamBlocks(1)[Symbol.asyncIterator]();
    await it.next();
    await assert.rejects(take(client.streamBlocks(1), 1), (err: unknown) => err instanceof LedgerError && err.details.grpcCode === grpc.status.RESOURCE_EXHAUSTED);
    await it.return?.();
    await until(() => server.subscriptions().active === 0, 5_000, "the first stream to close");
    assert.equal((await take(client.streamBlocks(1), 1))[0]!.header.height, 1, "a slot is free again");
  });

  it("backs off 100 ms, doubling, capped at 5 s", () => {
    assert.deepEqual(range(1, 9).map(subscriptionRetryDelayMs), [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });
});
