import { Chain } from "./chain.ts";
import { type Genesis } from "./genesis.ts";
import { type ChainLogger } from "./log.ts";
import { BlockStore } from "./store.ts";

/** A node's chain over its block store, replayed; the store is closed again if replay fails. */
export function openStoredChain(opts: { storePath: string; genesis: Genesis; maxBlockTxs?: number; stateHistory?: number; log?: ChainLogger }): { store: BlockStore; chain: Chain } {
  const store = new BlockStore(opts.storePath);
  try {
    const chain = Chain.open({ genesis: opts.genesis, store, ...(opts.maxBlockTxs ? { maxBlockTxs: opts.maxBlockTxs } : {}), ...(opts.stateHistory ? { stateHistory: opts.stateHistory } : {}), ...(opts.log ? { log: opts.log } : {}) });
    return { store, chain };
  } catch (err) {
    store.close();
    throw err;
  }
}
