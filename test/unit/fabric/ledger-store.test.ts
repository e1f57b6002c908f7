/**
 * LedgerStore durability (chains/fabric/store.ts): a committed block counts as durable only
 * after a flush (WAL fsync) that started after its commit; flushes resolve in call order and
 * one covers every block committed before it ran; a reopened store treats what it finds as
 * durable (it syncs it first).
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
});
