/**
 * Captures Fabric proof vectors from the embedded network (real gateway client, real
 * chaincode, real orderer/committer): a user (Org2MSP) locks KRW for the relayer (Org1MSP)
 * and the relayer claims it. Writes, beside this script:
 *   anchor.json                 the channel's config block as a `fabric-channel` trust anchor
 *   bundle-locked.json          the `fabric-lock` bundle of the lock transaction
 *   bundle-claimed.json         the bundle of the claim transaction (status claimed, preimage)
 *   anchor-other-network.json   the config block of a second, unrelated network (same shape, other CAs)
 *
 *   node --import tsx test/vectors/fabric/capture.ts
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FabricLedger } from "../../../chains/fabric/adapter.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../../../chains/fabric/devnet.ts";
import type { Identity } from "../../../chains/fabric/identity.ts";
import type { Hex } from "../../../chains/ledger.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const write = (f: string, v: unknown) => writeFileSync(path.join(HERE, f), JSON.stringify(v, null, 2) + "\n");
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;

async function withNode<T>(fn: (node: FabricNode, open: (id: Identity) => FabricLedger) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), "isthmus-fabric-vectors-"));
  const node = await startFabricNode({ dir, batchTimeoutMs: 30 });
  const adapters: FabricLedger[] = [];
  const open = (id: Identity) => {
    const a = new FabricLedger({ name: "fabric", gatewayAddress: node.network.address, channel: node.network.channel, chaincode: CHAINCODE_NAME, mspId: id.mspId, certPem: id.certPem, keyPem: id.keyPem, ordererCertPem: node.network.ordererCertPem });
    adapters.push(a);
    return a;
  };
  try {
    return await fn(node, open);
  } finally {
    for (const a of adapters) await a.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await withNode(async (node, open) => {
  const issuer = open(node.network.identity("Org1MSP", "issuer"));
  const relayer = open(node.network.identity("Org1MSP", "relayer"));
  const user = open(node.network.identity("Org2MSP", "carol"));
  await issuer.mint("KRW", user.address, 1_000_000n);
  const preimage = hex(randomBytes(32)) as Hex;
  const hashlock = hex(createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest()) as Hex;
  const head = await user.head();
  const r = await user.lock({ receiver: relayer.address, asset: "KRW", amount: 12_345n, hashlock, timelock: head.finalizedTime + 3600 });
  const locked = await relayer.proveLock(r.lockId);
  await relayer.claim(r.lockId, preimage);
  const claimed = await relayer.proveLock(r.lockId);
  write("anchor.json", { kind: "fabric-channel", configBlock: hex(node.network.getBlock(0)!.serializeBinary()) });
  write("bundle-locked.json", locked);
  write("bundle-claimed.json", claimed);
});
await withNode(async (node) => {
  write("anchor-other-network.json", { kind: "fabric-channel", configBlock: hex(node.network.getBlock(0)!.serializeBinary()) });
});
console.log(`wrote Fabric vectors to ${HERE}`);
