/**
 * EvmLedger end to end against a real `hardhat node` child process.
 *
 * Hardhat default accounts (mnemonic "test test ... junk"):
 *   #0 deployer (deploys HTLC + KRWT, owns KRWT), #1 user (the dApp side, locks first),
 *   #2 relayer (receives the user's locks and claims them).
 * The node runs automine only (blockIntervalMs 0) so block heights are deterministic; the
 * test mines confirmation blocks itself with hardhat_mine.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hexlify, Interface, sha256, toQuantity, Wallet, type JsonRpcProvider } from "ethers";
import { TxSender } from "../../chains/evm/tx-sender.ts";
import { EvmLedger, type EvmLedgerOptions } from "../../chains/evm/adapter.ts";
import { deployEvmContracts, type EvmDeployment } from "../../chains/evm/deploy.ts";
import { hardhatAccount, startHardhatNode, type HardhatNode } from "../../chains/evm/hardhat-node.ts";
import { createProvider } from "../../chains/evm/provider.ts";
import { InvalidInputError, LedgerError, VerificationError } from "../../chains/errors.ts";
import type { Hex, LockParams } from "../../chains/ledger.ts";

const CHAIN_ID = 31338; // not Hardhat's default, to prove the chain id reaches the node
const CONFIRMATIONS = 2;
const ETH = "0x0000000000000000000000000000000000000000";
const DEPLOYER = hardhatAccount(0);
const USER = hardhatAccount(1);
const RELAYER = hardhatAccount(2);

const newSecret = (): { preimage: Hex; hashlock: Hex } => {
  const preimage = hexlify(randomBytes(32)) as Hex;
  return { preimage, hashlock: sha256(preimage) as Hex };
};

async function rejects(p: Promise<unknown>, check: (err: unknown) => void): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, "expected a rejection");
  check(caught);
}

function assertReverted(err: unknown, name: string, stage: "estimate" | "mined"): void {
  assert.ok(err instanceof LedgerError, `expected LedgerError, got ${String(err)}`);
  assert.equal(err.code, "TX_REVERTED");
  assert.match(err.message, new RegExp(name));
  assert.equal((err.details.revert as { name: string }).name, name);
  assert.equal(err.details.stage, stage);
}

describe("EvmLedger on a hardhat node", function () {
  this.timeout(30_000);

  let node: HardhatNode;
  let dep: EvmDeployment;
  let rpc: JsonRpcProvider;
  let user: EvmLedger;
  let relayer: EvmLedger;
  const opened: EvmLedger[] = [];

  const ledger = (privateKey: Hex, extra: Partial<EvmLedgerOptions> = {}): EvmLedger => {
    const l = new EvmLedger({
      name: "evm",
      rpcUrl: node.url,
      chainId: CHAIN_ID,
      privateKey,
      htlcAddress: dep.htlc,
      assets: [
        { symbol: "ETH", decimals: 18, id: ETH },
        { symbol: "KRWT", decimals: 2, id: dep.krwt },
      ],
      confirmations: CONFIRMATIONS,
      blockTimeSec: 1,
      clockSkewSec: 2,
      pollingIntervalMs: 50,
      ...extra,
    });
    opened.push(l);
    return l;
  };
  const mine = (n: number) => rpc.send("hardhat_mine", [toQuantity(n)]);
  const latestTime = async (): Promise<number> => (await rpc.getBlock("latest"))!.timestamp;
  /** Mines the confirmations that make `height` final, then waits for the adapter to agree. */
  const finalize = async (height: number): Promise<void> => {
    await mine(CONFIRMATIONS);
    await relayer.waitFinal(height, 5_000);
  };
  const gasCost = async (txId: Hex): Promise<bigint> => {
    const r = (await rpc.getTransactionReceipt(txId))!;
    return r.gasUsed * r.gasPrice;
  };
  const lockParams = async (asset: string, amount: bigint, hashlock: Hex, ttlSec = 3600): Promise<LockParams> => ({
    receiver: relayer.address,
    asset,
    amount,
    hashlock,
    timelock: (await latestTime()) + ttlSec,
  });

  before(async function () {
    node = await startHardhatNode({ port: 0, chainId: CHAIN_ID, blockIntervalMs: 0 });
    rpc = createProvider(node.url, CHAIN_ID);
    dep = await deployEvmContracts({
      rpcUrl: node.url,
      chainId: CHAIN_ID,
      deployerKey: DEPLOYER.privateKey,
      mints: [
        { to: USER.address, amount: 1_000_000_00n },
        { to: RELAYER.address, amount: 1_000_000_00n },
      ],
    });
    user = ledger(USER.privateKey);
    relayer = ledger(RELAYER.privateKey);
  });

  after(async function () {
    await Promise.all(opened.map((l) => l.close()));
    rpc?.destroy();
    await node?.stop();
  });

  it("deploys HTLC and KRWT and mints KRWT", async function () {
    assert.equal(dep.deployer, DEPLOYER.address);
    assert.notEqual(await rpc.getCode(dep.htlc), "0x");
    assert.equal(await user.balance("KRWT"), 1_000_000_00n);
    assert.equal(await relayer.balance("KRWT", USER.address), 1_000_000_00n);
    assert.equal(user.address, USER.address);
    assert.deepEqual(user.timing, { blockTimeSec: 1, finalitySec: 2, clockSkewSec: 2 });
  });

  for (const [asset, amount] of [
    ["ETH", 10n ** 17n],
    ["KRWT", 12_345n],
  ] as const) {
    it(`${asset}: lock -> finalized verified getLock -> claim by the receiver`, async function () {
      const { preimage, hashlock } = newSecret();
      const params = await lockParams(asset, amount, hashlock);
      const expectedId = user.lockIdFor(params);
      assert.equal(relayer.lockIdFor(params, user.address), expectedId, "either side computes the same id");

      const locked = await user.lock(params);
      assert.equal(locked.lockId, expectedId);
      assert.equal(await relayer.getLock(locked.lockId), null, "not final yet");

      await finalize(locked.height);
      const seen = await relayer.getLock(locked.lockId);
      assert.ok(seen);
      assert.deepEqual(seen.lock, {
        chain: "evm",
        lockId: expectedId,
        sender: USER.address,
        receiver: RELAYER.address,
        asset,
        amount,
        hashlock,
        timelock: params.timelock,
        status: "locked",
      });
      assert.equal(seen.verified.kind, "state-proof");
      assert.ok(seen.verified.height >= locked.height);
      assert.equal(seen.verified.kind === "state-proof" && seen.verified.stateRoot, (await rpc.getBlock(seen.verified.height))!.stateRoot);

      const before = await relayer.balance(asset);
      const claimed = await relayer.claim(locked.lockId, preimage);
      const fee = asset === "ETH" ? await gasCost(claimed.txId) : 0n;
      assert.equal(await relayer.balance(asset), before + amount - fee);

      await finalize(claimed.height);
      const after = await relayer.getLock(locked.lockId);
      assert.deepEqual(after?.lock, { ...seen.lock, status: "claimed", preimage });
    });

    it(`${asset}: lock -> time travel past the timelock -> refund by the sender`, async function () {
      const { hashlock } = newSecret();
      const params = await lockParams(asset, amount, hashlock, 60);
      const start = await user.balance(asset);
      const locked = await user.lock(params);

      await rejects(user.refund(locked.lockId), (err) => assertReverted(err, "NotExpired", "estimate"));
      await rpc.send("evm_increaseTime", [60]);
      await mine(1);
      const refunded = await user.refund(locked.lockId);

      // Gas is paid in ETH, so only the ETH balance shows it (KRWT's approve costs ETH too).
      const fees = asset === "ETH" ? (await gasCost(locked.txId)) + (await gasCost(refunded.txId)) : 0n;
      assert.equal(await user.balance(asset), start - fees);
      await finalize(refunded.height);
      assert.equal((await relayer.getLock(locked.lockId))?.lock.status, "refunded");
    });
  }

  it("approves exactly the locked amount, leaving no standing allowance", async function () {
    const { hashlock } = newSecret();
    await user.lock(await lockParams("KRWT", 500n, hashlock));
    const allowance = await rpc.call({
      to: dep.krwt,
      data: `0xdd62ed3e${USER.address.slice(2).padStart(64, "0")}${dep.htlc.slice(2).padStart(64, "0")}`,
    });
    assert.equal(BigInt(allowance), 0n);
  });

  it("events() returns the finalized Locked/Claimed/Refunded facts in (height, index) order", async function () {
    const { preimage, hashlock } = newSecret();
    const a = await user.lock(await lockParams("ETH", 1000n, hashlock));
    const c = await relayer.claim(a.lockId, preimage);
    const b = await user.lock(await lockParams("KRWT", 77n, newSecret().hashlock, 10));
    await rpc.send("evm_increaseTime", [10]);
    const r = await relayer.refund(b.lockId); // anyone may refund; funds go to the sender
    await finalize(r.height);

    const { finalizedHeight } = await relayer.head();
    const events = await relayer.events(dep.htlcHeight, finalizedHeight);
    const sorted = [...events].sort((x, y) => x.height - y.height || x.index - y.index);
    assert.deepEqual(events, sorted);

    const idOf = (e: (typeof events)[number]): Hex => (e.kind === "locked" ? e.lock.lockId : e.lockId);
    const ours = events.filter((e) => idOf(e) === a.lockId || idOf(e) === b.lockId);
    assert.deepEqual(
      ours.map((e) => [e.kind, e.txId, e.height]),
      [
        ["locked", a.txId, a.height],
        ["claimed", c.txId, c.height],
        ["locked", b.txId, b.height],
        ["refunded", r.txId, r.height],
      ],
    );
    const claimedEv = ours[1]!;
    assert.equal(claimedEv.kind === "claimed" && claimedEv.preimage, preimage);
    const lockedEv = ours[2]!;
    assert.equal(lockedEv.kind === "locked" && lockedEv.lock.asset, "KRWT");
    assert.equal(lockedEv.kind === "locked" && lockedEv.lock.amount, 77n);

    const head = await relayer.head();
    await rejects(relayer.events(0, head.headHeight), (err) => assert.ok(err instanceof InvalidInputError));
  });

  it("a reverted claim names WrongPreimage and leaves the nonce tracking intact", async function () {
    const { preimage, hashlock } = newSecret();
    const locked = await user.lock(await lockParams("ETH", 1000n, hashlock));
    const wrong = newSecret().preimage;
    await rejects(relayer.claim(locked.lockId, wrong), (err) => {
      assertReverted(err, "WrongPreimage", "estimate");
      assert.deepEqual(((err as LedgerError).details.revert as { args: unknown }).args, { lockId: locked.lockId, preimage: wrong });
    });
    const ok = await relayer.claim(locked.lockId, preimage);
    assert.ok(ok.height > locked.height);
  });

  it("a transaction that reverts once mined is decoded, and the next one still goes through", async function () {
    const { preimage, hashlock } = newSecret();
    const params = await lockParams("ETH", 1000n, hashlock, 30);
    const locked = await user.lock(params);

    // Estimation passes now; the block it lands in is at the timelock, where claim expires.
    await rpc.send("evm_setAutomine", [false]);
    try {
      const claim = relayer.claim(locked.lockId, preimage);
      const outcome = claim.then(
        () => null,
        (err: unknown) => err,
      );
      for (let i = 0; ; i++) {
        const pending = (await rpc.send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
        if (pending.transactions.length > 0) break;
        assert.ok(i < 200, "claim never reached the mempool");
        await new Promise((r) => setTimeout(r, 10));
      }
      await rpc.send("evm_setNextBlockTimestamp", [params.timelock]);
      await rpc.send("evm_mine", []);
      const err = await outcome;
      assertReverted(err, "Expired", "mined");
      assert.ok((err as LedgerError).details.txId);
    } finally {
      await rpc.send("evm_setAutomine", [true]);
    }
    const refunded = await relayer.refund(locked.lockId);
    assert.ok(refunded.height > locked.height);
  });

  for (const asset of ["ETH", "KRWT"]) {
    it(`${asset}: resending identical lock parameters is refused as LockExists, sending nothing`, async function () {
      const params = await lockParams(asset, 1000n, newSecret().hashlock);
      const first = await user.lock(params);
      const nonce = await rpc.getTransactionCount(USER.address, "latest");
      await rejects(user.lock(params), (err) => {
        assertReverted(err, "LockExists", "estimate");
        assert.deepEqual(((err as LedgerError).details.revert as { args: unknown }).args, { lockId: first.lockId });
      });
      assert.equal(await rpc.getTransactionCount(USER.address, "latest"), nonce, "no approve, no lock");
    });
  }

  it("refuses what it cannot represent: unknown asset symbols, unknown tokens, unknown ids", async function () {
    assert.throws(() => user.asset("DOGE"), InvalidInputError);
    const { hashlock } = newSecret();
    const locked = await user.lock(await lockParams("KRWT", 5n, hashlock));
    await finalize(locked.height);

    const ethOnly = ledger(RELAYER.privateKey, { assets: [{ symbol: "ETH", decimals: 18, id: ETH }] });
    await rejects(ethOnly.getLock(locked.lockId), (err) => assert.ok(err instanceof VerificationError));
    const events = await ethOnly.events(locked.height, locked.height);
    assert.deepEqual(events, [], "a Locked event for a token we do not list is skipped");
    assert.equal(await relayer.getLock(`0x${"ab".repeat(32)}`), null);
  });

  it("re-reads its nonce when another client spent it with the same key", async function () {
    await user.lock(await lockParams("ETH", 1000n, newSecret().hashlock)); // the adapter now has a cached nonce
    const other = new Wallet(USER.privateKey, rpc);
    await (await other.sendTransaction({ to: RELAYER.address, value: 1n })).wait();
    const second = await user.lock(await lockParams("ETH", 1000n, newSecret().hashlock));
    assert.ok(second.txId);
  });

  it("events() splits the block range when the node refuses a large one, and remembers the size", async function () {
    const MAX_RANGE = 5;
    const ranges: Array<[number, number]> = [];
    let refused = 0;
    const proxy: Server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const handle = async (r: { id: number; method: string; params: Array<{ fromBlock: string; toBlock: string }> }) => {
          if (r.method === "eth_getLogs") {
            const [from, to] = [Number(r.params[0]!.fromBlock), Number(r.params[0]!.toBlock)];
            if (to - from + 1 > MAX_RANGE) {
              refused++;
              return { jsonrpc: "2.0", id: r.id, error: { code: -32005, message: `query exceeds max block range ${MAX_RANGE}` } };
            }
            ranges.push([from, to]);
          }
          const answer = await fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(r) });
          return answer.json();
        };
        const parsed = JSON.parse(body);
        void (Array.isArray(parsed) ? Promise.all(parsed.map(handle)) : handle(parsed)).then((out) => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(out));
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const { preimage, hashlock } = newSecret();
      const a = await user.lock(await lockParams("ETH", 1000n, hashlock));
      await mine(7);
      await relayer.claim(a.lockId, preimage);
      const { height } = await user.lock(await lockParams("KRWT", 3n, newSecret().hashlock));
      await finalize(height);
      const { finalizedHeight } = await relayer.head();
      const from = a.height - 3;

      const proxied = ledger(RELAYER.privateKey, { rpcUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      const direct = await relayer.events(from, finalizedHeight);
      assert.ok(direct.length >= 3);
      assert.deepEqual(await proxied.events(from, finalizedHeight), direct);
      assert.ok(refused > 0, "the first scan had to split");
      assert.ok(ranges.length > 1);
      assert.ok(ranges.every(([f, t]) => t - f + 1 <= MAX_RANGE));

      refused = 0;
      assert.deepEqual(await proxied.events(from, finalizedHeight), direct);
      assert.equal(refused, 0, "the second scan used the learned range size");
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it("a transaction the node silently drops is rebroadcast at the same nonce with a bumped fee after K blocks", async function () {
    const key = hardhatAccount(5);
    const sender = new TxSender({
      chain: "evm",
      chainId: CHAIN_ID,
      provider: createProvider(node.url, CHAIN_ID, { pollingIntervalMs: 50 }),
      wallet: new Wallet(key.privateKey),
      errors: new Interface([]),
      pollingIntervalMs: 50,
      receiptTimeoutMs: 20_000,
      rebroadcastAfterBlocks: 2,
    });
    const pendingOf = async () => {
      const block = (await rpc.send("eth_getBlockByNumber", ["pending", true])) as { transactions: { hash: string; from: string; nonce: string; maxFeePerGas: string }[] };
      return block.transactions.filter((t) => t.from.toLowerCase() === key.address.toLowerCase());
    };
    await rpc.send("evm_setAutomine", [false]);
    try {
      const sending = sender.send({ label: "transfer", to: USER.address, data: "0x", value: 1n });
      sending.catch(() => {});
      let pending: Awaited<ReturnType<typeof pendingOf>> = [];
      for (let i = 0; i < 200 && pending.length === 0; i++) (pending = await pendingOf()), await new Promise((r) => setTimeout(r, 20));
      assert.equal(pending.length, 1, "the first broadcast reached the pool");
      const dropped = pending[0]!;
      assert.equal(await rpc.send("hardhat_dropTransaction", [dropped.hash]), true);
      await rpc.send("hardhat_mine", ["0x3"]); // K blocks pass without it
      let again: typeof pending = [];
      for (let i = 0; i < 200 && again.length === 0; i++) (again = await pendingOf()), await new Promise((r) => setTimeout(r, 20));
      assert.equal(again.length, 1, "the sender rebroadcast it");
      await rpc.send("evm_mine", []);
      const receipt = await sending;
      assert.equal(receipt.status, 1);
      assert.notEqual(receipt.hash, dropped.hash);
      const mined = await rpc.getTransaction(receipt.hash);
      assert.equal(mined!.nonce, Number(dropped.nonce), "same nonce");
      assert.ok(mined!.maxFeePerGas! > BigInt(dropped.maxFeePerGas), "bumped fee");
      assert.equal(sender.rebroadcasts, 1);
    } finally {
      await rpc.send("evm_setAutomine", [true]);
    }
  });

  it("checks the chain id before trusting the node", async function () {
    const wrong = ledger(RELAYER.privateKey, { chainId: 1 });
    await rejects(wrong.head(), (err) => {
      assert.ok(err instanceof LedgerError);
      assert.equal(err.code, "WRONG_CHAIN");
    });
  });
});
