import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { IsthmusError } from "../chains/errors.ts";
import type { Hex } from "../chains/ledger.ts";
import { readChains, type ChainConfig } from "./config.ts";

/**
 * What `npm start` writes for clients: service addresses, the chains in config syntax,
 * and the demo keys. Devnet keys only — they are public test keys.
 */
export interface DevnetFile {
  readonly api: string;
  /** The demo tenant's API key for the relayer's mutating endpoints. */
  readonly apiKey?: string;
  /** Chains in the relayer config's syntax, keyed to the demo user. */
  readonly chains: Record<string, unknown>;
  readonly users: Record<string, { readonly address: Hex; readonly privateKey: Hex }>;
  readonly relayer: { readonly address: Hex };
  /** The relayer's address per chain where it differs from `relayer.address` (Fabric: derived from its certificate). */
  readonly relayerOn?: Record<string, Hex>;
  readonly services: readonly { readonly name: string; readonly address: string }[];
}

export class DevnetFileError extends IsthmusError {
  override name = "DevnetFileError";
  constructor(file: string, problem: string) {
    super("DEVNET_FILE", `${file}: ${problem}`, { file });
  }
}

/** Where `npm start` keeps the devnet's state: $ISTHMUS_HOME or ./.isthmus/devnet. */
export function devnetHome(): string {
  return resolve(process.env.ISTHMUS_HOME ?? ".isthmus/devnet");
}

export function defaultDevnetFile(): string {
  return resolve(devnetHome(), "devnet.json");
}

export function writeDevnetFile(file: string, content: DevnetFile): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

export function readDevnetFile(file: string): DevnetFile & { chainConfigs: ChainConfig[] } {
  let doc: DevnetFile;
  try {
    doc = JSON.parse(readFileSync(file, "utf8")) as DevnetFile;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Run from a subfolder, the default path misses a devnet that is running: say where it is looked for.
    throw new DevnetFileError(file, code === "ENOENT" ? "not found: start the devnet first with `npm start`, and run this from the folder it was started in (or pass --devnet <file>, or set ISTHMUS_HOME)" : (err as Error).message);
  }
  if (typeof doc.api !== "string" || typeof doc.chains !== "object") throw new DevnetFileError(file, "is not an Isthmus devnet file");
  return { ...doc, chainConfigs: readChains(doc.chains, file) };
}
