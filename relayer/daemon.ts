import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { InvalidInputError, IsthmusError } from "../chains/errors.ts";
import type { LedgerAdapter } from "../chains/ledger.ts";
import { startApi, type ApiServer } from "./api/server.ts";
import type { RelayerConfig } from "./config.ts";
import { parseAmount } from "./core/amount.ts";
import type { Route } from "./core/route.ts";
import { SwapEngine } from "./engine.ts";
import { unlockSigner } from "./keys/signer.ts";
import { openLedger, openLedgerAs } from "./ledgers.ts";
import type { Logger } from "./log.ts";
import { instrumentLedger, RelayerMetrics, verificationReasonLabel } from "./ops/metrics.ts";
import { startMetricsServer, type MetricsServer } from "./ops/metrics-server.ts";
import { SwapStore } from "./store.ts";

export interface RelayerDaemon {
  readonly engine: SwapEngine;
  readonly store: SwapStore;
  readonly api: ApiServer;
  readonly ledgers: ReadonlyMap<string, LedgerAdapter>;
  readonly metrics: RelayerMetrics;
  /** The separate metrics listener (`metrics.listen`), or null when the API port alone serves /metrics. */
  readonly metricsServer: MetricsServer | null;
  /**
   * Graceful stop: refuse new swaps (503), start no new step, wait for steps under way
   * (sends included) to finish and be saved, close the API, the store and the ledgers.
   */
  stop(): Promise<void>;
}

/** Resolve configured routes against the ledgers' asset tables (decimals, existence). */
export function resolveRoutes(config: RelayerConfig, ledgers: ReadonlyMap<string, LedgerAdapter>): Route[] {
  return config.routes.map((r, i) => {
    const where = `${config.file}: routes[${i}]`;
    const src = ledgers.get(r.from.chain)!;
    const dst = ledgers.get(r.to.chain)!;
    const inAsset = src.asset(r.from.asset);
    dst.asset(r.to.asset);
    const minIn = parseAmount(r.min, inAsset.decimals, `${where}.min`);
    const maxIn = parseAmount(r.max, inAsset.decimals, `${where}.max`);
    if (minIn > maxIn) throw new InvalidInputError(`${where}.min`, "is larger than max");
    return { from: r.from, to: r.to, rate: r.rate, minIn, maxIn };
  });
}

/** A listen refused because the address is taken, named by its config key (not a bare "listen EADDRINUSE"). */
function namePortBusy(err: unknown, file: string, key: string, host: string, port: number): unknown {
  if ((err as NodeJS.ErrnoException | undefined)?.code !== "EADDRINUSE") return err;
  return new IsthmusError("PORT_BUSY", `${file}: ${key} ${host}:${port} is in use; is another relayer daemon (or npm start's devnet) running? stop it, or change ${key}`, { key, host, port }, { cause: err });
}

/** Start the relayer: open ledgers and the store, start the engine loop and the API. */
export async function startRelayer(config: RelayerConfig, log: Logger): Promise<RelayerDaemon> {
  const ledgers = new Map<string, LedgerAdapter>();
  for (const c of config.chains) {
    try {
      if (c.kind === "fabric") {
        // A Fabric identity is an X.509 certificate with its key in the directory or held by an external signer.
        ledgers.set(c.name, await openLedger(c, config.file));
        continue;
      }
      // Keystores are unlocked (a prompt, if any, comes first) and external signers asked for
      // their key here, before anything starts. Adapters get the signer, never the key.
      const signer = await unlockSigner(c.key, `${config.file}: chains.${c.name}`);
      log.info("chain signer", { chain: c.name, kind: signer.kind, address: signer.address });
      ledgers.set(c.name, await openLedgerAs(c, { signer }));
    } catch (err) {
      await Promise.all([...ledgers.values()].map((l) => l.close().catch(() => {})));
      throw err;
    }
  }
  return runRelayer(config, ledgers, log);
}

/** Run the relayer over adapters already open (tests pass fakes); it owns and closes them. */
export async function runRelayer(config: RelayerConfig, opened: ReadonlyMap<string, LedgerAdapter>, log: Logger): Promise<RelayerDaemon> {
  const metrics = new RelayerMetrics();
  const ledgers = new Map([...opened].map(([name, l]) => [name, instrumentLedger(l, metrics)] as const));
  let store: SwapStore | null = null;
  try {
    const routes = resolveRoutes(config, ledgers);
    if (config.store !== ":memory:") mkdirSync(dirname(config.store), { recursive: true });
    store = new SwapStore(config.store);
    const engine = new SwapEngine(ledgers, routes, store, config.timelocks, log, config.pollMs, {
      concurrencyPerChain: config.scheduling.concurrencyPerChain,
      onReconnect: (chain) => metrics.reconnects.inc({ chain }),
      onRediscovered: (chain) => metrics.rediscovered.inc({ chain }),
      onVerificationFailure: (chain, reason) => metrics.verificationFailures.inc({ chain, reason: verificationReasonLabel(reason) }),
    });
    for (const m of engine.margins()) log.info("route margin", { route: m.route, marginSec: m.margin.totalSec, terms: m.margin.terms, minUserLockSec: m.minUserLockSec });
    // The API first: a busy port must fail the start before the engine touches any ledger.
    const api = await startApi({ engine, store, host: config.api.host, port: config.api.port, log, ledgers, metrics, tenants: config.api.tenants }).catch((err: unknown) => {
      throw namePortBusy(err, config.file, "api.port", config.api.host, config.api.port);
    });
    // Prometheus and probes on an address of their own, when configured; a busy port fails the start.
    const listen = config.metrics?.listen ?? null;
    const st = store;
    const metricsServer: MetricsServer | null = listen
      ? await startMetricsServer({
          ...listen,
          log,
          sources: { store: st, ledgers, heads: () => engine.lastHeads(), metrics, draining: () => engine.stopping, chainHealth: () => engine.chainHealth() },
        }).catch(async (err: unknown) => {
          await api.close();
          throw namePortBusy(err, config.file, "metrics.listen", listen.host, listen.port);
        })
      : null;
    if (metricsServer) log.info("metrics listening", { url: metricsServer.url });
    engine.start();
    const s = store;
    let stopping: Promise<void> | null = null;
    return {
      engine,
      store: s,
      api,
      ledgers,
      metrics,
      metricsServer,
      stop() {
        stopping ??= (async () => {
          log.info("draining: new swaps refused, finishing steps under way");
          api.drain();
          await engine.stop();
          await api.close();
          await metricsServer?.close();
          s.close();
          await Promise.all([...ledgers.values()].map((l) => l.close()));
          log.info("stopped: state persisted");
        })();
        return stopping;
      },
    };
  } catch (err) {
    store?.close();
    await Promise.all([...ledgers.values()].map((l) => l.close().catch(() => {})));
    throw err;
  }
}
