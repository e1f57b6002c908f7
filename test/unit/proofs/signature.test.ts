import assert from "node:assert/strict";
import { AbiCoder, SigningKey, computeAddress, keccak256, recoverAddress as ethersRecover } from "ethers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { type Hex, fromHex, toHex } from "../../../proofs/hex.ts";
import { CONSORTIUM_SCHEME } from "../../../proofs/consortium/domain.ts";
import { addressOfPublicKey, recoverAddress } from "../../../proofs/consortium/signature.ts";
import { VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";

const key = derivePrivateKey("test/signature", 0);
const signer = Signer.fromPrivateKey(key);
const N = secp256k1.Point.Fn.ORDER;

describe("proofs/consortium/signature: Ethereum-style raw-digest signatures", () => {
  const digest = voteDigest({ chainId: 5, height: 9, round: 1, type: VoteType.Precommit, blockHash: `0x${"11".repeat(32)}` });

  it("derives the Ethereum address (keccak of the uncompressed key, last 20 bytes), as ethers does", () => {
    assert.equal(signer.address, computeAddress(key).toLowerCase());
    assert.equal(addressOfPublicKey(secp256k1.getPublicKey(fromHex(key, "key"), false)), signer.address);
  });

  it("signs r || s || v (v = 27/28) that ecrecover, i.e. ethers.recoverAddress, attributes to the signer", () => {
    const sig = signer.sign(digest);
    assert.equal(sig.length, 65);
    assert.ok(sig[64] === 27 || sig[64] === 28);
    assert.equal(ethersRecover(toHex(digest), toHex(sig)).toLowerCase(), signer.address);
    assert.deepEqual(recoverAddress(digest, sig), { ok: true, address: signer.address });
  });

  it("recovers signatures made by ethers' SigningKey (no message prefix)", () => {
    const sig = new SigningKey(key).sign(toHex(digest)).serialized;
    assert.deepEqual(recoverAddress(digest, fromHex(sig, "sig")), { ok: true, address: signer.address });
  });

  it("hashes votes as keccak256(abi.encode(tag, chainId, height, round, type, blockHash, timeMs))", () => {
    const blockHash = `0x${"11".repeat(32)}`;
    const expected = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "uint64", "uint32", "uint8", "bytes32", "uint64"], [CONSORTIUM_SCHEME.tags.vote, 5, 9, 1, 2, blockHash, 0]));
    assert.equal(toHex(digest), expected);
    const timed = voteDigest({ chainId: 5, height: 9, round: 1, type: VoteType.Precommit, blockHash: blockHash as Hex, timeMs: 1_700_000_000_123 });
    const expectedTimed = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "uint64", "uint32", "uint8", "bytes32", "uint64"], [CONSORTIUM_SCHEME.tags.vote, 5, 9, 1, 2, blockHash, 1_700_000_000_123]));
    assert.equal(toHex(timed), expectedTimed);
  });

  describe("refuses, with a reason, signatures a contract's ECDSA.recover would refuse", () => {
    const sig = signer.sign(digest);
    const reason = (s: Uint8Array) => {
      const r = recoverAddress(digest, s);
      assert.equal(r.ok, false);
      return r.ok ? "" : r.reason;
    };

    it("the high-s twin of a valid signature (malleability, EIP-2)", () => {
      const s = BigInt(toHex(sig.subarray(32, 64)));
      const twin = sig.slice();
      twin.set(fromHex(`0x${(N - s).toString(16).padStart(64, "0")}`, "s"), 32);
      twin[64] = sig[64] === 27 ? 28 : 27;
      assert.match(reason(twin), /high-s/);
    });
    it("v other than 27 or 28", () => assert.match(reason(Uint8Array.from([...sig.subarray(0, 64), 1])), /v is 1/));
    it("r = 0", () => assert.match(reason(Uint8Array.from([...new Uint8Array(32), ...sig.subarray(32)])), /r out of range/));
    it("a wrong length", () => assert.match(reason(sig.subarray(0, 64)), /65 bytes/));
  });
});
