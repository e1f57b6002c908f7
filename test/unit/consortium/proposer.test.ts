import assert from "node:assert/strict";
import { makeValidatorSet } from "../../../proofs/consortium/validators.ts";
import { ProposerSchedule } from "../../../chains/consortium/consensus/proposer.ts";
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

  it("refuses stakes that would need an unbounded schedule", () => {
    assert.throws(() => new ProposerSchedule(set([1n, 10n ** 9n, 1n, 1n])), /period/);
  });
});
