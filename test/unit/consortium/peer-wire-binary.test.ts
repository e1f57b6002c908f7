import assert from "node:assert/strict";
import { type ConsensusMessage, decodeWire, encodeMessage, encodeWire, MAX_TXS_PER_MESSAGE } from "../../../chains/consortium/consensus/messages.ts";

describe("consortium peer wire: binary tx messages", () => {
  const tx = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
  const txsMsg: ConsensusMessage = { type: "txs", txs: [tx(513, 1), tx(1, 2), tx(4096, 3)] };
  const proposalTxs: ConsensusMessage = { type: "proposal-txs", height: 2 ** 40 + 3, round: 7, txs: [tx(300, 4)] };

  it("round-trips txs and proposal-txs as plain, owned Uint8Arrays (also from a Buffer inside a larger one)", () => {
    for (const m of [txsMsg, proposalTxs]) {
      const wire = encodeWire(m);
      assert.notEqual(wire[0], "{".charCodeAt(0));
      const pooled = Buffer.concat([Buffer.from("junk"), wire]).subarray(4);
      const back = decodeWire(pooled)!;
      assert.deepEqual(back, m);
      for (const t of (back as { txs: readonly Uint8Array[] }).txs) assert.equal(Object.getPrototypeOf(t), Uint8Array.prototype);
      pooled.fill(0);
      assert.deepEqual(back, m, "decoded txs do not alias the payload");
    }
  });

  it("is much smaller than the JSON form", () => {
    assert.ok(encodeWire(txsMsg).length < Buffer.byteLength(encodeMessage(txsMsg)) / 1.9);
  });

  it("still reads the JSON form of every message, tx messages included", () => {
    const vote: ConsensusMessage = { type: "vote", voteType: 1, height: 3, round: 0, blockHash: `0x${"11".repeat(32)}`, timeMs: 0, signature: `0x${"22".repeat(64)}1b` };
    assert.deepEqual(decodeWire(encodeWire(vote)), vote);
    assert.deepEqual(decodeWire(Buffer.from(encodeMessage(txsMsg))), txsMsg);
    assert.deepEqual(decodeWire(Buffer.from(encodeMessage(proposalTxs))), proposalTxs);
  });

  it("drops truncated, padded, empty, oversized or mis-headed binary messages", () => {
    const wire = encodeWire(txsMsg);
    for (const cut of [1, 3, 5, 9, 520, wire.length - 1]) assert.equal(decodeWire(wire.subarray(0, cut)), undefined, `cut at ${cut}`);
    assert.equal(decodeWire(Buffer.concat([wire, Buffer.of(0)])), undefined, "trailing byte");
    const empty = Buffer.from(wire.subarray(0, 5));
    empty.writeUInt32BE(0, 1);
    assert.equal(decodeWire(empty), undefined, "no txs");
    const many = encodeWire({ type: "txs", txs: Array.from({ length: MAX_TXS_PER_MESSAGE + 1 }, () => tx(2, 0)) });
    assert.equal(decodeWire(many), undefined, "over MAX_TXS_PER_MESSAGE");
    const lying = Buffer.from(wire);
    lying.writeUInt32BE(0xffffffff, 5);
    assert.equal(decodeWire(lying), undefined, "length past the end");
    const badHeight = encodeWire(proposalTxs);
    badHeight.writeDoubleBE(1.5, 1);
    assert.equal(decodeWire(badHeight), undefined, "non-integer height");
    badHeight.writeDoubleBE(0, 1);
    assert.equal(decodeWire(badHeight), undefined, "height 0");
    assert.equal(decodeWire(new Uint8Array(0)), undefined);
  });
});
