/**
 * Swaps with the embedded Fabric network in the devnet: fabric:KRW ⇄ consortium:KRW and
 * fabric:KRW ⇄ evm:KRWT through the relayer (sdk/run-swap.ts runSwap, the same
 * flow as the CLI), plus a refund path on Fabric driven by real time (Fabric time is the
 * proposal timestamp, so it cannot be advanced like the other devnet clocks).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

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
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 1000, evmConfirmations: 1, pollMs: 100, log: silentLogger });
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
});
