import assert from "node:assert/strict";
import { AbiCoder, getBytes, hexlify } from "ethers";
import { abiDecode, abiEncode, type AbiType } from "../../../proofs/abi.ts";

const coder = AbiCoder.defaultAbiCoder();
const addr = "0x00000000000000000000000000000000000000a1";
const word = `0x${"ab".repeat(32)}`;

const cases: { name: string; types: AbiType[]; values: unknown[] }[] = [
  { name: "static words", types: ["bytes32", "uint256", "uint64", "uint32", "uint8", "bool", "address"], values: [word, 2n ** 255n, 2n ** 64n - 1n, 7n, 255n, true, addr] },
  { name: "a lock id preimage (dynamic string in the middle)", types: ["address", "address", "string", "uint256", "bytes32", "uint64"], values: [addr, addr, "KRW", 12345n, word, 1_700_000_000n] },
  { name: "two dynamic values, one empty", types: ["string", "bytes", "uint8"], values: ["", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33]), 1n] },
  { name: "non-ASCII string", types: ["string"], values: ["원화 ₩"] },
];

describe("proofs/abi: the local abi.encode subset", () => {
  for (const c of cases) {
    it(`encodes ${c.name} exactly like ethers' AbiCoder and decodes it back`, () => {
      const ours = abiEncode(c.types, c.values as never);
      const theirs = coder.encode(c.types, c.values.map((v) => (v instanceof Uint8Array ? hexlify(v) : v)));
      assert.equal(hexlify(ours), theirs);
      const decoded = abiDecode(c.types, ours);
      assert.ok(decoded.ok);
      assert.deepEqual(
        decoded.values.map((v) => (v instanceof Uint8Array ? hexlify(v) : v)),
        c.values.map((v) => (v instanceof Uint8Array ? hexlify(v) : typeof v === "string" && v.startsWith("0x") ? v.toLowerCase() : v)),
      );
    });
  }

  describe("decoding accepts only the canonical encoding", () => {
    const types: AbiType[] = ["address", "string", "uint8"];
    const good = getBytes(coder.encode(types, [addr, "KRW", 5]));
    const mutate = (f: (b: Uint8Array) => void) => {
      const b = good.slice();
      f(b);
      return b;
    };
    const rejects = (bytes: Uint8Array, reason: RegExp) => {
      const r = abiDecode(types, bytes);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    };

    it("rejects dirty high bytes in an address", () => rejects(mutate((b) => (b[0] = 1)), /address/));
    it("rejects a uint8 above 255", () => rejects(mutate((b) => (b[64 + 30] = 1)), /out of range/));
    it("rejects a non-canonical string offset", () => rejects(mutate((b) => (b[63] = 0x80)), /offset|length|canonical/));
    it("rejects non-zero padding after the string", () => rejects(mutate((b) => (b[b.length - 1] = 1)), /canonical/));
    it("rejects trailing bytes", () => rejects(Uint8Array.from([...good, ...new Uint8Array(32)]), /canonical/));
    it("rejects truncation", () => rejects(good.subarray(0, good.length - 32), /bounds|short/));
    it("rejects invalid UTF-8", () => {
      const bad = getBytes(coder.encode(["address", "bytes", "uint8"], [addr, "0xff", 5]));
      rejects(bad, /UTF-8/);
    });
  });

  it("encodes and decodes integers of every byte length like ethers, from bigint and number inputs", () => {
    const values: bigint[] = [0n, 1n];
    for (let bits = 7; bits < 256; bits += 8) values.push((1n << BigInt(bits)) - 3n, 1n << BigInt(bits), (1n << BigInt(bits + 1)) - 1n);
    values.push(BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n, (1n << 256n) - 1n);
    for (const v of values) {
      const expected = coder.encode(["uint256", "string"], [v, "x"]);
      assert.equal(hexlify(abiEncode(["uint256", "string"], [v, "x"])), expected, `${v}`);
      if (v <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(hexlify(abiEncode(["uint256", "string"], [Number(v), "x"])), expected, `${v} as a number`);
      const back = abiDecode(["uint256", "string"], getBytes(expected));
      assert.ok(back.ok);
      assert.equal(back.values[0], v);
    }
    assert.throws(() => abiEncode(["uint32"], [2 ** 32]), RangeError);
    assert.throws(() => abiEncode(["uint64"], [-1]), RangeError);
    assert.throws(() => abiEncode(["uint64"], [1.5]), RangeError);
    assert.equal(hexlify(abiEncode(["uint32"], [2 ** 32 - 1])), coder.encode(["uint32"], [2 ** 32 - 1]));
  });

  it("accepts exactly the canonical encodings: whatever it accepts re-encodes to the same bytes (random mutations)", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (const c of cases) {
      const good = getBytes(coder.encode(c.types, c.values));
      for (let trial = 0; trial < 400; trial++) {
        let data = Uint8Array.from(good);
        const kind = rand(4);
        if (kind === 0) data[rand(data.length)] ^= 1 << rand(8);
        else if (kind === 1) data[rand(data.length)] = rand(3);
        else if (kind === 2) data = data.subarray(0, rand(data.length + 1));
        else data = Uint8Array.from([...data, ...new Uint8Array(1 + rand(40))]);
        const d = abiDecode(c.types, data);
        if (!d.ok) continue;
        accepted++;
        assert.equal(hexlify(abiEncode(c.types, d.values as never)), hexlify(data), `${c.name}: accepted a non-canonical mutation`);
      }
    }
    assert.ok(accepted > 0, "some mutations (of values) stay canonical");
  });

  it("throws on misuse: a value that does not fit its type", () => {
    assert.throws(() => abiEncode(["uint8"], [256n]), RangeError);
    assert.throws(() => abiEncode(["address"], ["0x1234"]), TypeError);
    assert.throws(() => abiEncode(["uint64", "uint64"], [1n] as never), TypeError);
  });
});
