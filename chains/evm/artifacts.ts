/**
 * Compiled contracts from Hardhat's `artifacts/` directory (written by `npm run compile`).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { InterfaceAbi } from "ethers";
import { IsthmusError } from "../errors.ts";
import type { Hex } from "../ledger.ts";

export interface ContractArtifact {
  readonly contractName: string;
  /** Source path as Hardhat names it, e.g. "contracts/HTLC.sol". */
  readonly sourceName: string;
  readonly abi: InterfaceAbi;
  /** Creation code. */
  readonly bytecode: Hex;
  /** Runtime code, as eth_getCode returns it for a deployed instance (no immutables here). */
  readonly deployedBytecode: Hex;
}

/** Error code when an artifact is missing or unreadable. */
export const ARTIFACT_MISSING = "EVM_ARTIFACT_MISSING";

export const DEFAULT_ARTIFACTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../artifacts");

const cache = new Map<string, ContractArtifact>();

/**
 * Loads `<artifactsDir>/<sourceName>/<contractName>.json`.
 * `sourceName` defaults to `contracts/<contractName>.sol`; test contracts live under
 * `contracts/test/`.
 */
export function loadArtifact(
  contractName: string,
  opts: { readonly sourceName?: string; readonly artifactsDir?: string } = {},
): ContractArtifact {
  const sourceName = opts.sourceName ?? `contracts/${contractName}.sol`;
  const file = path.join(opts.artifactsDir ?? DEFAULT_ARTIFACTS_DIR, sourceName, `${contractName}.json`);
  const cached = cache.get(file);
  if (cached) return cached;

  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    throw new IsthmusError(
      ARTIFACT_MISSING,
      `no compiled artifact for ${contractName} at ${file}: run \`npm run compile\` first`,
      { contractName, file },
      { cause: err },
    );
  }
  let json: Partial<ContractArtifact>;
  try {
    json = JSON.parse(raw) as Partial<ContractArtifact>;
  } catch (err) {
    throw new IsthmusError(ARTIFACT_MISSING, `artifact ${file} is not valid JSON: run \`npm run compile\` again`, { contractName, file }, { cause: err });
  }
  if (!Array.isArray(json.abi) || typeof json.bytecode !== "string" || typeof json.deployedBytecode !== "string") {
    throw new IsthmusError(ARTIFACT_MISSING, `artifact ${file} is incomplete: run \`npm run compile\` again`, { contractName, file });
  }
  const artifact: ContractArtifact = {
    contractName,
    sourceName,
    abi: json.abi,
    bytecode: json.bytecode as Hex,
    deployedBytecode: json.deployedBytecode as Hex,
  };
  cache.set(file, artifact);
  return artifact;
}
