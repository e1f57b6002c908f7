import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { SAME_SIGNAL_MS, untilSignal } from "../../chains/shutdown-signal.ts";

describe("untilSignal: one Ctrl-C stops cleanly, a second one exits", () => {
  it("takes the terminal's SIGINT and npm's forwarded copy as one, and exits on a later one", async () => {
    const signals = new EventEmitter();
    let t = 1_000;
    const exits: number[] = [];
    const stopped = untilSignal({ signals, exit: (code) => exits.push(code), now: () => t });
    signals.emit("SIGINT", "SIGINT");
    assert.equal(await stopped, "SIGINT");
    t += 5; // npm start / npx forward the same key press to their child
    signals.emit("SIGINT", "SIGINT");
    assert.deepEqual(exits, [], "the forwarded copy must not cut the clean stop short");
    t += SAME_SIGNAL_MS + 1; // the user presses Ctrl-C again while the stop runs
    signals.emit("SIGINT", "SIGINT");
    assert.deepEqual(exits, [130]);
  });

  it("resolves on SIGTERM too", async () => {
    const signals = new EventEmitter();
    const stopped = untilSignal({ signals, exit: () => assert.fail("no exit on the first signal") });
    signals.emit("SIGTERM", "SIGTERM");
    assert.equal(await stopped, "SIGTERM");
  });
});
