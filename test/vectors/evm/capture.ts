/**
 * Captures EVM proof vectors from a real `hardhat node` (Hardhat 2.29, EDR): it deploys
 * HTLC + KRWT, makes a locked, a claimed and a refunded lock, and writes, for each and for
 * a lock id that does not exist, the block header and eth_getProof of the lock's slots.
 * Also writes a run of consecutive headers for the header-chain tests, and a proof bundle of
 * the claimed lock at 2 confirmations (bundle-claimed-lock.json) with its trust anchor, the
 * head header (anchor-head.json), for `isthmus proof verify`.
 *
 *   node --import tsx test/vectors/evm/capture.ts      (rewrites htlc-locks.json beside it)
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { hexlify, sha256, toQuantity } from "ethers";
import { EvmLedger } from "../../../chains/evm/adapter.ts";
import { deployEvmContracts } from "../../../chains/evm/deploy.ts";
import { hardhatAccount, startHardhatNode } from "../../../chains/evm/hardhat-node.ts";
import { createProvider } from "../../../chains/evm/provider.ts";
import type { Hex } from "../../../chains/ledger.ts";
import { htlcLockSlots } from "../../../proofs/evm/index.ts";

const CHAIN_ID = 31337;
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "htlc-locks.json");

const node = await startHardhatNode({ port: 0, chainId: CHAIN_ID, blockIntervalMs: 0 });
const rpc = createProvider(node.url, CHAIN_ID);
try {
  const user = hardhatAccount(1);
  const relayer = hardhatAccount(2);
  const dep = await deployEvmContracts({ rpcUrl: node.url, chainId: CHAIN_ID, deployerKey: hardhatAccount(0).privateKey, mints: [{ to: user.address, amount: 10_000_00n }] });
  const mk = (key: Hex, confirmations = 0) =>
    new EvmLedger({
      name: "evm",
      rpcUrl: node.url,
      chainId: CHAIN_ID,
      privateKey: key,
      htlcAddress: dep.htlc,
      assets: [
        { symbol: "ETH", decimals: 18, id: "0x0000000000000000000000000000000000000000" },
        { symbol: "KRWT", decimals: 2, id: dep.krwt },
      ],
      confirmations,
      blockTimeSec: 1,
      clockSkewSec: 2,
      pollingIntervalMs: 50,
    });
  const u = mk(user.privateKey);
  const r = mk(relayer.privateKey);
  const now = async () => (await rpc.getBlock("latest"))!.timestamp;
  const secret = (n: number) => {
    const preimage = hexlify(new Uint8Array(32).fill(n)) as Hex;
    return { preimage, hashlock: sha256(preimage) as Hex };
  };

  const s1 = secret(1);
  const locked = await u.lock({ receiver: relayer.address, asset: "ETH", amount: 10n ** 17n, hashlock: s1.hashlock, timelock: (await now()) + 3600 });
  const s2 = secret(2);
  const toClaim = await u.lock({ receiver: relayer.address, asset: "KRWT", amount: 12_345n, hashlock: s2.hashlock, timelock: (await now()) + 3600 });
  await r.claim(toClaim.lockId, s2.preimage);
  const s3 = secret(3);
  const toRefund = await u.lock({ receiver: relayer.address, asset: "ETH", amount: 5n, hashlock: s3.hashlock, timelock: (await now()) + 60 });
  await rpc.send("evm_increaseTime", [61]);
  await rpc.send("hardhat_mine", [toQuantity(1)]);
  await u.refund(toRefund.lockId);
  await rpc.send("hardhat_mine", [toQuantity(2)]);
  const height = await rpc.getBlockNumber();

  const block = async (n: number): Promise<Record<string, unknown>> => {
    const b = (await rpc.send("eth_getBlockByNumber", [toQuantity(n), false])) as Record<string, unknown>;
    delete b.transactions;
    return b;
  };
  const capture = async (name: string, lockId: Hex, at: number) => {
    const proof = await rpc.send("eth_getProof", [dep.htlc, htlcLockSlots(lockId), toQuantity(at)]);
    return { name, lockId, height: at, block: await block(at), proof };
  };
  const cases = [
    await capture("locked ETH lock", locked.lockId, height),
    await capture("claimed KRWT lock", toClaim.lockId, height),
    await capture("refunded ETH lock", toRefund.lockId, height),
    await capture("absent lock", `0x${"ab".repeat(32)}` as Hex, height),
    await capture("lock before it existed", locked.lockId, locked.height - 1),
  ];
  const chain = [];
  for (let n = 0; n <= height; n++) chain.push(await block(n));
  const out = {
    source: "hardhat node 2.29.1 (EDR), captured by test/vectors/evm/capture.ts",
    chainId: CHAIN_ID,
    htlc: dep.htlc,
    krwt: dep.krwt,
    expected: {
      [locked.lockId]: { sender: user.address, receiver: relayer.address, preimage: null },
      [toClaim.lockId]: { sender: user.address, receiver: relayer.address, preimage: s2.preimage },
      [toRefund.lockId]: { sender: user.address, receiver: relayer.address, preimage: null },
    },
    cases,
    headers: chain,
  };
  writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
  const head = chain.at(-1) as { hash: Hex };
  const confirmed = mk(relayer.privateKey, 2);
  const bundle = await confirmed.proveLock(toClaim.lockId);
  await confirmed.close();
  writeFileSync(path.join(path.dirname(OUT), "bundle-claimed-lock.json"), `${JSON.stringify(bundle, null, 1)}\n`);
  writeFileSync(path.join(path.dirname(OUT), "anchor-head.json"), `${JSON.stringify({ kind: "evm-header", chainId: CHAIN_ID, height: height, hash: head.hash }, null, 1)}\n`);
  console.log(`wrote ${OUT}: ${cases.length} cases, ${chain.length} headers, height ${height}`);
  await u.close();
  await r.close();
} finally {
  rpc.destroy();
  await node.stop();
}
