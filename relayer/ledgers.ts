import { ConsortiumLedger } from "../chains/consortium/adapter.ts";
import { EvmLedger } from "../chains/evm/adapter.ts";
import type { LedgerAdapter } from "../chains/ledger.ts";
import type { Secp256k1DigestSigner } from "../chains/signer.ts";
import { resolveKey, type ChainConfig } from "./config.ts";
import { openFabricLedger } from "./fabric-ledger.ts";

/** Who a consortium or EVM adapter acts for: a key in this process, or a signer holding it. */
export type LedgerAccount = { readonly privateKey: string } | { readonly signer: Secp256k1DigestSigner };

/**
 * The one place that turns chain config into concrete adapters. Resolves once the adapter
 * knows the ledger's asset table (the consortium node is asked for it).
 */
export async function openLedger(chain: ChainConfig, where: string, keyOverride?: string): Promise<LedgerAdapter> {
  // A Fabric identity is a certificate and key in a directory; a key override names another directory.
  if (chain.kind === "fabric") return openFabricLedger(chain, where, keyOverride);
  return openLedgerAs(chain, { privateKey: keyOverride ?? resolveKey(chain.key, `${where}: chains.${chain.name}`) });
}

/** A consortium or EVM adapter acting for `account` (the daemon passes its signers here). */
export async function openLedgerAs(chain: Exclude<ChainConfig, { kind: "fabric" }>, account: LedgerAccount): Promise<LedgerAdapter> {
  switch (chain.kind) {
    case "consortium":
      return ConsortiumLedger.connect({
        name: chain.name,
        endpoint: chain.endpoint,
        chainId: chain.chainId,
        ...account,
        validators: chain.validators.map((v) => ({ address: v.address, stake: v.stake })),
        blockTimeSec: chain.blockTimeSec,
        clockSkewSec: chain.clockSkewSec,
      });
    case "evm":
      return new EvmLedger({
        name: chain.name,
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        ...account,
        htlcAddress: chain.htlc,
        assets: chain.assets,
        confirmations: chain.confirmations,
        blockTimeSec: chain.blockTimeSec,
        clockSkewSec: chain.clockSkewSec,
      });
  }
}
