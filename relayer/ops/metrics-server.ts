import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import { checkReadiness, renderMetrics, type MetricsSources } from "./metrics.ts";

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * /metrics, /healthz and /readyz on an address of their own (`metrics.listen`), so Prometheus
 * and probes can reach them on an internal interface while the swap API sits behind a proxy.
 * Read-only, no authentication, nothing else is served.
 */
export async function startMetricsServer(params: { host: string; port: number; sources: MetricsSources; log: Logger }): Promise<MetricsServer> {
  const { sources, log } = params;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method !== "GET") {
        res.writeHead(405, { allow: "GET", "content-type": "application/json" }).end(JSON.stringify({ error: { code: "METHOD_NOT_ALLOWED", message: `${req.method} is not allowed; GET only` } }));
        return;
      }
      if (path === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(await renderMetrics(sources));
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
      } else if (path === "/readyz") {
        const r = await checkReadiness(sources);
        res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(r));
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "NOT_FOUND", message: `${path}: this listener serves /metrics, /healthz and /readyz` } }));
      }
    })().catch((err: unknown) => {
      log.error("metrics listener error", { path: req.url, err: (err as Error).message });
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(params.port, params.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = params.host.includes(":") ? `[${params.host}]` : params.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
