import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FabricLedger } from "../chains/fabric/adapter.ts";
import type { LedgerAdapter } from "../chains/ledger.ts";
import { ConfigError, type FabricChainConfig } from "./config.ts";

/**
 * A Fabric chain's adapter from config: reads the identity's cert.pem/key.pem (from
 * `identityDirOverride` when given, e.g. a CLI user's own identity) and the trusted orderer
 * certificate.
 */
export async function openFabricLedger(chain: FabricChainConfig, where: string, identityDirOverride?: string): Promise<LedgerAdapter> {
  const dir = identityDirOverride ?? chain.identityDir;
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(where, `chains.${chain.name}.${key}`, `cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return new FabricLedger({
    name: chain.name,
    gatewayAddress: chain.gateway,
    channel: chain.channel,
    chaincode: chain.chaincode,
    mspId: chain.mspId,
    certPem: read(join(dir, "cert.pem"), "identityDir"),
    keyPem: read(join(dir, "key.pem"), "identityDir"),
    ordererCertPem: read(chain.ordererCert, "ordererCert"),
    assets: chain.assets,
    blockTimeSec: chain.blockTimeSec,
    clockSkewSec: chain.clockSkewSec,
  });
}
