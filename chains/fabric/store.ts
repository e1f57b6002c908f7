/**
 * The peer's ledger on disk (SQLite): the block store (raw common.Block bytes), the
 * versioned world state (key → value, version = (block, tx)), and the tx index that answers
 * CommitStatus and catches duplicate txIds. A block and its state updates commit in one
 * SQLite transaction, so a restart sees either all of a block or none of it.
 * Keys are stored as BLOBs: SQLite compares BLOBs with memcmp, which is Fabric's UTF-8 byte
 * order for range queries.
 *
 * Durability: a block is durable once its write-ahead-log frames are fsynced. SQLite runs with
 * synchronous = NORMAL (WAL synced at checkpoints, so a process crash loses nothing), and
 * `flush()` fsyncs the WAL off the event loop (libuv's thread pool), so endorsements go on
 * while the disk syncs; what may be reported to anyone (commit status, block events, queries)
 * is bounded by `durableHeight`, as Fabric's peer syncs each block before it announces it.
 * Where SQLite cannot keep a WAL, it runs with synchronous = FULL and every commit syncs.
 */
import Database from "better-sqlite3";
import { closeSync, existsSync, fsyncSync, openSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

export interface Version {
  readonly blockNum: number;
  readonly txNum: number;
}

export interface StateEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly version: Version;
}

export interface StateWrite {
  readonly ns: string;
  readonly key: string;
  readonly isDelete: boolean;
  readonly value: Uint8Array;
  readonly version: Version;
}

export interface TxRecord {
  readonly txId: string;
  readonly blockNum: number;
  readonly txNum: number;
  readonly code: number;
}

export class LedgerStore {
  readonly #db: Database.Database;
  readonly #getState: Database.Statement;
  readonly #range: Database.Statement;
  readonly #rangeOpen: Database.Statement;
  readonly #getBlock: Database.Statement;
  readonly #getTx: Database.Statement;
  readonly #appendBlock: (num: number, bytes: Uint8Array, txs: readonly TxRecord[], writes: readonly StateWrite[]) => void;
  readonly #walFile: string;
  #height: number;
  #durableHeight: number;
  #wal: Promise<FileHandle> | null = null;
  /** false where SQLite could not use a write-ahead log: then every commit syncs (FULL). */
  readonly #walMode: boolean;
  #flushing: Promise<void> = Promise.resolve();
  /**
   * Committed state read through: ns → key → entry (null: no such key). Each key of a
   * transaction is read by both endorsers' simulations and again by the committer's MVCC
   * check; after the first, the answer comes from here. commitBlock is the only writer of the
   * state table and updates this after its SQLite transaction succeeds, in write order, so an
   * entry is always what SQLite would answer. Bounded: cleared when it grows past its limit.
   */
  readonly #stateCache = new Map<string, Map<string, StateEntry | null>>();
  #stateCached = 0;
  static readonly STATE_CACHE_MAX = 50_000;

  constructor(file: string) {
    this.#walFile = `${file}-wal`;
    this.#db = new Database(file);
    this.#walMode = this.#db.pragma("journal_mode = WAL", { simple: true }) === "wal";
    // NORMAL: commits do not wait for the disk; flush() syncs the WAL before a block is reported
    this.#db.pragma(`synchronous = ${this.#walMode ? "NORMAL" : "FULL"}`);
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS blocks (num INTEGER PRIMARY KEY, bytes BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
        block INTEGER NOT NULL, tx INTEGER NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS txs (txid TEXT PRIMARY KEY, block INTEGER NOT NULL, idx INTEGER NOT NULL, code INTEGER NOT NULL) WITHOUT ROWID;
    `);
    this.#getState = this.#db.prepare("SELECT value, block, tx FROM state WHERE ns = ? AND key = ?");
    this.#range = this.#db.prepare("SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?");
    this.#rangeOpen = this.#db.prepare("SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?");
    this.#getBlock = this.#db.prepare("SELECT bytes FROM blocks WHERE num = ?");
    this.#getTx = this.#db.prepare("SELECT txid, block, idx, code FROM txs WHERE txid = ?");
    // Prepared once: a block's rows go in through these in one SQLite transaction.
    const insBlock = this.#db.prepare("INSERT INTO blocks (num, bytes) VALUES (?, ?)");
    const insTx = this.#db.prepare("INSERT OR IGNORE INTO txs (txid, block, idx, code) VALUES (?, ?, ?, ?)");
    const put = this.#db.prepare("INSERT OR REPLACE INTO state (ns, key, value, block, tx) VALUES (?, ?, ?, ?, ?)");
    const del = this.#db.prepare("DELETE FROM state WHERE ns = ? AND key = ?");
    this.#appendBlock = this.#db.transaction((num: number, bytes: Uint8Array, txs: readonly TxRecord[], writes: readonly StateWrite[]) => {
      insBlock.run(num, Buffer.from(bytes));
      for (const t of txs) if (t.txId) insTx.run(t.txId, t.blockNum, t.txNum, t.code);
      for (const w of writes) {
        const k = Buffer.from(w.key, "utf8");
        if (w.isDelete) del.run(w.ns, k);
        else put.run(w.ns, k, Buffer.from(w.value), w.version.blockNum, w.version.txNum);
      }
    });
    const row = this.#db.prepare("SELECT MAX(num) AS n FROM blocks").get() as { n: number | null };
    this.#height = row.n === null ? 0 : row.n + 1;
    // what an earlier run committed may not have reached the disk yet (it crashed before its flush)
    this.#durableHeight = 0;
    this.flushSync();
  }

  /** flush(), blocking: for startup and the genesis block. */
  flushSync(): void {
    if (this.#walMode && existsSync(this.#walFile)) {
      const fd = openSync(this.#walFile, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    this.#durableHeight = this.#height;
  }

  /** Blocks committed and fsynced: the ones that may be reported. */
  get durableHeight(): number {
    return this.#durableHeight;
  }

  /**
   * Resolves once every block committed before the call is on disk (one WAL fsync covers all
   * blocks committed while an earlier one was in progress). Flushes complete in call order.
   */
  flush(): Promise<void> {
    const target = this.#height;
    this.#flushing = this.#flushing.then(async () => {
      if (this.#durableHeight >= target) return;
      const upTo = this.#height;
      if (this.#walMode) {
        this.#wal ??= open(this.#walFile, "r");
        await (await this.#wal).sync();
      }
      this.#durableHeight = Math.max(this.#durableHeight, upTo);
    });
    return this.#flushing;
  }

  /** Number of blocks stored (next block number). */
  get height(): number {
    return this.#height;
  }

  /** The committed entry, or null. The entry may be shared with later callers: don't mutate it. */
  getState(ns: string, key: string): StateEntry | null {
    const hit = this.#stateCache.get(ns)?.get(rowKey(key));
    if (hit !== undefined) return hit;
    const r = this.#getState.get(ns, Buffer.from(key, "utf8")) as { value: Buffer; block: number; tx: number } | undefined;
    const e = r ? { key, value: r.value, version: { blockNum: r.block, txNum: r.tx } } : null;
    this.#cacheState(ns, key, e);
    return e;
  }

  #cacheState(ns: string, key: string, e: StateEntry | null): void {
    if (this.#stateCached >= LedgerStore.STATE_CACHE_MAX) {
      this.#stateCache.clear();
      this.#stateCached = 0;
    }
    let m = this.#stateCache.get(ns);
    if (!m) this.#stateCache.set(ns, (m = new Map()));
    const size = m.size;
    m.set(rowKey(key), e);
    this.#stateCached += m.size - size;
  }

  /** Keys in [start, end) in byte order; end "" means unbounded. */
  getRange(ns: string, start: string, end: string, limit: number): StateEntry[] {
    const s = Buffer.from(start, "utf8");
    const rows = (end === "" ? this.#rangeOpen.all(ns, s, limit) : this.#range.all(ns, s, Buffer.from(end, "utf8"), limit)) as {
      key: Buffer;
      value: Buffer;
      block: number;
      tx: number;
    }[];
    return rows.map((r) => ({ key: r.key.toString("utf8"), value: r.value, version: { blockNum: r.block, txNum: r.tx } }));
  }

  getBlockBytes(num: number): Buffer | null {
    const r = this.#getBlock.get(num) as { bytes: Buffer } | undefined;
    return r ? r.bytes : null;
  }

  getTx(txId: string): TxRecord | null {
    const r = this.#getTx.get(txId) as { txid: string; block: number; idx: number; code: number } | undefined;
    return r ? { txId: r.txid, blockNum: r.block, txNum: r.idx, code: r.code } : null;
  }

  /** Appends block `num` (must be the next height) with its tx index rows and state writes, atomically. */
  commitBlock(num: number, bytes: Uint8Array, txs: readonly TxRecord[], writes: readonly StateWrite[]): void {
    if (num !== this.#height) throw new Error(`block ${num} is not the next block (height ${this.#height})`);
    this.#appendBlock(num, bytes, txs, writes);
    this.#height = num + 1;
    // the state table changed exactly by `writes`, in this order
    for (const w of writes) this.#cacheState(w.ns, w.key, w.isDelete ? null : { key: w.key, value: Buffer.from(w.value), version: w.version });
  }

  /** Closes the database (SQLite checkpoints and syncs what it holds). Call after the last flush. */
  close(): void {
    this.#db.close();
    void this.#wal?.then((h) => h.close()).catch(() => {});
  }
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The cache's key for `key`: the string of the UTF-8 bytes SQLite stores it under. A lone
 * surrogate (google-protobuf decodes some ill-formed UTF-8 key bytes to one) is stored as
 * U+FFFD, so "k\uD800" and "k\uFFFD" are one row and must be one cache entry.
 */
function rowKey(key: string): string {
  return LONE_SURROGATE.test(key) ? Buffer.from(key, "utf8").toString("utf8") : key;
}
