/**
 * relayer/core/evidence.ts: a proof bundle counts as evidence only if it verifies offline
 * and proves exactly the lock the relayer's decision used.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { HtlcLock } from "../../../chains/ledger.ts";
import { verifyProofBundle } from "../../../proofs/bundle.ts";
import { checkEvidence } from "../../../relayer/core/evidence.ts";

const read = (f: string) => JSON.parse(readFileSync(`test/vectors/fabric/${f}`, "utf8"));

describe("relayer evidence: proof bundle vs the lock acted on", function () {
  const locked = read("bundle-locked.json");
  const claimed = read("bundle-claimed.json");
  it("accepts the bundle that proves the very lock, refuses any other field or status", () => {
    const v = verifyProofBundle(locked);
    assert.ok(v.ok && v.lock);
    const lock: HtlcLock = { chain: "fabric", lockId: v.lockId, sender: v.lock.sender, receiver: v.lock.receiver, asset: "KRW", amount: BigInt(v.lock.amount), hashlock: v.lock.hashlock, timelock: Number(v.lock.timelock), status: "locked" };
    assert.deepEqual(checkEvidence(locked, lock), { ok: true });
    const c = verifyProofBundle(claimed);
    assert.ok(c.ok && c.lock?.preimage);
    assert.deepEqual(checkEvidence(claimed, { ...lock, status: "claimed", preimage: c.lock.preimage }), { ok: true });
    const no = (b: unknown, l: HtlcLock, why: RegExp) => {
      const r = checkEvidence(b as never, l);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, why);
    };
    no(locked, { ...lock, amount: lock.amount + 1n }, /amount 12345, the verified read has 12346/);
    no(locked, { ...lock, receiver: `0x${"00".repeat(20)}` }, /receiver/);
    no(locked, { ...lock, timelock: lock.timelock + 1 }, /timelock/);
    no(claimed, lock, /status claimed, the verified read has locked/);
    no({ ...locked, txIndex: 2 }, lock, /proof bundle does not verify: txIndex 2/);
  });
});
