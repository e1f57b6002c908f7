/**
 * Blocks as compact bytes for the store (SQLite BLOBs): JSON of a block holds every tx and
 * outcome as hex, and stringifying a 1000-tx block cost a validator more CPU per tx than
 * verifying the tx's signature. Layout (integers uint32 big-endian):
 *   kind (1 byte: 1 block, 2 committed block)
 *   len, JSON of the small fields (header, lastCommit; and hash, commit if committed)
 *   count, then len || bytes of each tx
 *   committed only: count, then per outcome len || result, event count, len || bytes of each event
 * Decoding validates the small fields with block.ts's JSON parsers, so a stored block is
 * held to the same rules in either form; malformed bytes give a reason, never a throw.
 */
import { type Block, type CommittedBlock, blockFromJson, committedFromJson } from "./block.ts";
import { type EncodedTxOutcome } from "../../proofs/consortium/results.ts";

const KIND_BLOCK = 1;
const KIND_COMMITTED = 2;

export type BinaryDecoded<T> = { readonly ok: true; readonly block: T } | { readonly ok: false; readonly reason: string };

export function encodeBlockBinary(block: Block): Buffer {
  return encode(KIND_BLOCK, { header: block.header, lastCommit: block.lastCommit }, block.txs, null);
}

export function encodeCommittedBinary(block: CommittedBlock): Buffer {
  return encode(KIND_COMMITTED, { header: block.header, lastCommit: block.lastCommit, hash: block.hash, commit: block.commit }, block.txs, block.outcomes);
}

export function decodeBlockBinary(bytes: Uint8Array): BinaryDecoded<Block> {
  const r = new Reader(bytes);
  try {
    if (r.u8() !== KIND_BLOCK) return { ok: false, reason: "not a binary block" };
    const meta = r.json();
    const txs = r.list(() => r.bytes());
    r.end();
    const parsed = blockFromJson({ ...meta, txs: [] });
    if (!parsed.ok) return parsed;
    return { ok: true, block: { ...parsed.block, txs } };
  } catch (err) {
    if (err instanceof MalformedError) return { ok: false, reason: err.message };
    throw err;
  }
}

export function decodeCommittedBinary(bytes: Uint8Array): BinaryDecoded<CommittedBlock> {
  const r = new Reader(bytes);
  try {
    if (r.u8() !== KIND_COMMITTED) return { ok: false, reason: "not a binary committed block" };
    const meta = r.json();
    const txs = r.list(() => r.bytes());
    const outcomes = r.list((): EncodedTxOutcome => ({ result: r.bytes(), events: r.list(() => r.bytes()) }));
    r.end();
    if (outcomes.length !== txs.length) return { ok: false, reason: `${outcomes.length} outcomes for ${txs.length} txs` };
    const parsed = committedFromJson({ ...meta, txs: [], outcomes: [] });
    if (!parsed.ok) return parsed;
    return { ok: true, block: { ...parsed.block, txs, outcomes } };
  } catch (err) {
    if (err instanceof MalformedError) return { ok: false, reason: err.message };
    throw err;
  }
}

function encode(kind: number, meta: object, txs: readonly Uint8Array[], outcomes: readonly EncodedTxOutcome[] | null): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  let size = 1 + 4 + json.length + 4;
  for (const t of txs) size += 4 + t.length;
  if (outcomes) {
    size += 4;
    for (const o of outcomes) {
      size += 4 + o.result.length + 4;
      for (const e of o.events) size += 4 + e.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt8(kind, 0);
  const put = (b: Uint8Array) => {
    at = out.writeUInt32BE(b.length, at);
    out.set(b, at);
    at += b.length;
  };
  put(json);
  at = out.writeUInt32BE(txs.length, at);
  for (const t of txs) put(t);
  if (outcomes) {
    at = out.writeUInt32BE(outcomes.length, at);
    for (const o of outcomes) {
      put(o.result);
      at = out.writeUInt32BE(o.events.length, at);
      for (const e of o.events) put(e);
    }
  }
  if (at !== size) throw new Error(`block encoding: wrote ${at} bytes, sized ${size}`);
  return out;
}

class MalformedError extends Error {}

class Reader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    // A plain Uint8Array view (SQLite hands back a Buffer, whose slice would not copy).
    this.#bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (this.#at + n > this.#bytes.length) throw new MalformedError(`truncated at byte ${this.#at}`);
  }

  u8(): number {
    this.need(1);
    return this.#view.getUint8(this.#at++);
  }

  u32(): number {
    this.need(4);
    const v = this.#view.getUint32(this.#at);
    this.#at += 4;
    return v;
  }

  /** An owned copy (txs are kept and compared by identity elsewhere; never a view into the row). */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.#bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  json(): Record<string, unknown> {
    const b = this.bytes();
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8"));
    } catch {
      throw new MalformedError("small fields are not JSON");
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new MalformedError("small fields are not an object");
    return v as Record<string, unknown>;
  }

  list<T>(item: () => T): T[] {
    const n = this.u32();
    // Each item takes at least 4 bytes: refuse counts the rest cannot hold before allocating.
    if (n * 4 > this.#bytes.length - this.#at) throw new MalformedError(`count ${n} exceeds the remaining bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }

  end(): void {
    if (this.#at !== this.#bytes.length) throw new MalformedError(`${this.#bytes.length - this.#at} trailing bytes`);
  }
}
