import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { OffsetClock } from "../../../chains/consortium/clock.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { startConsortiumDevnet, type ConsortiumDevnet } from "../../../chains/consortium/devnet.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { MAX_NONCE_AHEAD, Mempool, QUEUED_TTL_MS } from "../../../chains/consortium/mempool.ts";
import { type SignedTx } from "../../../chains/consortium/tx.ts";
import { ConsortiumClient } from "../../../chains/consortium/rpc/client.ts";
import { MAX_SUBMIT_BATCH, startNodeServer } from "../../../chains/consortium/rpc/server.ts";
import { decodeTxResult } from "../../../proofs/consortium/results.ts";
import { LedgerError } from "../../../chains/errors.ts";
import { alice, bob, carol, commitBlock, openChain, testGenesis, tx, until } from "./helpers.ts";

describe("consortium mempool: client txs are dry-run, gossiped txs are not", () => {
  const genesis = testGenesis();

  it("a gossiped tx that would overdraw is admitted (its block records it as failed); a client one is refused", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const overdraw = tx(bob, 0, { kind: "transfer", to: alice.address, asset: "KRW", amount: 1n });
    assert.throws(() => pool.add(overdraw.bytes, "client"), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.INSUFFICIENT_FUNDS);
    pool.add(overdraw.bytes, "peer");
    assert.equal(pool.size, 1);
    const block = commitBlock(chain, [overdraw], genesis.timeMs + 1000);
    const result = decodeTxResult(block.outcomes[0]!.result);
    assert.ok(result.ok && !result.value.ok && result.value.code === TxErrorCode.INSUFFICIENT_FUNDS);
    assert.equal(pool.size, 0, "included txs leave the pool");
  });

  it("gossiped txs still need a valid signature and the sender's next nonce", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const bad = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }).bytes.slice();
    bad[bad.length - 10]! ^= 1;
    assert.throws(() => pool.add(bad, "peer"), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_SIGNATURE);
    assert.throws(() => pool.add(tx(alice, 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }).bytes, "peer"), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_NONCE);
    pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }).bytes, "peer");
    // A client tx after a gossiped one of the same sender dry-runs with the next nonce.
    pool.add(tx(alice, 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 6n }).bytes, "client");
    assert.equal(pool.nextNonce(alice.address), 2);
  });

  it("after a block takes a pending tx's nonce, that tx is dropped with the reason; its sender's next one stays", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const mine0 = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
    const mine1 = tx(alice, 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 6n });
    const other = tx(carol, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 1n });
    pool.add(mine0.bytes, "peer");
    pool.add(mine1.bytes, "client");
    pool.add(other.bytes, "peer");
    // Another node's block spent alice's nonce 0 on a different tx.
    commitBlock(chain, [tx(alice, 0, { kind: "transfer", to: carol.address, asset: "KRW", amount: 7n })], genesis.timeMs + 1000);
    assert.equal(pool.dropped(mine0.hash)?.code, TxErrorCode.TX_DROPPED);
    assert.match(pool.dropped(mine0.hash)!.reason, /nonce 0 already used/);
    assert.equal(pool.has(mine1.hash), true, "alice's nonce 1 is next again: kept");
    assert.equal(pool.has(other.hash), true);
    assert.equal(pool.nextNonce(alice.address), 2);
  });
});

describe("consortium mempool: client txs ahead of the next nonce are queued", () => {
  const genesis = testGenesis();
  const pay = (nonce: number, amount = 1n, from = alice) => tx(from, nonce, { kind: "transfer", to: bob.address, asset: "KRW", amount });
  const dropCode = (pool: Mempool, t: SignedTx) => pool.dropped(t.hash)?.code;

  it("nonces n+2, n+1, n arriving in that order all become pending, in nonce order, announced in order", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const announced: number[] = [];
    pool.onPending((t) => announced.push(t.nonce));
    const [t0, t1, t2] = [pay(0), pay(1), pay(2)];
    assert.equal(pool.add(t2.bytes).hash, t2.hash, "accepted (queued)");
    assert.equal(pool.add(t1.bytes).hash, t1.hash);
    assert.deepEqual([pool.size, pool.queuedSize, pool.isQueued(t2.hash), pool.has(t2.hash)], [0, 2, true, false]);
    assert.equal(pool.nextNonce(alice.address), 0, "queued txs do not move the pending nonce");
    pool.add(t0.bytes);
    assert.deepEqual([pool.size, pool.queuedSize], [3, 0]);
    assert.deepEqual(pool.reap(10), [t0.bytes, t1.bytes, t2.bytes]);
    assert.deepEqual(announced, [0, 1, 2], "gossip (onPending) sees them in nonce order");
    assert.equal(pool.nextNonce(alice.address), 3);
    assert.equal(pool.add(t2.bytes).hash, t2.hash, "idempotent once pending");
  });

  it("a queued client tx is dry-run when its nonce comes up: a failure drops it with the chain's code, later ones stay queued", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const overdraft = pay(1, 100_000_000n); // with nonce 0's 1 KRW, more than alice has
    const after = pay(2);
    pool.add(overdraft.bytes);
    pool.add(after.bytes);
    pool.add(pay(0).bytes);
    assert.equal(pool.size, 1);
    assert.equal(dropCode(pool, overdraft), TxErrorCode.INSUFFICIENT_FUNDS);
    assert.match(pool.dropped(overdraft.hash)!.reason, /queued tx refused when its nonce came up/);
    assert.equal(pool.isQueued(after.hash), true, "waits for a nonce 1 that runs");
    pool.add(pay(1, 2n).bytes);
    assert.deepEqual([pool.size, pool.queuedSize], [3, 0]);
  });

  it("a gap never filled: the queued tx is never proposed, and expires after QUEUED_TTL_MS with the reason", () => {
    const chain = openChain(genesis);
    const clock = new OffsetClock();
    const pool = new Mempool(chain, clock);
    const waiting = pay(1);
    pool.add(waiting.bytes);
    assert.deepEqual([pool.size, pool.reap(10).length], [0, 0], "not pending, not proposed");
    assert.equal(pool.get(waiting.hash)?.hash, waiting.hash, "a compact proposal may still find its bytes");
    const heard: Hex[] = [];
    pool.onDrop((h) => heard.push(h));
    const block = commitBlock(chain, [], genesis.timeMs + 1000);
    assert.equal(block.txs.length, 0);
    assert.equal(pool.isQueued(waiting.hash), true, "kept within its time");
    clock.advanceMs(QUEUED_TTL_MS);
    commitBlock(chain, [], genesis.timeMs + 2000);
    assert.equal(pool.isQueued(waiting.hash), false);
    assert.equal(dropCode(pool, waiting), TxErrorCode.TX_DROPPED);
    assert.match(pool.dropped(waiting.hash)!.reason, /queued for 30000 ms with nonce 1, but .* next nonce is still 0/);
    assert.deepEqual(heard, [waiting.hash], "waiters hear it");
  });

  it("expiry also happens on admission, without a commit", () => {
    const chain = openChain(genesis);
    const clock = new OffsetClock();
    const pool = new Mempool(chain, clock);
    const waiting = pay(3);
    pool.add(waiting.bytes);
    clock.advanceMs(QUEUED_TTL_MS);
    pool.add(pay(0).bytes);
    assert.equal(dropCode(pool, waiting), TxErrorCode.TX_DROPPED);
    assert.equal(pool.queuedSize, 0);
  });

  it(`at most ${MAX_NONCE_AHEAD} nonces ahead: further is BAD_NONCE; a second tx for a queued nonce is BAD_NONCE; gossiped txs are never queued`, () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    pool.add(pay(0).bytes);
    const edge = pay(1 + MAX_NONCE_AHEAD);
    pool.add(edge.bytes);
    assert.equal(pool.isQueued(edge.hash), true);
    assert.throws(
      () => pool.add(pay(2 + MAX_NONCE_AHEAD).bytes),
      (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_NONCE && /out of order: .* next nonce is 1 \(a tx may wait for at most 16 nonces ahead\)/.test(e.reason),
    );
    assert.throws(() => pool.add(pay(1 + MAX_NONCE_AHEAD, 2n).bytes), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_NONCE && /already used by a queued tx/.test(e.reason));
    assert.throws(() => pool.add(pay(2).bytes, "peer"), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_NONCE);
    assert.equal(pool.queuedSize, 1);
  });

  it("the per-sender cap counts queued txs; an executable tx evicts the sender's highest queued one to get in", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock(), { maxPerSender: 4 });
    pool.add(pay(0).bytes);
    const queued = [pay(2), pay(3), pay(4)];
    for (const t of queued) pool.add(t.bytes);
    assert.throws(() => pool.add(pay(5).bytes), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.MEMPOOL_FULL && /already has 4 transactions/.test(e.reason));
    pool.add(pay(1).bytes);
    assert.equal(dropCode(pool, queued[2]!), TxErrorCode.TX_DROPPED);
    assert.equal(pool.dropped(queued[2]!.hash)!.details.cause, TxErrorCode.MEMPOOL_FULL);
    assert.deepEqual([pool.size, pool.queuedSize, pool.nextNonce(alice.address)], [4, 0, 4]);
  });

  it("the pool's cap counts queued txs; an executable tx evicts the oldest queued one", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock(), { maxTxs: 3 });
    const dave = Signer.fromPrivateKey(derivePrivateKey("test/user", 3));
    const q = [pay(1), pay(2), pay(5, 1n, carol)];
    for (const t of q) pool.add(t.bytes);
    assert.throws(() => pool.add(pay(1, 1n, dave).bytes), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.MEMPOOL_FULL && /mempool holds 3/.test(e.reason));
    // An executable tx that fails its dry run evicts nothing.
    assert.throws(() => pool.add(pay(0, 1n, dave).bytes), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.INSUFFICIENT_FUNDS);
    assert.equal(pool.queuedSize, 3);
    const gossiped = pay(0, 1n, dave);
    pool.add(gossiped.bytes, "peer");
    assert.equal(dropCode(pool, q[0]!), TxErrorCode.TX_DROPPED, "the oldest queued made room");
    assert.deepEqual([pool.size, pool.queuedSize], [1, 2]);
  });

  it("a commit that takes a queued tx's nonce drops it; a commit that fills the gap promotes the next", () => {
    const chain = openChain(genesis);
    const pool = new Mempool(chain, new OffsetClock());
    const mine1 = pay(1);
    const mine2 = pay(2);
    const mine4 = pay(4);
    for (const t of [mine1, mine2, mine4]) pool.add(t.bytes);
    // Another node's block spent alice's nonces 0 and 1 (a different nonce-1 tx).
    commitBlock(chain, [pay(0, 7n), pay(1, 8n)], genesis.timeMs + 1000);
    assert.equal(dropCode(pool, mine1), TxErrorCode.TX_DROPPED);
    assert.match(pool.dropped(mine1.hash)!.reason, /nonce 1 already used/);
    assert.equal(pool.has(mine2.hash), true, "nonce 2 is next now: promoted");
    assert.deepEqual(pool.reap(10), [mine2.bytes]);
    assert.equal(pool.isQueued(mine4.hash), true, "3 is still missing");
    // A block that includes a queued tx (another node had its gap) takes it out of the queue.
    commitBlock(chain, [mine2, pay(3), mine4], genesis.timeMs + 2000);
    assert.deepEqual([pool.size, pool.queuedSize, pool.dropped(mine4.hash)], [0, 0, undefined]);
  });
});

describe("consortium SubmitTxs (batch submit)", function () {
  this.timeout(30_000);
  let devnet: ConsortiumDevnet;
  let client: ConsortiumClient;
  const user = alice.address;
  const dave = Signer.fromPrivateKey(derivePrivateKey("test/user", 3));

  before(async () => {
    devnet = await startConsortiumDevnet({
      inMemory: true,
      blockIntervalMs: 100,
      balances: [
        { address: user, asset: "ISTH", amount: 1000n },
        { address: carol.address, asset: "ISTH", amount: 1000n },
        { address: dave.address, asset: "ISTH", amount: 1000n },
      ],
    });
    client = new ConsortiumClient(devnet.endpoint);
  });
  after(async () => {
    client.close();
    await devnet.stop();
  });

  it("admits a batch in order and answers each tx: accepted with its hash, or refused with the chain's code", async () => {
    const chainId = devnet.chainId;
    const t0 = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 10n }, chainId);
    const t1 = tx(alice, 1, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 20n }, chainId);
    const overdraft = tx(alice, 2, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 10_000n }, chainId);
    const wrongChain = tx(alice, 2, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, chainId + 1);
    const gap = tx(alice, 2 + MAX_NONCE_AHEAD + 1, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, chainId); // beyond the queue's reach
    const t2 = tx(alice, 2, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 30n }, chainId);
    const forged = tx(alice, 2, { kind: "transfer", to: carol.address, asset: "ISTH", amount: 31n }, chainId).bytes.slice();
    forged[forged.length - 10]! ^= 1;
    const results = await client.submitTxs([t0.bytes, t1.bytes, overdraft.bytes, wrongChain.bytes, Uint8Array.of(1, 2, 3), gap.bytes, forged, t2.bytes]);
    assert.equal(results.length, 8);
    assert.deepEqual(results[0], { accepted: true, hash: t0.hash });
    assert.deepEqual(results[1], { accepted: true, hash: t1.hash });
    const codes = results.slice(2, 6).map((r) => (r.accepted ? "accepted" : r.error.code));
    assert.deepEqual(codes, [TxErrorCode.INSUFFICIENT_FUNDS, TxErrorCode.WRONG_CHAIN_ID, TxErrorCode.MALFORMED_TX, TxErrorCode.BAD_NONCE]);
    const refused = results[2]!;
    assert.ok(!refused.accepted && refused.hash === overdraft.hash && refused.error instanceof TxRejectedError && /needs 10000/.test(refused.error.reason));
    const garbage = results[4]!;
    assert.ok(!garbage.accepted && garbage.hash === null, "no hash for bytes that do not decode");
    const bad = results[6]!;
    assert.ok(!bad.accepted && bad.error.code === TxErrorCode.BAD_SIGNATURE);
    assert.deepEqual(results[7], { accepted: true, hash: t2.hash });
    const done = await client.waitTx(t2.hash, 10_000);
    assert.equal(done.status, "committed");
    await until(() => devnet.nodes.every((n) => n.chain.balance(bob.address, "ISTH") === 60n), 10_000, "the three transfers on every validator");
  });

  it("with signature workers (verifyWorkers: 1): good txs admitted, a forged one refused with BAD_SIGNATURE, in order", async () => {
    const server = await startNodeServer({ node: devnet.nodes[0]!, verifyWorkers: 1 });
    const viaPool = new ConsortiumClient(server.endpoint);
    try {
      const chainId = devnet.chainId;
      const first = tx(carol, 0, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, chainId);
      const forged = tx(carol, 1, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 2n }, chainId).bytes.slice();
      forged[forged.length - 10]! ^= 1;
      const second = tx(carol, 1, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 3n }, chainId);
      // Two batches in flight at once: the second is admitted after the first (carol's nonces span them).
      const [a, b] = await Promise.all([viaPool.submitTxs([first.bytes, forged]), viaPool.submitTxs([second.bytes])]);
      assert.deepEqual(a[0], { accepted: true, hash: first.hash });
      assert.ok(!a[1]!.accepted && a[1]!.error.code === TxErrorCode.BAD_SIGNATURE);
      assert.deepEqual(b[0], { accepted: true, hash: second.hash });
    } finally {
      viaPool.close();
      await server.close();
    }
  });

  it("a pipelining client's calls arriving in reverse nonce order are all accepted and committed", async () => {
    const chainId = devnet.chainId;
    const [t0, t1, t2] = [0, 1, 2].map((n) => tx(dave, n, { kind: "transfer", to: bob.address, asset: "ISTH", amount: BigInt(n + 1) }, chainId));
    assert.deepEqual(await client.submitTxs([t2!.bytes]), [{ accepted: true, hash: t2!.hash }], "queued is accepted");
    assert.equal(await client.submitTx(t1!.bytes), t1!.hash);
    assert.equal((await client.getTx(t1!.hash)).status, "pending", "a queued tx reads as pending");
    assert.equal((await client.getAccount(dave.address)).pendingNonce, 0, "the pending nonce ignores queued txs");
    assert.equal(await client.submitTx(t0!.bytes), t0!.hash);
    for (const t of [t0!, t1!, t2!]) assert.equal((await client.waitTx(t.hash, 10_000)).status, "committed");
    await until(() => devnet.nodes.every((n) => n.chain.state.nonce(dave.address) === 3), 10_000, "dave's three txs on every validator (gossiped in order)");
  });

  it("refuses a batch over the limit as a whole with INVALID_ARGUMENT", async () => {
    const t = tx(carol, 0, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, devnet.chainId);
    await assert.rejects(client.submitTxs(Array.from({ length: MAX_SUBMIT_BATCH + 1 }, () => t.bytes)), (e: unknown) => e instanceof LedgerError && /at most 1000 per call/.test(e.message));
    assert.deepEqual(await client.submitTxs([]), []);
  });
});
