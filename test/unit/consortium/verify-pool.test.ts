import assert from "node:assert/strict";
import { OffsetClock } from "../../../chains/consortium/clock.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { derivePrivateKey } from "../../../chains/consortium/crypto.ts";
import { Mempool } from "../../../chains/consortium/mempool.ts";
import { P256Signer, splitSignedTx } from "../../../chains/consortium/tx-auth.ts";
import { signatureUnchecked, signTx, decodeTx } from "../../../chains/consortium/tx.ts";
import { SignatureVerifyPool } from "../../../chains/consortium/verify-pool.ts";
import { alice, bob, CHAIN_ID, openChain, testGenesis } from "./helpers.ts";

describe("consortium signature verification on worker threads", function () {
  this.timeout(20_000);
  const dave = P256Signer.fromPrivateKey(derivePrivateKey("test/verify-pool", 0));
  const transfer = (signer: P256Signer | typeof alice, nonce: number, amount: bigint) =>
    signTx(signer, { chainId: CHAIN_ID, nonce, body: { kind: "transfer", to: bob.address, asset: "KRW", amount } });
  const damaged = (bytes: Uint8Array) => {
    const copy = bytes.slice();
    copy[copy.length - 10]! ^= 1; // inside s
    return copy;
  };
  let pool: SignatureVerifyPool;
  beforeEach(() => (pool = new SignatureVerifyPool(2)));
  afterEach(() => pool.close());

  it("names the signer of a good P-256 or secp256k1 authenticator and rejects a bad one", async () => {
    const items = [transfer(dave, 0, 1n).bytes, transfer(alice, 0, 1n).bytes, damaged(transfer(dave, 1, 1n).bytes)].map((b) => {
      const s = splitSignedTx(b);
      assert.ok(s.ok);
      return { scheme: s.scheme, unsigned: s.unsigned, auth: s.auth };
    });
    const [p256, secp, bad] = await pool.verify(items);
    assert.deepEqual(p256, { ok: true, address: dave.address });
    assert.deepEqual(secp, { ok: true, address: alice.address });
    assert.equal(bad!.ok, false);
  });

  it("prevalidate remembers only valid signatures: a bad one is still refused at admission with BAD_SIGNATURE", async () => {
    const good = transfer(dave, 0, 5n).bytes.slice();
    const bad = damaged(transfer(dave, 1, 6n).bytes);
    const ready = await pool.prevalidate([good, bad, Uint8Array.of(1, 2, 3)]);
    assert.equal(ready.length, 3);
    assert.equal(signatureUnchecked(decodeTx(good)), false, "the good one is verified");
    assert.equal(signatureUnchecked(decodeTx(bad)), true, "the bad one is not");
    const genesis = testGenesis();
    const chain = openChain({ ...genesis, balances: [...genesis.balances, { address: dave.address, asset: "KRW", amount: 100n }] });
    const mempool = new Mempool(chain, new OffsetClock());
    mempool.add(ready[0]!);
    assert.throws(() => mempool.add(ready[1]!), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.BAD_SIGNATURE);
    assert.throws(() => mempool.add(ready[2]!), (e: unknown) => e instanceof TxRejectedError && e.code === TxErrorCode.MALFORMED_TX);
  });

  it("a closed pool verifies nothing and prevalidate still hands every tx on (admission verifies them)", async () => {
    await pool.close();
    await assert.rejects(pool.verify([{ scheme: "p256", unsigned: Uint8Array.of(1), auth: Uint8Array.of(2) }]), /closed/);
    const t = transfer(dave, 7, 1n).bytes.slice();
    const ready = await pool.prevalidate([t]);
    assert.equal(ready.length, 1);
    assert.equal(signatureUnchecked(decodeTx(t)), true);
  });
});
