/**
 * Process entry point of one consortium node: `node --import tsx chains/consortium/node/main.ts
 * --home <dir> …` (what the devnet spawns; `isthmus node` is the same through the CLI).
 */
import { createRequire } from "node:module";
import { errorMessage, IsthmusError } from "../../errors.ts";
import { runNodeCommand } from "./cli.ts";

// Spawned by a parent that holds our stdin pipe (node/process.ts): exit when it goes away,
// however it dies. Loaded here rather than with `node --require`, which stalls under tsx's loader.
if (process.env.ISTHMUS_PARENT_WATCHDOG === "1") createRequire(import.meta.url)("../../evm/parent-watchdog.cjs");

try {
  await runNodeCommand(process.argv.slice(2));
  process.exit(0);
} catch (err) {
  const code = err instanceof IsthmusError ? ` [${err.code}]` : "";
  process.stderr.write(JSON.stringify({ level: "error", msg: `isthmus node: ${errorMessage(err)}${code}` }) + "\n");
  process.exit(1);
}
