/**
 * Process entry point of one consortium node: `node --import tsx chains/consortium/node/main.ts
 * --home <dir> …` (what the devnet spawns; `isthmus node` is the same through the CLI).
 */
import { errorMessage, IsthmusError } from "../../errors.ts";
import { runNodeCommand } from "./cli.ts";

try {
  await runNodeCommand(process.argv.slice(2));
  process.exit(0);
} catch (err) {
  const code = err instanceof IsthmusError ? ` [${err.code}]` : "";
  process.stderr.write(JSON.stringify({ level: "error", msg: `isthmus node: ${errorMessage(err)}${code}` }) + "\n");
  process.exit(1);
}
