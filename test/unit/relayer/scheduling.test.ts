import assert from "node:assert/strict";
import type { Hex } from "../../../chains/ledger.ts";
import { DEFAULT_TIMELOCKS } from "../../../relayer/config.ts";
import { parseRate } from "../../../relayer/core/amount.ts";
import { checkDeadlines, nextSendEstimate } from "../../../relayer/core/capacity.ts";
import { actingChain, NO_DEADLINE_PRIORITY, stepPriority } from "../../../relayer/core/deadline.ts";
import { OverCapacityError, SwapEngine } from "../../../relayer/engine.ts";
import { silentLogger } from "../../../relayer/log.ts";
import { SwapStore } from "../../../relayer/store.ts";
import { awaiting, locking } from "./fixtures.ts";
import { FakeLedger } from "./fake-ledger.ts";
import { RELAYER, secret, USER } from "./rig.ts";

describe("scheduling: earliest deadline first, admission by held deadlines", () => {
  it("checkDeadlines: the k-th earliest deadline needs ceil(k / concurrency) sends of time", () => {
    assert.deepEqual(checkDeadlines([], 10, 1), { ok: true });
    assert.deepEqual(checkDeadlines([30, 10, 20], 10, 1), { ok: true });
    assert.deepEqual(checkDeadlines([30, 10, 19], 10, 1), { ok: false, position: 2, needSec: 20, leftSec: 19 });
    assert.deepEqual(checkDeadlines([10, 10, 20, 20], 10, 2), { ok: true });
    assert.deepEqual(checkDeadlines([-1], 0, 1), { ok: false, position: 1, needSec: 0, leftSec: -1 });
    assert.throws(() => checkDeadlines([1], 1, 0), RangeError);
    assert.equal(nextSendEstimate(undefined, 5, 1), 5);
    assert.equal(nextSendEstimate(5, 10, 1), 6);
    assert.equal(nextSendEstimate(0.1, 0.1, 1), 1, "never below the floor (a block)");
  });

  it("stepPriority: less chain time left runs first; swaps holding no deadline last", () => {
    const soon = { ...locking(), counterLock: { ...locking().counterLock, timelock: 1_100 } };
    const late = { ...locking(), counterLock: { ...locking().counterLock, timelock: 1_900 } };
    const time = () => 1_000;
    assert.ok(stepPriority(soon, time) > stepPriority(late, time));
    assert.equal(stepPriority(awaiting(), time), NO_DEADLINE_PRIORITY);
    assert.equal(stepPriority(soon, () => undefined), 0, "an unknown head counts the deadline as due");
    assert.equal(actingChain(soon), "evm");
    assert.equal(actingChain(awaiting()), "consortium");
  });

  const rig = (concurrency: number) => {
    const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
    const beta = new FakeLedger("beta", RELAYER, ["B"]);
    const store = new SwapStore(":memory:");
    const routes = [{ from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), minIn: 100n, maxIn: 100_000n }];
    const engine = new SwapEngine(new Map([["alpha", alpha], ["beta", beta]]), routes, store, DEFAULT_TIMELOCKS, silentLogger, 1000, { concurrencyPerChain: concurrency });
    return { alpha, beta, store, engine };
  };

  it("claims the user lock that expires soonest first, whatever the creation order", async () => {
    const { alpha, beta, store, engine } = rig(1);
    await engine.round(); // cursors start at the current heights
    const swaps: { id: string; preimage: Hex; timelock: number }[] = [];
    for (const ttl of [3600, 1800, 2700]) {
      const s = secret();
      const swap = await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER });
      const timelock = alpha.time + ttl;
      alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock });
      swaps.push({ id: swap.id, preimage: s.preimage, timelock });
    }
    for (let i = 0; i < 3; i++) await engine.round();
    for (const s of swaps) {
      const got = store.get(s.id)!;
      assert.equal(got.state, "relayer_locked");
      if (got.state === "relayer_locked") beta.claimAs(USER, got.counterLock.lockId, s.preimage);
    }
    await engine.round(); // -> relayer_claiming, preimages learned
    assert.deepEqual(swaps.map((s) => store.get(s.id)!.state), ["relayer_claiming", "relayer_claiming", "relayer_claiming"]);
    await engine.round(); // the claims
    const userLockOf = (id: string) => {
      const s = store.get(id)!;
      return s.state === "completed" || s.state === "relayer_claiming" ? s.userLock.lockId : null;
    };
    const bySoonest = [...swaps].sort((a, b) => a.timelock - b.timelock).map((s) => userLockOf(s.id));
    assert.deepEqual(alpha.claimed, bySoonest, "claims went out soonest-expiring first");
    await engine.stop();
    store.close();
  });

  it("refuses a new swap when the deadlines it holds could not be met at the measured send time, storing nothing", async () => {
    const { alpha, store, engine } = rig(1);
    await engine.round();
    const s = secret();
    const first = await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER });
    alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock: alpha.time + 3600 });
    for (let i = 0; i < 2; i++) await engine.round();
    assert.equal(store.get(first.id)!.state, "relayer_locked");
    // Sends on alpha have been taking ~2000 s each: the held claim (3600 s left) plus the new
    // swap's own (its minimum timelock) no longer fit one at a time.
    engine.recordSend("alpha", 2000);
    await assert.rejects(
      engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: secret().hashlock, userFrom: USER, userTo: USER }),
      (e: unknown) => e instanceof OverCapacityError && e.code === "OVER_CAPACITY" && e.details.chain === "alpha",
    );
    assert.equal(store.list({}).length, 1, "nothing stored for the refused swap");
    for (let i = 0; i < 20; i++) engine.recordSend("alpha", 1); // sends got fast again
    await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: secret().hashlock, userFrom: USER, userTo: USER });
    assert.equal(store.list({}).length, 2);
    await engine.stop();
    store.close();
  });
});
