import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FabricLedger, type FabricAccount } from "../chains/fabric/adapter.ts";
import type { LedgerAdapter } from "../chains/ledger.ts";
import { ConfigError, type FabricChainConfig } from "./config.ts";
import { connectRemoteP256 } from "./keys/remote-signer.ts";

/**
 * A Fabric chain's adapter from config: reads the identity's cert.pem and either its key.pem
 * or, with `signer` configured, connects the external signer holding the key (checked against
 * the certificate). `identityDirOverride` (e.g. a CLI user's own identity) always reads key.pem.
 * Also reads the trusted orderer certificate and, when configured, the trusted channel config block.
 */
export async function openFabricLedger(chain: FabricChainConfig, where: string, identityDirOverride?: string): Promise<LedgerAdapter> {
  const dir = identityDirOverride ?? chain.identityDir;
  const read = (file: string, key: string): string => readBytes(file, key).toString("utf8");
  const readBytes = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(where, `chains.${chain.name}.${key}`, `cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const certPem = read(join(dir, "cert.pem"), "identityDir");
  const account: FabricAccount =
    chain.signer !== undefined && identityDirOverride === undefined
      ? { signer: await connectRemoteP256(chain.signer, certPem) }
      : { keyPem: read(join(dir, "key.pem"), "identityDir") };
  return new FabricLedger({
    name: chain.name,
    gatewayAddress: chain.gateway,
    channel: chain.channel,
    chaincode: chain.chaincode,
    mspId: chain.mspId,
    certPem,
    ...account,
    ordererCertPem: read(chain.ordererCert, "ordererCert"),
    ...(chain.configBlock !== null ? { channelConfigBlock: new Uint8Array(readBytes(chain.configBlock, "configBlock")) } : {}),
    assets: chain.assets,
    blockTimeSec: chain.blockTimeSec,
    clockSkewSec: chain.clockSkewSec,
  });
}
