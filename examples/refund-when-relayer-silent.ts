/**
 * A relayer that takes the swap and then never answers: the dApp's lock is safe, because
 * the SDK refunds it once the source chain's time passes the timelock.
 *
 * The silent relayer here is a local HTTP server that forwards /quote to the devnet's
 * relayer, answers POST /swaps, and then lets every GET /swaps/{id} hang. The devnet's real
 * relayer never heard of the swap, so no counter-lock ever comes.
 * npx tsx examples/refund-when-relayer-silent.ts   (waits for the timelock in real chain time, about 2 minutes)
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, createSwap, FileSwapStore, lock, quote, readDevnet, refund, RelayerGaveUpError, watch, type LedgerAdapter, type RefundOutcome } from "../sdk/index.ts";
import { resolveOptions, runIfMain, type ExampleOptions } from "./lib/script.ts";

export interface SilentOptions extends ExampleOptions {
  /** Resolves once `ledger`'s finalized time reaches `time`; default polls the chain (tests move chain time instead). */
  readonly waitForChainTime?: (ledger: LedgerAdapter, time: number) => Promise<void>;
  /** How long to wait for a counter-lock before giving up; default 10 s. */
  readonly watchTimeoutMs?: number;
}

export async function main(options: SilentOptions = {}): Promise<{ swapId: string; gaveUp: string; refund: RefundOutcome }> {
  const { devnetFile, storeDir } = resolveOptions(options);
  const devnet = readDevnet(devnetFile);
  const silent = await startSilentRelayer(devnet.relayerUrl);
  const ledgers = await devnet.openLedgers();
  try {
    const client = createClient({ relayerUrl: silent.url, ledgers, store: new FileSwapStore(storeDir), relayerTimeoutMs: 1_000 });
    const q = await quote(client, { from: "consortium:KRW", to: "evm:KRWT", amount: "3" });
    const created = await createSwap(client, { from: "consortium:KRW", to: "evm:KRWT", amount: "3", timelockSec: q.minUserLockSec });
    const userLock = await lock(client, created.swapId);
    let gaveUp = "";
    try {
      await watch(client, created.swapId, { timeoutMs: options.watchTimeoutMs ?? 10_000 });
      throw new Error("a silent relayer produced a counter-lock");
    } catch (err) {
      if (!(err instanceof RelayerGaveUpError)) throw err;
      gaveUp = err.message;
    }
    const source = ledgers.find((l) => l.name === userLock.chain)!;
    await (options.waitForChainTime ?? pollChainTime)(source, userLock.timelock);
    return { swapId: created.swapId, gaveUp, refund: await refund(client, created.swapId) };
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
    await silent.close();
  }
}

async function pollChainTime(ledger: LedgerAdapter, time: number): Promise<void> {
  while ((await ledger.head()).finalizedTime < time) await new Promise((r) => setTimeout(r, 2_000));
}

/** Answers a quote and a swap creation, then nothing. */
async function startSilentRelayer(realUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const hanging = new Set<import("node:http").ServerResponse>();
  const server: Server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method === "GET" && req.url?.startsWith("/quote")) {
      const real = await fetch(realUrl + req.url);
      return reply(real.status, await real.json());
    }
    if (req.method === "POST" && req.url === "/swaps") {
      for await (const _chunk of req);
      return reply(201, { id: randomBytes(12).toString("hex"), state: "awaiting_user_lock" });
    }
    hanging.add(res); // never answered
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        server.close(() => r());
      }),
  };
}

runIfMain(import.meta.url, main);
