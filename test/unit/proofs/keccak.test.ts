import assert from "node:assert/strict";
import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { keccak256 } from "../../../proofs/keccak.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("proofs/keccak: the fast keccak-256 agrees with @noble/hashes", function () {
  it("on the known empty-input digest and every length around the 136-byte rate", function () {
    assert.equal(hex(keccak256(new Uint8Array(0))), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    for (let n = 0; n <= 3 * 136 + 1; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      assert.equal(hex(keccak256(data)), hex(keccak_256(data)), `length ${n}`);
    }
  });

  it("on random inputs, including views into larger buffers", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(16), (bytes, offset) => {
        const big = new Uint8Array(bytes.length + offset + 3);
        big.set(bytes, offset);
        const view = big.subarray(offset, offset + bytes.length);
        return hex(keccak256(view)) === hex(keccak_256(bytes)) && hex(keccak256(bytes)) === hex(keccak_256(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses what is not bytes instead of hashing its string form", function () {
    assert.throws(() => keccak256("00" as unknown as Uint8Array), /expected Uint8Array/);
  });
});
