import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { InvalidInputError, IsthmusError } from "../../chains/errors.ts";
import type { LedgerAdapter } from "../../chains/ledger.ts";
import { toPlainJson } from "../core/codec.ts";
import { SwapStates, type Swap, type SwapState } from "../core/swap.ts";
import { ShuttingDownError, type CreateSwapRequest, type SwapEngine } from "../engine.ts";
import type { Logger } from "../log.ts";
import { checkReadiness, RelayerMetrics, renderMetrics } from "../ops/metrics.ts";
import type { SwapChange, SwapStore } from "../store.ts";
import { RateLimitedError, TenantAuth, type TenantConfig } from "./auth.ts";
import { DASHBOARD_FILES, dashboardHeaders, loadDashboardFiles, type DashboardPath } from "./dashboard-files.ts";
import { byUrgency, chainView, readBalances, swapStatusView, type ChainView } from "./status-views.ts";

const MAX_BODY = 64 * 1024;
const SSE_KEEPALIVE_MS = 15_000;
/** How often a stream that asked for chain heads (`/events?heads=1`) checks the watcher's heads. */
const SSE_HEADS_MS = 1000;
const BALANCE_TIMEOUT_MS = 3000;
/** Open /events streams at once (anyone may open one): more are refused with 503. */
const SSE_MAX_STREAMS = 256;
/** Unsent bytes a stream may hold (a client that stopped reading): past it the stream is cut. */
const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

class NotFoundError extends IsthmusError {
  override name = "NotFoundError";
  constructor(what: string) {
    super("NOT_FOUND", `${what} not found`, { what });
  }
}

class MethodNotAllowedError extends IsthmusError {
  override name = "MethodNotAllowedError";
  constructor(
    method: string,
    path: string,
    readonly allowed: readonly string[],
  ) {
    super("METHOD_NOT_ALLOWED", `${method} is not allowed on ${path} (allowed: ${allowed.join(", ")})`, { method, path, allowed });
  }
}

class TooManyStreamsError extends IsthmusError {
  override name = "TooManyStreamsError";
  constructor(limit: number) {
    super("TOO_MANY_STREAMS", `${limit} event streams are open, the most this relayer serves; retry later`, { limit });
  }
}

class UnsupportedMediaTypeError extends IsthmusError {
  override name = "UnsupportedMediaTypeError";
  constructor(got: string) {
    super("UNSUPPORTED_MEDIA_TYPE", `the body must be application/json, got ${got || "no content-type"}`, { got });
  }
}

/** HTTP status for a typed error: the caller's fault (4xx) or ours / a ledger's (5xx). */
function statusFor(err: unknown): number {
  if (!(err instanceof IsthmusError)) return 500;
  switch (err.code) {
    case "INVALID_INPUT":
      return 400;
    case "UNAUTHORIZED":
      return 401;
    case "NOT_FOUND":
      return 404;
    case "METHOD_NOT_ALLOWED":
      return 405;
    case "DUPLICATE_HASHLOCK":
    case "INSUFFICIENT_LIQUIDITY":
      return 409;
    case "PAYLOAD_TOO_LARGE":
      return 413;
    case "UNSUPPORTED_MEDIA_TYPE":
      return 415;
    case "RATE_LIMITED":
      return 429;
    case "SHUTTING_DOWN":
    case "OVER_CAPACITY":
    case "TOO_MANY_STREAMS":
      return 503;
    default:
      return 502;
  }
}

export interface ApiServer {
  readonly url: string;
  /** Stop taking swaps (503) and report not ready; reads keep working until close(). */
  drain(): void;
  close(): Promise<void>;
}

/** A reply that is not JSON (Prometheus text, dashboard files), or JSON with its own status. */
class RawReply {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly text: string | Buffer,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

/** The handler took over the response (server-sent events). */
const STREAMING = Symbol("streaming");

/** The swap view clients see: the stored swap, amounts as strings, plus its history. */
export function swapView(swap: Swap, store: SwapStore): unknown {
  return toPlainJson({ ...swap, tenant: store.tenantOf(swap.id), history: store.history(swap.id) });
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
  readonly tenant: TenantConfig | null;
}

export interface ApiRoute {
  readonly method: "GET" | "POST";
  /** OpenAPI path syntax: `/swaps/{id}`. */
  readonly path: string;
  /** Needs a tenant's API key (mutating endpoints). */
  readonly auth: boolean;
}

interface Handler extends ApiRoute {
  readonly pattern: RegExp;
  readonly run: (ctx: Ctx) => Promise<unknown>;
}

/** Every route the server serves; the OpenAPI document must list exactly these (a test checks). */
export const API_ROUTES: readonly ApiRoute[] = [
  { method: "GET", path: "/healthz", auth: false },
  { method: "GET", path: "/readyz", auth: false },
  { method: "GET", path: "/metrics", auth: false },
  { method: "GET", path: "/status", auth: false },
  { method: "GET", path: "/routes", auth: false },
  { method: "GET", path: "/quote", auth: false },
  { method: "POST", path: "/swaps", auth: true },
  { method: "GET", path: "/swaps", auth: false },
  { method: "GET", path: "/swaps/{id}", auth: false },
  { method: "GET", path: "/swaps/{id}/proofs", auth: false },
  { method: "GET", path: "/events", auth: false },
  { method: "GET", path: "/chains", auth: false },
  { method: "GET", path: "/balances", auth: false },
  { method: "GET", path: "/inflight", auth: false },
  ...Object.keys(DASHBOARD_FILES).map((path) => ({ method: "GET", path, auth: false }) as const),
];

const ID = /^[0-9a-f]{24}$/;
const CREATE_FIELDS = ["from", "to", "amount", "hashlock", "userFrom", "userTo"] as const;

/** Strict body for POST /swaps: an object of exactly the known string fields. */
export function parseCreateBody(body: unknown): CreateSwapRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new InvalidInputError("body", "must be a JSON object");
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(CREATE_FIELDS as readonly string[]).includes(k)) throw new InvalidInputError(k, `unknown field (allowed: ${CREATE_FIELDS.join(", ")})`);
  }
  const out: Record<string, string> = {};
  for (const k of CREATE_FIELDS) {
    const v = o[k];
    if (v === undefined) throw new InvalidInputError(k, "is required");
    if (typeof v !== "string") throw new InvalidInputError(k, `must be a string (amounts are decimal strings such as "12.5"), got ${typeof v}`);
    out[k] = v;
  }
  return out as unknown as CreateSwapRequest;
}

function parseTimeParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw new InvalidInputError(name, `"${v}" is neither unix seconds nor an ISO-8601 time`);
  return ms;
}

/**
 * The relayer's JSON API; the contract is relayer/api/openapi.yaml. Reads are open,
 * POST /swaps needs a tenant's API key (`Authorization: Bearer <key>`) and is rate-limited
 * per tenant; a key on a read is checked but not charged.
 */
export async function startApi(params: {
  engine: SwapEngine;
  store: SwapStore;
  host: string;
  port: number;
  log: Logger;
  ledgers?: ReadonlyMap<string, LedgerAdapter>;
  metrics?: RelayerMetrics;
  tenants?: readonly TenantConfig[];
  /** Limits of GET /events (defaults SSE_MAX_STREAMS, SSE_MAX_BUFFERED_BYTES). */
  maxStreams?: number;
  maxStreamBufferBytes?: number;
}): Promise<ApiServer> {
  const { engine, store, log } = params;
  let draining = false;
  const auth = new TenantAuth(params.tenants ?? []);
  const ledgerMap = params.ledgers ?? new Map([...new Set(engine.routes.flatMap((r) => [r.from.chain, r.to.chain]))].map((n) => [n, engine.ledger(n)]));
  const metrics = params.metrics ?? new RelayerMetrics();
  const sources = { store, ledgers: ledgerMap, heads: () => engine.lastHeads(), metrics, draining: () => draining || engine.stopping, chainHealth: () => engine.chainHealth() };
  const streams = new Set<ServerResponse>();
  const dashboard = loadDashboardFiles();

  const chainViews = (): ChainView[] => {
    const heads = engine.lastHeads();
    const health = engine.chainHealth();
    return [...ledgerMap.values()].map((l) => chainView(l, heads.get(l.name), store.getCursor(l.name), health.get(l.name)?.failures ?? 0));
  };
  const decimals = (chain: string, asset: string) => ledgerMap.get(chain)?.asset(asset).decimals ?? 0;
  const chainTime = (chain: string) => engine.lastHeads().get(chain)?.finalizedTime;
  const serveFile = (path: DashboardPath) => async ({ req }: Ctx) => {
    const f = dashboard.get(path)!;
    const headers = dashboardHeaders(f);
    if (req.headers["if-none-match"] === f.etag) return new RawReply(304, f.contentType, "", headers);
    return new RawReply(200, f.contentType, f.body, headers);
  };

  const impl: Record<string, (ctx: Ctx) => Promise<unknown>> = {
    "GET /healthz": async () => ({ ok: true }),
    "GET /readyz": async () => {
      const r = await checkReadiness(sources);
      return new RawReply(r.ready ? 200 : 503, "application/json", JSON.stringify(r));
    },
    "GET /metrics": async () => new RawReply(200, "text/plain; version=0.0.4; charset=utf-8", await renderMetrics(sources)),
    "GET /status": async () => {
      const chains = await Promise.all(
        [...ledgerMap.values()].map(async (l) => {
          try {
            const h = await l.head();
            return { name: l.name, kind: l.kind, height: h.finalizedHeight, headHeight: h.headHeight, time: h.finalizedTime, relayer: l.address, ok: true };
          } catch (err) {
            return { name: l.name, kind: l.kind, height: null, ok: false, error: (err as Error).message, relayer: l.address };
          }
        }),
      );
      return { chains, swaps: store.countByState(), draining: sources.draining() };
    },
    "GET /routes": async () => {
      const margins = new Map(engine.margins().map((m) => [m.route, m]));
      return engine.routes.map((r) => {
        const key = `${r.from.chain}:${r.from.asset}->${r.to.chain}:${r.to.asset}`;
        return toPlainJson({ from: `${r.from.chain}:${r.from.asset}`, to: `${r.to.chain}:${r.to.asset}`, rate: r.rate.text, minIn: r.minIn, maxIn: r.maxIn, ...margins.get(key) });
      });
    },
    "GET /quote": async ({ url }) => toPlainJson(await engine.quote(url.searchParams.get("from") ?? "", url.searchParams.get("to") ?? "", url.searchParams.get("amount") ?? "")),
    "POST /swaps": async ({ req, tenant }) => {
      if (draining) throw new ShuttingDownError();
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json") throw new UnsupportedMediaTypeError(type);
      const body = parseCreateBody(await readJson(req));
      const swap = await engine.createSwap(body, tenant!.name);
      return new RawReply(201, "application/json", JSON.stringify(swapView(swap, store)));
    },
    "GET /swaps": async ({ url }) => {
      const known = ["state", "route", "tenant", "since", "until", "limit"];
      for (const k of url.searchParams.keys()) if (!known.includes(k)) throw new InvalidInputError(k, `unknown filter (allowed: ${known.join(", ")})`);
      const state = url.searchParams.get("state");
      if (state !== null && !SwapStates.includes(state as SwapState)) {
        throw new InvalidInputError("state", `unknown state "${state}" (one of ${SwapStates.join(", ")})`);
      }
      const limitText = url.searchParams.get("limit") ?? "100";
      if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) throw new InvalidInputError("limit", "must be an integer from 1 to 1000");
      const route = url.searchParams.get("route");
      const tenant = url.searchParams.get("tenant");
      const sinceMs = parseTimeParam(url, "since");
      const untilMs = parseTimeParam(url, "until");
      return store
        .list({
          ...(state ? { state: state as SwapState } : {}),
          ...(route ? { route } : {}),
          ...(tenant ? { tenant } : {}),
          ...(sinceMs !== undefined ? { sinceMs } : {}),
          ...(untilMs !== undefined ? { untilMs } : {}),
          limit: Number(limitText),
        })
        .map((s) => toPlainJson(s));
    },
    "GET /swaps/{id}": async ({ params: p }) => {
      const swap = store.get(p.id!);
      if (!swap) throw new NotFoundError(`swap ${p.id}`);
      return swapView(swap, store);
    },
    // The proof bundles the relayer verified before acting on this swap; each re-verifies offline (`isthmus proof verify`).
    "GET /swaps/{id}/proofs": async ({ params: p }) => {
      if (!store.get(p.id!)) throw new NotFoundError(`swap ${p.id}`);
      return { swap: p.id, proofs: store.proofs(p.id!) };
    },
    "GET /chains": async () => chainViews(),
    "GET /balances": async () => readBalances(ledgerMap.values(), BALANCE_TIMEOUT_MS),
    "GET /inflight": async ({ url }) => {
      for (const k of url.searchParams.keys()) if (k !== "limit") throw new InvalidInputError(k, "unknown parameter (allowed: limit)");
      const limitText = url.searchParams.get("limit") ?? "200";
      if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) throw new InvalidInputError("limit", "must be an integer from 1 to 1000");
      const all = store.listActive().map((s) => swapStatusView(s, decimals, chainTime)).sort(byUrgency);
      const text = JSON.stringify(all.slice(0, Number(limitText)));
      return new RawReply(200, "application/json", text, { "x-total-count": String(all.length) });
    },
    ...Object.fromEntries(Object.keys(DASHBOARD_FILES).map((p) => [`GET ${p}`, serveFile(p as DashboardPath)])),
    "GET /events": async ({ url, res, req }) => {
      const only = url.searchParams.get("swap");
      if (only !== null && !ID.test(only)) throw new InvalidInputError("swap", "must be a 24-hex-digit swap id");
      const headsParam = url.searchParams.get("heads");
      if (headsParam !== null && headsParam !== "1") throw new InvalidInputError("heads", `must be 1 (also stream \`chain\` events) or absent, got "${headsParam}"`);
      const maxStreams = params.maxStreams ?? SSE_MAX_STREAMS;
      if (streams.size >= maxStreams) throw new TooManyStreamsError(maxStreams);
      const maxBuffered = params.maxStreamBufferBytes ?? SSE_MAX_BUFFERED_BYTES;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      // A client that stops reading would make the daemon hold every later event for it.
      const write = (text: string) => {
        if (res.destroyed) return;
        if (res.writableLength > maxBuffered) {
          log.warn("event stream cut: its client stopped reading", { buffered: res.writableLength });
          res.destroy();
          return;
        }
        res.write(text);
      };
      write(": isthmus swap state changes\n\n");
      // Chain events: each chain's view whenever it changed, checked every SSE_HEADS_MS
      // (the watcher refreshes heads every poll; the stream carries them to pages live).
      const lastSent = new Map<string, string>();
      const sendChains = () => {
        // A tick may land between close() ending the stream and its close event.
        if (res.writableEnded || !store.isOpen) return;
        for (const c of chainViews()) {
          const text = JSON.stringify(c);
          if (lastSent.get(c.name) === text) continue;
          lastSent.set(c.name, text);
          write(`event: chain\ndata: ${text}\n\n`);
        }
      };
      if (headsParam === "1") sendChains();
      const headsTimer = headsParam === "1" ? setInterval(sendChains, SSE_HEADS_MS) : undefined;
      const send = (c: SwapChange) => {
        if (only !== null && c.swap.id !== only) return;
        const data = toPlainJson({ id: c.swap.id, state: c.swap.state, route: `${c.swap.from.chain}:${c.swap.from.asset}->${c.swap.to.chain}:${c.swap.to.asset}`, ...c.entry });
        write(`id: ${c.swap.id}:${c.entry.seq}\nevent: swap\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const off = store.onChange(send);
      // A heads stream's keepalive is an event, so a page can tell a silent (half-open) connection from a quiet one.
      const keepalive = setInterval(() => write(headsParam === "1" ? "event: keepalive\ndata: {}\n\n" : ": keepalive\n\n"), SSE_KEEPALIVE_MS);
      streams.add(res);
      const end = () => {
        off();
        clearInterval(keepalive);
        clearInterval(headsTimer);
        streams.delete(res);
      };
      req.on("close", end);
      res.on("close", end);
      return STREAMING;
    },
  };

  const handlers: Handler[] = API_ROUTES.map((r) => ({
    ...r,
    pattern: new RegExp("^" + r.path.replace(/[.]/g, "\\.").replace(/\{(\w+)\}/g, "(?<$1>[^/]+)") + "$"),
    run: impl[`${r.method} ${r.path}`] ?? (() => Promise.reject(new TypeError(`no handler for ${r.method} ${r.path}`))),
  }));

  const dispatch = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<unknown> => {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const matching = handlers.filter((h) => h.pattern.test(path));
    if (matching.length === 0) throw new NotFoundError(`${req.method} ${path}`);
    const h = matching.find((x) => x.method === req.method);
    if (!h) throw new MethodNotAllowedError(req.method ?? "?", path, matching.map((x) => x.method));
    const headers = [req.headers.authorization, req.headers["x-api-key"] as string | undefined] as const;
    const tenant = h.auth ? auth.require(...headers) : auth.identify(...headers);
    // Rate limits count a tenant's mutating requests; a key on a read is checked, not charged
    // (clients poll their swaps).
    if (tenant && h.auth) auth.charge(tenant);
    const params = (h.pattern.exec(path)!.groups ?? {}) as Record<string, string>;
    if (params.id !== undefined && !ID.test(params.id)) throw new NotFoundError(`swap ${params.id}`);
    return h.run({ req, res, url, params, tenant });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let status = 200;
    let body: unknown;
    const extra: Record<string, string> = {};
    try {
      body = await dispatch(req, res, new URL(req.url ?? "/", "http://localhost"));
      if (body === STREAMING) return;
    } catch (err) {
      status = statusFor(err);
      if (err instanceof RateLimitedError) extra["retry-after"] = String(err.retryAfterSec);
      if (err instanceof MethodNotAllowedError) extra.allow = err.allowed.join(", ");
      body = { error: err instanceof IsthmusError ? err.toJSON() : { code: "INTERNAL", message: "internal error" } };
      if (status >= 500 && status !== 503) log.error("api error", { path: req.url, err: (err as Error).message });
    }
    const raw = body instanceof RawReply ? body : null;
    if (raw) status = raw.status;
    const text = raw ? raw.text : JSON.stringify(body);
    res.writeHead(status, { "content-type": raw ? raw.contentType : "application/json", "content-length": Buffer.byteLength(text), ...raw?.headers, ...extra });
    res.end(text);
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(params.port, params.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${params.host}:${port}`,
    drain: () => {
      draining = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class PayloadTooLargeError extends IsthmusError {
  override name = "PayloadTooLargeError";
  constructor() {
    super("PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_BODY} bytes`, { limit: MAX_BODY });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new PayloadTooLargeError();
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new InvalidInputError("body", "is empty; send a JSON object");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError("body", `is not valid JSON (${(err as Error).message})`);
  }
}
