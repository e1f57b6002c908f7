import Database from "better-sqlite3";
import { IsthmusError } from "../chains/errors.ts";
import type { EventCheckpoint } from "../chains/ledger.ts";
import { decodeSwap, encodeSwap } from "./core/codec.ts";
import { canTransition, FinalStates, type Swap, type SwapState } from "./core/swap.ts";

export class StoreConflictError extends IsthmusError {
  override name = "StoreConflictError";
  constructor(swapId: string, expected: SwapState) {
    super("STORE_CONFLICT", `swap ${swapId} changed underneath (expected state ${expected})`, { swapId, expected });
  }
}

export class IllegalTransitionError extends IsthmusError {
  override name = "IllegalTransitionError";
  constructor(swapId: string, from: SwapState, to: SwapState) {
    super("ILLEGAL_TRANSITION", `swap ${swapId} may not move from ${from} to ${to}`, { swapId, from, to });
  }
}

export class DuplicateHashlockError extends IsthmusError {
  override name = "DuplicateHashlockError";
  constructor(hashlock: string) {
    super("DUPLICATE_HASHLOCK", `hashlock ${hashlock} was already used by another swap; make a new secret`, { hashlock });
  }
}

export interface HistoryEntry {
  readonly seq: number;
  readonly from: SwapState | null;
  readonly to: SwapState;
  readonly note: string;
  readonly chain: string | null;
  readonly txId: string | null;
  readonly atMs: number;
}

/** Ordered migrations; the database's user_version says how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE swaps (
     id TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     from_chain TEXT NOT NULL,
     to_chain TEXT NOT NULL,
     hashlock TEXT NOT NULL UNIQUE,
     data TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL,
     updated_at_ms INTEGER NOT NULL
   );
   CREATE INDEX swaps_state ON swaps(state);
   CREATE TABLE swap_history (
     swap_id TEXT NOT NULL REFERENCES swaps(id),
     seq INTEGER NOT NULL,
     from_state TEXT,
     to_state TEXT NOT NULL,
     note TEXT NOT NULL,
     chain TEXT,
     tx_id TEXT,
     at_ms INTEGER NOT NULL,
     PRIMARY KEY (swap_id, seq)
   );
   CREATE TABLE cursors (chain TEXT PRIMARY KEY, height INTEGER NOT NULL);`,
  // 2: the API tenant that created a swap (null for swaps from before tenants existed), for history filters.
  `ALTER TABLE swaps ADD COLUMN tenant TEXT;
   CREATE INDEX swaps_created ON swaps(created_at_ms);`,
  // 3: where a chain watched through an event stream (Fabric chaincode events) resumes.
  `CREATE TABLE event_checkpoints (chain TEXT PRIMARY KEY, block INTEGER NOT NULL, after_tx TEXT);`,
  // 4: the proof bundles the relayer verified before acting, per swap, for auditors.
  `CREATE TABLE swap_proofs (
     swap_id TEXT NOT NULL REFERENCES swaps(id),
     seq INTEGER NOT NULL,
     role TEXT NOT NULL,
     chain TEXT NOT NULL,
     lock_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     bundle TEXT NOT NULL,
     at_ms INTEGER NOT NULL,
     PRIMARY KEY (swap_id, seq)
   );`,
];

/** What a stored proof bundle was the evidence for. */
export type ProofRole = "user-lock" | "counter-lock-claimed" | "counter-lock-expired";

export interface StoredProof {
  readonly seq: number;
  readonly role: ProofRole;
  readonly chain: string;
  readonly lockId: string;
  /** The bundle's kind (proofs/bundle.ts). */
  readonly kind: string;
  /** The bundle as the relayer verified it (parsed JSON). */
  readonly bundle: unknown;
  readonly atMs: number;
}

/** One stored change, as the event stream sends it. */
export interface SwapChange {
  readonly swap: Swap;
  readonly entry: HistoryEntry;
}

export interface SwapFilter {
  readonly state?: SwapState;
  /** `chain:ASSET->chain:ASSET` */
  readonly route?: string;
  readonly tenant?: string;
  /** created_at_ms bounds, inclusive lower, exclusive upper */
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly limit?: number;
}

/**
 * The relayer's durable state in SQLite. Every swap change is a compare-and-swap on the
 * full stored record plus a history row, in one transaction: a crash leaves either the
 * old state or the new one, never half.
 */
export class SwapStore {
  private readonly db: Database.Database;
  private readonly listeners = new Set<(c: SwapChange) => void>();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Called after each committed change; returns the unsubscribe function. A throwing listener is dropped. */
  onChange(listener: (c: SwapChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(swap: Swap, entry: HistoryEntry): void {
    for (const l of this.listeners) {
      try {
        l({ swap, entry });
      } catch {
        this.listeners.delete(l);
      }
    }
  }

  insert(swap: Swap, note: string, tenant: string | null = null): void {
    const now = Date.now();
    let entry!: HistoryEntry;
    try {
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT INTO swaps (id, state, from_chain, to_chain, hashlock, data, created_at_ms, updated_at_ms, tenant)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(swap.id, swap.state, swap.from.chain, swap.to.chain, swap.hashlock, encodeSwap(swap), swap.createdAtMs, now, tenant);
        entry = this.appendHistory(swap.id, null, swap.state, note, null, null, now);
      })();
    } catch (err) {
      if (err instanceof Error && /UNIQUE constraint failed: swaps.hashlock/.test(err.message)) {
        throw new DuplicateHashlockError(swap.hashlock);
      }
      throw err;
    }
    this.emit(swap, entry);
  }

  /** Replace `prev` by `next` if the stored record is still exactly `prev`. */
  update(prev: Swap, next: Swap, note: string, tx?: { chain: string; txId: string | null }): void {
    if (prev.id !== next.id) throw new TypeError(`update: swap ids differ (${prev.id} vs ${next.id})`);
    if (prev.state !== next.state && !canTransition(prev.state, next.state)) {
      throw new IllegalTransitionError(prev.id, prev.state, next.state);
    }
    const now = Date.now();
    let entry!: HistoryEntry;
    this.db.transaction(() => {
      const res = this.db
        .prepare(`UPDATE swaps SET state = ?, data = ?, updated_at_ms = ? WHERE id = ? AND data = ?`)
        .run(next.state, encodeSwap(next), now, next.id, encodeSwap(prev));
      if (res.changes !== 1) throw new StoreConflictError(prev.id, prev.state);
      entry = this.appendHistory(next.id, prev.state, next.state, note, tx?.chain ?? null, tx?.txId ?? null, now);
    })();
    this.emit(next, entry);
  }

  private appendHistory(id: string, from: SwapState | null, to: SwapState, note: string, chain: string | null, txId: string | null, at: number): HistoryEntry {
    const { seq } = this.db.prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM swap_history WHERE swap_id = ?`).get(id) as { seq: number };
    this.db
      .prepare(`INSERT INTO swap_history (swap_id, seq, from_state, to_state, note, chain, tx_id, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, seq, from, to, note, chain, txId, at);
    return { seq, from, to, note, chain, txId, atMs: at };
  }

  get(id: string): Swap | null {
    const row = this.db.prepare(`SELECT data FROM swaps WHERE id = ?`).get(id) as { data: string } | undefined;
    return row ? decodeSwap(row.data) : null;
  }

  findByHashlock(hashlock: string): Swap | null {
    const row = this.db.prepare(`SELECT data FROM swaps WHERE hashlock = ?`).get(hashlock) as { data: string } | undefined;
    return row ? decodeSwap(row.data) : null;
  }

  /** Swaps that still need the engine, oldest first. */
  listActive(): Swap[] {
    const finals = [...FinalStates];
    const rows = this.db
      .prepare(`SELECT data FROM swaps WHERE state NOT IN (${finals.map(() => "?").join(",")}) ORDER BY created_at_ms, id`)
      .all(...finals) as { data: string }[];
    return rows.map((r) => decodeSwap(r.data));
  }

  /** Swaps newest first, filtered; each filter is optional. */
  list(filter: SwapFilter = {}): Swap[] {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state) where.push("state = ?"), args.push(filter.state);
    if (filter.route) {
      where.push(`from_chain || ':' || json_extract(data, '$.from.asset') || '->' || to_chain || ':' || json_extract(data, '$.to.asset') = ?`);
      args.push(filter.route);
    }
    if (filter.tenant) where.push("tenant = ?"), args.push(filter.tenant);
    if (filter.sinceMs !== undefined) where.push("created_at_ms >= ?"), args.push(filter.sinceMs);
    if (filter.untilMs !== undefined) where.push("created_at_ms < ?"), args.push(filter.untilMs);
    const sql = `SELECT data FROM swaps ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, limit) as { data: string }[];
    return rows.map((r) => decodeSwap(r.data));
  }

  /** The tenant that created a swap (null: none recorded). */
  tenantOf(id: string): string | null {
    const row = this.db.prepare(`SELECT tenant FROM swaps WHERE id = ?`).get(id) as { tenant: string | null } | undefined;
    return row?.tenant ?? null;
  }

  countByState(): Record<string, number> {
    const rows = this.db.prepare(`SELECT state, COUNT(*) AS n FROM swaps GROUP BY state`).all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** Swap counts per state and route (`chain:ASSET->chain:ASSET`), for metrics. */
  countByStateAndRoute(): { state: SwapState; route: string; n: number }[] {
    const rows = this.db
      .prepare(
        `SELECT state, from_chain || ':' || json_extract(data, '$.from.asset') || '->' || to_chain || ':' || json_extract(data, '$.to.asset') AS route, COUNT(*) AS n
         FROM swaps GROUP BY state, route ORDER BY state, route`,
      )
      .all() as { state: SwapState; route: string; n: number }[];
    return rows;
  }

  /** Throws when the database is closed or unusable (readiness check). */
  ping(): void {
    this.db.prepare(`SELECT 1`).get();
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  history(id: string): HistoryEntry[] {
    const rows = this.db
      .prepare(`SELECT seq, from_state, to_state, note, chain, tx_id, at_ms FROM swap_history WHERE swap_id = ? ORDER BY seq`)
      .all(id) as { seq: number; from_state: SwapState | null; to_state: SwapState; note: string; chain: string | null; tx_id: string | null; at_ms: number }[];
    return rows.map((r) => ({ seq: r.seq, from: r.from_state, to: r.to_state, note: r.note, chain: r.chain, txId: r.tx_id, atMs: r.at_ms }));
  }

  /** Appends a proof bundle the relayer verified for swap `id`; bundles are never changed or removed. */
  addProof(id: string, p: { readonly role: ProofRole; readonly chain: string; readonly lockId: string; readonly bundle: { readonly kind: string } }): StoredProof {
    const at = Date.now();
    const text = JSON.stringify(p.bundle);
    const seq = this.db.transaction(() => {
      const { seq } = this.db.prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM swap_proofs WHERE swap_id = ?`).get(id) as { seq: number };
      this.db.prepare(`INSERT INTO swap_proofs (swap_id, seq, role, chain, lock_id, kind, bundle, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(id, seq, p.role, p.chain, p.lockId, p.bundle.kind, text, at);
      return seq;
    })();
    return { seq, role: p.role, chain: p.chain, lockId: p.lockId, kind: p.bundle.kind, bundle: JSON.parse(text), atMs: at };
  }

  proofs(id: string): StoredProof[] {
    const rows = this.db.prepare(`SELECT seq, role, chain, lock_id, kind, bundle, at_ms FROM swap_proofs WHERE swap_id = ? ORDER BY seq`).all(id) as {
      seq: number;
      role: ProofRole;
      chain: string;
      lock_id: string;
      kind: string;
      bundle: string;
      at_ms: number;
    }[];
    return rows.map((r) => ({ seq: r.seq, role: r.role, chain: r.chain, lockId: r.lock_id, kind: r.kind, bundle: JSON.parse(r.bundle), atMs: r.at_ms }));
  }

  /** Last height whose events were fully handled, or null before the first scan. */
  getCursor(chain: string): number | null {
    const row = this.db.prepare(`SELECT height FROM cursors WHERE chain = ?`).get(chain) as { height: number } | undefined;
    return row ? row.height : null;
  }

  setCursor(chain: string, height: number): void {
    this.db.prepare(`INSERT INTO cursors (chain, height) VALUES (?, ?) ON CONFLICT(chain) DO UPDATE SET height = excluded.height`).run(chain, height);
  }

  /** Where the chain's event stream resumes (after the last handled event), or null before its first scan. */
  getEventCheckpoint(chain: string): EventCheckpoint | null {
    const row = this.db.prepare(`SELECT block, after_tx FROM event_checkpoints WHERE chain = ?`).get(chain) as { block: number; after_tx: string | null } | undefined;
    return row ? { block: row.block, afterTxId: row.after_tx } : null;
  }

  setEventCheckpoint(chain: string, c: EventCheckpoint): void {
    this.db
      .prepare(`INSERT INTO event_checkpoints (chain, block, after_tx) VALUES (?, ?, ?) ON CONFLICT(chain) DO UPDATE SET block = excluded.block, after_tx = excluded.after_tx`)
      .run(chain, c.block, c.afterTxId);
  }

  close(): void {
    this.db.close();
  }
}
