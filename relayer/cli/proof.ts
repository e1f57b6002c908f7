/**
 * `isthmus proof verify <bundle.json> [--trust <anchor.json>]`: verifies a proof bundle
 * (proofs/bundle.ts) offline and prints what it proves; a bundle that does not verify is a
 * VerificationError naming the reason (exit code 1).
 */
import { readFileSync } from "node:fs";
import { InvalidInputError, VerificationError } from "../../chains/errors.ts";
import { verifyProofBundle } from "../../proofs/bundle.ts";
import { parseFlags } from "./args.ts";

export const PROOF_USAGE = `  proof verify <bundle.json> [--trust <anchor.json>]
      verify a lock's proof bundle offline; prints what it proves or why it fails`;

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidInputError(what, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(what, `${file} is not JSON: ${(err as Error).message}`);
  }
}

export async function proofCommand(argv: string[], print: (v: unknown) => void): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== "verify") throw new InvalidInputError("proof", "usage: isthmus proof verify <bundle.json> [--trust <anchor.json>]");
  const { values, positionals } = parseFlags(rest, { trust: { type: "string" } }, "proof verify");
  if (positionals.length !== 1) throw new InvalidInputError("proof verify", "expects exactly one bundle file");
  const file = positionals[0]!;
  const bundle = readJson(file, "bundle");
  const anchor = values.trust === undefined ? undefined : readJson(values.trust, "--trust");
  const r = verifyProofBundle(bundle, anchor);
  const chain = typeof (bundle as { chain?: unknown })?.chain === "string" ? (bundle as { chain: string }).chain : "bundle";
  if (!r.ok) throw new VerificationError(chain, `proof bundle ${file} does not verify: ${r.reason}`, { file });
  const network = r.kind === "fabric-lock" ? `channel ${r.chainId}` : `chain id ${r.chainId}`;
  const what = r.lock ? `lock ${r.lockId} is ${r.lock.status} on ${r.chain} (${network}) at height ${r.height}` : `no lock ${r.lockId} exists on ${r.chain} (${network}) at height ${r.height}`;
  print({ proves: what, ...r });
}
