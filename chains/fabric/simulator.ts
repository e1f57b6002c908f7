/**
 * Transaction simulation (fabric/core/ledger/kvledger/txmgmt): reads record the committed
 * version (no version when the key is missing), writes are buffered, range queries record
 * their raw reads for the phantom check. Fabric semantics kept on purpose: no
 * read-your-own-writes (GetState after PutState returns the committed value).
 */
import { encodeMessage, Sub, WireReader, type LenField } from "./protowire.ts";
import type { LedgerStore, StateEntry, Version } from "./store.ts";

/** UTF-8 byte order (Fabric's), for sorting keys. */
function byKey(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export interface RangeRecord {
  readonly start: string;
  readonly end: string;
  /** Keys and versions seen, in order. */
  readonly reads: { key: string; version: Version }[];
  exhausted: boolean;
}

export class TxSimulator {
  readonly reads = new Map<string, Version | null>();
  readonly writes = new Map<string, { isDelete: boolean; value: Uint8Array }>();
  readonly ranges: RangeRecord[] = [];

  constructor(
    readonly store: LedgerStore,
    readonly ns: string,
  ) {}

  getState(key: string): Buffer {
    const e = this.store.getState(this.ns, key);
    if (!this.reads.has(key)) this.reads.set(key, e ? e.version : null);
    return e ? e.value : Buffer.alloc(0);
  }

  putState(key: string, value: Uint8Array): void {
    if (key === "") throw new Error("key must not be an empty string");
    this.writes.set(key, { isDelete: false, value });
  }

  delState(key: string): void {
    this.writes.set(key, { isDelete: true, value: new Uint8Array() });
  }

  /** Reads up to `limit` entries of [start, end) after `after` (exclusive), recording them. */
  rangePage(rec: RangeRecord, after: string | null, limit: number): StateEntry[] {
    const from = after === null ? rec.start : after + "\u0000";
    const rows = this.store.getRange(this.ns, from, rec.end, limit + 1);
    const page = rows.slice(0, limit);
    for (const r of page) rec.reads.push({ key: r.key, version: r.version });
    if (rows.length <= limit) rec.exhausted = true;
    return page;
  }

  /**
   * The KVRWSet bytes, keys sorted in byte order as Fabric's rwset builder does:
   * reads{key, version{block_num, tx_num}}, range_queries_info{start_key, end_key,
   * itr_exhausted, raw_reads{kv_reads}}, writes{key, is_delete, value}.
   */
  rwsetBytes(): Uint8Array {
    return encodeMessage(this.#rwsetFields());
  }

  /** The KVRWSet's fields, nested messages as Subs (written in place by the enclosing encodeMessage). */
  #rwsetFields(): LenField[] {
    const fields: LenField[] = [];
    for (const key of [...this.reads.keys()].sort(byKey)) fields.push([1, kvRead(key, this.reads.get(key) ?? null), true]);
    for (const rec of this.ranges) {
      const raw = new Sub(rec.reads.map((rd): LenField => [1, kvRead(rd.key, rd.version), true]));
      fields.push([
        2,
        new Sub([
          [1, rec.start],
          [2, rec.end],
          [3, rec.exhausted],
          [4, raw, true],
        ]),
        true,
      ]);
    }
    for (const key of [...this.writes.keys()].sort(byKey)) {
      const w = this.writes.get(key)!;
      fields.push([
        3,
        new Sub([
          [1, key],
          [2, w.isDelete],
          [3, w.value],
        ]),
        true,
      ]);
    }
    return fields;
  }

  /** The TxReadWriteSet bytes: data_model KV (0, so not written) and this namespace's rwset. */
  txRwsetBytes(): Uint8Array {
    return encodeMessage([
      [
        2,
        new Sub([
          [1, this.ns],
          [2, new Sub(this.#rwsetFields())],
        ]),
        true,
      ],
    ]);
  }
}

/** A KVRead: the key and, when it existed, the version read. */
function kvRead(key: string, version: Version | null): Sub {
  if (!version) return new Sub([[1, key]]);
  return new Sub([
    [1, key],
    [
      2,
      new Sub([
        [1, version.blockNum],
        [2, version.txNum],
      ]),
      true,
    ],
  ]);
}

/** A KVRWSet as the committer reads it (readKvRwset). */
export interface KvRwsetIn {
  readonly reads: { readonly key: string; readonly version: Version | null }[];
  /** each range_queries_info entry's bytes (rare: decoded by the caller) */
  readonly rangeQueries: Uint8Array[];
  readonly writes: { readonly key: string; readonly isDelete: boolean; readonly value: Uint8Array }[];
  /** each metadata_writes entry's bytes (not used by this network, still checked to decode) */
  readonly metadataWrites: Uint8Array[];
}

/**
 * A KVRWSet{reads, range_queries_info, writes, metadata_writes} read straight from its bytes
 * (the committer reads one per transaction), with google-protobuf's readings of well-formed
 * bytes: a KVRead's version is null when absent, the last occurrence of a singular field wins,
 * unknown fields are passed over. Truncated bytes or a known field with another wire type
 * throw WireError.
 */
export function readKvRwset(bytes: Uint8Array): KvRwsetIn {
  const out: KvRwsetIn = { reads: [], rangeQueries: [], writes: [], metadataWrites: [] };
  const r = new WireReader(bytes);
  while (r.next()) {
    if (r.field === 1) {
      r.expect(2);
      const kr = new WireReader(r.bytes());
      let key = "";
      let version: Version | null = null;
      while (kr.next()) {
        if (kr.field === 1) {
          kr.expect(2);
          key = kr.string();
        } else if (kr.field === 2) {
          kr.expect(2);
          const vr = new WireReader(kr.bytes());
          let blockNum = 0;
          let txNum = 0;
          while (vr.next()) {
            if (vr.field === 1) {
              vr.expect(0);
              blockNum = vr.varint();
            } else if (vr.field === 2) {
              vr.expect(0);
              txNum = vr.varint();
            } else vr.skip();
          }
          version = { blockNum, txNum };
        } else kr.skip();
      }
      out.reads.push({ key, version });
    } else if (r.field === 2) {
      r.expect(2);
      out.rangeQueries.push(r.bytes());
    } else if (r.field === 3) {
      r.expect(2);
      const wr = new WireReader(r.bytes());
      let key = "";
      let isDelete = false;
      let value: Uint8Array = EMPTY;
      while (wr.next()) {
        if (wr.field === 1) {
          wr.expect(2);
          key = wr.string();
        } else if (wr.field === 2) {
          wr.expect(0);
          isDelete = wr.varint() !== 0;
        } else if (wr.field === 3) {
          wr.expect(2);
          value = wr.bytes();
        } else wr.skip();
      }
      out.writes.push({ key, isDelete, value });
    } else if (r.field === 4) {
      r.expect(2);
      out.metadataWrites.push(r.bytes());
    } else r.skip();
  }
  return out;
}

const EMPTY: Uint8Array = new Uint8Array();
