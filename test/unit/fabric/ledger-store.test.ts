/**
 * LedgerStore durability (chains/fabric/store.ts): a committed block counts as durable only
 * after a flush (WAL fsync) that started after its commit; flushes resolve in call order and
 * one covers every block committed before it ran; a reopened store treats what it finds as
 * durable (it syncs it first). State reads (cached after the first) answer what SQLite holds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerStore } from "../../../chains/fabric/store.ts";

describe("LedgerStore: blocks are durable after a flush", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-ledger-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const commit = (s: LedgerStore, n: number) =>
    s.commitBlock(n, Buffer.from(`block ${n}`), [{ txId: `tx${n}`, blockNum: n, txNum: 0, code: 0 }], [
      { ns: "cc", key: `k${n}`, isDelete: false, value: Buffer.from(`v${n}`), version: { blockNum: n, txNum: 0 } },
    ]);

  it("commits are visible at once, durable after the flush that follows them", async () => {
    const s = new LedgerStore(join(dir, "l.sqlite"));
    try {
      assert.equal(s.durableHeight, 0);
      commit(s, 0);
      assert.equal(s.height, 1);
      assert.equal(s.durableHeight, 0, "not durable before a flush");
      assert.equal(s.getState("cc", "k0")!.value.toString(), "v0", "the committer sees it");
      const first = s.flush();
      commit(s, 1); // committed while the first flush is queued
      const second = s.flush();
      const order: number[] = [];
      await Promise.all([first.then(() => order.push(s.durableHeight)), second.then(() => order.push(s.durableHeight))]);
      assert.deepEqual(order, [2, 2], "in call order; the first flush already covered block 1");
      commit(s, 2);
      assert.equal(s.durableHeight, 2);
      await s.flush();
      assert.equal(s.durableHeight, 3);
    } finally {
      s.close();
    }
  });

  it("a reopened store reports what it holds as durable", async () => {
    const file = join(dir, "l.sqlite");
    const a = new LedgerStore(file);
    commit(a, 0);
    commit(a, 1);
    a.close(); // never flushed by us: SQLite's close checkpoints it
    const b = new LedgerStore(file);
    try {
      assert.equal(b.height, 2);
      assert.equal(b.durableHeight, 2);
      assert.equal(b.getTx("tx1")!.blockNum, 1);
    } finally {
      b.close();
    }
  });

  it("state reads answer what SQLite holds, through writes, overwrites in one block, deletes and a failed commit", () => {
    const file = join(dir, "l.sqlite");
    const s = new LedgerStore(file);
    const fresh = () => new LedgerStore(file); // a store with nothing cached reads SQLite itself
    const agree = (key: string) => {
      const other = fresh();
      try {
        const a = s.getState("cc", key);
        const b = other.getState("cc", key);
        assert.deepEqual(a && { v: a.value.toString(), ver: a.version }, b && { v: b.value.toString(), ver: b.version }, key);
        return a;
      } finally {
        other.close();
      }
    };
    const put = (key: string, value: string, blockNum: number, txNum: number) => ({ ns: "cc", key, isDelete: false, value: Buffer.from(value), version: { blockNum, txNum } });
    try {
      assert.equal(agree("k"), null, "missing (and now remembered as missing)");
      s.commitBlock(0, Buffer.from("b0"), [], [put("k", "one", 0, 0)]);
      assert.equal(agree("k")!.value.toString(), "one");
      const written = Buffer.from("two");
      s.commitBlock(1, Buffer.from("b1"), [], [put("k", "x", 1, 0), { ...put("k", "", 1, 1), value: written }]);
      written.write("zzz"); // the caller's buffer changing later changes nothing stored
      assert.deepEqual(agree("k")!.version, { blockNum: 1, txNum: 1 }, "the last write of the block wins");
      assert.equal(agree("k")!.value.toString(), "two");
      s.commitBlock(2, Buffer.from("b2"), [], [{ ns: "cc", key: "k", isDelete: true, value: new Uint8Array(), version: { blockNum: 2, txNum: 0 } }]);
      assert.equal(agree("k"), null, "deleted");
      assert.throws(() => s.commitBlock(2, Buffer.from("again"), [], [put("k", "ghost", 2, 0)]), /not the next block/);
      // the second row cannot be bound: SQLite rolls back the block, including the first row
      const unbindable = { ...put("j", "bad", 3, 1), version: { blockNum: {} as never, txNum: 1 } };
      assert.throws(() => s.commitBlock(3, Buffer.from("b3"), [], [put("k", "ghost", 3, 0), unbindable]), RangeError);
      assert.equal(s.height, 3);
      assert.equal(agree("k"), null, "a refused or failed commit changes nothing");
    } finally {
      s.close();
    }
  });
});
