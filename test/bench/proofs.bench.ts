/**
 * `npm run bench` (second part): proof verifications per second on this machine, single
 * thread (= per core), beside the primitives they are built from, all in the same run.
 * Prints one JSON object. No thresholds: figures to compare runs (issue 5's targets: EVM
 * storage proof >= 5,000/s, consortium state proof >= 20,000/s per core). Fabric: a lock's
 * block proof (two endorsements, one orderer signature, X.509 chains) from the captured vectors.
 *   BENCH_MS   time per measurement in milliseconds (default 1000)
 */
import { readFileSync } from "node:fs";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { verifyProofBundle } from "../../proofs/bundle.ts";
import { CONSORTIUM_SCHEME, lockIdFor, lockKey, verifyLockProof } from "../../proofs/consortium/index.ts";
import { type StorageProof, verifyEvmLockProof, verifyHtlcLockProof, verifySecureTrieProof } from "../../proofs/evm/index.ts";
import type { Hex } from "../../proofs/hex.ts";
import { verifySparseProof } from "../../proofs/sparse-merkle.ts";
import { keccak256 as fastKeccak256 } from "../../proofs/keccak.ts";
import { type BlockHeaderFields, readChannelConfig, verifyFabricLockProof } from "../../proofs/fabric/index.ts";
import { alice, bob, CHAIN_ID, commitBlock, openChain, secret, testGenesis, tx } from "../unit/consortium/helpers.ts";

const MS = Number(process.env.BENCH_MS ?? 1000);

/** Calls `fn` repeatedly for about MS milliseconds (after a warm-up) and returns calls per second. */
function rate(fn: () => unknown): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < MS) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    t = performance.now();
  }
  return Math.round((n * 1000) / (t - t0));
}
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench fixture does not verify: ${what}`);
}

// ---- primitives ----
const b32 = new Uint8Array(32).fill(7);
const b532 = new Uint8Array(532).fill(9); // a full branch node's size
const priv = secp256k1.utils.randomSecretKey();
const pub = secp256k1.getPublicKey(priv);
const msg = keccak_256(b32);
const sig = secp256k1.sign(msg, priv, { prehash: false });
const sigRec = secp256k1.sign(msg, priv, { prehash: false, format: "recovered" });
must(secp256k1.verify(sig, msg, pub, { prehash: false }), "secp256k1 signature");

// ---- EVM: proofs captured from a hardhat node ----
const V = JSON.parse(readFileSync(new URL("../vectors/evm/htlc-locks.json", import.meta.url), "utf8")) as {
  htlc: Hex;
  cases: { name: string; lockId: Hex; block: Record<string, Hex>; proof: { accountProof: Hex[]; storageHash: Hex; storageProof: StorageProof[] } }[];
};
const evm = V.cases.find((c) => c.name === "claimed KRWT lock")!;
const slot = evm.proof.storageProof[0]!;
const slotArgs = [hexToBytes(evm.proof.storageHash.slice(2)), hexToBytes(slot.key.slice(2)), slot.proof.map((p) => hexToBytes(p.slice(2)))] as const;
const lockArgs = { stateRoot: evm.block.stateRoot!, htlc: V.htlc, lockId: evm.lockId, accountProof: evm.proof.accountProof, storageProof: evm.proof.storageProof };
const withHeader = { header: evm.block, blockHash: evm.block.hash!, htlc: V.htlc, lockId: evm.lockId, accountProof: evm.proof.accountProof, storageProof: evm.proof.storageProof };
const bundle = JSON.parse(readFileSync(new URL("../vectors/evm/bundle-claimed-lock.json", import.meta.url), "utf8"));
const anchor = JSON.parse(readFileSync(new URL("../vectors/evm/anchor-head.json", import.meta.url), "utf8"));
must(verifySecureTrieProof(...slotArgs).ok, "storage slot");
must(verifyHtlcLockProof(lockArgs).ok, "htlc lock");
must(verifyEvmLockProof(withHeader).ok, "evm lock + header");
must(verifyProofBundle(bundle, anchor).ok, "evm bundle");

// ---- consortium: a lock in a real in-process chain holding 64 locks ----
const genesis = testGenesis();
const chain = openChain(genesis);
const ids: Hex[] = [];
const txs = [];
for (let i = 0; i < 64; i++) {
  const terms = { receiver: bob.address, asset: "KRW", amount: 100n + BigInt(i), hashlock: secret(i % 250).hashlock, timelock: Math.floor(genesis.timeMs / 1000) + 3600 + i };
  ids.push(lockIdFor(alice.address, terms));
  txs.push(tx(alice, i, { kind: "lock", ...terms }));
}
commitBlock(chain, txs, genesis.timeMs + 1000);
// The lock whose proof is longest (leaves of the sparse state tree sit at different depths),
// so the figure is the worst case among them and does not depend on this run's random ids.
const proven = ids.map((id) => ({ id, at: chain.lockAtHead(id) }));
const deepest = proven.reduce((a, b) => ((b.at?.found ? b.at.proof.siblings.length : -1) > (a.at?.found ? a.at.proof.siblings.length : -1) ? b : a));
const benchLockId = deepest.id;
const found = deepest.at;
if (!found?.found) throw new Error("bench setup: consortium lock at head not found");
const { found: _found, ...at } = found;
const cLock = { chainId: CHAIN_ID, validatorSet: genesis.validators, lockId: benchLockId, ...at };
const stateRoot = hexToBytes(at.header.stateRoot.slice(2));
must(verifyLockProof(cLock).ok, "consortium lock proof");
must(verifySparseProof(CONSORTIUM_SCHEME.state, stateRoot, lockKey(benchLockId), at.value, at.proof).ok, "consortium state proof");

// ---- Fabric: bundles captured from the embedded network ----
const fBundle = JSON.parse(readFileSync(new URL("../vectors/fabric/bundle-claimed.json", import.meta.url), "utf8"));
const fAnchor = JSON.parse(readFileSync(new URL("../vectors/fabric/anchor.json", import.meta.url), "utf8"));
const fConfig = readChannelConfig(hexToBytes(fAnchor.configBlock.slice(2)));
if (!fConfig.ok) throw new Error(`bench setup: Fabric config block: ${fConfig.reason}`);
const fHeaders: BlockHeaderFields[] = fBundle.headers.map((h: { number: number; previousHash: string; dataHash: string }) => ({ number: h.number, previousHash: hexToBytes(h.previousHash.slice(2)), dataHash: hexToBytes(h.dataHash.slice(2)) }));
const fLock = { config: fConfig.config, chaincode: fBundle.chaincode, lockId: fBundle.lockId, block: hexToBytes(fBundle.block.slice(2)), txIndex: fBundle.txIndex, headers: fHeaders };
must(verifyFabricLockProof(fLock).ok, "fabric lock proof");
must(verifyProofBundle(fBundle, fAnchor).ok, "fabric bundle");

const out = {
  bench: "proof verification, single thread",
  node: process.version,
  msPerMeasurement: MS,
  primitivesPerSec: {
    keccak256_32B: rate(() => keccak_256(b32)),
    keccak256_532B: rate(() => keccak_256(b532)),
    // proofs/keccak.ts (js-sha3), what consortium proofs and the chain hash with
    keccak256_32B_proofsKeccak: rate(() => fastKeccak256(b32)),
    keccak256_532B_proofsKeccak: rate(() => fastKeccak256(b532)),
    sha256_32B: rate(() => sha256(b32)),
    sha256_532B: rate(() => sha256(b532)),
    secp256k1Verify: rate(() => secp256k1.verify(sig, msg, pub, { prehash: false })),
    secp256k1Recover: rate(() => secp256k1.recoverPublicKey(sigRec, msg, { prehash: false })),
  },
  evmPerSec: {
    storageSlotProof: rate(() => verifySecureTrieProof(...slotArgs)),
    storageSlotProofNodes: slot.proof.length,
    htlcLockProof_account_plus_6_slots: rate(() => verifyHtlcLockProof(lockArgs)),
    htlcLockProof_with_header_hash: rate(() => verifyEvmLockProof(withHeader)),
    bundle_anchored_at_head: rate(() => verifyProofBundle(bundle, anchor)),
    bundleHeaders: bundle.headers.length,
  },
  consortiumPerSec: {
    stateProof_merkle_only: rate(() => verifySparseProof(CONSORTIUM_SCHEME.state, stateRoot, lockKey(benchLockId), at.value, at.proof)),
    stateProofSiblings: at.proof.siblings.length,
    lockProof_with_commit: rate(() => verifyLockProof(cLock)),
    validators: genesis.validators.validators.length,
  },
  fabricPerSec: {
    lockProof_config_parsed_once: rate(() => verifyFabricLockProof(fLock)),
    bundle_with_config_anchor: rate(() => verifyProofBundle(fBundle, fAnchor)),
    blockBytes: fLock.block.length,
    endorsements: 2,
    headers: fHeaders.length,
  },
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
