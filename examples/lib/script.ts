/**
 * What every example shares: where the devnet file and the dApp's swap store are, and
 * running `main` when the file is executed directly (npx tsx examples/<name>.ts).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { defaultDevnetFile } from "../../sdk/index.ts";

export interface ExampleOptions {
  /** Default: $ISTHMUS_HOME/devnet.json or .isthmus/devnet/devnet.json (what `npm start` writes). */
  readonly devnetFile?: string;
  /** The dApp's swap store; default $ISTHMUS_DAPP_STORE or .isthmus/dapp-swaps. */
  readonly storeDir?: string;
}

export function resolveOptions(o: ExampleOptions): { devnetFile: string; storeDir: string } {
  return {
    devnetFile: o.devnetFile ?? defaultDevnetFile(),
    storeDir: o.storeDir ?? resolve(process.env.ISTHMUS_DAPP_STORE ?? ".isthmus/dapp-swaps"),
  };
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2);

/** Run `main` if `moduleUrl` is the script node was started with; print its result, or the error and exit 1. */
export function runIfMain(moduleUrl: string, main: () => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  main().then(
    (out) => {
      process.stdout.write(json(out) + "\n");
      process.exit(0);
    },
    (err: unknown) => {
      const e = err as { name?: string; message?: string; code?: string };
      process.stderr.write(`${e.name ?? "Error"}${e.code ? ` [${e.code}]` : ""}: ${e.message ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
