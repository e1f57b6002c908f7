import assert from "node:assert/strict";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../../../proofs/hex.ts";
import { txRoot } from "../../../proofs/consortium/results.ts";
import { OffsetClock } from "../../../chains/consortium/clock.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { derivePrivateKey } from "../../../chains/consortium/crypto.ts";
import { decodeMessage, encodeMessage, MAX_TXS_PER_MESSAGE } from "../../../chains/consortium/consensus/messages.ts";
import { makeGenesis } from "../../../chains/consortium/genesis.ts";
import { Mempool } from "../../../chains/consortium/mempool.ts";
import { P256Signer, p256Address, splitSignedTx } from "../../../chains/consortium/tx-auth.ts";
import { checkTxStateless, signTx } from "../../../chains/consortium/tx.ts";
import { alice, bob, CHAIN_ID, commitBlock, krwIssuer, openChain, tx, validatorSigners } from "./helpers.ts";

const P256_N = p256.Point.Fn.ORDER;
const dave = P256Signer.fromPrivateKey(derivePrivateKey("test/p256-user", 0));
const erin = P256Signer.fromPrivateKey(derivePrivateKey("test/p256-user", 1));

function genesisWithP256() {
  return makeGenesis({
    chainId: CHAIN_ID,
    timeMs: Date.now() - 10_000,
    validators: validatorSigners.map((s) => ({ address: s.address, stake: 100n })),
    assets: [{ symbol: "KRW", decimals: 2, issuer: krwIssuer.address }],
    balances: [
      { address: alice.address, asset: "KRW", amount: 1_000n },
      { address: dave.address, asset: "KRW", amount: 1_000n },
    ],
  });
}

function rejectedWith(fn: () => unknown, code: string, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TxRejectedError, `expected TxRejectedError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.reason, reason);
    return true;
  });
}

const transfer = (amount: bigint) => ({ kind: "transfer" as const, to: bob.address, asset: "KRW", amount });

describe("consortium P-256 transactions", () => {
  it("an account's address is keccak256(tag || x || y)[12:], apart from the Ethereum address of any key", () => {
    assert.equal(dave.address, p256Address(dave.publicKey));
    assert.match(dave.address, /^0x[0-9a-f]{40}$/);
    assert.notEqual(dave.address, erin.address);
  });

  it("round-trips: the authenticator is x || y || r || s || 0x02, low-s, verified against `from`", () => {
    const t = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) });
    assert.equal(t.scheme, "p256");
    assert.equal(t.from, dave.address);
    const split = splitSignedTx(t.bytes);
    assert.ok(split.ok);
    assert.equal(split.auth.length, 129);
    assert.equal(split.auth[128], 0x02);
    const s = BigInt(toHex(split.auth.subarray(96, 128)));
    assert.ok(s <= P256_N >> 1n, "low-s");
    // Standard ECDSA P-256 / SHA-256 over the unsigned bytes: an independent implementation agrees.
    assert.ok(p256.verify(split.auth.subarray(64, 128), sha256(split.unsigned), Uint8Array.of(4, ...dave.publicKey), { prehash: false }));
    const back = checkTxStateless(t.bytes, CHAIN_ID);
    assert.equal(back.hash, t.hash);
    assert.deepEqual(back.body, t.body);
  });

  describe("are refused with BAD_SIGNATURE", () => {
    const pool = () => new Mempool(openChain(genesisWithP256()), new OffsetClock());

    it("a signature altered after signing", () => {
      const bytes = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) }).bytes.slice();
      bytes[bytes.length - 20]! ^= 0x01;
      rejectedWith(() => pool().add(bytes), TxErrorCode.BAD_SIGNATURE, /does not verify|range/);
    });

    it("the high-s twin of a valid signature (hash malleability)", () => {
      const bytes = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) }).bytes.slice();
      const at = bytes.length - 33;
      const s = BigInt(toHex(bytes.subarray(at, at + 32)));
      bytes.set(Buffer.from((P256_N - s).toString(16).padStart(64, "0"), "hex"), at);
      rejectedWith(() => pool().add(bytes), TxErrorCode.BAD_SIGNATURE, /high-s/);
    });

    it("a valid signature by another P-256 key than the sender's", () => {
      const forDave = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) });
      const split = splitSignedTx(forDave.bytes);
      assert.ok(split.ok);
      const spliced = Uint8Array.from([...split.unsigned, ...erin.authenticate(split.unsigned)]);
      rejectedWith(() => pool().add(spliced), TxErrorCode.BAD_SIGNATURE, new RegExp(`by ${erin.address}, not by sender ${dave.address}`));
    });

    it("a public key that is not on the curve", () => {
      const bytes = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) }).bytes.slice();
      bytes[bytes.length - 129 + 63]! ^= 0x01; // last byte of y
      rejectedWith(() => pool().add(bytes), TxErrorCode.BAD_SIGNATURE, /not a point on the curve/);
    });

    it("an unknown authenticator scheme is malformed", () => {
      const bytes = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) }).bytes.slice();
      bytes[bytes.length - 1] = 0x07;
      rejectedWith(() => pool().add(bytes), TxErrorCode.MALFORMED_TX, /unknown signature scheme/);
    });
  });

  it("P-256 and secp256k1 txs share a block; each account pays from its own balance", () => {
    const genesis = genesisWithP256();
    const chain = openChain(genesis);
    const block = commitBlock(chain, [signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(300n) }), tx(alice, 0, transfer(200n))], genesis.timeMs + 1000);
    assert.equal(block.txs.length, 2);
    assert.equal(chain.balance(dave.address, "KRW"), 700n);
    assert.equal(chain.balance(alice.address, "KRW"), 800n);
    assert.equal(chain.balance(bob.address, "KRW"), 500n);
    assert.equal(chain.state.nonce(dave.address), 1);
  });

  it("a block carrying a tx with a bad signature is invalid, even after the valid original was verified (cache is by exact bytes)", () => {
    const genesis = genesisWithP256();
    const chain = openChain(genesis);
    const good = signTx(dave, { chainId: CHAIN_ID, nonce: 0, body: transfer(5n) });
    checkTxStateless(good.bytes, CHAIN_ID); // verified and remembered
    const bad = good.bytes.slice();
    bad[bad.length - 20]! ^= 0x01;
    const { block } = chain.propose([], genesis.timeMs + 1000, validatorSigners[0]!.address);
    const forged = { header: { ...block.header, txRoot: txRoot([bad]) }, txs: [bad], lastCommit: block.lastCommit };
    const check = chain.check(forged);
    assert.equal(check.ok, false);
    if (!check.ok) assert.match(check.reason, /tx 0: BAD_SIGNATURE/);
  });
});

describe("consortium tx gossip messages", () => {
  it("carry 1..MAX_TXS_PER_MESSAGE txs; an empty or oversized batch does not decode", () => {
    const t = tx(alice, 0, transfer(1n)).bytes;
    const back = decodeMessage(encodeMessage({ type: "txs", txs: [t, t] }));
    assert.equal(back?.type, "txs");
    if (back?.type === "txs") assert.deepEqual(back.txs.map(toHex), [toHex(t), toHex(t)]);
    assert.equal(decodeMessage(JSON.stringify({ type: "txs", txs: [] })), undefined);
    assert.equal(decodeMessage(JSON.stringify({ type: "txs", txs: Array.from({ length: MAX_TXS_PER_MESSAGE + 1 }, () => toHex(t)) })), undefined);
    assert.equal(decodeMessage(JSON.stringify({ type: "txs", txs: ["0xzz"] })), undefined);
    assert.equal(decodeMessage(JSON.stringify({ type: "tx", tx: toHex(t) })), undefined, "the unbatched form is gone");
  });
});
