import { createClient, FileSwapStore, readDevnet, swap, type SwapResult } from "../../sdk/index.ts";
import { resolveOptions, type ExampleOptions } from "./script.ts";

/**
 * The whole of a route example: open the devnet's ledgers as its demo user (ethers Wallet
 * for EVM, Fabric identity + signer, consortium key), then one `swap` call: quote, fresh
 * preimage kept in the file store, lock, verify the relayer's counter-lock on chain, claim.
 */
export async function swapOnDevnet(from: string, to: string, amount: string, options: ExampleOptions): Promise<SwapResult> {
  const { devnetFile, storeDir } = resolveOptions(options);
  const devnet = readDevnet(devnetFile);
  const ledgers = await devnet.openLedgers();
  try {
    const client = createClient({ relayerUrl: devnet.relayerUrl, apiKey: devnet.apiKey, ledgers, store: new FileSwapStore(storeDir) });
    return await swap(client, { from, to, amount });
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
  }
}
