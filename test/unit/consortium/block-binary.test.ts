import assert from "node:assert/strict";
import { decodeBlockBinary, decodeCommittedBinary, encodeBlockBinary, encodeCommittedBinary } from "../../../chains/consortium/block-binary.ts";
import { alice, bob, commitBlock, openChain, testGenesis, tx } from "./helpers.ts";

describe("consortium blocks as bytes (store rows)", () => {
  function sampleChain() {
    const genesis = testGenesis();
    const chain = openChain(genesis);
    commitBlock(chain, [tx(alice, 0, { kind: "transfer", to: bob.address, asset: "KRW", amount: 5n }), tx(alice, 1, { kind: "transfer", to: bob.address, asset: "KRW", amount: 10n ** 30n })], genesis.timeMs + 1000);
    commitBlock(chain, [tx(alice, 2, { kind: "transfer", to: bob.address, asset: "KRW", amount: 1n })], genesis.timeMs + 2000);
    return chain;
  }

  it("round-trips committed blocks (txs, outcomes with and without events, commits) as plain Uint8Arrays", () => {
    const chain = sampleChain();
    for (const h of [1, 2]) {
      const block = chain.block(h)!;
      const bytes = encodeCommittedBinary(block);
      const back = decodeCommittedBinary(bytes);
      assert.ok(back.ok, back.ok ? "" : back.reason);
      assert.deepEqual(back.block, block);
      for (const t of back.block.txs) assert.equal(Object.getPrototypeOf(t), Uint8Array.prototype);
      // Owned copies: changing the row buffer does not change the decoded block.
      bytes.fill(0);
      assert.deepEqual(back.block, block);
    }
    assert.ok(chain.block(1)!.outcomes.some((o) => o.events.length === 0), "a failed transfer has no events");
  });

  it("round-trips a proposed block", () => {
    const block = sampleChain().block(2)!;
    const plain = { header: block.header, txs: block.txs, lastCommit: block.lastCommit };
    const back = decodeBlockBinary(encodeBlockBinary(plain));
    assert.ok(back.ok);
    assert.deepEqual(back.block, plain);
    assert.equal(decodeCommittedBinary(encodeBlockBinary(plain)).ok, false, "kinds are not confused");
  });

  it("gives a reason for truncated, extended, oversized-count or tampered bytes", () => {
    const block = sampleChain().block(2)!;
    const bytes = encodeCommittedBinary(block);
    for (const cut of [0, 1, 5, 40, bytes.length - 1]) {
      const r = decodeCommittedBinary(bytes.subarray(0, cut));
      assert.equal(r.ok, false, `cut at ${cut}`);
    }
    assert.match((decodeCommittedBinary(Buffer.concat([bytes, Buffer.of(0)])) as { reason: string }).reason, /trailing/);
    const metaLen = bytes.readUInt32BE(1);
    const huge = Buffer.from(bytes);
    huge.writeUInt32BE(0xffffffff, 1 + 4 + metaLen);
    assert.match((decodeCommittedBinary(huge) as { reason: string }).reason, /exceeds/);
    const badHeader = Buffer.from(bytes);
    const json = badHeader.subarray(5, 5 + metaLen).toString("utf8").replace(/"height":\d+/, '"height":"x"');
    const rebuilt = Buffer.concat([badHeader.subarray(0, 1), Buffer.from(Uint32Array.of(0).buffer).fill(0), Buffer.from(json), badHeader.subarray(5 + metaLen)]);
    rebuilt.writeUInt32BE(Buffer.byteLength(json), 1);
    assert.equal(decodeCommittedBinary(rebuilt).ok, false, "header rules apply to binary rows");
  });

  it("refuses a committed block whose outcomes do not match its txs one to one", () => {
    const block = sampleChain().block(1)!;
    for (const outcomes of [block.outcomes.slice(1), [...block.outcomes, block.outcomes[0]!]]) {
      const r = decodeCommittedBinary(encodeCommittedBinary({ ...block, outcomes }));
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, /outcomes for 2 txs/);
    }
  });
});
