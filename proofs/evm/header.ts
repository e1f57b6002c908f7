/**
 * Ethereum block headers: the hash is keccak256 of the RLP list of the header's fields
 * (Yellow Paper 4.3, eq. 33), in this order. Later forks append fields; a header carries
 * a prefix of the optional ones, never a gap.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { type Hex, isHex, toHex } from "../hex.ts";
import { type RlpItem, encodeRlp, encodeScalar } from "./rlp.ts";

type FieldKind = "hash" | "address" | "bloom" | "nonce" | "data" | "quantity";

/** [JSON-RPC name, kind] in RLP order. */
const REQUIRED_FIELDS: readonly (readonly [string, FieldKind])[] = [
  ["parentHash", "hash"], // YP 4.3 H_p
  ["sha3Uncles", "hash"], // H_o
  ["miner", "address"], // H_c
  ["stateRoot", "hash"], // H_r
  ["transactionsRoot", "hash"], // H_t
  ["receiptsRoot", "hash"], // H_e
  ["logsBloom", "bloom"], // H_b
  ["difficulty", "quantity"], // H_d
  ["number", "quantity"], // H_i
  ["gasLimit", "quantity"], // H_l
  ["gasUsed", "quantity"], // H_g
  ["timestamp", "quantity"], // H_s
  ["extraData", "data"], // H_x
  ["mixHash", "hash"], // H_a (prevRandao since EIP-4399)
  ["nonce", "nonce"], // H_n
];
const OPTIONAL_FIELDS: readonly (readonly [string, FieldKind])[] = [
  ["baseFeePerGas", "quantity"], // EIP-1559 (London)
  ["withdrawalsRoot", "hash"], // EIP-4895 (Shanghai)
  ["blobGasUsed", "quantity"], // EIP-4844 (Cancun)
  ["excessBlobGas", "quantity"], // EIP-4844 (Cancun)
  ["parentBeaconBlockRoot", "hash"], // EIP-4788 (Cancun)
  ["requestsHash", "hash"], // EIP-7685 (Prague)
];
const FIELDS = [...REQUIRED_FIELDS, ...OPTIONAL_FIELDS];
/** All header field names this module knows, in RLP order. */
export const EVM_HEADER_FIELDS: readonly string[] = FIELDS.map(([n]) => n);

/** A header as JSON-RPC's eth_getBlockByNumber returns it (only the fields above are read). */
export type EvmHeader = Readonly<Record<string, Hex>>;

const SIZES: Record<Exclude<FieldKind, "data" | "quantity">, number> = { hash: 32, address: 20, bloom: 256, nonce: 8 };

export type HeaderCheck =
  | { readonly ok: true; readonly header: EvmHeader; readonly rlp: Uint8Array; readonly hash: Hex; readonly number: number; readonly parentHash: Hex; readonly stateRoot: Hex; readonly timestamp: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks each field's form, encodes the header and hashes it. Untrusted input (e.g. a JSON
 * bundle or an RPC answer) returns a reason, never throws. The returned `header` holds only
 * the hashed fields, lower-cased.
 */
export function checkHeader(raw: unknown): HeaderCheck {
  if (typeof raw !== "object" || raw === null) return { ok: false, reason: "header is not an object" };
  const src = raw as Record<string, unknown>;
  const items: RlpItem[] = [];
  const header: Record<string, Hex> = {};
  let gap: string | undefined;
  for (const [i, [name, kind]] of FIELDS.entries()) {
    const v = src[name];
    if (v === undefined || v === null) {
      if (i < REQUIRED_FIELDS.length) return { ok: false, reason: `header field ${name} is missing` };
      gap ??= name;
      continue;
    }
    if (gap !== undefined) return { ok: false, reason: `header has ${name} but not the earlier ${gap}` };
    if (kind === "quantity") {
      // JSON-RPC QUANTITY: 0x-hex without leading zeros; RLP holds the scalar (YP 4.2).
      if (typeof v !== "string" || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$/.test(v)) return { ok: false, reason: `header field ${name} is not a canonical quantity: ${describe(v)}` };
      const q = BigInt(v);
      items.push(encodeScalar(q));
      header[name] = `0x${q.toString(16)}`;
    } else {
      const size = kind === "data" ? undefined : SIZES[kind];
      if (!isHex(v, size)) return { ok: false, reason: `header field ${name} is not ${size ?? "any"}-byte hex: ${describe(v)}` };
      const bytes = hexBytes(v);
      items.push(bytes);
      header[name] = toHex(bytes);
    }
  }
  const number = BigInt(header.number!);
  const timestamp = BigInt(header.timestamp!);
  if (number > BigInt(Number.MAX_SAFE_INTEGER) || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "header number or timestamp beyond 2^53" };
  const rlp = encodeRlp(items);
  return {
    ok: true,
    header,
    rlp,
    hash: toHex(keccak_256(rlp)), // YP 4.3: KEC(RLP(H))
    number: Number(number),
    parentHash: header.parentHash!,
    stateRoot: header.stateRoot!,
    timestamp: Number(timestamp),
  };
}

/**
 * Checks that `headers` (ascending) form one chain: each one's parentHash is the hash of the
 * one before and its number is one more (YP 4.3.4). Returns their checked forms.
 */
export function checkHeaderChain(headers: readonly unknown[]): { ok: true; checked: Extract<HeaderCheck, { ok: true }>[] } | { ok: false; reason: string } {
  if (!Array.isArray(headers)) return { ok: false, reason: "headers is not an array" };
  const checked: Extract<HeaderCheck, { ok: true }>[] = [];
  for (const [i, h] of headers.entries()) {
    const c = checkHeader(h);
    if (!c.ok) return { ok: false, reason: `header ${i}: ${c.reason}` };
    const prev = checked[i - 1];
    if (prev) {
      if (c.number !== prev.number + 1) return { ok: false, reason: `header ${i} has number ${c.number}, expected ${prev.number + 1}` };
      if (c.parentHash !== prev.hash) return { ok: false, reason: `header ${c.number}'s parentHash is not the hash of header ${prev.number}` };
    }
    checked.push(c);
  }
  return { ok: true, checked };
}

function hexBytes(v: string): Uint8Array {
  return hexToBytes(v.slice(2));
}

function describe(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return s.length > 20 ? `${s.slice(0, 20)}…` : s;
}
