/**
 * Transaction simulation (fabric/core/ledger/kvledger/txmgmt): reads record the committed
 * version (no version when the key is missing), writes are buffered, range queries record
 * their raw reads for the phantom check. Fabric semantics kept on purpose: no
 * read-your-own-writes (GetState after PutState returns the committed value).
 */
import { ledger } from "@hyperledger/fabric-protos";
import type { LedgerStore, StateEntry, Version } from "./store.ts";

const kv = ledger.rwset.kvrwset;

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

  /** The KVRWSet bytes, keys sorted in byte order as Fabric's rwset builder does. */
  rwsetBytes(): Uint8Array {
    const set = new kv.KVRWSet();
    for (const key of [...this.reads.keys()].sort(byKey)) {
      const r = new kv.KVRead();
      r.setKey(key);
      const v = this.reads.get(key);
      if (v) {
        const ver = new kv.Version();
        ver.setBlockNum(v.blockNum);
        ver.setTxNum(v.txNum);
        r.setVersion(ver);
      }
      set.addReads(r);
    }
    for (const rec of this.ranges) {
      const info = new kv.RangeQueryInfo();
      info.setStartKey(rec.start);
      info.setEndKey(rec.end);
      info.setItrExhausted(rec.exhausted);
      const raw = new kv.QueryReads();
      for (const rd of rec.reads) {
        const r = new kv.KVRead();
        r.setKey(rd.key);
        const ver = new kv.Version();
        ver.setBlockNum(rd.version.blockNum);
        ver.setTxNum(rd.version.txNum);
        r.setVersion(ver);
        raw.addKvReads(r);
      }
      info.setRawReads(raw);
      set.addRangeQueriesInfo(info);
    }
    for (const key of [...this.writes.keys()].sort(byKey)) {
      const w = this.writes.get(key)!;
      const kw = new kv.KVWrite();
      kw.setKey(key);
      kw.setIsDelete(w.isDelete);
      kw.setValue(w.value);
      set.addWrites(kw);
    }
    return set.serializeBinary();
  }

  txRwset(): ledger.rwset.TxReadWriteSet {
    const tx = new ledger.rwset.TxReadWriteSet();
    tx.setDataModel(ledger.rwset.TxReadWriteSet.DataModel.KV);
    const ns = new ledger.rwset.NsReadWriteSet();
    ns.setNamespace(this.ns);
    ns.setRwset(this.rwsetBytes());
    tx.addNsRwset(ns);
    return tx;
  }
}
