import assert from "node:assert/strict";
import { MAX_VALIDATORS } from "../../../proofs/consortium/validators.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { Driver } from "./staking-driver.ts";
import { alice } from "./helpers.ts";

describe("consortium validator set size limit", () => {
  it("a bond that would make the set larger than the light client accepts (256) is refused; members may still add stake", function () {
    this.timeout(120_000);
    const d = new Driver();
    const start = d.chain.validatorSetAt(1).validators.length;
    const joiners = Array.from({ length: MAX_VALIDATORS - start + 1 }, (_, i) => Signer.fromPrivateKey(derivePrivateKey("test/sybil", i)));
    const funded = d.block(joiners.map((s) => [alice, { kind: "transfer", to: s.address, asset: "ISTH", amount: 60n }]));
    assert.ok(funded.codes.every((c) => c === ""), funded.codes.join(","));
    // Each joiner bonds the minimum (50): the first MAX_VALIDATORS - start fill the set, the last would be member 257.
    const { codes } = d.block(joiners.map((s) => [s, { kind: "bond", amount: 50n }]));
    assert.deepEqual(codes.slice(0, -1), joiners.slice(0, -1).map(() => ""));
    assert.equal(codes.at(-1), "TOO_MANY_VALIDATORS");
    const height = d.chain.height;
    assert.equal(d.chain.validatorSetAt(height + 2).validators.length, MAX_VALIDATORS);
    // A member topping up its stake does not grow the set.
    const topUp = d.block([[joiners[0]!, { kind: "bond", amount: 5n }]]);
    assert.deepEqual(topUp.codes, [""]);
  });
});
