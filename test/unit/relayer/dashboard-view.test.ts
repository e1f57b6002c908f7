import assert from "node:assert/strict";
import { FinalStates, SwapStates } from "../../../relayer/core/swap.ts";

/** The dashboard's formatting module is browser JavaScript (no types, no build step); load it as the page does. */
const view = await import(new URL("../../../relayer/api/dashboard/view.js", import.meta.url).href);

describe("dashboard formatting (relayer/api/dashboard/view.js)", () => {
  it("base units → whole units with the asset's decimals, grouped, never rounded", () => {
    const cases: [string, number, string][] = [
      ["0", 2, "0"],
      ["5", 2, "0.05"],
      ["1250", 2, "12.5"],
      ["10000000000", 2, "100,000,000"],
      ["1", 18, "0.000000000000000001"],
      ["9999999736829449112524", 18, "9,999.999736829449112524"],
      ["123", 0, "123"],
      ["-150", 2, "-1.5"],
    ];
    for (const [units, decimals, want] of cases) assert.equal(view.formatUnits(units, decimals), want, `${units} @ ${decimals}`);
  });

  it("time left in chain seconds, and a passed deadline says so", () => {
    assert.equal(view.formatSecondsLeft(0), "0s left");
    assert.equal(view.formatSecondsLeft(59), "59s left");
    assert.equal(view.formatSecondsLeft(900), "15m 0s left");
    assert.equal(view.formatSecondsLeft(7300), "2h 1m left");
    assert.equal(view.formatSecondsLeft(90_000), "1d 1h left");
    assert.equal(view.formatSecondsLeft(-5), "passed 5s ago");
  });

  it("seconds left come from the chain's time as the relayer reported it, not from a clock", () => {
    const chains = new Map([["evm", { chainTime: 1_000 }], ["fabric", { chainTime: null }]]);
    assert.equal(view.secondsLeft({ chain: "evm", time: 1_600 }, chains), 600);
    assert.equal(view.secondsLeft({ chain: "fabric", time: 1_600 }, chains), null, "no head yet");
    assert.equal(view.secondsLeft({ chain: "nope", time: 1_600 }, chains), null);
  });

  it("every swap state has a phase label", () => {
    for (const s of SwapStates) assert.equal(typeof view.PHASES[s], "string", s);
    assert.deepEqual([...view.FINAL_STATES].sort(), [...FinalStates].sort(), "the page knows which states are final");
  });
});
