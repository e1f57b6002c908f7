import assert from "node:assert/strict";
import { makeValidatorSet } from "../../../proofs/consortium/validators.ts";
import { ProposerSchedule, proposerWeights } from "../../../chains/consortium/consensus/proposer.ts";
import { validatorSigners } from "./helpers.ts";

const addresses = validatorSigners.map((s) => s.address);
const set = (stakes: bigint[]) => makeValidatorSet(stakes.map((stake, i) => ({ address: addresses[i]!, stake })));

describe("consortium proposer rotation", () => {
  it("with equal stakes, every validator proposes once per 4 heights and the next round moves to the next validator", () => {
    const s = new ProposerSchedule(set([100n, 100n, 100n, 100n]));
    assert.equal(s.schedule.length, 4);
    assert.equal(new Set(s.schedule).size, 4);
    for (let h = 1; h < 20; h++) assert.notEqual(s.proposer(h, 0), s.proposer(h, 1));
  });

  it("weights proposals by stake: 3:1:1:1 gives the heavy validator 3 turns in 6", () => {
    const s = new ProposerSchedule(set([300n, 100n, 100n, 100n]));
    assert.equal(s.schedule.length, 6);
    assert.equal(s.schedule.filter((a) => a === addresses[0]).length, 3);
  });

  it("is a pure function of (height, round): every validator computes the same proposer", () => {
    const entries = [5n, 7n, 11n, 13n].map((stake, i) => ({ address: addresses[i]!, stake }));
    const a = new ProposerSchedule(makeValidatorSet(entries));
    const b = new ProposerSchedule(makeValidatorSet([...entries].reverse()));
    for (let h = 1; h < 100; h++) assert.equal(a.proposer(h, h % 3), b.proposer(h, h % 3));
  });

  it("takes any stakes: 18-decimal amounts get turns in proportion to within 1/10 000, and a tiny stake still proposes", () => {
    const e18 = 10n ** 18n;
    const stakes = [3n * e18 + 1n, e18 + 7n, e18 - 3n, 1n];
    const s = new ProposerSchedule(set(stakes));
    assert.ok(s.schedule.length <= 10_004, `period ${s.schedule.length}`);
    const total = stakes.reduce((a, b) => a + b, 0n);
    stakes.forEach((stake, i) => {
      const turns = s.schedule.filter((a) => a === addresses[i]).length;
      assert.ok(turns >= 1, `validator ${i} never proposes`);
      const share = Number((stake * 1_000_000n) / total) / 1_000_000;
      assert.ok(Math.abs(turns / s.schedule.length - share) <= 2 / 10_000, `validator ${i}: ${turns}/${s.schedule.length} turns for a ${share} share`);
    });
  });

  it("keeps exact ratios when they fit the period: 1:10^9 would not, so it is scaled, not refused", () => {
    assert.deepEqual(proposerWeights([300n, 100n, 100n, 100n]), [3n, 1n, 1n, 1n]);
    const w = proposerWeights([1n, 10n ** 9n, 1n, 1n]);
    assert.deepEqual(w, [1n, 9_999n, 1n, 1n]); // floor(10^9 × 10^4 / (10^9 + 3)); the small ones floor to 0 and get 1
  });
});
