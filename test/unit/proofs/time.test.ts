import assert from "node:assert/strict";
import { weightedMedianTime } from "../../../proofs/consortium/time.ts";

describe("proofs/consortium/time: stake-weighted median of precommit times", () => {
  const v = (timeMs: number, stake = 100n) => ({ timeMs, stake });

  it("is the time where the cumulative stake passes half, whatever the order", () => {
    assert.equal(weightedMedianTime([v(30), v(10), v(20)]), 20);
    assert.equal(weightedMedianTime([v(10), v(20), v(30), v(40)]), 30, "an even split takes the first time past half");
    assert.equal(weightedMedianTime([v(10, 1n), v(20, 1n), v(99, 5n)]), 99, "stake, not headcount");
  });

  it("cannot be moved past the honest range by less than half of the signed stake", () => {
    // 3 honest at ~1000, one faulty far ahead or behind: the median stays honest.
    assert.equal(weightedMedianTime([v(1000), v(1001), v(1002), v(9_999_999)]), 1002);
    assert.equal(weightedMedianTime([v(1000), v(1001), v(1002), v(0)]), 1001);
  });

  it("throws on misuse (no votes)", () => assert.throws(() => weightedMedianTime([]), RangeError));
});
