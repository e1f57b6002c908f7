import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LedgerAdapter } from "../../chains/ledger.ts";
import { RelayerApiError, RelayerClient } from "../../sdk/relayer-client.ts";
import { runSwap } from "../../sdk/run-swap.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { DEVNET_KEYS, startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { hardhatAccount } from "../../chains/evm/hardhat-node.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { silentLogger } from "../../relayer/log.ts";

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/isthmus.js", ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
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

function secret(): { preimage: Hex; hashlock: Hex } {
  const preimage = `0x${randomBytes(32).toString("hex")}` as Hex;
  const hashlock = `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex;
  return { preimage, hashlock };
}

describe("devnet: atomic swaps between the consortium chain and the EVM chain", function () {
  this.timeout(180_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;
  let api: RelayerClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-devnet-"));
    devnet = await startDevnet({
      dir,
      consortiumBlockMs: 250,
      evmBlockMs: 1000,
      evmConfirmations: 1,
      pollMs: 100,
      log: silentLogger,
    });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    api = new RelayerClient(file.api, 10_000, file.apiKey);
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const relayerAddr = DEVNET_KEYS.relayer.address.toLowerCase() as Hex;

  for (const [from, to, amount, expectOut] of [
    ["consortium:KRW", "evm:KRWT", "100", 10000n],
    ["evm:KRWT", "consortium:KRW", "25.5", 2550n],
    ["consortium:ISTH", "evm:ETH", "1000", 10n ** 18n],
    ["evm:ETH", "consortium:ISTH", "0.002", 2n * 10n ** 18n],
  ] as const) {
    it(`completes ${from} -> ${to}: the user gets the quoted amount and the relayer is paid`, async () => {
      const [fromChain, fromAsset] = from.split(":") as [string, string];
      const [toChain, toAsset] = to.split(":") as [string, string];
      const src = user.get(fromChain)!;
      const dst = user.get(toChain)!;
      const relayerSrcBefore = await src.balance(fromAsset, relayerAddr);
      const userDstBefore = await dst.balance(toAsset);
      const result = await runSwap({ relayer: api, source: src, dest: dst, fromAsset, toAsset, amount, secretDir: join(dir, "secrets"), pollMs: 100 });
      assert.ok(result.relayerClaim, "the relayer claimed the user's lock");
      const swap = await api.get<{ state: string }>(`/swaps/${result.swapId}`);
      assert.equal(swap.state, "completed");
      const gained = (await dst.balance(toAsset)) - userDstBefore;
      if (toAsset === "ETH") {
        // The claim's gas comes out of the same balance.
        assert.ok(gained > expectOut - 10n ** 16n && gained <= expectOut, `user gained ${gained} wei`);
      } else {
        assert.equal(gained, expectOut);
      }
      const paid = (await src.balance(fromAsset, relayerAddr)) - relayerSrcBefore;
      assert.ok(paid > 0n, "relayer's source balance grew");
    });
  }

  it("refunds the relayer's counter-lock when the user never claims, by chain time; the user then refunds too", async () => {
    const src = user.get("consortium")!;
    const dst = user.get("evm")!;
    const { hashlock } = secret();
    const created = await api.post<{ id: string }>("/swaps", {
      from: "consortium:KRW",
      to: "evm:KRWT",
      amount: "10",
      hashlock,
      userFrom: src.address,
      userTo: dst.address,
    });
    const head = await src.head();
    const userTimelock = head.finalizedTime + 600;
    const lock = await src.lock({ receiver: relayerAddr, asset: "KRW", amount: 1000n, hashlock, timelock: userTimelock });
    const locked = await until("counter-lock", async () => {
      const s = await api.get<{ state: string; counterLock?: { lockId: Hex; timelock: number } }>(`/swaps/${created.id}`);
      return s.state === "relayer_locked" ? s : null;
    });
    const relayerKrwt = await dst.balance("KRWT", relayerAddr);
    assert.ok(locked.counterLock!.timelock < userTimelock);

    await devnet.advanceTime(locked.counterLock!.timelock - (await dst.head()).finalizedTime + 5);
    await until("relayer refund", async () => (await api.get<{ state: string }>(`/swaps/${created.id}`)).state === "refunded");
    assert.equal(await dst.balance("KRWT", relayerAddr), relayerKrwt + 1000n);

    // The user's own lock is theirs to refund, and only after its timelock.
    const before = await src.balance("KRW");
    await assert.rejects(src.refund(lock.lockId), /not refundable|refundable from|NotExpired/);
    await devnet.advanceTime(userTimelock - (await src.head()).finalizedTime + 5);
    await until("user lock refundable", async () => (await src.head()).finalizedTime >= userTimelock);
    const r = await src.refund(lock.lockId);
    await src.waitFinal(r.height);
    assert.equal(await src.balance("KRW"), before + 1000n);
  });

  it("refuses a user lock whose timelock is too short: no counter-lock, and the user can refund", async () => {
    const src = user.get("evm")!;
    const dst = user.get("consortium")!;
    const { hashlock } = secret();
    const created = await api.post<{ id: string }>("/swaps", {
      from: "evm:KRWT",
      to: "consortium:KRW",
      amount: "5",
      hashlock,
      userFrom: src.address,
      userTo: dst.address,
    });
    const relayerKrw = await dst.balance("KRW", relayerAddr);
    const head = await src.head();
    const lock = await src.lock({ receiver: relayerAddr, asset: "KRWT", amount: 500n, hashlock, timelock: head.finalizedTime + 40 });
    const rejected = await until("rejection", async () => {
      const s = await api.get<{ state: string; reason?: string }>(`/swaps/${created.id}`);
      return s.state === "rejected" ? s : null;
    });
    assert.equal(rejected.reason, "TIMELOCK_TOO_SHORT");
    assert.equal(await dst.balance("KRW", relayerAddr), relayerKrw, "the relayer moved nothing");

    const before = await src.balance("KRWT");
    await devnet.advanceTime(60);
    await until("user lock expiry", async () => (await src.head()).finalizedTime >= head.finalizedTime + 40);
    const r = await src.refund(lock.lockId);
    await src.waitFinal(r.height);
    assert.equal(await src.balance("KRWT"), before + 500n);
  });

  it("answers bad requests with a clear error and registers nothing", async () => {
    const demo = DEVNET_KEYS.user.address.toLowerCase();
    const base = { from: "consortium:KRW", to: "evm:KRWT", amount: "1", hashlock: secret().hashlock, userFrom: demo, userTo: demo };
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ from: "bitcoin:BTC" }, "INVALID_INPUT", /does not offer/],
      [{ to: "evm:DOGE" }, "INVALID_INPUT", /does not offer/],
      [{ amount: "abc" }, "INVALID_INPUT", /not a positive decimal/],
      [{ amount: "1.001" }, "INVALID_INPUT", /3 decimals/],
      [{ amount: "2000000" }, "INVALID_INPUT", /outside this route's limits/],
      [{ hashlock: "0x1234" }, "INVALID_INPUT", /hashlock/],
      [{ userTo: "bob" }, "INVALID_INPUT", /userTo/],
      [{ userTo: "0x70997970c51812DC3A010C7d01b50e0d17dc79C8" }, "INVALID_INPUT", /EIP-55 checksum/],
      [{ userTo: `0x${"0".repeat(40)}` }, "INVALID_INPUT", /zero address/],
    ];
    const countBefore = (await api.get<unknown[]>("/swaps?limit=1000")).length;
    for (const [patch, code, message] of cases) {
      await assert.rejects(api.post("/swaps", { ...base, ...patch }), (err: unknown) => {
        assert.ok(err instanceof RelayerApiError, String(err));
        assert.equal(err.code, code);
        assert.match(err.message, message);
        return true;
      });
    }
    await assert.rejects(api.post("/swaps", { ...base, userTo: relayerAddr }), /userTo: is the relayer's own account/);
    await assert.rejects(api.post("/swaps", null), /body: must be a JSON object/);
    await assert.rejects(api.get("/swaps?limit=abc"), /limit: must be an integer from 1 to 1000/);
    assert.equal((await api.get<unknown[]>("/swaps?limit=1000")).length, countBefore);
  });

  it("ignores a stranger's lock that copies a swap's hashlock; the real user's lock still gets its counter-lock", async () => {
    const file = readDevnetFile(devnet.file);
    const attacker = await openLedger(file.chainConfigs.find((c) => c.name === "evm")!, devnet.file, hardhatAccount(5).privateKey);
    try {
      const src = user.get("evm")!;
      const dst = user.get("consortium")!;
      const { hashlock } = secret();
      const created = await api.post<{ id: string }>("/swaps", { from: "evm:KRWT", to: "consortium:KRW", amount: "2", hashlock, userFrom: src.address, userTo: dst.address });
      const head = await src.head();
      const grief = await attacker.lock({ receiver: relayerAddr, asset: "ETH", amount: 1n, hashlock, timelock: head.finalizedTime + 900 });
      await attacker.waitFinal(grief.height);
      await src.lock({ receiver: relayerAddr, asset: "KRWT", amount: 200n, hashlock, timelock: head.finalizedTime + 900 });
      const s = await until("counter-lock", async () => {
        const got = await api.get<{ state: string }>(`/swaps/${created.id}`);
        return got.state === "relayer_locked" ? got : null;
      });
      assert.equal(s.state, "relayer_locked");
    } finally {
      await attacker.close();
    }
  });

  it("refuses a lock for the wrong amount: no counter-lock", async () => {
    const src = user.get("consortium")!;
    const dst = user.get("evm")!;
    const { hashlock } = secret();
    const created = await api.post<{ id: string }>("/swaps", { from: "consortium:KRW", to: "evm:KRWT", amount: "3", hashlock, userFrom: src.address, userTo: dst.address });
    const relayerKrwt = await dst.balance("KRWT", relayerAddr);
    const head = await src.head();
    await src.lock({ receiver: relayerAddr, asset: "KRW", amount: 299n, hashlock, timelock: head.finalizedTime + 900 });
    const rejected = await until("rejection", async () => {
      const s = await api.get<{ state: string; reason?: string }>(`/swaps/${created.id}`);
      return s.state === "rejected" ? s : null;
    });
    assert.equal(rejected.reason, "AMOUNT_MISMATCH");
    assert.equal(await dst.balance("KRWT", relayerAddr), relayerKrwt);
  });

  it("a claim with the wrong preimage is refused by the ledger and moves nothing", async () => {
    for (const [chain, asset, amount] of [["consortium", "KRW", 100n], ["evm", "KRWT", 100n]] as const) {
      const ledger = user.get(chain)!;
      const { hashlock } = secret();
      const head = await ledger.head();
      const lock = await ledger.lock({ receiver: relayerAddr, asset, amount, hashlock, timelock: head.finalizedTime + 900 });
      await ledger.waitFinal(lock.height);
      const before = await ledger.balance(asset, relayerAddr);
      await assert.rejects(ledger.claim(lock.lockId, secret().preimage), /preimage/i);
      const after = await ledger.getLock(lock.lockId);
      assert.equal(after?.lock.status, "locked");
      assert.equal(await ledger.balance(asset, relayerAddr), before);
    }
  });

  describe("the isthmus CLI against the running devnet", () => {
    const env = () => ({ ISTHMUS_HOME: dir });

    it("swap prints one JSON object with both legs and exits 0", async () => {
      const run = await cli(["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount", "7"], env());
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.equal(out.amountIn, "7");
      assert.equal(out.amountOut, "7");
      assert.match(out.userLock.txId, /^0x[0-9a-f]{64}$/);
      assert.match(out.relayerLock.lockId, /^0x[0-9a-f]{64}$/);
      assert.match(out.userClaim.txId, /^0x[0-9a-f]{64}$/);
      assert.ok(out.relayerClaim, "relayer claimed");
      assert.equal(typeof out.seconds.total, "number");
    });

    it("status prints chains with final heights and swap counts", async () => {
      const run = await cli(["status"], env());
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.deepEqual(out.chains.map((c: { name: string }) => c.name).sort(), ["consortium", "evm", "fabric"]);
      for (const c of out.chains) assert.ok(Number.isInteger(c.height) && c.height > 0);
      assert.ok(out.swaps.completed >= 1);
    });

    for (const [args, reason] of [
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT"], /--amount is required/],
      [["swap", "--from", "consortium-KRW", "--to", "evm:KRWT", "--amount", "1"], /not of the form <chain>:<ASSET>/],
      [["swap", "--from", "mars:KRW", "--to", "evm:KRWT", "--amount", "1"], /unknown chain "mars"/],
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount=-5"], /not a positive decimal/],
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount", "-5"], /argument is ambiguous/],
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount", "5000000"], /outside this route's limits/],
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount", "1", "--bogus"], /Unknown option '--bogus'/],
      [["swap", "--from", "consortium:KRW", "--to", "evm:KRWT", "--amount", "1", "--timelock", "10"], /--timelock: 10s is shorter than the relayer's minimum/],
    ] as const) {
      it(`swap ${args.slice(1).join(" ")} fails with a one-line reason and moves nothing`, async () => {
        const before = await user.get("consortium")!.balance("KRW");
        const run = await cli([...args], env());
        assert.notEqual(run.code, 0);
        assert.match(run.stderr, reason);
        assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
        assert.equal(await user.get("consortium")!.balance("KRW"), before);
      });
    }

    it("status exits non-zero when the daemon does not answer", async () => {
      const run = await cli(["status", "--api", "http://127.0.0.1:9"], env());
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /does not answer/);
    });
  });

  it("refuses a swap above the relayer's free inventory", async () => {
    // ETH -> ISTH at 1000: 100 ETH asks for 100000 ISTH; first drain the ISTH reservation with pending swaps.
    const src = user.get("evm")!;
    const pending = [];
    for (let i = 0; i < 12; i++) {
      pending.push(api.post("/swaps", { from: "evm:ETH", to: "consortium:ISTH", amount: "100", hashlock: secret().hashlock, userFrom: src.address, userTo: src.address }));
    }
    const results = await Promise.allSettled(pending);
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as RelayerApiError);
    assert.ok(refused.length > 0, "some swaps must be refused once 1,000,000 ISTH is reserved");
    for (const e of refused) assert.equal(e.code, "INSUFFICIENT_LIQUIDITY");
    assert.ok(results.filter((r) => r.status === "fulfilled").length <= 10);
  });
});
