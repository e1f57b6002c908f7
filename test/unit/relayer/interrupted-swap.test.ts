/**
 * What `isthmus swap` says when interrupted (Ctrl-C): read from the swap's record, which the
 * SDK writes before it sends the lock, so a lock in flight is never reported as "nothing".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { interruptedSwap } from "../../../relayer/cli/interrupted.ts";

describe("isthmus swap interrupted: what the user is told", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-interrupted-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const userLock = { chain: "evm", lockId: `0x${"ab".repeat(32)}`, timelock: 1_900_000_000 };
  const record = (phase: string, withLock: boolean) => {
    const secretFile = join(dir, `${phase}.json`);
    writeFileSync(secretFile, JSON.stringify({ swapId: phase, phase, ...(withLock ? { userLock } : {}) }));
    return { swapId: phase, secretFile };
  };

  it("before the swap is registered: nothing was locked", () => {
    assert.equal(interruptedSwap(null), "nothing was locked");
  });

  it("registered, no lock yet: nothing was locked, naming the swap", () => {
    assert.match(interruptedSwap(record("created", false)), /^swap created was registered but nothing was locked$/);
  });

  it("while the lock is being sent (phase locking): the lock may have been sent, with its id and how to finish", () => {
    const m = interruptedSwap(record("locking", true));
    assert.match(m, /may have been sent/);
    assert.ok(m.includes(userLock.lockId) && m.includes("npx isthmus recover") && m.includes(String(userLock.timelock)), m);
    assert.doesNotMatch(m, /nothing was locked/);
  });

  it("after the lock was sent: it stays locked, with its id, the secret's file and how to finish", () => {
    const r = record("locked", true);
    const m = interruptedSwap(r);
    assert.match(m, /stays locked/);
    assert.ok(m.includes(userLock.lockId) && m.includes(r.secretFile) && m.includes("npx isthmus recover"), m);
  });

  it("a record that cannot be read: unknown, so recover is advised rather than 'nothing'", () => {
    const m = interruptedSwap({ swapId: "gone", secretFile: join(dir, "missing.json") });
    assert.match(m, /unknown: run npx isthmus recover/);
  });
});
