import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { InvalidInputError, IsthmusError } from "../../chains/errors.ts";
import { toPlainJson } from "../core/codec.ts";
import { SwapStates, type Swap, type SwapState } from "../core/swap.ts";
import type { CreateSwapRequest, SwapEngine } from "../engine.ts";
import type { Logger } from "../log.ts";
import type { SwapStore } from "../store.ts";

const MAX_BODY = 64 * 1024;

class NotFoundError extends IsthmusError {
  override name = "NotFoundError";
  constructor(what: string) {
    super("NOT_FOUND", `${what} not found`, { what });
  }
}

/** HTTP status for a typed error: the caller's fault (4xx) or ours / a ledger's (5xx). */
function statusFor(err: unknown): number {
  if (!(err instanceof IsthmusError)) return 500;
  switch (err.code) {
    case "INVALID_INPUT":
      return 400;
    case "NOT_FOUND":
      return 404;
    case "DUPLICATE_HASHLOCK":
    case "INSUFFICIENT_LIQUIDITY":
      return 409;
    default:
      return 502;
  }
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The swap view clients see: the stored swap, amounts as strings, plus its history. */
export function swapView(swap: Swap, store: SwapStore): unknown {
  return toPlainJson({ ...swap, history: store.history(swap.id) });
}

/**
 * The relayer's JSON API:
 *   GET  /healthz                       liveness
 *   GET  /status                        chains (final heights) and swap counts by state
 *   GET  /routes                        what the relayer offers, with margins
 *   GET  /quote?from=&to=&amount=       a price and the timelock the user must give
 *   POST /swaps                         register a swap: {from,to,amount,hashlock,userFrom,userTo}
 *   GET  /swaps[?state=&limit=]         recent swaps
 *   GET  /swaps/:id                     one swap with its history
 */
export async function startApi(params: { engine: SwapEngine; store: SwapStore; host: string; port: number; log: Logger }): Promise<ApiServer> {
  const { engine, store, log } = params;

  const routes = async (req: IncomingMessage, url: URL): Promise<unknown> => {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (req.method === "GET" && path === "/healthz") return { ok: true };
    if (req.method === "GET" && path === "/status") {
      const chains = await Promise.all(
        [...new Set(engine.routes.flatMap((r) => [r.from.chain, r.to.chain]))].map(async (name) => {
          const l = engine.ledger(name);
          try {
            const h = await l.head();
            return { name, kind: l.kind, height: h.finalizedHeight, headHeight: h.headHeight, time: h.finalizedTime, relayer: l.address, ok: true };
          } catch (err) {
            return { name, kind: l.kind, height: null, ok: false, error: (err as Error).message, relayer: l.address };
          }
        }),
      );
      return { chains, swaps: store.countByState() };
    }
    if (req.method === "GET" && path === "/routes") {
      const margins = new Map(engine.margins().map((m) => [m.route, m]));
      return engine.routes.map((r) => {
        const key = `${r.from.chain}:${r.from.asset}->${r.to.chain}:${r.to.asset}`;
        return toPlainJson({ from: `${r.from.chain}:${r.from.asset}`, to: `${r.to.chain}:${r.to.asset}`, rate: r.rate.text, minIn: r.minIn, maxIn: r.maxIn, ...margins.get(key) });
      });
    }
    if (req.method === "GET" && path === "/quote") {
      const q = await engine.quote(url.searchParams.get("from") ?? "", url.searchParams.get("to") ?? "", url.searchParams.get("amount") ?? "");
      return toPlainJson(q);
    }
    if (req.method === "POST" && path === "/swaps") {
      const raw = await readJson(req);
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new InvalidInputError("body", "must be a JSON object");
      const body = raw as Partial<CreateSwapRequest>;
      const swap = await engine.createSwap({
        from: String(body.from ?? ""),
        to: String(body.to ?? ""),
        amount: String(body.amount ?? ""),
        hashlock: String(body.hashlock ?? ""),
        userFrom: String(body.userFrom ?? ""),
        userTo: String(body.userTo ?? ""),
      });
      return swapView(swap, store);
    }
    if (req.method === "GET" && path === "/swaps") {
      const state = url.searchParams.get("state");
      if (state !== null && !SwapStates.includes(state as SwapState)) {
        throw new InvalidInputError("state", `unknown state "${state}" (one of ${SwapStates.join(", ")})`);
      }
      const limitText = url.searchParams.get("limit") ?? "100";
      if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1) throw new InvalidInputError("limit", `"${limitText}" is not a whole number from 1 to 1000`);
      const limit = Number(limitText);
      return store.list({ ...(state ? { state: state as SwapState } : {}), limit }).map((s) => toPlainJson(s));
    }
    const m = /^\/swaps\/([0-9a-f]{24})$/.exec(path);
    if (req.method === "GET" && m) {
      const swap = store.get(m[1]!);
      if (!swap) throw new NotFoundError(`swap ${m[1]}`);
      return swapView(swap, store);
    }
    throw new NotFoundError(`${req.method} ${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let status = 200;
    let body: unknown;
    try {
      body = await routes(req, new URL(req.url ?? "/", "http://localhost"));
    } catch (err) {
      status = statusFor(err);
      body = { error: err instanceof IsthmusError ? err.toJSON() : { code: "INTERNAL", message: "internal error" } };
      if (status >= 500) log.error("api error", { path: req.url, err: (err as Error).message });
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new InvalidInputError("body", `larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new InvalidInputError("body", "is not valid JSON");
  }
}
