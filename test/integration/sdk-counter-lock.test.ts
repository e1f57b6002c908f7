/**
 * The SDK does not trust the relayer: a test-only hostile relayer (an HTTP server speaking
 * the relayer API, with counter-locks the test makes from its own funded key) locks the
 * wrong amount, the wrong asset, under a different hashlock, or with too short a timelock.
 * Each time the SDK throws the typed error, never reveals the preimage (not on any chain,
 * not in any request), and refunds once the user's timelock has passed in chain time.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import type { Hex, LedgerAdapter, LockParams } from "../../chains/ledger.ts";
import { hardhatAccount } from "../../chains/evm/hardhat-node.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { DEVNET_KEYS, startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";
import { readDevnet } from "../../sdk/devnet.ts";
import { CounterLockMismatchError, InsufficientMarginError } from "../../sdk/errors.ts";
import { MemorySwapStore } from "../../sdk/store.ts";
import { claim, createClient, createSwap, lock, recover, watch, type SwapClient } from "../../sdk/swap.ts";

interface HostileRelayer {
  readonly url: string;
  /** Every request it received: method, URL and body, verbatim. */
  readonly requests: string[];
  setCounterLock(swapId: string, counterLock: { lockId: Hex; txId: Hex; timelock: number }): void;
  close(): Promise<void>;
}

/** Quotes like the real relayer but names `receiver` as the account to lock to; reports whatever counter-lock the test sets. */
async function startHostileRelayer(realUrl: string, receiver: Hex): Promise<HostileRelayer> {
  const requests: string[] = [];
  const counterLocks = new Map<string, { lockId: Hex; txId: Hex; timelock: number }>();
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    requests.push(`${req.method} ${req.url} ${body}`);
    const reply = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.method === "GET" && req.url?.startsWith("/quote")) {
      const real = (await (await fetch(realUrl + req.url)).json()) as Record<string, unknown>;
      return reply(200, { ...real, relayerFrom: receiver });
    }
    if (req.method === "POST" && req.url === "/swaps") return reply(201, { id: randomBytes(12).toString("hex"), state: "awaiting_user_lock" });
    const m = /^\/swaps\/(\w+)$/.exec(req.url ?? "");
    if (req.method === "GET" && m) {
      const c = counterLocks.get(m[1]!);
      return reply(200, c ? { id: m[1], state: "relayer_locked", counterLock: c } : { id: m[1], state: "awaiting_user_lock" });
    }
    reply(404, { error: { code: "NOT_FOUND", message: "no such route" } });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    setCounterLock: (id, c) => counterLocks.set(id, c),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("SDK counter-lock checks against a hostile relayer", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: Devnet;
  let user: LedgerAdapter[];
  let hostileEvm: LedgerAdapter;
  let hostile: HostileRelayer;
  let client: SwapClient;
  let startHeights: Map<string, number>;
  const store = new MemorySwapStore();
  const hostileKey = hardhatAccount(5);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-sdk-hostile-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 500, evmConfirmations: 1, pollMs: 100, log: silentLogger });
    const file = readDevnetFile(devnet.file);
    user = await readDevnet(devnet.file).openLedgers();
    hostileEvm = await openLedger(file.chainConfigs.find((c) => c.name === "evm")!, devnet.file, hostileKey.privateKey);
    // Fund the hostile key with KRWT (the deployer owns the token).
    const deployer = new Wallet(DEVNET_KEYS.deployer.privateKey, new JsonRpcProvider(devnet.evm.url, devnet.evm.chainId, { staticNetwork: true }));
    await (await new Contract(devnet.deployment.krwt, ["function mint(address to, uint256 amount)"], deployer).getFunction("mint")(hostileKey.address, 1_000_000n)).wait();
    hostile = await startHostileRelayer(file.api, hostileKey.address.toLowerCase() as Hex);
    client = createClient({ relayerUrl: hostile.url, apiKey: "unused", ledgers: user, store, pollMs: 100 });
    startHeights = new Map(await Promise.all(user.map(async (l) => [l.name, (await l.head()).finalizedHeight] as const)));
  });

  after(async () => {
    await hostile?.close();
    await Promise.all([...(user ?? []), ...(hostileEvm ? [hostileEvm] : [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ledger = (name: string) => user.find((l) => l.name === name)!;

  /** Create and lock a consortium:KRW -> evm:KRWT swap of 5, then counter-lock with `tamper` applied; watch's outcome. */
  async function swapAgainstHostile(tamper: (honest: LockParams) => LockParams) {
    const created = await createSwap(client, { from: "consortium:KRW", to: "evm:KRWT", amount: "5" });
    const userLock = await lock(client, created.swapId);
    const watching = watch(client, created.swapId, { timeoutMs: 60_000 });
    watching.catch(() => {}); // awaited below
    const honest: LockParams = { receiver: ledger("evm").address, asset: "KRWT", amount: 500n, hashlock: created.hashlock, timelock: userLock.timelock - created.quotedMarginSec - 60 };
    const params = tamper(honest);
    const sent = await hostileEvm.lock(params);
    await hostileEvm.waitFinal(sent.height);
    hostile.setCounterLock(created.swapId, { lockId: sent.lockId, txId: sent.txId, timelock: params.timelock });
    return { created, userLock, counterLockId: sent.lockId, watching };
  }

  it("control: a correct counter-lock from the same test relayer is verified and claimed", async () => {
    const { created, watching } = await swapAgainstHostile((p) => p);
    const counter = await watching;
    assert.equal(counter.amount, 500n);
    const before = await ledger("evm").balance("KRWT");
    await claim(client, created.swapId, counter.lockId);
    assert.equal((await ledger("evm").balance("KRWT")) - before, 500n);
  });

  const refused: { swapId: string; userLockId: Hex; counterLockId: Hex }[] = [];
  const cases: [string, (p: LockParams) => LockParams, (err: unknown) => boolean][] = [
    ["the wrong amount", (p) => ({ ...p, amount: 499n }), (e) => e instanceof CounterLockMismatchError && e.field === "amount" && e.actual === "499"],
    ["the wrong asset", (p) => ({ ...p, asset: "ETH" }), (e) => e instanceof CounterLockMismatchError && e.field === "asset" && e.actual === "ETH"],
    ["a different hashlock", (p) => ({ ...p, hashlock: `0x${randomBytes(32).toString("hex")}` as Hex }), (e) => e instanceof CounterLockMismatchError && e.field === "hashlock"],
    ["too short a timelock", (p) => ({ ...p, timelock: p.timelock + 65 }), (e) => e instanceof InsufficientMarginError && e.which === "timelock-gap" && e.actualSec < e.requiredSec],
  ];
  for (const [what, tamper, isExpected] of cases) {
    it(`a counter-lock with ${what}: typed error, the swap is refused and the preimage stays secret`, async () => {
      const { created, userLock, counterLockId, watching } = await swapAgainstHostile(tamper);
      await assert.rejects(watching, (err: unknown) => {
        assert.ok(isExpected(err), String(err));
        assert.equal((err as InsufficientMarginError | CounterLockMismatchError).swapId, created.swapId);
        assert.equal((err as InsufficientMarginError | CounterLockMismatchError).userTimelock, userLock.timelock);
        return true;
      });
      assert.equal((await store.get(created.swapId))?.phase, "refused");
      // Claiming anyway is refused too, before anything is sent.
      await assert.rejects(claim(client, created.swapId, counterLockId), /cannot claim in phase "refused"/);
      refused.push({ swapId: created.swapId, userLockId: userLock.lockId, counterLockId });
    });
  }

  it("recover refunds every refused swap after the user's timelock; no preimage was ever revealed", async () => {
    assert.equal(refused.length, cases.length);
    const consortium = ledger("consortium");
    const before = await consortium.balance("KRW");
    // Before the timelock recover only reports when the refunds become possible.
    const early = await recover(client, { timeoutMs: 1_000 });
    assert.deepEqual(early.map((o) => o.kind), refused.map(() => "waiting"));

    const latest = Math.max(...(await Promise.all(refused.map(async (r) => (await consortium.getLock(r.userLockId))!.lock.timelock))));
    await devnet.advanceTime(latest - (await consortium.head()).finalizedTime + 2);
    while ((await consortium.head()).finalizedTime < latest) await new Promise((r) => setTimeout(r, 200));
    const outcomes = await recover(client, { timeoutMs: 1_000 });
    assert.deepEqual(outcomes.map((o) => [o.swapId, o.kind]).sort(), refused.map((r) => [r.swapId, "refunded"]).sort());
    assert.equal((await consortium.balance("KRW")) - before, BigInt(refused.length) * 500n, "every 5 KRW came back");

    for (const r of refused) {
      const preimage = (await store.get(r.swapId))!.preimage.slice(2);
      assert.equal((await store.get(r.swapId))!.phase, "refunded");
      assert.ok(!hostile.requests.some((q) => q.toLowerCase().includes(preimage)), "preimage sent to the relayer");
      assert.equal((await consortium.getLock(r.userLockId))!.lock.status, "refunded");
      assert.equal((await hostileEvm.getLock(r.counterLockId))!.lock.status, "locked", "counter-lock never claimed");
      for (const l of user) {
        const head = await l.head();
        const events = await l.events(startHeights.get(l.name)! + 1, head.finalizedHeight);
        assert.ok(!events.some((e) => e.kind === "claimed" && e.preimage.slice(2) === preimage), `preimage revealed on ${l.name}`);
      }
    }
  });
});
