/**
 * Cross-language vectors for contracts/ConsortiumLightClient.sol, produced by the real
 * consortium code: a chain built in-process (test/unit/consortium/helpers.ts) with validators
 * staked 100/100/100/150 commits block 1 (three locks) and block 2 (claims one), each commit's
 * precommits signing different times (block 2 in round 1). From those it takes the headers,
 * commits, lock proofs (sparse Merkle state paths) and lock ABSENCE proofs at height 2 (one
 * path ending at an empty subtree, one at another key's leaf), and derives the forgeries each
 * verifier must refuse. Blocks 3-5 change the validator set: alice bonds 50 in block 3,
 * header 4 names the new set as its nextValidatorsHash, and block 5 is signed by the new set
 * (alice included).
 *
 *   node --import tsx test/vectors/consortium/capture.ts   (rewrites light-client.json beside it)
 *
 * Deterministic (fixed genesis time, RFC 6979 signatures): test/contract/light-client.test.ts
 * checks that rebuilding gives the saved file byte for byte.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  type Commit,
  type Header,
  type ValidatorSet,
  addressOfPublicKey,
  hashHeader,
  keccak256,
  lockIdFor,
  lockKey,
  makeValidatorSet,
  recoverAddress,
  verifyCommit,
  VoteType,
  voteDigest,
} from "../../../proofs/consortium/index.ts";
import { type Hex, fromHex, toHex } from "../../../proofs/hex.ts";
import type { SparseAbsenceProof, SparseProof } from "../../../proofs/sparse-merkle.ts";
import type { Signer } from "../../../chains/consortium/crypto.ts";
import { alice, bob, carol, openChain, secret, testGenesis, tx, validatorSigners } from "../../unit/consortium/helpers.ts";

export const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "light-client.json");

const GENESIS_TIME_MS = 1_700_000_000_000;
const STAKES = [100n, 100n, 100n, 150n];
const N = secp256k1.Point.Fn.ORDER;

/** A sparse Merkle state proof: siblings from the leaf's level up to the root. */
export interface ProofJson {
  readonly siblings: Hex[];
}
export interface CommitVector {
  readonly name: string;
  readonly header: Header;
  readonly commit: Commit;
  /** Whether proofs/consortium (header.chainId = the trusted chain id, then verifyCommit) accepts it. */
  readonly accept: boolean;
  /** The ConsortiumLightClient custom error expected when refused. */
  readonly solidityError?: string;
}
export interface LockVector {
  readonly name: string;
  readonly height: number;
  readonly lockId: Hex;
  readonly value: Hex;
  readonly proof: ProofJson;
  readonly accept: boolean;
  readonly solidityError?: string;
}
/** A sparse Merkle absence proof as the contract's StateAbsence struct takes it. */
export interface AbsenceJson {
  readonly endsAtLeaf: boolean;
  readonly leafKeyHash: Hex;
  readonly leafValueHash: Hex;
  readonly siblings: Hex[];
}
export interface AbsenceVector {
  readonly name: string;
  readonly height: number;
  readonly lockId: Hex;
  readonly absence: AbsenceJson;
  readonly accept: boolean;
  readonly solidityError?: string;
}
export interface SetChangeVector {
  readonly name: string;
  readonly header: Header;
  readonly commit: Commit;
  /** The next set a submitter passes (sorted), when the header changes the set. */
  readonly nextValidators?: { address: Hex; stake: string }[];
  readonly accept: boolean;
  readonly solidityError?: string;
}
export interface LightClientVectors {
  readonly generatedBy: string;
  readonly chainId: number;
  readonly validators: { address: Hex; stake: string }[];
  readonly validatorsHash: Hex;
  /** Accepted headers in height order: submit them first, the lock vectors refer to their heights. */
  readonly headers: CommitVector[];
  readonly commits: CommitVector[];
  readonly locks: LockVector[];
  /** Proofs that a lock id is NOT in the state at a height (against `headers`). */
  readonly absences: AbsenceVector[];
  /** Submit after `headers`, in order: block 3 (a bond), 4 (names the new set), 5 (signed by it). */
  readonly setChange: { readonly accepted: SetChangeVector[]; readonly refused: SetChangeVector[] };
}

function signCommit(header: Header, signers: readonly Signer[], timesMs: readonly number[], round: number, chainId = header.chainId): Commit {
  const blockHash = hashHeader(header);
  const signatures = signers.map((s, i) => s.signHex(voteDigest({ chainId, height: header.height, round, type: VoteType.Precommit, blockHash, timeMs: timesMs[i]! })));
  return { height: header.height, round, blockHash, signatures, timesMs: [...timesMs] };
}

const proofJson = (p: SparseProof): ProofJson => ({ siblings: p.siblings.map((s) => toHex(s)) });
const ZERO32: Hex = `0x${"00".repeat(32)}`;
const absenceJson = (a: SparseAbsenceProof): AbsenceJson =>
  a.kind === "leaf"
    ? { endsAtLeaf: true, leafKeyHash: toHex(a.keyHash), leafValueHash: toHex(a.valueHash), siblings: a.siblings.map((s) => toHex(s)) }
    : { endsAtLeaf: false, leafKeyHash: ZERO32, leafValueHash: ZERO32, siblings: a.siblings.map((s) => toHex(s)) };

/** `hex` with bit 0 of byte `index` (from the start) flipped. */
function flipBit(hex: Hex, index: number): Hex {
  const b = fromHex(hex, "hex");
  b[index]! ^= 1;
  return toHex(b);
}

/** `hex` with the most significant bit of its first byte flipped (off any path below depth 0). */
function flipBitHigh(hex: Hex): Hex {
  const b = fromHex(hex, "hex");
  b[0]! ^= 0x80;
  return toHex(b);
}

/** (r, n - s, v flipped): the same signer's other valid signature, which EIP-2 forbids. */
function highSTwin(sig: Hex): Hex {
  const b = fromHex(sig, "signature", 65);
  let s = 0n;
  for (const x of b.subarray(32, 64)) s = (s << 8n) | BigInt(x);
  const twin = N - s;
  const out = new Uint8Array(b);
  out.set(fromHex(`0x${twin.toString(16).padStart(64, "0")}`, "s", 32), 32);
  out[64] = b[64] === 27 ? 28 : 27;
  return toHex(out);
}

export function buildVectors(): LightClientVectors {
  const genesis = testGenesis({ stakes: STAKES, timeMs: GENESIS_TIME_MS });
  const chain = openChain(genesis);
  const set = genesis.validators;
  const proposer = validatorSigners[0]!.address;
  const t0 = Math.floor(GENESIS_TIME_MS / 1000);

  // Block 1: three locks by alice.
  const terms = [0, 1, 2].map((i) => ({ receiver: i === 2 ? carol.address : bob.address, asset: "KRW", amount: 1_000n + BigInt(i), hashlock: secret(i + 1).hashlock, timelock: t0 + 3600 + i }));
  const lockIds = terms.map((t) => lockIdFor(alice.address, t));
  const t1 = GENESIS_TIME_MS + 1000;
  const { block: block1 } = chain.propose(terms.map((t, i) => tx(alice, i, { kind: "lock", ...t }).bytes), t1, proposer, null);
  const commit1 = signCommit(block1.header, validatorSigners, [t1 + 5, t1 + 7, t1 + 9, t1 + 11], 0);
  chain.commit(block1, commit1);
  const lock1 = chain.lockAtHead(lockIds[1]!);
  if (!lock1?.found) throw new Error("capture: lock 1 not found at height 1");

  // Block 2: bob claims lock 0; its time is the stake-weighted median of block 1's precommit times.
  const v1 = verifyCommit(block1.header, commit1, set);
  if (!v1.ok) throw new Error(`capture: commit 1: ${v1.reason}`);
  const claim = tx(bob, 0, { kind: "claim", lockId: lockIds[0]!, preimage: secret(1).preimage });
  const { block: block2 } = chain.propose([claim.bytes], v1.medianTimeMs, proposer, commit1);
  const t2 = block2.header.timeMs;
  const commit2 = signCommit(block2.header, validatorSigners, [t2 + 3, t2 + 1, t2 + 4, t2 + 2], 1);
  chain.commit(block2, commit2);
  const claimed = chain.lockAtHead(lockIds[0]!);
  const locked = chain.lockAtHead(lockIds[2]!);
  if (!claimed?.found || !locked?.found) throw new Error("capture: locks not found at height 2");
  // Absent lock ids at height 2 whose paths end at an empty subtree and at another key's leaf
  // (the first of each among lock ids keccak256("absent" i)).
  const absentByKind = new Map<string, { lockId: Hex; absence: SparseAbsenceProof }>();
  for (let i = 0; absentByKind.size < 2; i++) {
    const lockId = toHex(keccak256(new TextEncoder().encode(`absent ${i}`)));
    const at = chain.lockAtHead(lockId);
    if (!at || at.found) throw new Error("capture: an absent lock id is not provably absent");
    if (!absentByKind.has(at.absence.kind) && at.absence.siblings.length > 0) absentByKind.set(at.absence.kind, { lockId, absence: at.absence });
  }
  const setChange = captureSetChange(chain, commit2);

  const h1 = block1.header;
  // Signers 1, 2, 3 hold 350 of 450 (> 2/3); each forgery spoils validator 3's 150, leaving 200.
  const three = validatorSigners.slice(1);
  const times3 = [t1 + 20, t1 + 21, t1 + 22];
  const base = signCommit(h1, three, times3, 2);
  const withThird = (sig: Hex, time = times3[2]!): Commit => ({ ...base, signatures: [base.signatures[0]!, base.signatures[1]!, sig], timesMs: [times3[0]!, times3[1]!, time] });

  const forgedSig = flipBit(base.signatures[2]!, 31); // last byte of r
  const forgedDigest = voteDigest({ chainId: h1.chainId, height: h1.height, round: 2, type: VoteType.Precommit, blockHash: hashHeader(h1), timeMs: times3[2]! });
  const forgedRecovered = recoverAddress(forgedDigest, fromHex(forgedSig, "sig", 65));
  const twin = highSTwin(base.signatures[2]!);
  // The twin is a valid signature by the same key (what a bare ecrecover would accept).
  const twinSigner = addressOfPublicKey(
    new secp256k1.Signature(BigInt(`0x${twin.slice(2, 66)}`), BigInt(`0x${twin.slice(66, 130)}`), Number.parseInt(twin.slice(130), 16) - 27).recoverPublicKey(forgedDigest).toBytes(false),
  );
  if (twinSigner !== validatorSigners[3]!.address.toLowerCase()) throw new Error("capture: high-s twin does not recover to its signer");
  const nonValidator = alice.signHex(forgedDigest);
  const otherChain = signCommit(h1, three, times3, 2, h1.chainId + 1);
  const otherChainHeader: Header = { ...h1, chainId: h1.chainId + 1 };
  const flippedHeader: Header = { ...h1, stateRoot: flipBit(h1.stateRoot, 31) };

  const commits: CommitVector[] = [
    { name: "3 of 4 validators, 350 of 450 stake, round 2, distinct times", header: h1, commit: base, accept: true },
    { name: "forged signature (a bit of r flipped)", header: h1, commit: withThird(forgedSig), accept: false, solidityError: forgedRecovered.ok ? "NotAValidator" : "UnrecoverableSignature" },
    { name: "duplicated signature", header: h1, commit: withThird(base.signatures[0]!, times3[0]), accept: false, solidityError: "DuplicateSigner" },
    { name: "exactly 2/3 of the stake (300 of 450)", header: h1, commit: signCommit(h1, validatorSigners.slice(0, 3), [t1, t1, t1], 0), accept: false, solidityError: "InsufficientStake" },
    { name: "less than 2/3 of the stake (200 of 450)", header: h1, commit: { ...base, signatures: base.signatures.slice(0, 2), timesMs: times3.slice(0, 2) }, accept: false, solidityError: "InsufficientStake" },
    { name: "non-validator signer", header: h1, commit: withThird(nonValidator), accept: false, solidityError: "NotAValidator" },
    { name: "high-s twin of a valid signature", header: h1, commit: withThird(twin), accept: false, solidityError: "SignatureSOutOfRange" },
    { name: "precommits signed for another chain id", header: h1, commit: otherChain, accept: false, solidityError: "NotAValidator" },
    { name: "header of another chain id, validly signed", header: otherChainHeader, commit: signCommit(otherChainHeader, three, times3, 2), accept: false, solidityError: "WrongChainId" },
    { name: "flipped bit in the header (stateRoot)", header: flippedHeader, commit: { ...base, blockHash: hashHeader(h1) }, accept: false, solidityError: "NotAValidator" },
    { name: "a precommit time changed after signing", header: h1, commit: withThird(base.signatures[2]!, times3[2]! + 1), accept: false, solidityError: "NotAValidator" },
  ];

  const lockVec = (name: string, height: number, lockId: Hex, value: Hex, proof: ProofJson, solidityError?: string): LockVector =>
    solidityError ? { name, height, lockId, value, proof, accept: false, solidityError } : { name, height, lockId, value, proof, accept: true };
  const p1 = proofJson(lock1.proof);
  const v1Hex = toHex(lock1.value);
  const locks: LockVector[] = [
    lockVec("locked lock at height 1", 1, lockIds[1]!, v1Hex, p1),
    lockVec("claimed lock (with preimage) at height 2", 2, lockIds[0]!, toHex(claimed.value), proofJson(claimed.proof)),
    lockVec("locked lock to carol at height 2", 2, lockIds[2]!, toHex(locked.value), proofJson(locked.proof)),
    lockVec("flipped bit in the lock value (amount)", 1, lockIds[1]!, flipBit(v1Hex, 3 * 32 + 31) /* low byte of word 3, amount */, p1, "ProofRootMismatch"),
    lockVec("flipped bit in a proof sibling", 1, lockIds[1]!, v1Hex, { ...p1, siblings: p1.siblings.map((s, i) => (i === 0 ? flipBit(s, 5) : s)) }, "ProofRootMismatch"),
    lockVec("proof of another lock's key", 1, lockIds[2]!, v1Hex, p1, "ProofRootMismatch"),
    lockVec("height-2 value against the height-1 root", 1, lockIds[0]!, toHex(claimed.value), proofJson(claimed.proof), "ProofRootMismatch"),
    lockVec("truncated proof (last sibling dropped)", 1, lockIds[1]!, v1Hex, { ...p1, siblings: p1.siblings.slice(0, -1) }, "ProofRootMismatch"),
    lockVec("proof with an extra sibling", 1, lockIds[1]!, v1Hex, { ...p1, siblings: [...p1.siblings, p1.siblings[0]!] }, "ProofRootMismatch"),
    lockVec("proof deeper than a 256-bit path", 1, lockIds[1]!, v1Hex, { siblings: Array.from({ length: 257 }, () => ZERO32) }, "ProofTooLong"),
    lockVec("height with no submitted header", 3, lockIds[1]!, v1Hex, p1, "UnknownHeight"),
  ];

  const empty = absentByKind.get("empty")!;
  const leaf = absentByKind.get("leaf")!;
  const emptyJ = absenceJson(empty.absence);
  const leafJ = absenceJson(leaf.absence);
  const absVec = (name: string, height: number, lockId: Hex, absence: AbsenceJson, solidityError?: string): AbsenceVector =>
    solidityError ? { name, height, lockId, absence, accept: false, solidityError } : { name, height, lockId, absence, accept: true };
  const lockedOwn: AbsenceJson = { endsAtLeaf: true, leafKeyHash: toHex(keccak256(lockKey(lockIds[2]!))), leafValueHash: toHex(keccak256(locked.value)), siblings: proofJson(locked.proof).siblings };
  const absences: AbsenceVector[] = [
    absVec("absent lock: its path ends at an empty subtree (height 2)", 2, empty.lockId, emptyJ),
    absVec("absent lock: its path ends at another key's leaf (height 2)", 2, leaf.lockId, leafJ),
    absVec("present lock claimed absent with its own leaf", 2, lockIds[2]!, lockedOwn, "KeyIsPresent"),
    absVec("present lock claimed absent: its own path said to end empty", 2, lockIds[2]!, { ...lockedOwn, endsAtLeaf: false, leafKeyHash: ZERO32, leafValueHash: ZERO32 }, "ProofRootMismatch"),
    absVec("flipped bit in an absence sibling (empty end)", 2, empty.lockId, { ...emptyJ, siblings: emptyJ.siblings.map((s, i) => (i === 0 ? flipBit(s, 9) : s)) }, "ProofRootMismatch"),
    absVec("flipped bit in the other leaf's value hash", 2, leaf.lockId, { ...leafJ, leafValueHash: flipBit(leafJ.leafValueHash, 0) }, "ProofRootMismatch"),
    absVec("other leaf off the key's path (its key hash's first byte flipped)", 2, leaf.lockId, { ...leafJ, leafKeyHash: flipBitHigh(leafJ.leafKeyHash) }, "LeafOffPath"),
    absVec("leaf end said to be empty", 2, leaf.lockId, { ...leafJ, endsAtLeaf: false, leafKeyHash: ZERO32, leafValueHash: ZERO32 }, "ProofRootMismatch"),
    absVec("absence at height 2 checked against the height-1 root", 1, empty.lockId, emptyJ, "ProofRootMismatch"),
    absVec("height with no submitted header", 3, empty.lockId, emptyJ, "UnknownHeight"),
  ];

  return {
    generatedBy: "test/vectors/consortium/capture.ts",
    chainId: genesis.chainId,
    validators: set.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })),
    validatorsHash: h1.validatorsHash,
    headers: [
      { name: "block 1: three locks, 4 of 4 validators", header: h1, commit: commit1, accept: true },
      { name: "block 2: a claim, 4 of 4 validators, round 1", header: block2.header, commit: commit2, accept: true },
    ],
    commits,
    locks,
    absences,
    setChange,
  };
}

const setJson = (set: ValidatorSet) => set.validators.map((v) => ({ address: v.address, stake: v.stake.toString() }));

/** Blocks 3-5 of the chain: a bond that changes the set at 5, and the forgeries around it. */
function captureSetChange(chain: ReturnType<typeof openChain>, commit2: Commit): LightClientVectors["setChange"] {
  const proposer = validatorSigners[0]!.address;
  const next = (prevCommit: Commit, txs: Uint8Array[], signers: readonly Signer[], delta: number[]) => {
    const prev = chain.head.header;
    const v = verifyCommit(prev, prevCommit, chain.validatorSetAt(prev.height));
    if (!v.ok) throw new Error(`capture: commit ${prev.height}: ${v.reason}`);
    const { block } = chain.propose(txs, v.medianTimeMs, proposer, prevCommit);
    const t = block.header.timeMs;
    const commit = signCommit(block.header, signers, delta.map((d) => t + d), 0);
    chain.commit(block, commit);
    return { header: block.header, commit };
  };
  const oldSigners = validatorSigners;
  const b3 = next(commit2, [tx(alice, 3, { kind: "bond", amount: 50n }).bytes], oldSigners, [4, 2, 3, 1]);
  const b4 = next(b3.commit, [], oldSigners, [1, 2, 3, 4]);
  const newSet = chain.validatorSetAt(5);
  if (newSet.validators.length !== 5) throw new Error("capture: the bond did not change the set");
  const newSigners = [...oldSigners, alice];
  const b5 = next(b4.commit, [], newSigners, [5, 4, 3, 2, 1]);
  const wrongNext = makeValidatorSet(newSet.validators.map((v) => ({ address: v.address, stake: v.address === alice.address ? 51n : v.stake })));
  return {
    accepted: [
      { name: "block 3: alice bonds 50 (set unchanged until 5)", ...b3, accept: true },
      { name: "block 4: names the new set as nextValidatorsHash", ...b4, nextValidators: setJson(newSet), accept: true },
      { name: "block 5: signed by the new set, alice included", ...b5, accept: true },
    ],
    refused: [
      { name: "block 4 without its next set", ...b4, accept: false, solidityError: "NextValidatorSetRequired" },
      { name: "block 4 with a next set that does not hash to nextValidatorsHash", ...b4, nextValidators: setJson(wrongNext), accept: false, solidityError: "NextValidatorSetMismatch" },
      { name: "block 5 while the old set is trusted (block 4 skipped)", ...b5, accept: false, solidityError: "UnknownValidatorSet" },
    ],
  };
}

export function serializeVectors(v: LightClientVectors): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(OUT, serializeVectors(buildVectors()));
  process.stdout.write(`wrote ${OUT}\n`);
}
