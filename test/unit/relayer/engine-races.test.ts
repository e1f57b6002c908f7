/**
 * Engine decisions that combine two separate ledger reads: the reads must be ordered so that
 * a slow lock read cannot pair an older state with a newer head.
 */
import assert from "node:assert/strict";
import { LedgerError } from "../../../chains/errors.ts";
import { DEFAULT_TIMELOCKS } from "../../../relayer/config.ts";
import { parseRate } from "../../../relayer/core/amount.ts";
import { SwapEngine } from "../../../relayer/engine.ts";
import { createLogger, silentLogger } from "../../../relayer/log.ts";
import { SwapStore } from "../../../relayer/store.ts";
import { FakeLedger } from "./fake-ledger.ts";
import { RELAYER, secret, USER } from "./rig.ts";

describe("engine: reads that race the chain", () => {
  it("a counter-lock that lands while its read is in flight, then expires, is refunded: the swap is not ended as COUNTER_LOCK_IMPOSSIBLE", async () => {
    const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
    const beta = new FakeLedger("beta", RELAYER, ["B"]);
    const store = new SwapStore(":memory:");
    const routes = [{ from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), minIn: 100n, maxIn: 100_000n }];
    const engine = new SwapEngine(new Map([["alpha", alpha], ["beta", beta]]), routes, store, DEFAULT_TIMELOCKS, silentLogger, 10);
    const s = secret();
    const { id } = await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER });
    alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock: alpha.time + 3600 });
    // The counter-lock send times out on the way back (the transaction itself still lands, below).
    const realLock = beta.lock.bind(beta);
    beta.lock = async () => {
      throw new LedgerError("beta", "RPC_UNAVAILABLE", "timed out waiting for the answer");
    };
    await engine.round();
    beta.lock = realLock;
    const planned = store.get(id)!;
    assert.equal(planned.state, "relayer_locking");
    assert.ok(planned.state === "relayer_locking");
    const c = planned.counterLock;
    // The counter-lock (sent before, say, a restart) is included while the relayer reads it;
    // by the time the head is read the ledger's final time has passed its timelock.
    const realHead = beta.head.bind(beta);
    beta.head = async () => {
      if (!beta.locks.has(c.lockId)) {
        beta.lockAs(RELAYER, { receiver: c.receiver, asset: c.asset, amount: c.amount, hashlock: s.hashlock, timelock: c.timelock });
        beta.time = c.timelock + 5;
      }
      return realHead();
    };
    await engine.advance(id);
    await engine.advance(id);
    await engine.advance(id);
    await engine.advance(id);
    const after = store.get(id)!;
    assert.notEqual(after.state, "rejected", `the relayer's lock exists on beta but the swap was closed: ${JSON.stringify(after.state === "rejected" ? after.detail : "")}`);
    assert.equal(after.state, "refunded");
    assert.equal(beta.locks.get(c.lockId)!.status, "refunded", "the relayer's expired counter-lock was refunded");
    await engine.stop();
    store.close();
  });

  it("a counter-lock that is sent but not final yet is not reported as sent again; one sent again as a new transaction is", async () => {
    const alpha = new FakeLedger("alpha", RELAYER, ["A"]);
    const beta = new FakeLedger("beta", RELAYER, ["B"]);
    const store = new SwapStore(":memory:");
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
    const routes = [{ from: { chain: "alpha", asset: "A" }, to: { chain: "beta", asset: "B" }, rate: parseRate("1"), minIn: 100n, maxIn: 100_000n }];
    const engine = new SwapEngine(new Map([["alpha", alpha], ["beta", beta]]), routes, store, DEFAULT_TIMELOCKS, log, 10);
    const msgs = () => lines.map((l) => JSON.parse(l) as { msg: string; level: number | string });
    const s = secret();
    const { id } = await engine.createSwap({ from: "alpha:A", to: "beta:B", amount: "5", hashlock: s.hashlock, userFrom: USER, userTo: USER });
    alpha.lockAs(USER, { receiver: RELAYER, asset: "A", amount: 500n, hashlock: s.hashlock, timelock: alpha.time + 3600 });
    beta.holdFinality = true;
    await engine.round(); // verifies the user's lock and plans the counter-lock
    for (let i = 0; i < 4; i++) await engine.advance(id); // sends it, then finds it not final each round
    assert.equal(store.get(id)!.state, "relayer_locking");
    assert.ok(beta.sendsStarted >= 4, `each round asked the ledger again (it refused as existing): ${beta.sendsStarted}`);
    assert.equal(msgs().filter((m) => m.msg === "counter-lock sent").length, 1, "one transaction went out");
    assert.ok(!msgs().some((m) => m.msg === "earlier send not in final state; sending again"), "no resend warning while the first is only not final");
    assert.ok(msgs().some((m) => m.msg === "earlier send not final yet; the ledger refused the resend as already done"));
    // The node dropped it after all: the next resend is a new transaction, and says so.
    beta.holdFinality = false;
    const planned = store.get(id)!;
    assert.ok(planned.state === "relayer_locking");
    beta.locks.delete(planned.counterLock.lockId);
    beta.notFinal.clear();
    await engine.advance(id);
    assert.ok(msgs().some((m) => m.msg === "earlier send not in final state; sending again"), "a resend that went out is a warning");
    await engine.advance(id);
    assert.equal(store.get(id)!.state, "relayer_locked");
    await engine.stop();
    store.close();
  });
});
