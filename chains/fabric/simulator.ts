/**
 * Transaction simulation (fabric/core/ledger/kvledger/txmgmt): reads record the committed
 * version (no version when the key is missing), writes are buffered, range queries record
 * their raw reads for the phantom check. Fabric semantics kept on purpose: no
 * read-your-own-writes (GetState after PutState returns the committed value).
 */
import { encodeMessage, type LenField } from "./protowire.ts";
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
    const fields: LenField[] = [];
    for (const key of [...this.reads.keys()].sort(byKey)) fields.push([1, kvRead(key, this.reads.get(key) ?? null), true]);
    for (const rec of this.ranges) {
      const raw = encodeMessage(rec.reads.map((rd): LenField => [1, kvRead(rd.key, rd.version), true]));
      fields.push([
        2,
        encodeMessage([
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
        encodeMessage([
          [1, key],
          [2, w.isDelete],
          [3, w.value],
        ]),
        true,
      ]);
    }
    return encodeMessage(fields);
  }

  /** The TxReadWriteSet bytes: data_model KV (0, so not written) and this namespace's rwset. */
  txRwsetBytes(): Uint8Array {
    return encodeMessage([
      [
        2,
        encodeMessage([
          [1, this.ns],
          [2, this.rwsetBytes()],
        ]),
        true,
      ],
    ]);
  }
}

/** A KVRead: the key and, when it existed, the version read. */
function kvRead(key: string, version: Version | null): Uint8Array {
  if (!version) return encodeMessage([[1, key]]);
  const v = encodeMessage([
    [1, version.blockNum],
    [2, version.txNum],
  ]);
  return encodeMessage([
    [1, key],
    [2, v, true],
  ]);
}
