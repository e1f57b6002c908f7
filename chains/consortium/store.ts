/**
 * A validator's durable record in SQLite: every committed block with its commit and tx
 * outcomes, a tx-hash index, the genesis it belongs to, the state after a recent block (kept
 * stateHistory - 1 blocks behind the head, advanced in each block's transaction; chain.ts
 * re-executes the blocks after it on open), every scheduled validator set, and the consensus
 * signer state (last height/round/step signed and the Tendermint lock) so a restart never
 * signs twice.
 */
import Database from "better-sqlite3";
import { type Hex } from "../../proofs/hex.ts";
import { IsthmusError } from "../errors.ts";
import { type Block, type CommittedBlock, blockToJson, committedFromJson } from "./block.ts";
import { decodeBlockBinary, decodeCommittedBinary, encodeBlockBinary, encodeCommittedBinary } from "./block-binary.ts";
import { type KvChange, type KvPair } from "./kv.ts";

/** The store file does not belong to this chain, or its content does not parse. */
export class StoreError extends IsthmusError {
  override name = "StoreError";
  constructor(path: string, problem: string) {
    super("CONSORTIUM_STORE", `${path}: ${problem}`, { path });
  }
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
   CREATE TABLE txs (hash TEXT PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL);
   CREATE TABLE signer_state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);`,
  // Locked / valid blocks of the signer state, written once each instead of inside every save.
  `CREATE TABLE signer_blocks (hash TEXT PRIMARY KEY, height INTEGER NOT NULL, data TEXT NOT NULL);`,
  // The state after block `meta.state_height` (kept stateHistory - 1 blocks behind the head, so
  // a restart re-executes only the heights it serves proofs for), and every validator set the
  // chain has scheduled (light clients ask for old ones by hash).
  `CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
   CREATE TABLE validator_sets (hash TEXT PRIMARY KEY, data TEXT NOT NULL);`,
];

/** The state table moving forward: the changes of each height after the stored one, in order. */
export interface StateAdvance {
  /** The height the table holds the state after, once these changes are applied. */
  readonly height: number;
  readonly changes: readonly KvChange[];
}

/** A validator set to remember, by its hash (the JSON is validators.ts's encoding). */
export interface StoredValidatorSet {
  readonly hash: Hex;
  readonly json: string;
}

/** The signer state row: any JSON object with the height it was saved at. */
export interface SignerStateRecord {
  readonly height: number;
}

/**
 * A block the signer state names (locked or valid block), written only if it is not stored
 * yet: as compact bytes when `block` is given, else as `json()`.
 */
export interface SignerBlock {
  readonly hash: Hex;
  readonly height: number;
  readonly block?: Block;
  json(): unknown;
}

export interface TxLocation {
  readonly height: number;
  readonly index: number;
}

export class BlockStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly insertBlock: Database.Statement<[number, string, Buffer]>;
  private readonly insertTx: Database.Statement<[string, number, number]>;
  private readonly selectBlock: Database.Statement<[number], { data: string | Buffer }>;
  private readonly selectTx: Database.Statement<[string], { height: number; idx: number }>;
  private readonly upsertSignerState: Database.Statement<[string]>;
  private readonly insertSignerBlock: Database.Statement<[string, number, string | Buffer]>;
  private readonly pruneSignerBlocks: Database.Statement<[number]>;
  private readonly selectSignerBlock: Database.Statement<[string], { data: string | Buffer }>;
  private readonly saveSignerTx: (state: SignerStateRecord, blocks: readonly SignerBlock[]) => void;
  private readonly upsertState: Database.Statement<[Uint8Array, Uint8Array]>;
  private readonly deleteState: Database.Statement<[Uint8Array]>;
  private readonly selectStateHeight: Database.Statement<[], { value: string }>;
  private readonly setStateHeight: Database.Statement<[string]>;
  private readonly insertSet: Database.Statement<[string, string]>;
  /** Signer blocks known to be in signer_blocks (a block never changes, so it is written once). */
  readonly #savedSignerBlocks = new Set<Hex>();

  /** `path` is a file, or ":memory:" for tests. */
  constructor(path: string) {
    this.path = path;
    this.db = new Database(path);
    if (path !== ":memory:") this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.migrate();
    this.insertBlock = this.db.prepare("INSERT INTO blocks (height, hash, data) VALUES (?, ?, ?)");
    this.insertTx = this.db.prepare("INSERT INTO txs (hash, height, idx) VALUES (?, ?, ?)");
    this.selectBlock = this.db.prepare("SELECT data FROM blocks WHERE height = ?");
    this.selectTx = this.db.prepare("SELECT height, idx FROM txs WHERE hash = ?");
    this.upsertSignerState = this.db.prepare("INSERT INTO signer_state (id, data) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data");
    this.insertSignerBlock = this.db.prepare("INSERT OR IGNORE INTO signer_blocks (hash, height, data) VALUES (?, ?, ?)");
    this.pruneSignerBlocks = this.db.prepare("DELETE FROM signer_blocks WHERE height < ?");
    this.selectSignerBlock = this.db.prepare("SELECT data FROM signer_blocks WHERE hash = ?");
    this.upsertState = this.db.prepare("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.deleteState = this.db.prepare("DELETE FROM state WHERE key = ?");
    this.selectStateHeight = this.db.prepare("SELECT value FROM meta WHERE key = 'state_height'");
    this.setStateHeight = this.db.prepare("INSERT INTO meta (key, value) VALUES ('state_height', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.insertSet = this.db.prepare("INSERT OR IGNORE INTO validator_sets (hash, data) VALUES (?, ?)");
    for (const row of this.db.prepare<[], { hash: string }>("SELECT hash FROM signer_blocks").all()) this.#savedSignerBlocks.add(row.hash as Hex);
    this.saveSignerTx = this.db.transaction((state: SignerStateRecord, blocks: readonly SignerBlock[]) => {
      for (const b of blocks) {
        if (this.#savedSignerBlocks.has(b.hash)) continue;
        this.insertSignerBlock.run(b.hash, b.height, b.block ? encodeBlockBinary(b.block) : JSON.stringify(b.json()));
      }
      if (state.height > this.#prunedBelow) {
        this.pruneSignerBlocks.run(state.height);
        this.#prunedBelow = state.height;
      }
      this.upsertSignerState.run(JSON.stringify(state));
    });
  }

  #prunedBelow = 0;

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Binds the file to one chain (by genesis header hash); refuses a file of another chain. */
  bindGenesis(genesisHash: Hex): void {
    const row = this.db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'genesis'").get();
    if (!row) {
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('genesis', ?)").run(genesisHash);
    } else if (row.value !== genesisHash) {
      throw new StoreError(this.path, `belongs to the chain with genesis ${row.value}, not ${genesisHash}`);
    }
  }

  lastHeight(): number {
    const row = this.db.prepare<[], { h: number | null }>("SELECT MAX(height) AS h FROM blocks").get();
    return row?.h ?? 0;
  }

  /**
   * Appends a committed block atomically: the block row, its tx index rows and, given them,
   * the state table's advance and newly scheduled validator sets, in one fsynced transaction.
   */
  putBlock(block: CommittedBlock, txHashes: readonly Hex[], state: readonly StateAdvance[] = [], sets: readonly StoredValidatorSet[] = []): void {
    this.db.transaction(() => {
      this.insertBlock.run(block.header.height, block.hash, encodeCommittedBinary(block));
      txHashes.forEach((hash, i) => this.insertTx.run(hash, block.header.height, i));
      for (const a of state) this.advanceState(a);
      for (const v of sets) this.insertSet.run(v.hash, v.json);
    })();
  }

  private advanceState(a: StateAdvance): void {
    const at = this.stateHeight();
    if (at === undefined || a.height !== at + 1) throw new StoreError(this.path, `state table is at height ${String(at)}: cannot apply height ${a.height}`);
    for (const c of a.changes) {
      if (c.value) this.upsertState.run(c.key, c.value);
      else this.deleteState.run(c.key);
    }
    this.setStateHeight.run(String(a.height));
  }

  /** The height whose state the state table holds, or undefined before it was first written. */
  stateHeight(): number | undefined {
    const row = this.selectStateHeight.get();
    return row ? Number(row.value) : undefined;
  }

  /** The state table: its height and every pair, or undefined before it was first written. */
  loadState(): { readonly height: number; readonly pairs: KvPair[] } | undefined {
    const height = this.stateHeight();
    if (height === undefined) return undefined;
    const pairs = this.db
      .prepare<[], { key: Buffer; value: Buffer }>("SELECT key, value FROM state")
      .all()
      .map((r) => ({ key: new Uint8Array(r.key), value: new Uint8Array(r.value) }));
    return { height, pairs };
  }

  /** Replaces the state table with `pairs` as the state after `height` (first use, or a rebuild). */
  replaceState(height: number, pairs: Iterable<KvPair>, sets: readonly StoredValidatorSet[] = []): void {
    this.db.transaction(() => {
      this.db.exec("DELETE FROM state");
      for (const p of pairs) this.upsertState.run(p.key, p.value);
      this.setStateHeight.run(String(height));
      for (const v of sets) this.insertSet.run(v.hash, v.json);
    })();
  }

  /** Every validator set stored, as JSON (validators.ts's encoding). */
  validatorSets(): string[] {
    return this.db.prepare<[], { data: string }>("SELECT data FROM validator_sets").all().map((r) => r.data);
  }

  getBlock(height: number): CommittedBlock | undefined {
    const row = this.selectBlock.get(height);
    if (!row) return undefined;
    // Blocks are BLOBs (block-binary.ts); files written before that hold JSON text.
    const parsed = typeof row.data === "string" ? committedFromJson(JSON.parse(row.data)) : decodeCommittedBinary(row.data);
    if (!parsed.ok) throw new StoreError(this.path, `block ${height}: ${parsed.reason}`);
    return parsed.block;
  }

  txLocation(hash: Hex): TxLocation | undefined {
    const row = this.selectTx.get(hash);
    return row ? { height: row.height, index: row.idx } : undefined;
  }

  loadSignerState(): unknown {
    const row = this.db.prepare<[], { data: string }>("SELECT data FROM signer_state WHERE id = 1").get();
    return row ? (JSON.parse(row.data) as unknown) : undefined;
  }

  /**
   * Saves the signer state and the blocks it names in one transaction, durable (fsync) when
   * this returns: a vote is signed only after it. Each block is written once; blocks of
   * heights below the state's are pruned.
   */
  saveSignerState(state: SignerStateRecord, blocks: readonly SignerBlock[] = []): void {
    this.saveSignerTx(state, blocks);
    // Only after the transaction committed (a rolled-back insert must be retried).
    for (const b of blocks) this.#savedSignerBlocks.add(b.hash);
    if (this.#savedSignerBlocks.size > 64) this.reloadSavedSignerBlocks();
  }

  /** A block saved with the signer state, by hash, in its JSON form (block.ts). */
  loadSignerBlock(hash: Hex): unknown {
    const row = this.selectSignerBlock.get(hash);
    if (!row) return undefined;
    if (typeof row.data === "string") return JSON.parse(row.data) as unknown;
    const decoded = decodeBlockBinary(row.data);
    if (!decoded.ok) throw new StoreError(this.path, `signer block ${hash}: ${decoded.reason}`);
    return blockToJson(decoded.block);
  }

  private reloadSavedSignerBlocks(): void {
    this.#savedSignerBlocks.clear();
    for (const row of this.db.prepare<[], { hash: string }>("SELECT hash FROM signer_blocks").all()) this.#savedSignerBlocks.add(row.hash as Hex);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
