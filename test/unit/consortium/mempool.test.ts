import assert from "node:assert/strict";
import { OffsetClock } from "../../../chains/consortium/clock.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { startConsortiumDevnet, type ConsortiumDevnet } from "../../../chains/consortium/devnet.ts";
import { Mempool } from "../../../chains/consortium/mempool.ts";
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

describe("consortium SubmitTxs (batch submit)", function () {
  this.timeout(30_000);
  let devnet: ConsortiumDevnet;
  let client: ConsortiumClient;
  const user = alice.address;

  before(async () => {
    devnet = await startConsortiumDevnet({ inMemory: true, blockIntervalMs: 100, balances: [{ address: user, asset: "ISTH", amount: 1000n }, { address: carol.address, asset: "ISTH", amount: 1000n }] });
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
    const gap = tx(alice, 9, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, chainId);
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

  it("refuses a batch over the limit as a whole with INVALID_ARGUMENT", async () => {
    const t = tx(carol, 0, { kind: "transfer", to: bob.address, asset: "ISTH", amount: 1n }, devnet.chainId);
    await assert.rejects(client.submitTxs(Array.from({ length: MAX_SUBMIT_BATCH + 1 }, () => t.bytes)), (e: unknown) => e instanceof LedgerError && /at most 1000 per call/.test(e.message));
    assert.deepEqual(await client.submitTxs([]), []);
  });
});
