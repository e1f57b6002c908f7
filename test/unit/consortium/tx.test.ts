import assert from "node:assert/strict";
import { type Hex, fromHex, toHex } from "../../../proofs/hex.ts";
import { decodeTxResult, txRoot } from "../../../proofs/consortium/results.ts";
import { OffsetClock } from "../../../chains/consortium/clock.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { MAX_NONCE_AHEAD, Mempool } from "../../../chains/consortium/mempool.ts";
import { checkTxStateless, decodeTx } from "../../../chains/consortium/tx.ts";
import { alice, bob, carol, CHAIN_ID, commitBlock, krwIssuer, openChain, testGenesis, tx, validatorSigners } from "./helpers.ts";

function rejectedWith(fn: () => unknown, code: string, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TxRejectedError, `expected TxRejectedError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.reason, reason);
    return true;
  });
}

describe("consortium transactions", () => {
  const genesis = testGenesis();
  let chain: ReturnType<typeof openChain>;
  let pool: Mempool;
  beforeEach(() => {
    chain = openChain(genesis);
    pool = new Mempool(chain, new OffsetClock());
  });

  it("round-trips signed bytes, recovering the sender from the signature", () => {
    const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
    const back = checkTxStateless(t.bytes, CHAIN_ID);
    assert.equal(back.from, alice.address);
    assert.equal(back.hash, t.hash);
    assert.deepEqual(back.body, t.body);
  });

  describe("are refused at submit time with the chain's reason", () => {
    it("BAD_SIGNATURE: a signature altered after signing", () => {
      const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
      const bytes = t.bytes.slice();
      bytes[bytes.length - 40]! ^= 0x01;
      rejectedWith(() => pool.add(bytes), TxErrorCode.BAD_SIGNATURE, /not by sender|recover|range/);
    });

    it("BAD_SIGNATURE: a transaction signed by someone other than its declared sender", () => {
      const byBob = tx(bob, 0, { kind: "transfer", to: carol.address, asset: "KRW", amount: 5n });
      const forAlice = tx(alice, 0, { kind: "transfer", to: carol.address, asset: "KRW", amount: 5n });
      const spliced = Uint8Array.from([...forAlice.bytes.subarray(0, forAlice.bytes.length - 65), ...byBob.bytes.subarray(byBob.bytes.length - 65)]);
      rejectedWith(() => pool.add(spliced), TxErrorCode.BAD_SIGNATURE, /not by sender/);
    });

    it("WRONG_CHAIN_ID", () => {
      const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }, CHAIN_ID + 1);
      rejectedWith(() => pool.add(t.bytes), TxErrorCode.WRONG_CHAIN_ID, /for chain 31338, this is chain 31337/);
    });

    it("BAD_NONCE: a reused nonce", () => {
      commitBlock(chain, [tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n })], genesis.timeMs + 1000);
      rejectedWith(() => pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 6n }).bytes), TxErrorCode.BAD_NONCE, /nonce 0 already used/);
    });

    it("BAD_NONCE: a nonce already taken by a pending tx, and one out of order", () => {
      pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }).bytes);
      rejectedWith(() => pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 6n }).bytes), TxErrorCode.BAD_NONCE, /already used/);
      // Up to MAX_NONCE_AHEAD ahead is queued (mempool.test.ts); beyond it, refused.
      rejectedWith(() => pool.add(tx(alice, 2 + MAX_NONCE_AHEAD, { kind: "transfer", to: bob.address, asset: "KRW", amount: 6n }).bytes), TxErrorCode.BAD_NONCE, /out of order.*next nonce is 1/);
      assert.equal(pool.nextNonce(alice.address), 1);
    });

    it("INSUFFICIENT_FUNDS: an overdraft, counting what pending txs already spend", () => {
      rejectedWith(() => pool.add(tx(bob, 0, { kind: "transfer", to: alice.address, asset: "KRW", amount: 1n }).bytes), TxErrorCode.INSUFFICIENT_FUNDS, /has 0 KRW/);
      pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 99_999_999n }).bytes);
      rejectedWith(() => pool.add(tx(alice, 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 2n }).bytes), TxErrorCode.INSUFFICIENT_FUNDS, /has 1 KRW base units, needs 2/);
    });

    it("UNKNOWN_ASSET and NOT_ISSUER", () => {
      rejectedWith(() => pool.add(tx(alice, 0, { kind: "transfer", to: bob.address, asset: "USD", amount: 1n }).bytes), TxErrorCode.UNKNOWN_ASSET, /no asset USD/);
      rejectedWith(() => pool.add(tx(alice, 0, { kind: "issue", to: alice.address, asset: "KRW", amount: 1n }).bytes), TxErrorCode.NOT_ISSUER, /not the issuer of KRW/);
      rejectedWith(() => pool.add(tx(alice, 0, { kind: "issue", to: alice.address, asset: "ISTH", amount: 1n }).bytes), TxErrorCode.NOT_ISSUER, /ISTH/);
    });

    it("MALFORMED_TX: garbage, and a zero amount", () => {
      rejectedWith(() => pool.add(new Uint8Array(100)), TxErrorCode.MALFORMED_TX, /./);
      rejectedWith(() => tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 0n }), TxErrorCode.MALFORMED_TX, /amount must be positive/);
    });

    it("accepts the same pending tx twice idempotently", () => {
      const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
      assert.equal(pool.add(t.bytes).hash, t.hash);
      assert.equal(pool.add(t.bytes).hash, t.hash);
      assert.equal(pool.size, 1);
    });
  });

  it("the issuer can issue, growing the supply", () => {
    commitBlock(chain, [tx(krwIssuer, 0, { kind: "issue", to: bob.address, asset: "KRW", amount: 500n })], genesis.timeMs + 1000);
    assert.equal(chain.balance(bob.address, "KRW"), 500n);
    assert.equal(chain.state.asset("KRW")!.supply, 100_000_500n);
  });

  it("a tx that fails during block execution is recorded as failed: reason kept, nonce consumed, nothing else changed", () => {
    const spendAll = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 100_000_000n });
    const overdraft = tx(alice, 1, { kind: "transfer", to: carol.address, asset: "KRW", amount: 1n });
    const block = commitBlock(chain, [spendAll, overdraft], genesis.timeMs + 1000);
    assert.equal(block.txs.length, 2, "the failing tx stays in the block");
    const results = block.outcomes.map((o) => decodeTxResult(o.result));
    assert.ok(results[0]!.ok && results[0]!.value.ok);
    assert.ok(results[1]!.ok);
    assert.equal(results[1]!.value.ok, false);
    assert.equal(results[1]!.value.code, TxErrorCode.INSUFFICIENT_FUNDS);
    assert.match(results[1]!.value.message, /has 0 KRW/);
    assert.equal(block.outcomes[1]!.events.length, 0);
    assert.equal(chain.state.nonce(alice.address), 2, "the failed tx consumed its nonce");
    assert.equal(chain.balance(carol.address, "KRW"), 0n);
    assert.equal(chain.balance(bob.address, "KRW"), 100_000_000n);
  });

  it("a block carrying an inadmissible tx (bad nonce) is invalid as a whole", () => {
    const t = tx(alice, 3, { kind: "transfer", to: bob.address, asset: "KRW", amount: 1n });
    const { block, skipped } = chain.propose([t.bytes], genesis.timeMs + 1000, validatorSigners[0]!.address);
    assert.equal(block.txs.length, 0, "a proposer leaves it out");
    assert.equal(skipped[0]!.error.code, TxErrorCode.BAD_NONCE);
    const forged = { header: { ...block.header, txRoot: txRoot([t.bytes]) }, txs: [t.bytes], lastCommit: block.lastCommit };
    const check = chain.check(forged);
    assert.equal(check.ok, false);
    if (!check.ok) assert.match(check.reason, /tx 0: BAD_NONCE/);
  });

  it("decodes only canonical bytes (hash malleability)", () => {
    const t = tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n });
    assert.throws(() => decodeTx(Uint8Array.from([...t.bytes.subarray(0, 32 * 6), ...new Uint8Array(32), ...t.bytes.subarray(32 * 6)])), TxRejectedError);
    assert.equal(toHex(decodeTx(fromHex(toHex(t.bytes), "tx")).bytes), toHex(t.bytes) as Hex);
  });
});
