/**
 * Regression (review of the state read cache, chains/fabric/store.ts): the cache is keyed by
 * the JS string while SQLite is keyed by Buffer.from(key, "utf8"). Ill-formed strings (a lone
 * surrogate, which google-protobuf's lax UTF-8 decoder yields for the bytes ED A0 80 in a
 * chaincode's GET_STATE key) alias a well-formed key's row, so a write through one spelling
 * leaves the other's cache entry stale.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerStore } from "../../../chains/fabric/store.ts";

describe("LedgerStore state cache: keys that are one SQLite row", () => {
  it("a read through an aliasing spelling of a key sees the latest committed version", () => {
    const dir = mkdtempSync(join(tmpdir(), "isthmus-alias-"));
    const file = join(dir, "l.sqlite");
    const s = new LedgerStore(file);
    const put = (key: string, value: string, blockNum: number) => ({ ns: "cc", key, isDelete: false, value: Buffer.from(value), version: { blockNum, txNum: 0 } });
    try {
      s.commitBlock(0, Buffer.from("b0"), [], [put("k\uFFFD", "one", 0)]);
      assert.equal(s.getState("cc", "k\uD800")?.value.toString(), "one"); // same row, now cached under the alias
      s.commitBlock(1, Buffer.from("b1"), [], [put("k\uFFFD", "two", 1)]);
      const other = new LedgerStore(file);
      try {
        assert.deepEqual(s.getState("cc", "k\uD800")?.version, other.getState("cc", "k\uD800")?.version, "the cache answers what SQLite holds");
      } finally {
        other.close();
      }
    } finally {
      s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
