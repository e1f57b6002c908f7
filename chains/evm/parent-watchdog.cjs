// Preloaded (node --require) into the `hardhat node` child that startHardhatNode spawns.
// The parent holds the write end of our stdin pipe; the kernel closes it however the parent
// ends (exit, crash, SIGKILL), so EOF here means "orphaned": exit instead of lingering.
"use strict";
const exit = () => process.exit(0);
process.stdin.on("end", exit);
process.stdin.on("close", exit);
process.stdin.on("error", exit);
process.stdin.resume();
