/**
 * What a dApp runs when it starts: finish every open swap of its store (claim a verified
 * counter-lock, refund an expired lock, report when the rest become refundable).
 * npx tsx examples/recover.ts
 */
import { createClient, FileSwapStore, readDevnet, recover, type RecoverOutcome } from "../sdk/index.ts";
import { resolveOptions, runIfMain, type ExampleOptions } from "./lib/script.ts";

export async function main(options: ExampleOptions & { readonly timeoutMs?: number } = {}): Promise<RecoverOutcome[]> {
  const { devnetFile, storeDir } = resolveOptions(options);
  const devnet = readDevnet(devnetFile);
  const ledgers = await devnet.openLedgers();
  try {
    const client = createClient({ relayerUrl: devnet.relayerUrl, apiKey: devnet.apiKey, ledgers, store: new FileSwapStore(storeDir) });
    return await recover(client, { timeoutMs: options.timeoutMs ?? 60_000 });
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
  }
}

runIfMain(import.meta.url, main);
