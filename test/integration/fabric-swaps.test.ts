/**
 * Swaps with the embedded Fabric network in the devnet: fabric:KRW ⇄ consortium:KRW and
 * fabric:KRW ⇄ evm:KRWT through the relayer (sdk/run-swap.ts runSwap, the same
 * flow as the CLI), plus the refund paths on Fabric driven by real time (Fabric time is the
 * proposal timestamp, so it cannot be advanced like the other devnet clocks; the devnet's
 * relayer therefore keeps its own locks short: maxRelayerLockSec below).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IsthmusError } from "../../chains/errors.ts";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof IsthmusError, `expected an IsthmusError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe("devnet: swaps with the embedded Fabric network", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;
  let relayerOn: Map<string, Hex>;
  let api: RelayerClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-devnet-"));
    devnet = await startDevnet({
      dir,
      consortiumBlockMs: 250,
      evmBlockMs: 1000,
      evmConfirmations: 1,
      pollMs: 100,
      // Short relayer locks so its refunds on Fabric come within the test by real time; long
      // enough for the swap client's own check (the counter-lock must outlive Fabric's 30 s bound).
      timelocks: { maxRelayerLockSec: 60, minClaimWindowSec: 10, safetyBufferSec: 2, reactionSec: 2 },
      log: silentLogger,
    });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(file.api, 10_000, file.apiKey);
    const status = await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status");
    relayerOn = new Map(status.chains.map((l) => [l.name, l.relayer]));
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the demo user's Fabric address is derived from its certificate and holds issued KRW", async () => {
    const f = user.get("fabric")!;
    assert.equal(f.kind, "fabric");
    assert.match(f.address, /^0x[0-9a-f]{40}$/);
    assert.equal(await f.balance("KRW"), 100_000_000n * 100n);
    assert.ok(relayerOn.get("fabric") && relayerOn.get("fabric") !== f.address, "the relayer has its own Fabric identity");
  });

  for (const [from, to, amount, expectOut] of [
    ["fabric:KRW", "consortium:KRW", "100", 10000n],
    ["consortium:KRW", "fabric:KRW", "12.34", 1234n],
    ["fabric:KRW", "evm:KRWT", "7", 700n],
    ["evm:KRWT", "fabric:KRW", "25.5", 2550n],
  ] as const) {
    it(`completes ${from} -> ${to}: the user gets the quoted amount and the relayer is paid`, async () => {
      const [fromChain, fromAsset] = from.split(":") as [string, string];
      const [toChain, toAsset] = to.split(":") as [string, string];
      const src = user.get(fromChain)!;
      const dst = user.get(toChain)!;
      const relayerSrc = relayerOn.get(fromChain)!;
      const relayerSrcBefore = await src.balance(fromAsset, relayerSrc);
      const userDstBefore = await dst.balance(toAsset);
      const userSrcBefore = await src.balance(fromAsset);
      const result = await runSwap({ relayer: api, source: src, dest: dst, fromAsset, toAsset, amount, secretDir: join(dir, "secrets"), pollMs: 100 });
      assert.ok(result.relayerClaim, "the relayer claimed the user's lock");
      assert.equal((await api.get<{ state: string }>(`/swaps/${result.swapId}`)).state, "completed");
      assert.equal((await dst.balance(toAsset)) - userDstBefore, expectOut);
      assert.equal(userSrcBefore - (await src.balance(fromAsset)), expectOut, "rate 1: the user paid the same amount");
      assert.equal((await src.balance(fromAsset, relayerSrc)) - relayerSrcBefore, expectOut, "the relayer was paid on the source");
    });
  }

  it("refund path on Fabric: a lock with too short a timelock is refused, and the user refunds it after expiry", async () => {
    const src = user.get("fabric")!;
    const dst = user.get("consortium")!;
    const preimage = `0x${randomBytes(32).toString("hex")}`;
    const hashlock = `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex;
    const created = await api.post<{ id: string }>("/swaps", { from: "fabric:KRW", to: "consortium:KRW", amount: "5", hashlock, userFrom: src.address, userTo: dst.address });
    const relayerKrw = await dst.balance("KRW", relayerOn.get("consortium")!);
    const head = await src.head();
    const timelock = head.finalizedTime + 6;
    const before = await src.balance("KRW");
    const lock = await src.lock({ receiver: relayerOn.get("fabric")!, asset: "KRW", amount: 500n, hashlock, timelock });
    const rejected = await until("rejection", async () => {
      const s = await api.get<{ state: string; reason?: string }>(`/swaps/${created.id}`);
      return s.state === "rejected" ? s : null;
    });
    assert.equal(rejected.reason, "TIMELOCK_TOO_SHORT");
    assert.equal(await dst.balance("KRW", relayerOn.get("consortium")!), relayerKrw, "the relayer moved nothing");
    await assert.rejects(src.refund(lock.lockId), /LOCK_NOT_EXPIRED|before the timelock/);
    await until("user lock expiry", async () => (await src.head()).finalizedTime >= timelock, 30_000);
    const r = await src.refund(lock.lockId);
    await src.waitFinal(r.height);
    assert.equal(await src.balance("KRW"), before);
    assert.equal((await src.getLock(lock.lockId))!.lock.status, "refunded");
  });

  /** Creates a swap and locks the user's side with the shortest timelock the relayer answers, plus `extraSec`. */
  async function lockForSwap(from: string, to: string, amount: string, units: bigint, extraSec: number) {
    const [fromChain, fromAsset] = from.split(":") as [string, string];
    const [toChain] = to.split(":") as [string, string];
    const src = user.get(fromChain)!;
    const dst = user.get(toChain)!;
    const preimage = `0x${randomBytes(32).toString("hex")}` as Hex;
    const hashlock = `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex;
    const quote = await api.get<{ minUserLockSec: number }>(`/quote?${new URLSearchParams({ from, to, amount })}`);
    const created = await api.post<{ id: string }>("/swaps", { from, to, amount, hashlock, userFrom: src.address, userTo: dst.address });
    const timelock = (await src.head()).finalizedTime + quote.minUserLockSec + extraSec;
    const lock = await src.lock({ receiver: relayerOn.get(fromChain)!, asset: fromAsset, amount: units, hashlock, timelock });
    return { swapId: created.id, src, dst, lock, timelock, preimage };
  }

  async function counterLockOf(swapId: string) {
    return until(`counter-lock of ${swapId}`, async () => {
      const s = await api.get<{ state: string; reason?: string; detail?: string; counterLock?: { lockId: Hex; timelock: number } }>(`/swaps/${swapId}`);
      assert.notEqual(s.state, "rejected", `swap ${swapId} rejected: ${s.reason} ${s.detail ?? ""}`);
      return s.state === "relayer_locked" && s.counterLock ? s.counterLock : null;
    });
  }

  it("refund paths with Fabric: the relayer refunds its unclaimed Fabric counter-lock, users refund their locks after expiry, nothing is lost or paid twice", async function () {
    this.timeout(300_000);
    const krw = (chain: string, who: Hex) => user.get(chain)!.balance("KRW", who);
    const fabricUser = user.get("fabric")!.address;
    const consUser = user.get("consortium")!.address;
    const fabricRelayer = relayerOn.get("fabric")!;
    const consRelayer = relayerOn.get("consortium")!;
    const before = {
      fabricUser: await krw("fabric", fabricUser),
      fabricRelayer: await krw("fabric", fabricRelayer),
      consUser: await krw("consortium", consUser),
      consRelayer: await krw("consortium", consRelayer),
    };

    // A: consortium -> fabric; the relayer counter-locks on Fabric and the user never claims.
    const a = await lockForSwap("consortium:KRW", "fabric:KRW", "3", 300n, 15);
    // B: fabric -> consortium; the relayer counter-locks on the consortium, the user never claims,
    // and then refunds its own Fabric lock after its timelock.
    const b = await lockForSwap("fabric:KRW", "consortium:KRW", "4", 400n, 15);
    const [aCounter, bCounter] = await Promise.all([counterLockOf(a.swapId), counterLockOf(b.swapId)]);
    console.log(`      (waiting for Fabric's real clock: relayer locks expire in ~60 s, user locks in ~${Math.max(a.timelock, b.timelock) - (await a.src.head()).finalizedTime} s)`);
    assert.ok(aCounter.timelock < a.timelock && bCounter.timelock < b.timelock, "each counter-lock expires before the user's lock");
    const aRelayerLock = await user.get("fabric")!.getLock(aCounter.lockId);
    assert.equal(aRelayerLock?.lock.status, "locked");
    assert.equal(aRelayerLock?.lock.sender, fabricRelayer);
    assert.equal(aRelayerLock?.lock.amount, 300n);
    assert.equal(await krw("fabric", fabricRelayer), before.fabricRelayer - 300n + 0n, "the relayer's Fabric KRW is in its counter-lock");

    // The user cannot refund the relayer's lock, and nobody can refund before the timelock.
    await rejectsWithCode(user.get("fabric")!.refund(aCounter.lockId), "LOCK_NOT_EXPIRED");

    await Promise.all(
      [a, b].map((s) => until(`relayer refund of ${s.swapId}`, async () => ((await api.get<{ state: string }>(`/swaps/${s.swapId}`)).state === "refunded" ? true : null), 120_000)),
    );
    assert.equal((await user.get("fabric")!.getLock(aCounter.lockId))?.lock.status, "refunded", "the relayer refunded its Fabric counter-lock");
    assert.equal((await user.get("consortium")!.getLock(bCounter.lockId))?.lock.status, "refunded");
    // The preimage never left the user, so the relayer's refunded lock can no longer be claimed.
    await rejectsWithCode(user.get("fabric")!.claim(aCounter.lockId, a.preimage), "LOCK_NOT_OPEN");

    // Both users refund their own locks once their timelocks pass (in each source chain's time).
    for (const s of [a, b]) {
      await until(`expiry of the user lock ${s.lock.lockId}`, async () => (await s.src.head()).finalizedTime >= s.timelock, 120_000);
      const r = await s.src.refund(s.lock.lockId);
      await s.src.waitFinal(r.height);
      assert.equal((await s.src.getLock(s.lock.lockId))?.lock.status, "refunded");
      await rejectsWithCode(s.src.refund(s.lock.lockId), "LOCK_NOT_OPEN"); // a second refund pays nothing
    }

    // Nothing lost, nothing paid twice: every balance is back where it was.
    assert.equal(await krw("fabric", fabricUser), before.fabricUser);
    assert.equal(await krw("fabric", fabricRelayer), before.fabricRelayer);
    assert.equal(await krw("consortium", consUser), before.consUser);
    assert.equal(await krw("consortium", consRelayer), before.consRelayer);
  });
});
