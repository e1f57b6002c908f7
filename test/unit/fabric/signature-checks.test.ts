/**
 * SignatureChecks (chains/fabric/crypto.ts): a cached answer is always the answer
 * verifyFabricSignature gives — for valid, tampered, high-S and other-key signatures, and for
 * signatures the network made itself.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { encodeDerSignature, P256_N, parseDerSignature, SignatureChecks, signLowS, verifyFabricSignature } from "../../../chains/fabric/crypto.ts";

describe("SignatureChecks: ECDSA checks answered once per exact triple", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });

  it("gives verifyFabricSignature's verdict, first time and cached, for every variant", () => {
    const checks = new SignatureChecks();
    for (let i = 0; i < 20; i++) {
      const msg = randomBytes(100 + i);
      const sig = signLowS(privateKey, msg);
      const { r, s } = parseDerSignature(sig)!;
      const tampered = Buffer.from(msg);
      tampered[0]! ^= 1;
      const cases: [Uint8Array, Uint8Array, typeof publicKey][] = [
        [msg, sig, publicKey],
        [tampered, sig, publicKey],
        [msg, encodeDerSignature(r, P256_N - s), publicKey], // high-S: refused though it verifies mathematically
        [msg, sig, other.publicKey],
        [msg, sig.subarray(0, sig.length - 1), publicKey],
      ];
      for (const [m, g, k] of cases) {
        const expected = verifyFabricSignature(k, m, g);
        assert.deepEqual(checks.verify(k, m, g), expected);
        assert.deepEqual(checks.verify(k, m, g), expected, "the same answer from the cache");
      }
    }
  });

  it("signLowS: low S, minimal DER (the BigInt encoder's bytes), and it verifies", () => {
    // ECDSA's s is uniform: about half of these had a high s that signLowS replaced by n - s
    for (let i = 0; i < 200; i++) {
      const msg = randomBytes(50);
      const sig = signLowS(privateKey, msg);
      const { r, s } = parseDerSignature(sig)!;
      assert.ok(s <= P256_N >> 1n, "s in the lower half");
      assert.deepEqual(sig, encodeDerSignature(r, s), "the same DER bytes as the reference encoder");
      assert.deepEqual(verifyFabricSignature(publicKey, msg, sig), { ok: true });
    }
  });

  it("a signature it made verifies against the public key; the same signature on another message does not", () => {
    const checks = new SignatureChecks();
    const msg = randomBytes(64);
    const sig = checks.sign(privateKey, msg);
    assert.deepEqual(verifyFabricSignature(publicKey, msg, sig), { ok: true });
    assert.deepEqual(checks.verify(publicKey, msg, sig), { ok: true });
    assert.equal(checks.verify(publicKey, randomBytes(64), sig).ok, false);
    assert.equal(checks.verify(other.publicKey, msg, sig).ok, false);
  });

  it("a remembered signature answers only for its own key and message bytes", () => {
    const checks = new SignatureChecks();
    const msg = randomBytes(300);
    const sig = signLowS(privateKey, msg);
    assert.deepEqual(checks.verify(publicKey, msg, sig), { ok: true }); // remembered now
    const longer = Buffer.concat([msg, Buffer.from([0])]);
    assert.equal(checks.verify(publicKey, longer, sig).ok, false);
    assert.equal(checks.verify(publicKey, msg.subarray(1), sig).ok, false);
    assert.equal(checks.verify(other.publicKey, msg, sig).ok, false);
    // the caller reusing its buffer does not change what was remembered
    const reused = randomBytes(200);
    const sig2 = checks.sign(privateKey, reused);
    reused[5]! ^= 1;
    assert.equal(checks.verify(publicKey, reused, sig2).ok, false);
  });

  it("stays bounded", () => {
    const checks = new SignatureChecks(10);
    const msgs = Array.from({ length: 30 }, () => randomBytes(32));
    const sigs = msgs.map((m) => checks.sign(privateKey, m));
    msgs.forEach((m, i) => assert.deepEqual(checks.verify(publicKey, m, sigs[i]!), { ok: true }));
  });
});
