#!/usr/bin/env node
// The `isthmus` command. The project runs TypeScript through tsx, so register it, then
// hand over to the CLI.
import { createRequire } from "node:module";
import { register } from "tsx/esm/api";

// A parent that spawns us with ISTHMUS_PARENT_WATCHDOG=1 holds our stdin: exit when it dies,
// however it dies (tests and benches must not leave daemons behind).
if (process.env.ISTHMUS_PARENT_WATCHDOG === "1") createRequire(import.meta.url)("../chains/evm/parent-watchdog.cjs");

register();
await import("../relayer/cli/main.ts");
