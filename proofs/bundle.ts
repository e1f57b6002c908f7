/**
 * Versioned proof bundles: everything needed to verify one HTLC lock offline, given a trust
 * anchor. JSON-only values (hex strings, decimal strings for big integers), one `kind` per
 * ledger scheme; a verifier refuses versions and kinds it does not know.
 *
 *   evm-htlc-lock:   headers (consecutive, oldest first; the first is the proven block, the
 *                    rest its descendants) + eth_getProof's accountProof/storageProof for
 *                    the lock's six slots. Anchor: { kind: "evm-header", height, hash }
 *                    naming one of the headers. Trust flows backwards only: a trusted header
 *                    commits to its ancestors by parentHash (YP 4.3), while descent from an
 *                    older trusted header proves nothing (anyone can append headers to a
 *                    chain whose blocks carry no consensus proof), so such anchors are refused.
 *   consortium-lock: header + commit + validator set + the lock's state value and its
 *                    sparse Merkle proof (siblings), checked with proofs/consortium's
 *                    verifyLockProof. Anchor: { kind: "consortium-validators", chainId, validators }.
 *                    Version 2; version 1 carried a proof of the sorted RFC 6962 state tree
 *                    the chain no longer commits to, and is refused by name.
 *   fabric-lock:     the serialized block holding the transaction that wrote the lock (its
 *                    lock, claim or refund) + the headers linking it to a trusted block +
 *                    the channel's config block, checked with proofs/fabric's
 *                    verifyFabricLockProof. Anchor: { kind: "fabric-channel", configBlock,
 *                    trustedBlock?: { number, hash } } — the config block's MSPs and policies
 *                    judge the signatures; the chain must reach the trusted block (default:
 *                    the config block itself). Fabric has no chain id: results name the channel.
 *
 * Without an anchor the bundle is only checked for internal consistency, and the result
 * says `anchored: false`: it then proves the lock relative to the block hash it names.
 * Not proven by the bundle itself: `chain` (a display label), and for EVM the `chainId`
 * (headers do not commit to it; an anchor naming a chainId pins it).
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { type Hex, isHex, toHex } from "./hex.ts";
import { type EvmLock, type StorageProof, checkHeaderChain, verifyHtlcLockProof } from "./evm/index.ts";
import { type Commit, type LockRecord, makeValidatorSet, verifyLockProof } from "./consortium/index.ts";
import type { Header as ConsortiumHeader } from "./consortium/header.ts";
import { type BlockHeaderFields, type FabricLock, readChannelConfig, verifyFabricLockProof } from "./fabric/index.ts";

/** Format version of evm-htlc-lock and fabric-lock bundles. */
export const PROOF_BUNDLE_VERSION = 1;
/** Format version of consortium-lock bundles: 2 since the state became a sparse Merkle tree. */
export const CONSORTIUM_LOCK_BUNDLE_VERSION = 2;
export const EVM_LOCK_BUNDLE_KIND = "evm-htlc-lock";
export const CONSORTIUM_LOCK_BUNDLE_KIND = "consortium-lock";
export const FABRIC_LOCK_BUNDLE_KIND = "fabric-lock";

export interface EvmLockBundle {
  readonly version: typeof PROOF_BUNDLE_VERSION;
  readonly kind: typeof EVM_LOCK_BUNDLE_KIND;
  /** The ledger's name in Isthmus config, for display. */
  readonly chain: string;
  readonly chainId: number;
  readonly htlc: Hex;
  readonly lockId: Hex;
  readonly headers: readonly Readonly<Record<string, Hex>>[];
  readonly accountProof: readonly Hex[];
  readonly storageProof: readonly StorageProof[];
}

/** A consortium validator as JSON: stake as a decimal string. */
export interface ValidatorJson {
  readonly address: Hex;
  readonly stake: string;
}

export interface ConsortiumLockBundle {
  readonly version: typeof CONSORTIUM_LOCK_BUNDLE_VERSION;
  readonly kind: typeof CONSORTIUM_LOCK_BUNDLE_KIND;
  readonly chain: string;
  readonly chainId: number;
  readonly lockId: Hex;
  readonly header: ConsortiumHeader;
  readonly commit: Commit;
  readonly validators: readonly ValidatorJson[];
  /** The encoded lock record (state value). */
  readonly value: Hex;
  /** Sparse Merkle siblings from the lock's leaf up to stateRoot (proofs/sparse-merkle.ts). */
  readonly proof: { readonly siblings: readonly Hex[] };
}

/** A Fabric block header as JSON. */
export interface FabricHeaderJson {
  readonly number: number;
  readonly previousHash: Hex;
  readonly dataHash: Hex;
}

export interface FabricLockBundle {
  readonly version: typeof PROOF_BUNDLE_VERSION;
  readonly kind: typeof FABRIC_LOCK_BUNDLE_KIND;
  readonly chain: string;
  readonly channel: string;
  readonly chaincode: string;
  readonly lockId: Hex;
  /** The channel's config block (serialized common.Block) the producer used; an anchor's replaces it. */
  readonly configBlock: Hex;
  /** Headers from just after the producer's trusted block up to the block before `block`. */
  readonly headers: readonly FabricHeaderJson[];
  /** The serialized common.Block holding the transaction. */
  readonly block: Hex;
  readonly txIndex: number;
}

export type ProofBundle = EvmLockBundle | ConsortiumLockBundle | FabricLockBundle;

export type TrustAnchor =
  | { readonly kind: "evm-header"; readonly chainId?: number; readonly height: number; readonly hash: Hex }
  | { readonly kind: "consortium-validators"; readonly chainId: number; readonly validators: readonly ValidatorJson[] }
  | { readonly kind: "fabric-channel"; readonly configBlock: Hex; readonly trustedBlock?: { readonly number: number; readonly hash: Hex } };

/** The lock a bundle proves, in one shape for every kind (amounts as decimal strings). */
export interface ProvenLockSummary {
  readonly lockId: Hex;
  readonly sender: Hex;
  readonly receiver: Hex;
  /** EVM: token address (0x0 for ETH); consortium: asset symbol. */
  readonly asset: string;
  readonly amount: string;
  readonly hashlock: Hex;
  readonly timelock: string;
  readonly status: "locked" | "claimed" | "refunded";
  readonly preimage: Hex | null;
}

export type BundleVerification =
  | {
      readonly ok: true;
      readonly kind: ProofBundle["kind"];
      readonly chain: string;
      /** The chain id (EVM, consortium) or the channel name (Fabric). */
      readonly chainId: number | string;
      readonly lockId: Hex;
      readonly height: number;
      readonly blockHash: Hex;
      readonly stateRoot: Hex;
      /** null: the bundle proves that no lock with this id exists at that height. */
      readonly lock: ProvenLockSummary | null;
      /** True when a trust anchor was given and the proof chains to it. */
      readonly anchored: boolean;
      /** What the proof rests on, in words. */
      readonly anchor: string;
    }
  | { readonly ok: false; readonly reason: string };

/** Verifies an untrusted bundle (parsed JSON) against an optional trust anchor. Never throws on bad data. */
export function verifyProofBundle(bundle: unknown, anchor?: unknown): BundleVerification {
  if (typeof bundle !== "object" || bundle === null) return fail("bundle is not a JSON object");
  const b = bundle as Record<string, unknown>;
  const versionProblem = bundleVersionProblem(b.kind, b.version);
  if (versionProblem) return fail(versionProblem);
  if (typeof b.chain !== "string") return fail("bundle.chain is not a string");
  if (b.kind !== FABRIC_LOCK_BUNDLE_KIND && !Number.isSafeInteger(b.chainId)) return fail("bundle.chainId is not an integer");
  if (!isHex(b.lockId, 32)) return fail("bundle.lockId is not 32-byte hex");
  if (anchor !== undefined && (typeof anchor !== "object" || anchor === null)) return fail("trust anchor is not a JSON object");
  try {
    switch (b.kind) {
      case FABRIC_LOCK_BUNDLE_KIND:
        return verifyFabricBundle(b as unknown as FabricLockBundle, anchor as Record<string, unknown> | undefined);
      case EVM_LOCK_BUNDLE_KIND:
        return verifyEvmBundle(b as unknown as EvmLockBundle, anchor as Record<string, unknown> | undefined);
      case CONSORTIUM_LOCK_BUNDLE_KIND:
        return verifyConsortiumBundle(b as unknown as ConsortiumLockBundle, anchor as Record<string, unknown> | undefined);
      default:
        return fail(`unknown bundle kind ${JSON.stringify(b.kind)}`);
    }
  } catch (err) {
    // The verifiers below throw only on misuse; reaching here means a field had a shape we did not pre-check.
    return fail(`malformed bundle: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function bundleVersionProblem(kind: unknown, version: unknown): string | undefined {
  if (kind === CONSORTIUM_LOCK_BUNDLE_KIND) {
    if (version === CONSORTIUM_LOCK_BUNDLE_VERSION) return undefined;
    if (version === 1) {
      return `consortium-lock bundle version 1 proves the lock in the sorted state tree the chain no longer commits to; fetch a new bundle (version ${CONSORTIUM_LOCK_BUNDLE_VERSION}, sparse Merkle state proof)`;
    }
    return `unsupported bundle version ${JSON.stringify(version)} (this verifier knows ${CONSORTIUM_LOCK_BUNDLE_VERSION} for ${CONSORTIUM_LOCK_BUNDLE_KIND})`;
  }
  if (version !== PROOF_BUNDLE_VERSION) return `unsupported bundle version ${JSON.stringify(version)} (this verifier knows ${PROOF_BUNDLE_VERSION})`;
  return undefined;
}

function verifyEvmBundle(b: EvmLockBundle, anchor: Record<string, unknown> | undefined): BundleVerification {
  if (!isHex(b.htlc, 20)) return fail("bundle.htlc is not a 20-byte address");
  if (!Array.isArray(b.headers) || b.headers.length === 0) return fail("bundle.headers is empty");
  const chain = checkHeaderChain(b.headers);
  if (!chain.ok) return fail(`headers: ${chain.reason}`);
  const proven = chain.checked[0]!;
  const last = chain.checked.at(-1)!;
  let anchored = false;
  let anchorText = `unanchored: proves the lock relative to block ${proven.number} hash ${proven.hash}`;
  if (anchor !== undefined) {
    if (anchor.kind !== "evm-header") return fail(`trust anchor of kind ${JSON.stringify(anchor.kind)} cannot anchor an ${EVM_LOCK_BUNDLE_KIND} bundle`);
    if (anchor.chainId !== undefined && anchor.chainId !== b.chainId) return fail(`trust anchor is for chain id ${String(anchor.chainId)}, bundle for ${b.chainId}`);
    if (!Number.isSafeInteger(anchor.height) || !isHex(anchor.hash, 32)) return fail("trust anchor needs an integer height and a 32-byte hash");
    const h = anchor.height as number;
    if (h < proven.number) return fail(`trusted header ${h} is older than the proven block ${proven.number}: only a header at or after it commits to it`);
    if (h > last.number) return fail(`trusted header ${h} is not among the bundle's headers ${proven.number}..${last.number}`);
    const at = chain.checked[h - proven.number]!;
    if (at.hash !== (anchor.hash as string).toLowerCase()) return fail(`bundle's header ${h} hashes to ${at.hash}, not the trusted ${(anchor.hash as string).toLowerCase()}`);
    anchored = true;
    anchorText = h === proven.number ? `anchored: the proven block is the trusted header ${h} (${at.hash})` : `anchored: trusted header ${h} (${at.hash}) commits to the proven block ${proven.number} through parentHash`;
  }
  const r = verifyHtlcLockProof({ stateRoot: proven.stateRoot, htlc: b.htlc, lockId: b.lockId, accountProof: b.accountProof, storageProof: b.storageProof });
  if (!r.ok) return fail(r.reason);
  return { ok: true, kind: EVM_LOCK_BUNDLE_KIND, chain: b.chain, chainId: b.chainId, lockId: b.lockId.toLowerCase() as Hex, height: proven.number, blockHash: proven.hash, stateRoot: proven.stateRoot, lock: r.lock && summarizeEvm(r.lock), anchored, anchor: anchorText };
}

function verifyConsortiumBundle(b: ConsortiumLockBundle, anchor: Record<string, unknown> | undefined): BundleVerification {
  if (anchor !== undefined) {
    if (anchor.kind !== "consortium-validators") return fail(`trust anchor of kind ${JSON.stringify(anchor.kind)} cannot anchor a ${CONSORTIUM_LOCK_BUNDLE_KIND} bundle`);
    if (anchor.chainId !== b.chainId) return fail(`trust anchor is for chain id ${String(anchor.chainId)}, bundle for ${b.chainId}`);
  }
  // With an anchor, only its validator set counts; the bundle's own copy is ignored.
  const validators = parseValidators(anchor !== undefined ? anchor.validators : b.validators);
  if (typeof validators === "string") return fail(validators);
  if (!isHex(b.value)) return fail("bundle.value is not hex");
  const p = b.proof;
  if (typeof p !== "object" || p === null || !Array.isArray(p.siblings) || !p.siblings.every((s) => isHex(s, 32))) {
    return fail("bundle.proof needs a list of 32-byte hex siblings");
  }
  if (typeof b.header !== "object" || b.header === null || typeof b.commit !== "object" || b.commit === null) return fail("bundle.header and bundle.commit must be objects");
  const r = verifyLockProof({
    chainId: b.chainId,
    validatorSet: validators,
    header: b.header,
    commit: b.commit,
    lockId: b.lockId,
    value: bytes(b.value),
    proof: { siblings: p.siblings.map(bytes) },
  });
  if (!r.ok) return fail(r.reason);
  return {
    ok: true,
    kind: CONSORTIUM_LOCK_BUNDLE_KIND,
    chain: b.chain,
    chainId: b.chainId,
    lockId: r.lockId,
    height: r.height,
    blockHash: r.blockHash,
    stateRoot: r.stateRoot,
    lock: summarizeConsortium(r.lockId, r.lock),
    anchored: anchor !== undefined,
    anchor: anchor !== undefined ? "anchored: committed by more than 2/3 of the trusted validator set's stake" : "unanchored: committed by the validator set the bundle itself carries",
  };
}

function verifyFabricBundle(b: FabricLockBundle, anchor: Record<string, unknown> | undefined): BundleVerification {
  if (typeof b.channel !== "string" || b.channel === "") return fail("bundle.channel is not a channel name");
  if (typeof b.chaincode !== "string" || b.chaincode === "") return fail("bundle.chaincode is not a chaincode name");
  if (!isHex(b.block)) return fail("bundle.block is not hex");
  if (!Number.isSafeInteger(b.txIndex) || b.txIndex < 0) return fail("bundle.txIndex is not a transaction index");
  if (!Array.isArray(b.headers)) return fail("bundle.headers is not a list");
  const headers: BlockHeaderFields[] = [];
  for (const [i, h] of (b.headers as unknown[]).entries()) {
    const o = h as Record<string, unknown> | null;
    if (typeof o !== "object" || o === null || !Number.isSafeInteger(o.number) || !isHex(o.previousHash) || !isHex(o.dataHash, 32)) {
      return fail(`bundle.headers[${i}] needs an integer number, hex previousHash and 32-byte hex dataHash`);
    }
    headers.push({ number: o.number as number, previousHash: bytes(o.previousHash as string), dataHash: bytes(o.dataHash as string) });
  }
  let configHex: unknown = b.configBlock;
  let trusted: { number: number; hash: Uint8Array } | undefined;
  if (anchor !== undefined) {
    if (anchor.kind !== "fabric-channel") return fail(`trust anchor of kind ${JSON.stringify(anchor.kind)} cannot anchor a ${FABRIC_LOCK_BUNDLE_KIND} bundle`);
    configHex = anchor.configBlock;
    const t = anchor.trustedBlock as Record<string, unknown> | undefined;
    if (t !== undefined) {
      if (typeof t !== "object" || t === null || !Number.isSafeInteger(t.number) || !isHex(t.hash, 32)) return fail("trust anchor's trustedBlock needs an integer number and a 32-byte hash");
      trusted = { number: t.number as number, hash: bytes(t.hash as string) };
    }
  }
  if (!isHex(configHex)) return fail(anchor !== undefined ? "trust anchor's configBlock is not hex" : "bundle.configBlock is not hex");
  const cfg = readChannelConfig(bytes(configHex));
  if (!cfg.ok) return fail(cfg.reason);
  if (cfg.config.channel !== b.channel) return fail(`config block is for channel ${JSON.stringify(cfg.config.channel)}, bundle for ${JSON.stringify(b.channel)}`);
  const r = verifyFabricLockProof({ config: cfg.config, trusted, chaincode: b.chaincode, lockId: b.lockId.toLowerCase(), block: bytes(b.block), txIndex: b.txIndex, headers });
  if (!r.ok) return fail(r.reason);
  const trustedNumber = trusted?.number ?? cfg.config.blockNumber;
  return {
    ok: true,
    kind: FABRIC_LOCK_BUNDLE_KIND,
    chain: b.chain,
    chainId: b.channel,
    lockId: r.lock.lockId,
    height: r.height,
    blockHash: r.blockHash,
    // Fabric has no state root; the block's data hash is what commits to the transaction.
    stateRoot: r.dataHash,
    lock: summarizeFabric(r.lock),
    anchored: anchor !== undefined,
    anchor:
      anchor !== undefined
        ? `anchored: the trusted channel config judges the orderer's and endorsers' signatures; block ${r.height} chains to trusted block ${trustedNumber}; tx ${r.txId} endorsed by ${r.endorsers.join(", ")}`
        : `unanchored: judged by the channel config the bundle itself carries; tx ${r.txId} in block ${r.height}`,
  };
}

/** The JSON bundle of a Fabric lock proof (the inputs of proofs/fabric's verifyFabricLockProof). */
export function makeFabricLockBundle(p: {
  readonly chain: string;
  readonly channel: string;
  readonly chaincode: string;
  readonly lockId: Hex;
  readonly configBlock: Uint8Array;
  readonly headers: readonly BlockHeaderFields[];
  readonly block: Uint8Array;
  readonly txIndex: number;
}): FabricLockBundle {
  return {
    version: PROOF_BUNDLE_VERSION,
    kind: FABRIC_LOCK_BUNDLE_KIND,
    chain: p.chain,
    channel: p.channel,
    chaincode: p.chaincode,
    lockId: p.lockId.toLowerCase() as Hex,
    configBlock: toHex(p.configBlock),
    headers: p.headers.map((h) => ({ number: h.number, previousHash: toHex(h.previousHash), dataHash: toHex(h.dataHash) })),
    block: toHex(p.block),
    txIndex: p.txIndex,
  };
}

/** The JSON bundle of a consortium lock proof (the inputs of proofs/consortium's verifyLockProof). */
export function makeConsortiumLockBundle(p: {
  readonly chain: string;
  readonly chainId: number;
  readonly lockId: Hex;
  readonly header: ConsortiumHeader;
  readonly commit: Commit;
  readonly validatorSet: { readonly validators: readonly { readonly address: Hex; readonly stake: bigint }[] };
  readonly value: Uint8Array;
  readonly proof: { readonly siblings: readonly Uint8Array[] };
}): ConsortiumLockBundle {
  return {
    version: CONSORTIUM_LOCK_BUNDLE_VERSION,
    kind: CONSORTIUM_LOCK_BUNDLE_KIND,
    chain: p.chain,
    chainId: p.chainId,
    lockId: p.lockId.toLowerCase() as Hex,
    header: { ...p.header },
    commit: { ...p.commit, signatures: [...p.commit.signatures] },
    validators: p.validatorSet.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })),
    value: toHex(p.value),
    proof: { siblings: p.proof.siblings.map(toHex) },
  };
}

function parseValidators(v: unknown): ReturnType<typeof makeValidatorSet> | string {
  if (!Array.isArray(v) || v.length === 0) return "validators must be a non-empty list";
  const out: { address: string; stake: bigint }[] = [];
  for (const [i, x] of v.entries()) {
    const o = x as Record<string, unknown> | null;
    if (typeof o !== "object" || o === null || !isHex(o.address, 20) || typeof o.stake !== "string" || !/^[1-9][0-9]{0,40}$/.test(o.stake)) {
      return `validator ${i} needs a 20-byte address and a positive decimal stake`;
    }
    out.push({ address: o.address, stake: BigInt(o.stake) });
  }
  try {
    return makeValidatorSet(out);
  } catch (err) {
    return `validators: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function summarizeEvm(l: EvmLock): ProvenLockSummary {
  return { lockId: l.lockId, sender: l.sender, receiver: l.receiver, asset: l.token, amount: l.amount.toString(), hashlock: l.hashlock, timelock: l.timelock.toString(), status: l.status, preimage: l.preimage };
}

function summarizeConsortium(lockId: Hex, l: LockRecord): ProvenLockSummary {
  return { lockId, sender: l.sender, receiver: l.receiver, asset: l.asset, amount: l.amount.toString(), hashlock: l.hashlock, timelock: String(l.timelock), status: l.status, preimage: l.preimage };
}

function summarizeFabric(l: FabricLock): ProvenLockSummary {
  return { lockId: l.lockId, sender: l.sender, receiver: l.receiver, asset: l.asset, amount: l.amount.toString(), hashlock: l.hashlock, timelock: String(l.timelock), status: l.status, preimage: l.preimage };
}

function bytes(h: string): Uint8Array {
  return hexToBytes(h.slice(2));
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
