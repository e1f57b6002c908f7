import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Swap } from "../../../relayer/core/swap.ts";
import { DuplicateHashlockError, IllegalTransitionError, StoreConflictError, SwapStore } from "../../../relayer/store.ts";
import { awaiting, locking } from "./fixtures.ts";

describe("swap store (SQLite)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-store-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps swaps, amounts as exact bigints, and history across a reopen", () => {
    const file = join(dir, "relayer.db");
    const store = new SwapStore(file);
    const s = { ...awaiting(), amountIn: 123456789012345678901234567890n };
    store.insert(s, "created");
    store.update(s, { ...locking(), amountIn: s.amountIn }, "planned");
    store.close();

    const reopened = new SwapStore(file);
    const got = reopened.get(s.id)!;
    assert.equal(got.state, "relayer_locking");
    assert.equal(got.amountIn, 123456789012345678901234567890n);
    assert.deepEqual(
      reopened.history(s.id).map((h) => [h.from, h.to]),
      [
        [null, "awaiting_user_lock"],
        ["awaiting_user_lock", "relayer_locking"],
      ],
    );
    assert.deepEqual(reopened.listActive().map((x) => x.id), [s.id]);
    reopened.close();
  });

  it("refuses transitions that are not in the table", () => {
    const store = new SwapStore(":memory:");
    const s = awaiting();
    store.insert(s, "created");
    assert.throws(() => store.update(s, { ...s, state: "completed" } as unknown as Swap, "skip ahead"), IllegalTransitionError);
    assert.equal(store.get(s.id)!.state, "awaiting_user_lock");
  });

  it("refuses to overwrite a record that changed since it was read (compare-and-swap)", () => {
    const store = new SwapStore(":memory:");
    const s = awaiting();
    store.insert(s, "created");
    store.update(s, { ...s, state: "expired" }, "expired");
    assert.throws(() => store.update(s, { ...s, state: "rejected", reason: "AMOUNT_MISMATCH", detail: "", userLock: null }, "late"), StoreConflictError);
    assert.equal(store.get(s.id)!.state, "expired");
  });

  it("never accepts the same hashlock twice, so one secret cannot unlock two swaps", () => {
    const store = new SwapStore(":memory:");
    store.insert(awaiting("a".repeat(24)), "created");
    assert.throws(() => store.insert(awaiting("b".repeat(24)), "created"), DuplicateHashlockError);
  });

  it("keeps scan cursors as rows", () => {
    const store = new SwapStore(":memory:");
    assert.equal(store.getCursor("evm"), null);
    store.setCursor("evm", 5);
    store.setCursor("evm", 9);
    assert.equal(store.getCursor("evm"), 9);
  });

  it("keeps event-stream checkpoints per chain across a reopen, start-of-block ones too", () => {
    const file = join(dir, "relayer.db");
    const store = new SwapStore(file);
    assert.equal(store.getEventCheckpoint("fabric"), null);
    store.setEventCheckpoint("fabric", { block: 7, afterTxId: null });
    store.setEventCheckpoint("fabric", { block: 9, afterTxId: "ab".repeat(32) });
    store.setEventCheckpoint("other", { block: 3, afterTxId: null });
    store.close();
    const reopened = new SwapStore(file);
    assert.deepEqual(reopened.getEventCheckpoint("fabric"), { block: 9, afterTxId: "ab".repeat(32) });
    assert.deepEqual(reopened.getEventCheckpoint("other"), { block: 3, afterTxId: null });
    reopened.close();
  });
});
