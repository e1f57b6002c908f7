/**
 * Block headers. hash = keccak256(abi.encode(bytes32 tag, uint256 chainId, uint64 height,
 * uint64 timeMs, bytes32 prevHash, bytes32 txRoot, bytes32 resultsRoot, bytes32 stateRoot,
 * bytes32 validatorsHash, bytes32 nextValidatorsHash, address proposer)).
 * stateRoot is the state AFTER executing this block's transactions. validatorsHash is the
 * set that signs THIS block's commit; nextValidatorsHash the set that signs the next block's
 * (validator-set changes decided in block H take effect at H + 2, so H + 1's header names it).
 */
import { abiDecode, abiEncode } from "../abi.ts";
import { type Hex, isHex, toHex } from "../hex.ts";
import { CONSORTIUM_SCHEME, keccak256 } from "./domain.ts";

export interface Header {
  readonly chainId: number;
  readonly height: number;
  /** Block time in unix milliseconds, agreed by the validators. */
  readonly timeMs: number;
  readonly prevHash: Hex;
  readonly txRoot: Hex;
  readonly resultsRoot: Hex;
  readonly stateRoot: Hex;
  readonly validatorsHash: Hex;
  /** Hash of the validator set of height + 1 (a light client's next trusted set). */
  readonly nextValidatorsHash: Hex;
  readonly proposer: Hex;
}

const HEADER_TYPES = ["bytes32", "uint256", "uint64", "uint64", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "address"] as const;

export function encodeHeader(h: Header): Uint8Array {
  return abiEncode(HEADER_TYPES, [
    CONSORTIUM_SCHEME.tags.header,
    h.chainId,
    h.height,
    h.timeMs,
    h.prevHash,
    h.txRoot,
    h.resultsRoot,
    h.stateRoot,
    h.validatorsHash,
    h.nextValidatorsHash,
    h.proposer,
  ]);
}

export function hashHeader(h: Header): Hex {
  return toHex(keccak256(encodeHeader(h)));
}

export type DecodeHeaderResult = { readonly ok: true; readonly header: Header } | { readonly ok: false; readonly reason: string };

export function decodeHeader(bytes: Uint8Array): DecodeHeaderResult {
  const d = abiDecode(HEADER_TYPES, bytes);
  if (!d.ok) return d;
  const [tag, chainId, height, timeMs, prevHash, txRoot, resultsRoot, stateRoot, validatorsHash, nextValidatorsHash, proposer] = d.values;
  if (tag !== CONSORTIUM_SCHEME.tags.header) return { ok: false, reason: "not a consortium header (domain tag)" };
  const header = { chainId: Number(chainId), height: Number(height), timeMs: Number(timeMs), prevHash, txRoot, resultsRoot, stateRoot, validatorsHash, nextValidatorsHash, proposer };
  const problem = headerProblem(header);
  return problem ? { ok: false, reason: problem } : { ok: true, header };
}

/** Why `value` is not a well-formed header, or undefined when it is one. */
export function headerProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "header is not an object";
  const h = value as Record<string, unknown>;
  for (const key of ["chainId", "height", "timeMs"] as const) {
    const n = h[key];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return `header.${key} is not a non-negative safe integer`;
  }
  for (const key of ["prevHash", "txRoot", "resultsRoot", "stateRoot", "validatorsHash", "nextValidatorsHash"] as const) {
    if (!isHex(h[key], 32)) return `header.${key} is not 32-byte hex`;
  }
  if (!isHex(h.proposer, 20)) return "header.proposer is not a 20-byte address";
  return undefined;
}

/** Unix seconds of the block, the unit HTLC timelocks compare against. */
export function blockTimeSec(h: Pick<Header, "timeMs">): number {
  return Math.floor(h.timeMs / 1000);
}
