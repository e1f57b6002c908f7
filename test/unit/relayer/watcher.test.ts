import assert from "node:assert/strict";
import { DEFAULT_TIMELOCKS } from "../../../relayer/config.ts";
import { parseRate } from "../../../relayer/core/amount.ts";
import { chainReconnectDelayMs } from "../../../relayer/core/retry.ts";
import { SwapEngine, type EngineOptions } from "../../../relayer/engine.ts";
import { silentLogger } from "../../../relayer/log.ts";
import { SwapStore } from "../../../relayer/store.ts";
import { FakeLedger } from "./fake-ledger.ts";
import { RELAYER, secret, sleep, USER } from "./rig.ts";

function setup(opts: EngineOptions = {}, pollMs = 10) {
  const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
  const beta = new FakeLedger("beta", RELAYER, ["B"]);
  const store = new SwapStore(":memory:");
  const routes = [{ from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), minIn: 100n, maxIn: 100_000n }];
  const engine = new SwapEngine(new Map([["alpha", alpha], ["beta", beta]]), routes, store, DEFAULT_TIMELOCKS, silentLogger, pollMs, opts);
  const userLocks = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = secret();
      ids.push((await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER })).id);
      alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock: alpha.time + 3600 });
    }
    return ids;
  };
  return { alpha, beta, store, engine, userLocks };
}

describe("watcher: outages, backoff and backfill, overlapping rescans", () => {
  it("retry policy chainReconnect: base × 2^(n-1), capped at 30 s", () => {
    assert.deepEqual([1, 2, 3, 5].map((n) => chainReconnectDelayMs(n, 250)), [250, 500, 1000, 4000]);
    assert.equal(chainReconnectDelayMs(20, 250), 30_000);
    assert.equal(chainReconnectDelayMs(3, 100, 300), 300);
    assert.throws(() => chainReconnectDelayMs(0, 100), RangeError);
  });

  it("an outage of one ledger while locks happen: it is backed off, the other keeps going, then it is backfilled", async () => {
    let reconnects = 0;
    const { alpha, beta, store, engine, userLocks } = setup({ onReconnect: () => reconnects++ }, 40);
    await engine.round();
    const cursor = store.getCursor("alpha")!;
    alpha.down = true;
    // Creating swaps needs alpha's head: register them first, then cut the node and lock.
    alpha.down = false;
    const ids = await userLocks(3);
    alpha.down = true;
    alpha.height += 10; // ten blocks pass during the outage
    await engine.round();
    assert.equal(engine.chainHealth().get("alpha")?.failures, 1);
    const before = engine.chainHealth().get("alpha");
    beta.height += 1;
    await engine.round(); // within the backoff: the watcher does not try alpha, beta still is
    assert.deepEqual(engine.chainHealth().get("alpha"), before, "backing off: the watcher did not try the failing ledger");
    assert.equal(engine.lastHeads().get("beta")!.finalizedHeight, beta.height, "the other ledger is still watched");
    await sleep(45);
    await engine.round();
    assert.equal(engine.chainHealth().get("alpha")?.failures, 2, "still down: the backoff doubles");
    assert.equal(store.getCursor("alpha"), cursor, "the cursor did not move while the ledger was down");
    alpha.down = false;
    await sleep(90);
    await engine.round();
    assert.equal(engine.chainHealth().has("alpha"), false);
    assert.equal(reconnects, 1);
    assert.equal(store.getCursor("alpha"), alpha.height, "backfilled to the final head");
    assert.deepEqual(ids.map((id) => store.get(id)!.state), ["relayer_locking", "relayer_locking", "relayer_locking"]);
    await engine.stop();
    store.close();
  });

  it("a lock left out of an events() answer is found by the next overlapping rescan, and handled once", async () => {
    const { alpha, store, engine, userLocks } = setup({ rescanEveryRounds: 3, rescanBlocks: 20 });
    await engine.round(); // round 1
    const [id] = await userLocks(1);
    alpha.hideOnce.add(alpha.log.at(-1)!.txId);
    await engine.round(); // round 2: scans past the lock without seeing it
    assert.equal(store.getCursor("alpha"), alpha.height);
    assert.equal(store.get(id!)!.state, "awaiting_user_lock");
    await engine.round(); // round 3: rescan of the last 20 blocks
    assert.notEqual(store.get(id!)!.state, "awaiting_user_lock");
    const history = store.history(id!).length;
    for (let i = 0; i < 6; i++) await engine.round(); // two more rescans over the same blocks
    assert.ok(store.history(id!).every((h, i, all) => i === 0 || h.seq === all[i - 1]!.seq + 1));
    assert.equal(store.history(id!).filter((h) => h.to === "relayer_locking" && h.from === "awaiting_user_lock").length, 1, "accepted once");
    assert.ok(store.history(id!).length >= history);
    await engine.stop();
    store.close();
  });

  it("reconciliation: a user lock missed far below the rescan window (left out of the answer) is found from the swap's registration height", async () => {
    const rediscovered: string[] = [];
    const { alpha, store, engine, userLocks } = setup({ rescanEveryRounds: 2, rescanBlocks: 10, reconcileEveryRounds: 5, onRediscovered: (c) => rediscovered.push(c) });
    await engine.round(); // round 1 (reconciles too, with nothing awaiting)
    const [id] = await userLocks(1);
    alpha.hideOnce.add(alpha.log.at(-1)!.txId);
    alpha.height += 100; // the lock is now 100 blocks below the head
    for (let i = 2; i <= 4; i++) await engine.round(); // scans past it, rescans the last 10 blocks twice
    assert.equal(store.getCursor("alpha"), alpha.height);
    assert.equal(store.get(id!)!.state, "awaiting_user_lock", "the overlap window does not reach it");
    await engine.round(); // round 5: reconciliation
    assert.equal(store.get(id!)!.state, "relayer_locking");
    assert.deepEqual(rediscovered, ["alpha"]);
    for (let i = 0; i < 10; i++) await engine.round();
    assert.equal(store.history(id!).filter((h) => h.from === "awaiting_user_lock").length, 1, "accepted once");
    assert.deepEqual(rediscovered, ["alpha"], "counted once");
    assert.equal(store.get(id!)!.state, "relayer_locked");
    await engine.stop();
    store.close();
  });

  it("reconciliation on start: a cursor already past the lock (events never read) does not strand the swap", async () => {
    const { alpha, beta, store, engine, userLocks } = setup({ rescanEveryRounds: 0 });
    store.setCursor("alpha", alpha.height);
    store.setCursor("beta", beta.height);
    const [id] = await userLocks(1);
    store.setCursor("alpha", alpha.height); // the lock's block counts as handled, as after a lost range
    await engine.round(); // the first round of a (re)started engine reconciles
    assert.equal(store.get(id!)!.state, "relayer_locking");
    await engine.stop();
    store.close();
  });

  it("a missed claim on the destination: the relayer claims from the lock state it reads (claimed + preimage), events are not needed", async () => {
    const { alpha, beta, store, engine } = setup({ rescanEveryRounds: 0, reconcileEveryRounds: 0 });
    await engine.round();
    const s = secret();
    const { id } = await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER });
    alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock: alpha.time + 3600 });
    for (let i = 0; i < 4 && store.get(id)!.state !== "relayer_locked"; i++) await engine.round();
    const swap = store.get(id)!;
    assert.equal(swap.state, "relayer_locked");
    if (swap.state !== "relayer_locked") return;
    beta.claimAs(USER, swap.counterLock.lockId, s.preimage);
    beta.hideOnce.add(beta.log.at(-1)!.txId);
    beta.height += 100;
    for (let i = 0; i < 6 && store.get(id)!.state !== "completed"; i++) await engine.round();
    assert.equal(store.get(id)!.state, "completed");
    await engine.stop();
    store.close();
  });

  it("a waiting swap is not re-read until a final height it depends on moves", async () => {
    const { beta, store, engine, userLocks } = setup();
    await engine.round();
    const [id] = await userLocks(1);
    for (let i = 0; i < 3; i++) await engine.round();
    assert.equal(store.get(id!)!.state, "relayer_locked");
    await engine.round(); // a "wait" for the user's claim, recorded at these heights
    const reads = beta.getLockCalls;
    for (let i = 0; i < 5; i++) await engine.round();
    assert.equal(beta.getLockCalls, reads, "nothing moved: no re-read");
    beta.height += 1;
    await engine.round();
    assert.equal(beta.getLockCalls, reads + 1, "the destination's final height moved: read again");
    await engine.stop();
    store.close();
  });
});
