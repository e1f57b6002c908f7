/**
 * RPC error shapes: the node's own message and the revert data inside them, and decoding
 * revert data against the contracts' custom errors into JSON-safe values for LedgerError
 * details.
 */
import { Interface, isHexString, type InterfaceAbi, type Result } from "ethers";
import type { Hex } from "../ledger.ts";

export interface DecodedRevert {
  /** Custom error name ("WrongPreimage"), "Error" / "Panic" for the builtins, "unknown" when undecodable. */
  readonly name: string;
  /** Arguments by parameter name (positional index when unnamed); bigints as decimal strings. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The raw revert data; "0x" when the node gave none. */
  readonly data: Hex;
}

/** One Interface holding every error fragment of the given ABIs, duplicates dropped. */
export function buildErrorInterface(...abis: readonly InterfaceAbi[]): Interface {
  const seen = new Set<string>();
  const fragments: string[] = [];
  for (const abi of abis) {
    Interface.from(abi).forEachError((f) => {
      const sig = f.format("full");
      if (!seen.has(f.selector)) {
        seen.add(f.selector);
        fragments.push(sig);
      }
    });
  }
  return new Interface(fragments);
}

export function decodeRevert(iface: Interface, data: Hex | undefined): DecodedRevert {
  if (!data || data.length < 10) return { name: "unknown", args: {}, data: data ?? "0x" };
  try {
    const parsed = iface.parseError(data);
    if (parsed) return { name: parsed.name, args: namedArgs(parsed.fragment.inputs.map((p) => p.name), parsed.args), data };
  } catch {
    // Selector matched but the body did not decode: report it raw below.
  }
  return { name: "unknown", args: { selector: data.slice(0, 10) }, data };
}

/** "WrongPreimage(lockId=0x…, preimage=0x…)" */
export function formatRevert(r: DecodedRevert): string {
  const args = Object.entries(r.args).map(([k, v]) => `${k}=${String(v)}`);
  return `${r.name}(${args.join(", ")})`;
}

/**
 * The revert data inside an RPC error, if any. ethers puts it at `data` for CALL_EXCEPTION;
 * errors it cannot classify keep the node's JSON-RPC error at `error` or `info.error`, with
 * Hardhat nesting the bytes one level deeper (`data.data`, next to `txHash`).
 */
export function findRevertData(err: unknown): Hex | undefined {
  const seen = new Set<unknown>();
  const visit = (v: unknown, depth: number): Hex | undefined => {
    if (typeof v !== "object" || v === null || depth > 4 || seen.has(v)) return undefined;
    seen.add(v);
    const o = v as Record<string, unknown>;
    if (typeof o.data === "string" && isHexString(o.data) && o.data.length >= 10) return o.data as Hex;
    for (const key of ["data", "error", "info", "cause"]) {
      const found = visit(o[key], depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit(err, 0);
}

function namedArgs(names: readonly string[], values: Result): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  names.forEach((name, i) => {
    out[name || String(i)] = jsonSafe(values[i]);
  });
  return out;
}

function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string" && isHexString(v)) return v.toLowerCase(); // addresses un-checksummed, like the rest of Isthmus
  if (Array.isArray(v)) return v.map(jsonSafe);
  return v;
}

/**
 * A short, log-safe description of an RPC error: the node's own JSON-RPC message when
 * there is one, else ethers' shortMessage. Never ethers' full message, which embeds the
 * signed transaction (a claim's calldata carries its preimage) and runs to kilobytes.
 */
export function describeRpcError(err: unknown): string {
  const o = (typeof err === "object" && err !== null ? err : {}) as {
    shortMessage?: unknown;
    message?: unknown;
    error?: { message?: unknown };
    info?: { error?: { message?: unknown } };
  };
  const candidates = [o.info?.error?.message, o.error?.message, o.shortMessage, o.message, String(err)];
  const text = candidates.find((c): c is string => typeof c === "string" && c.length > 0 && c !== "could not coalesce error") ?? "unknown error";
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
