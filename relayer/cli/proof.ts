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

/**
 * `GET /swaps/{id}/proofs` answers `{swap, proofs: [{seq, role, ..., bundle}]}`: saving that
 * answer (or one entry of it) is the obvious first try, so name the jq that takes a bundle out
 * instead of failing on the bundle's missing version.
 */
function refuseWrapped(doc: unknown, file: string): void {
  if (typeof doc !== "object" || doc === null || "version" in doc) return;
  const o = doc as Record<string, unknown>;
  if (Array.isArray(o.proofs)) {
    const roles = o.proofs.map((p, i) => `.proofs[${i}].bundle${typeof (p as { role?: unknown })?.role === "string" ? ` (${(p as { role: string }).role})` : ""}`);
    throw new InvalidInputError("bundle", `${file} is a GET /swaps/{id}/proofs answer with ${o.proofs.length} bundle(s), not one bundle; take one out, e.g. jq '.proofs[0].bundle' ${file} > bundle.json (${roles.join(", ") || "none stored"})`);
  }
  if (typeof o.bundle === "object" && o.bundle !== null) {
    throw new InvalidInputError("bundle", `${file} is one entry of a GET /swaps/{id}/proofs answer; verify its bundle: jq '.bundle' ${file} > bundle.json`);
  }
}

export async function proofCommand(argv: string[], print: (v: unknown) => void): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== "verify") throw new InvalidInputError("proof", "usage: isthmus proof verify <bundle.json> [--trust <anchor.json>]");
  const { values, positionals } = parseFlags(rest, { trust: { type: "string" } }, "proof verify");
  if (positionals.length !== 1) throw new InvalidInputError("proof verify", "expects exactly one bundle file");
  const file = positionals[0]!;
  const bundle = readJson(file, "bundle");
  refuseWrapped(bundle, file);
  const anchor = values.trust === undefined ? undefined : readJson(values.trust, "--trust");
  const r = verifyProofBundle(bundle, anchor);
  const chain = typeof (bundle as { chain?: unknown })?.chain === "string" ? (bundle as { chain: string }).chain : "bundle";
  if (!r.ok) throw new VerificationError(chain, `proof bundle ${file} does not verify: ${r.reason}`, { file });
  const network = r.kind === "fabric-lock" ? `channel ${r.chainId}` : `chain id ${r.chainId}`;
  const what = r.lock ? `lock ${r.lockId} is ${r.lock.status} on ${r.chain} (${network}) at height ${r.height}` : `no lock ${r.lockId} exists on ${r.chain} (${network}) at height ${r.height}`;
  print({ proves: what, ...r });
}
