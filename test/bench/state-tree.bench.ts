/**
 * `npm run bench` (state tree part): cost of updating the consortium stateRoot per write, and
 * of verifying a state proof, for states of 10^4, 10^5 and 10^6 entries — the sparse Merkle
 * tree (proofs/sparse-merkle.ts) beside the sorted RFC 6962 tree it replaced, which had to be
 * rebuilt over every leaf whenever a key was added (proofs/merkle.ts MerkleTree).
 *
 * Entries are lock-like: key 0x04 || uint256(i), value uint256(i). Per size:
 *   sparse.oneWrite:      one write on its own (a new key, or an existing key's new value),
 *                         tree hashes it computed (leaf + path) and CPU µs for it;
 *   sparse.blockOf1000:   1000 writes in one batch (how a block commits: `rootWith`), per write;
 *   rfc6962Rebuild:       one rebuild over n leaf hashes (n - 1 node hashes; sorting not
 *                         counted), i.e. the old cost of ANY block that added a key, and that
 *                         cost spread over a 1000-write block;
 *   verifyPerSec:         sparse inclusion and absence proofs (average depth) and the old
 *                         RFC 6962 inclusion proof, single thread.
 * Tree hashes exclude keccak256(key) and keccak256(value), 2 more per write in either design.
 * CPU time is process.cpuUsage (user + system), robust to the machine's other load, which
 * `loadavg` reports. Prints one JSON object.
 *   STATE_BENCH_SIZES  comma-separated sizes (default 10000,100000,1000000)
 */
import { cpus, loadavg } from "node:os";
import { CONSORTIUM_SCHEME } from "../../proofs/consortium/domain.ts";
import { MerkleTree, hashKvLeaf, verifyKvProof } from "../../proofs/merkle.ts";
import { SparseMerkleTree, type SparseWrite, verifySparseAbsence, verifySparseProof } from "../../proofs/sparse-merkle.ts";

const SPARSE = CONSORTIUM_SCHEME.state;
const RFC = CONSORTIUM_SCHEME.merkle;
const SIZES = (process.env.STATE_BENCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
const WRITES_PER_SAMPLE = 200;
const BLOCK = 1000;

const keyOf = (i: number) => {
  const k = new Uint8Array(33);
  k[0] = 0x04;
  new DataView(k.buffer).setUint32(29, i);
  new DataView(k.buffer).setUint32(25, Math.floor(i / 2 ** 32));
  return k;
};
const valueOf = (i: number, salt = 0) => {
  const v = new Uint8Array(32);
  new DataView(v.buffer).setUint32(28, i);
  v[0] = salt;
  return v;
};
const writeOf = (i: number, salt = 0): SparseWrite<undefined> => ({ keyHash: SPARSE.hash(keyOf(i)), valueHash: SPARSE.hash(valueOf(i, salt)), payload: undefined });

/** CPU microseconds (user + system) and wall microseconds of `fn`. */
function measure<T>(fn: () => T): { value: T; cpuUs: number; wallUs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallUs = (performance.now() - t0) * 1000;
  const c = process.cpuUsage(c0);
  return { value, cpuUs: c.user + c.system, wallUs };
}

/** Calls per second of `fn` over about 500 ms of CPU. */
function rate(fn: () => unknown): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const c0 = process.cpuUsage();
  let used = 0;
  while (used < 500_000) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    const c = process.cpuUsage(c0);
    used = c.user + c.system;
  }
  return Math.round(n / (used / 1e6));
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** Mean depth (proof length) of 1000 keys spread over the tree. */
function averageDepth(tree: SparseMerkleTree<undefined>, n: number): number {
  let sum = 0;
  for (let j = 0; j < 1000; j++) {
    const l = tree.lookup(SPARSE.hash(keyOf(Math.floor((j * n) / 1000))));
    if (!l.found) throw new Error("bench: sampled key missing");
    sum += l.proof.siblings.length;
  }
  return sum / 1000;
}

function benchSize(n: number) {
  const build = measure(() => SparseMerkleTree.empty<undefined>(SPARSE).update(Array.from({ length: n }, (_, i) => writeOf(i))));
  const tree = build.value;

  // One write at a time, each from the same base (persistent: the base is untouched); warmed up first.
  for (let j = 0; j < 200; j++) tree.update([writeOf(n + 1_000_000 + j)]);
  let hashes = 0;
  const single = measure(() => {
    for (let j = 0; j < WRITES_PER_SAMPLE; j++) {
      const w = j % 2 === 0 ? writeOf(n + j) : writeOf((j * 7919) % n, 1); // new key / new value of an existing key
      hashes += tree.update([w]).hashesComputed;
    }
  });
  // Hash cost of the write set itself (key and value hashes) is outside the tree; subtract it.
  const writeHashing = measure(() => {
    for (let j = 0; j < WRITES_PER_SAMPLE; j++) writeOf(n + j);
  });

  const block = Array.from({ length: BLOCK }, (_, j) => (j % 2 === 0 ? writeOf(n + j) : writeOf((j * 7919) % n, 1)));
  const blockRun = measure(() => tree.update(block));

  // The old design: a rebuild over every leaf hash. Its leaf, keccak256(0x00 ‖ keccak256(key) ‖
  // keccak256(value)), is the sparse tree's leaf, so the leaves are taken from there; their order
  // (key hash, not key) does not change the rebuild's cost.
  const leaves = [...tree.leaves()];
  const leafHashes = leaves.map((l) => l.hash);
  const rebuild = measure(() => MerkleTree.fromLeafHashes(RFC, leafHashes));
  const oldTree = rebuild.value;

  // Proofs: present keys spread over the tree, and absent ones.
  const probe = 1 + Math.floor(n / 3);
  const found = tree.lookup(SPARSE.hash(keyOf(probe)));
  if (!found.found) throw new Error("bench: probe key missing");
  const absent = tree.lookup(SPARSE.hash(keyOf(n + 12345)));
  if (absent.found) throw new Error("bench: absent key present");
  const root = tree.root;
  const key = keyOf(probe);
  const value = valueOf(probe);
  const absentKey = keyOf(n + 12345);
  if (Buffer.compare(hashKvLeaf(RFC, key, value), found.leaf.hash) !== 0) throw new Error("bench: the two designs' leaves differ");
  if (!verifySparseProof(SPARSE, root, key, value, found.proof).ok) throw new Error("bench: sparse proof does not verify");
  if (!verifySparseAbsence(SPARSE, root, absentKey, absent.absence).ok) throw new Error("bench: absence proof does not verify");
  const probeHash = SPARSE.hash(keyOf(probe));
  const oldProof = oldTree.proof(leaves.findIndex((l) => l.keyHash.every((b, i) => b === probeHash[i])));
  if (!verifyKvProof(RFC, oldTree.root, key, value, oldProof).ok) throw new Error("bench: RFC 6962 proof does not verify");

  return {
    entries: n,
    sparseBuildMs: round(build.cpuUs / 1000, 0),
    sparse: {
      oneWrite: {
        treeHashesPerWrite: round(hashes / WRITES_PER_SAMPLE),
        cpuUsPerWrite: round((single.cpuUs - writeHashing.cpuUs) / WRITES_PER_SAMPLE),
      },
      blockOf1000: {
        treeHashesPerWrite: round(blockRun.value.hashesComputed / BLOCK),
        cpuUsPerWrite: round(blockRun.cpuUs / BLOCK),
      },
      proofSiblings: found.proof.siblings.length,
      averageLeafDepth: round(averageDepth(tree, n)),
      absenceSiblings: absent.absence.siblings.length,
      absenceEndsAt: absent.absence.kind,
    },
    rfc6962Rebuild: {
      treeHashesPerRebuild: n - 1,
      cpuMsPerRebuild: round(rebuild.cpuUs / 1000),
      oneWriteCpuUs: round(rebuild.cpuUs, 0),
      blockOf1000CpuUsPerWrite: round(rebuild.cpuUs / BLOCK),
      proofSiblings: oldProof.siblings.length,
    },
    speedup: {
      oneWrite: round(rebuild.cpuUs / ((single.cpuUs - writeHashing.cpuUs) / WRITES_PER_SAMPLE), 0),
      blockOf1000: round(rebuild.cpuUs / blockRun.cpuUs, 1),
    },
    verifyPerSec: {
      sparseInclusion: rate(() => verifySparseProof(SPARSE, root, key, value, found.proof)),
      sparseAbsence: rate(() => verifySparseAbsence(SPARSE, root, absentKey, absent.absence)),
      rfc6962Inclusion: rate(() => verifyKvProof(RFC, oldTree.root, key, value, oldProof)),
    },
  };
}

const results = SIZES.map(benchSize);
process.stdout.write(
  `${JSON.stringify({ bench: "consortium state tree: root update per write and proof verification, single thread", node: process.version, cpu: cpus()[0]?.model, loadavg: loadavg().map((l) => round(l, 2)), results }, null, 2)}\n`,
);
