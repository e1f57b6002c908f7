/**
 * The SDK's steps against in-memory ledgers (test/unit/relayer/fake-ledger.ts: final at
 * once, chain time moved by the test) and a small HTTP relayer: the paths the devnet tests
 * cannot reach quickly — expiry, a short claim window, write-ahead, restarts in each phase.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Hex, LockParams } from "../../../chains/ledger.ts";
import { ExpiredError, InsufficientMarginError, NotRefundableYetError, RelayerGaveUpError, SwapStateError } from "../../../sdk/errors.ts";
import { MemorySwapStore } from "../../../sdk/store.ts";
import { claim, createClient, createSwap, lock, recover, refund, watch, type SwapClient } from "../../../sdk/swap.ts";
import { FakeLedger } from "../relayer/fake-ledger.ts";

const USER = `0x${"a".repeat(40)}` as Hex;
const RELAYER = `0x${"b".repeat(40)}` as Hex;
const MARGIN = 40;

describe("sdk steps against in-memory ledgers", () => {
  let server: Server;
  let swaps: Map<string, Record<string, unknown>>;
  let requests: string[];
  let src: FakeLedger;
  let dst: FakeLedger;
  let store: MemorySwapStore;
  let client: SwapClient;
  /** When set, the relayer answers every new swap with this id (a hostile or broken relayer). */
  let reuseId: string | undefined;

  beforeEach(async () => {
    swaps = new Map();
    requests = [];
    reuseId = undefined;
    let n = 0;
    server = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += c;
      requests.push(`${req.url} ${body}`);
      const reply = (v: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(v));
      if (req.url?.startsWith("/quote")) {
        return reply({ amountIn: "500", amountOut: "500", amountInText: "5", amountOutText: "5", rate: "1", relayerFrom: RELAYER, minUserLockSec: 120, marginSec: MARGIN });
      }
      if (req.method === "POST") {
        const id = reuseId ?? `swap${++n}`;
        swaps.set(id, { id, state: "awaiting_user_lock" });
        return reply(swaps.get(id));
      }
      const known = swaps.get(req.url!.split("/")[2]!);
      if (known) return reply(known);
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "NOT_FOUND", message: "no such swap" } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    src = new FakeLedger("src", USER, ["KRW"]);
    dst = new FakeLedger("dst", USER, ["KRWT"]);
    store = new MemorySwapStore();
    client = createClient({ relayerUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ledgers: [src, dst], store, pollMs: 10 });
  });

  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  async function lockedSwap() {
    const created = await createSwap(client, { from: "src:KRW", to: "dst:KRWT", amount: "5", timelockSec: 600 });
    const userLock = await lock(client, created.swapId);
    return { created, userLock };
  }

  function counterLock(swapId: string, p: LockParams): Hex {
    const { lockId, txId } = dst.lockAs(RELAYER, p);
    swaps.set(swapId, { id: swapId, state: "relayer_locked", counterLock: { lockId, txId, timelock: p.timelock } });
    return lockId;
  }

  const honest = (hashlock: Hex, userTimelock: number): LockParams => ({ receiver: USER, asset: "KRWT", amount: 500n, hashlock, timelock: userTimelock - MARGIN - 30 });

  it("writes the lock's id before sending it, then the sent lock", async () => {
    const created = await createSwap(client, { from: "src:KRW", to: "dst:KRWT", amount: "5", timelockSec: 600 });
    let open!: () => void;
    src.gate = new Promise<void>((r) => (open = r));
    const locking = lock(client, created.swapId);
    while (src.sendsStarted === 0) await new Promise((r) => setTimeout(r, 1));
    const during = await store.get(created.swapId);
    assert.equal(during?.phase, "locking");
    open();
    const sent = await locking;
    assert.equal(during!.phase === "locking" && during!.userLock.lockId, sent.lockId, "the id written ahead is the lock's id");
    assert.equal((await store.get(created.swapId))?.phase, "locked");
  });

  it("refuses to claim a counter-lock whose time has passed: ExpiredError, nothing revealed", async () => {
    const { created, userLock } = await lockedSwap();
    const id = counterLock(created.swapId, honest(created.hashlock, userLock.timelock));
    const counter = await watch(client, created.swapId);
    dst.time = counter.timelock; // the destination's clock reaches the counter-lock's timelock
    await assert.rejects(claim(client, created.swapId, id), (e: unknown) => e instanceof ExpiredError && e.timelock === counter.timelock && e.chainTime >= counter.timelock);
    assert.equal(dst.locks.get(id)!.status, "locked");
    assert.deepEqual(dst.claimed, []);
  });

  it("refuses a counter-lock that leaves too little time to claim: InsufficientMarginError claim-window, swap refused", async () => {
    const { created, userLock } = await lockedSwap();
    counterLock(created.swapId, { ...honest(created.hashlock, userLock.timelock), timelock: dst.time + 3 });
    await assert.rejects(watch(client, created.swapId), (e: unknown) => e instanceof InsufficientMarginError && e.which === "claim-window");
    assert.equal((await store.get(created.swapId))?.phase, "refused");
  });

  it("reports a relayer that rejects the swap with the lock to refund", async () => {
    const { created, userLock } = await lockedSwap();
    swaps.set(created.swapId, { id: created.swapId, state: "rejected", reason: "TIMELOCK_TOO_SHORT" });
    await assert.rejects(watch(client, created.swapId), (e: unknown) => e instanceof RelayerGaveUpError && e.reason === "rejected" && e.userLock?.lockId === userLock.lockId);
  });

  it("refunds only from the user's timelock on, by chain time", async () => {
    const { created, userLock } = await lockedSwap();
    await assert.rejects(refund(client, created.swapId), (e: unknown) => e instanceof NotRefundableYetError && e.timelock === userLock.timelock && e.chainTime === src.time);
    src.time = userLock.timelock;
    assert.equal((await refund(client, created.swapId)).kind, "refunded");
    assert.equal(src.locks.get(userLock.lockId)!.status, "refunded");
    assert.equal((await store.get(created.swapId))?.phase, "refunded");
  });

  it("recover after a crash right after the claim was sent: the claim is found on chain and not sent again", async () => {
    const { created, userLock } = await lockedSwap();
    const id = counterLock(created.swapId, honest(created.hashlock, userLock.timelock));
    const r = (await store.get(created.swapId))!;
    assert.equal(r.phase, "locked");
    // The process wrote "claiming", sent the claim, and died.
    await store.put({ ...r, phase: "claiming", userLock: userLock, counterLock: { chain: "dst", lockId: id, timelock: dst.locks.get(id)!.timelock } } as never);
    dst.claimAs(USER, id, r.preimage);
    const out = await recover(client, { timeoutMs: 1000 });
    assert.deepEqual(out.map((o) => o.kind), ["claimed"]);
    assert.equal((await store.get(created.swapId))?.phase, "claimed");
    assert.deepEqual(dst.claimed, [], "no second claim");
  });

  it("recover after a crash with the claim sent but dropped: claims again even with less than the claim window left (the preimage may be public)", async () => {
    const { created, userLock } = await lockedSwap();
    const id = counterLock(created.swapId, honest(created.hashlock, userLock.timelock));
    const r = (await store.get(created.swapId))!;
    const timelock = dst.locks.get(id)!.timelock;
    // The process wrote "claiming", broadcast the claim (its preimage is now in mempools), and
    // died; the transaction was dropped. It restarts with 3 s left, under the 4 s claim window.
    await store.put({ ...r, phase: "claiming", userLock: userLock, counterLock: { chain: "dst", lockId: id, timelock } } as never);
    dst.time = timelock - dst.timing.finalitySec - 3;
    const out = await recover(client, { timeoutMs: 1000 });
    assert.deepEqual(out.map((o) => o.kind), ["claimed"], JSON.stringify(out));
    assert.deepEqual(dst.claimed, [id], "claimed: not claiming would leave the relayer both the refund and the preimage");
    assert.equal((await store.get(created.swapId))?.phase, "claimed");
  });

  it("refuses a new swap whose relayer-given id is already in the store: the locked swap keeps its preimage", async () => {
    const { created, userLock } = await lockedSwap();
    const before = (await store.get(created.swapId))!;
    reuseId = created.swapId;
    await assert.rejects(createSwap(client, { from: "src:KRW", to: "dst:KRWT", amount: "5", timelockSec: 600 }), (e: unknown) => e instanceof SwapStateError && e.message.includes(created.swapId));
    const after = (await store.get(created.swapId))!;
    assert.equal(after.phase, "locked");
    assert.equal(after.preimage, before.preimage, "the locked swap's secret is still there to claim with");
    assert.equal(after.phase === "locked" && after.userLock.lockId, userLock.lockId);
  });

  it("recover after a crash before the lock was sent: waits until the timelock, then drops the swap", async () => {
    const created = await createSwap(client, { from: "src:KRW", to: "dst:KRWT", amount: "5", timelockSec: 600 });
    const r = (await store.get(created.swapId))!;
    await store.put({ ...r, phase: "locking", userLock: { chain: "src", lockId: `0x${"1".repeat(64)}`, timelock: src.time + 600 } } as never);
    const early = await recover(client, { timeoutMs: 1000 });
    assert.deepEqual(early.map((o) => o.kind), ["waiting"]);
    src.time += 600;
    const late = await recover(client, { timeoutMs: 1000 });
    assert.deepEqual(late.map((o) => o.kind), ["abandoned"]);
    assert.equal((await store.get(created.swapId))?.phase, "abandoned");
  });

  it("recover claims a verified counter-lock for a locked swap and drops a swap that never locked", async () => {
    const { created, userLock } = await lockedSwap();
    const id = counterLock(created.swapId, honest(created.hashlock, userLock.timelock));
    const never = await createSwap(client, { from: "src:KRW", to: "dst:KRWT", amount: "5", timelockSec: 600 });
    const out = await recover(client, { timeoutMs: 1000 });
    assert.deepEqual(out.map((o) => [o.swapId, o.kind]).sort(), [[created.swapId, "claimed"], [never.swapId, "abandoned"]].sort());
    assert.deepEqual(dst.claimed, [id]);
    // The preimage went to the ledger only, never to the relayer.
    const preimage = (await store.get(created.swapId))!.preimage;
    assert.ok(!requests.some((q) => q.includes(preimage.slice(2))));
    const claimed = dst.locks.get(id)!;
    assert.equal(claimed.status === "claimed" ? claimed.preimage : null, preimage);
  });

  it("recover reports a swap it cannot advance and still finishes the others", async () => {
    const broken = await lockedSwap();
    const r = (await store.get(broken.created.swapId))!;
    await store.put({ ...r, from: { chain: "gone", asset: "KRW" } });
    const { created, userLock } = await lockedSwap();
    counterLock(created.swapId, honest(created.hashlock, userLock.timelock));
    const out = await recover(client, { timeoutMs: 1000 });
    const byId = new Map(out.map((o) => [o.swapId, o]));
    assert.equal(byId.get(created.swapId)?.kind, "claimed");
    const failed = byId.get(broken.created.swapId);
    assert.ok(failed?.kind === "failed" && failed.error.code === "INVALID_INPUT" && /no ledger "gone"/.test(failed.error.message), JSON.stringify(failed));
  });

  it("recover waits (does not fail) when the relayer no longer knows the swap", async () => {
    const { created, userLock } = await lockedSwap();
    swaps.delete(created.swapId);
    const out = await recover(client, { timeoutMs: 200 });
    assert.deepEqual(out.map((o) => o.kind === "waiting" && o.refundableAt), [userLock.timelock]);
  });
});
