import { errorMessage, FinalityViolationError } from "../../chains/errors.ts";
import type { LedgerAdapter, LedgerHead } from "../../chains/ledger.ts";
import { reportsSendStats } from "../../chains/send-stats.ts";
import { formatAmount } from "../core/amount.ts";
import { deadlineOf } from "../core/deadline.ts";
import type { SwapStore } from "../store.ts";

/**
 * Prometheus metrics, text exposition format 0.0.4 written by hand (no client library):
 * counters live here, gauges are computed from the store, the engine's last heads and the
 * ledgers at scrape time, so they can never drift from the truth they describe.
 */
export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}
export interface Family {
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly help: string;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Render families in the text exposition format; throws on a malformed metric or label name (a bug). */
export function renderExposition(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new TypeError(`bad metric name ${JSON.stringify(f.name)}`);
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const entries = Object.entries(s.labels ?? {});
      for (const [k] of entries) if (!LABEL.test(k)) throw new TypeError(`bad label name ${JSON.stringify(k)} on ${f.name}`);
      const labels = entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      out.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return out.join("\n") + "\n";
}

/** A monotonically increasing count per label set. */
export class CounterVec {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, n = 1): void {
    if (n < 0) throw new RangeError(`${this.name}: counters only go up`);
    const key = JSON.stringify(Object.entries(labels).sort());
    const cur = this.values.get(key);
    if (cur) cur.value += n;
    else this.values.set(key, { labels, value: n });
  }

  get(labels: Labels = {}): number {
    return this.values.get(JSON.stringify(Object.entries(labels).sort()))?.value ?? 0;
  }

  family(): Family {
    return { name: this.name, type: "counter", help: this.help, samples: [...this.values.values()] };
  }
}

/** Counters the daemon's parts increment. */
export class RelayerMetrics {
  readonly rpcRequests = new CounterVec("isthmus_rpc_requests_total", "Calls the relayer made to a ledger, by chain and method.");
  readonly rpcErrors = new CounterVec("isthmus_rpc_errors_total", "Ledger calls that failed (RPC errors and ledger refusals), by chain and method.");
  readonly reconnects = new CounterVec("isthmus_chain_reconnects_total", "Times a ledger answered the watcher again after failing (each followed by a backfill).");
  readonly finalityViolations = new CounterVec(
    "isthmus_finality_violations_total",
    "Ledger reads refused because a header verified as final is no longer on the node's chain (a reorg deeper than the finality rule, or a node on another fork).",
  );
  readonly rediscovered = new CounterVec("isthmus_reconcile_rediscovered_total", "User locks the watcher had missed that reconciliation found, by source chain.");
  readonly verificationFailures = new CounterVec("isthmus_verification_failures_total", "Ledger answers that failed verification (the relayer did not act on them), by chain and reason class.");
}

/** A verification failure's reason as a low-cardinality label (the full reason is logged). */
export function verificationReasonLabel(reason: string): string {
  const r = reason.toLowerCase();
  if (/not backed by/.test(r)) return "false_event";
  if (/endorse/.test(r)) return "endorsement";
  if (/orderer signature|commit|stake|signature/.test(r)) return "signature";
  if (/previous_hash|parenthash|header chain|trusted block|trusted header|does not link|hashes to|differs from the one verified/.test(r)) return "header_chain";
  if (/data_hash|transactions filter|txid|proposal_hash|transaction/.test(r)) return "block";
  if (/storage|account|state root|stateroot|merkle|proof|absence|value/.test(r)) return "state_proof";
  if (/lock/.test(r)) return "lock_record";
  return "other";
}

const COUNTED = new Set(["head", "events", "getLock", "proveLock", "balance", "lock", "claim", "refund", "waitFinal"]);

/** Wrap an adapter so every ledger call is counted, and every failure counted as an RPC error. */
export function instrumentLedger(ledger: LedgerAdapter, metrics: RelayerMetrics): LedgerAdapter {
  return new Proxy(ledger, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof v !== "function") return v;
      if (!COUNTED.has(prop)) return v.bind(target);
      return async (...args: unknown[]) => {
        const labels = { chain: target.name, method: prop };
        metrics.rpcRequests.inc(labels);
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          metrics.rpcErrors.inc(labels);
          if (err instanceof FinalityViolationError) metrics.finalityViolations.inc({ chain: target.name });
          throw err;
        }
      };
    },
  });
}

export interface MetricsSources {
  readonly store: SwapStore;
  readonly ledgers: ReadonlyMap<string, LedgerAdapter>;
  readonly heads: () => ReadonlyMap<string, LedgerHead>;
  readonly metrics: RelayerMetrics;
  readonly draining: () => boolean;
  /** Ledgers the watcher is backing off from, with their consecutive failures. */
  readonly chainHealth?: () => ReadonlyMap<string, { readonly failures: number }>;
  /** Per-ledger time allowed for the balance reads of one scrape. */
  readonly balanceTimeoutMs?: number;
  readonly nowMs?: () => number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Adapters that send with nonces report their resyncs and rebroadcasts (Fabric has neither). */
function sendStatFamilies(chains: readonly LedgerAdapter[]): Family[] {
  const stats = chains.flatMap((l) => (reportsSendStats(l) ? [{ chain: l.name, s: l.sendStats() }] : []));
  return [
    {
      name: "isthmus_nonce_resyncs_total",
      type: "counter",
      help: "Times a chain's sender dropped its cached account nonce and re-read it (refused, dropped, replaced or timed-out send).",
      samples: stats.map(({ chain, s }) => ({ labels: { chain }, value: s.nonceResyncs })),
    },
    {
      name: "isthmus_tx_rebroadcasts_total",
      type: "counter",
      help: "Transactions signed again at the same nonce with bumped fees because they were not mined in time.",
      samples: stats.map(({ chain, s }) => ({ labels: { chain }, value: s.rebroadcasts })),
    },
  ];
}

/** Every metric family, computed now. A ledger that does not answer loses only its balance samples. */
export async function collectFamilies(src: MetricsSources): Promise<Family[]> {
  const now = (src.nowMs ?? Date.now)();
  const heads = src.heads();
  const active = src.store.listActive();

  const byChain = new Map<string, { min: number; held: number }>();
  for (const s of active) {
    const d = deadlineOf(s);
    if (!d) continue;
    const head = heads.get(d.chain);
    const e = byChain.get(d.chain) ?? { min: Infinity, held: 0 };
    e.held++;
    if (head) e.min = Math.min(e.min, d.time - head.finalizedTime);
    byChain.set(d.chain, e);
  }

  const chains = [...src.ledgers.values()];
  const balances: Sample[] = [];
  await Promise.all(
    chains.map(async (l) => {
      try {
        const values = await withTimeout(Promise.all(l.assets().map(async (a) => [a, await l.balance(a.symbol)] as const)), src.balanceTimeoutMs ?? 3000, `${l.name} balances`);
        for (const [a, v] of values) balances.push({ labels: { chain: l.name, asset: a.symbol }, value: Number(formatAmount(v, a.decimals)) });
      } catch {
        // Counted by the instrumented adapter; the scrape still answers.
      }
    }),
  );
  balances.sort((a, b) => `${a.labels!.chain}:${a.labels!.asset}`.localeCompare(`${b.labels!.chain}:${b.labels!.asset}`));

  const chainSamples = (f: (name: string, h: LedgerHead) => number | null): Sample[] =>
    chains.flatMap((l) => {
      const h = heads.get(l.name);
      const v = h ? f(l.name, h) : null;
      return v === null ? [] : [{ labels: { chain: l.name }, value: v }];
    });

  const oldest = active.reduce((m, s) => Math.min(m, s.createdAtMs), Infinity);
  return [
    { name: "isthmus_up", type: "gauge", help: "1 while the relayer daemon runs.", samples: [{ value: 1 }] },
    { name: "isthmus_draining", type: "gauge", help: "1 once shutdown began: new swaps are refused, in-flight sends finish.", samples: [{ value: src.draining() ? 1 : 0 }] },
    {
      name: "isthmus_swaps",
      type: "gauge",
      help: "Swaps in the store by state and route.",
      samples: src.store.countByStateAndRoute().map((r) => ({ labels: { state: r.state, route: r.route }, value: r.n })),
    },
    { name: "isthmus_backlog_swaps", type: "gauge", help: "Swaps not in a final state.", samples: [{ value: active.length }] },
    {
      name: "isthmus_backlog_oldest_age_seconds",
      type: "gauge",
      help: "Wall-clock age of the oldest swap not in a final state (0 when none).",
      samples: [{ value: active.length ? Math.max(0, (now - oldest) / 1000) : 0 }],
    },
    {
      name: "isthmus_deadlines_held",
      type: "gauge",
      help: "Swaps holding the relayer to a deadline in this chain's block time (counter-lock to place or user lock to claim).",
      samples: [...byChain].map(([chain, e]) => ({ labels: { chain }, value: e.held })),
    },
    {
      name: "isthmus_deadline_nearest_seconds",
      type: "gauge",
      help: "Seconds of chain time left before the nearest deadline the relayer holds on this chain (negative: missed).",
      samples: [...byChain].filter(([, e]) => Number.isFinite(e.min)).map(([chain, e]) => ({ labels: { chain }, value: e.min })),
    },
    { name: "isthmus_chain_head_height", type: "gauge", help: "Latest height the ledger's node reports.", samples: chainSamples((_, h) => h.headHeight) },
    { name: "isthmus_chain_finalized_height", type: "gauge", help: "Latest height meeting the ledger's finality rule.", samples: chainSamples((_, h) => h.finalizedHeight) },
    { name: "isthmus_chain_finality_lag_blocks", type: "gauge", help: "Head height minus finalized height.", samples: chainSamples((_, h) => h.headHeight - h.finalizedHeight) },
    {
      name: "isthmus_chain_scan_lag_blocks",
      type: "gauge",
      help: "Finalized height minus the last height whose events the relayer handled.",
      samples: chainSamples((name, h) => {
        const c = src.store.getCursor(name);
        return c === null ? null : Math.max(0, h.finalizedHeight - c);
      }),
    },
    { name: "isthmus_chain_time_seconds", type: "gauge", help: "Block time of the finalized head (unix seconds, the ledger's clock).", samples: chainSamples((_, h) => h.finalizedTime) },
    {
      name: "isthmus_chain_up",
      type: "gauge",
      help: "1 when the watcher's last attempt on the ledger succeeded, 0 while it backs off.",
      samples: chains.map((l) => ({ labels: { chain: l.name }, value: src.chainHealth?.().has(l.name) ? 0 : 1 })),
    },
    src.metrics.reconnects.family(),
    src.metrics.rediscovered.family(),
    src.metrics.finalityViolations.family(),
    ...sendStatFamilies(chains),
    src.metrics.verificationFailures.family(),
    src.metrics.rpcRequests.family(),
    src.metrics.rpcErrors.family(),
    { name: "isthmus_wallet_balance", type: "gauge", help: "The relayer's balance per chain and asset, in whole asset units.", samples: balances },
  ];
}

export async function renderMetrics(src: MetricsSources): Promise<string> {
  return renderExposition(await collectFamilies(src));
}

export interface Readiness {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly store: { readonly ok: boolean; readonly error?: string };
  readonly chains: Record<string, { readonly ok: boolean; readonly finalizedHeight?: number; readonly error?: string }>;
}

/** Ready = the store answers, every ledger answers a head read in time, and shutdown has not begun. */
export async function checkReadiness(src: Pick<MetricsSources, "store" | "ledgers" | "draining">, timeoutMs = 2000): Promise<Readiness> {
  let store: Readiness["store"];
  try {
    src.store.ping();
    store = { ok: true };
  } catch (err) {
    store = { ok: false, error: errorMessage(err) };
  }
  const chains: Record<string, Readiness["chains"][string]> = {};
  await Promise.all(
    [...src.ledgers.values()].map(async (l) => {
      try {
        const h = await withTimeout(l.head(), timeoutMs, `${l.name} head`);
        chains[l.name] = { ok: true, finalizedHeight: h.finalizedHeight };
      } catch (err) {
        chains[l.name] = { ok: false, error: errorMessage(err) };
      }
    }),
  );
  const draining = src.draining();
  return { ready: store.ok && !draining && Object.values(chains).every((c) => c.ok), draining, store, chains };
}
