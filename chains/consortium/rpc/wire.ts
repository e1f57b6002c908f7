/**
 * The gRPC wire: loading consortium.proto and converting between its messages (as
 * @grpc/proto-loader presents them: camelCase fields, uint64 as number, bytes as Buffer)
 * and the domain types. `*FromWire` parse untrusted answers and throw WireError.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type Hex, isHex } from "../../../proofs/hex.ts";
import { type MerkleProof } from "../../../proofs/merkle.ts";
import { type SparseAbsenceProof, type SparseProof } from "../../../proofs/sparse-merkle.ts";
import { type Commit, commitProblem } from "../../../proofs/consortium/commit.ts";
import { type Header, headerProblem } from "../../../proofs/consortium/header.ts";
import { type EncodedTxOutcome } from "../../../proofs/consortium/results.ts";
import { type CommittedBlock } from "../block.ts";
import { type ProvenEvent } from "../chain.ts";

export const PROTO_PATH = fileURLToPath(new URL("../consortium.proto", import.meta.url));
export const SERVICE_NAME = "isthmus.consortium.v1.ConsortiumNode";

/** A node's answer that does not have the shape the API promises. */
export class WireError extends Error {
  override name = "WireError";
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated service constructor (its `.service` is the server-side definition). */
export function consortiumService(): grpc.ServiceClientConstructor {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_PATH, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { isthmus: { consortium: { v1: { ConsortiumNode: grpc.ServiceClientConstructor } } } };
    cached = pkg.isthmus.consortium.v1.ConsortiumNode;
  }
  return cached;
}

export interface WireHeader {
  readonly chainId: number;
  readonly height: number;
  readonly timeMs: number;
  readonly prevHash: string;
  readonly txRoot: string;
  readonly resultsRoot: string;
  readonly stateRoot: string;
  readonly validatorsHash: string;
  readonly nextValidatorsHash: string;
  readonly proposer: string;
}

export interface WireCommit {
  readonly height: number;
  readonly round: number;
  readonly blockHash: string;
  readonly signatures: readonly string[];
  readonly timesMs: readonly number[];
}

export interface WireProof {
  readonly index: number;
  readonly leafCount: number;
  readonly siblings: readonly Uint8Array[];
}

export interface WireOutcome {
  readonly result: Uint8Array;
  readonly events: readonly Uint8Array[];
}

export function headerToWire(h: Header): WireHeader {
  return { ...h };
}

export function headerFromWire(w: unknown): Header {
  const problem = headerProblem(w);
  if (problem) throw new WireError(problem);
  const h = w as Header;
  return {
    chainId: h.chainId,
    height: h.height,
    timeMs: h.timeMs,
    prevHash: lower(h.prevHash),
    txRoot: lower(h.txRoot),
    resultsRoot: lower(h.resultsRoot),
    stateRoot: lower(h.stateRoot),
    validatorsHash: lower(h.validatorsHash),
    nextValidatorsHash: lower(h.nextValidatorsHash),
    proposer: lower(h.proposer),
  };
}

export function commitToWire(c: Commit): WireCommit {
  return { height: c.height, round: c.round, blockHash: c.blockHash, signatures: [...c.signatures], timesMs: [...c.timesMs] };
}

export function commitFromWire(w: unknown): Commit {
  const problem = commitProblem(w);
  if (problem) throw new WireError(problem);
  const c = w as Commit;
  return { height: c.height, round: c.round, blockHash: lower(c.blockHash), signatures: c.signatures.map(lower), timesMs: [...c.timesMs] };
}

export function proofToWire(p: MerkleProof): WireProof {
  return { index: p.index, leafCount: p.leafCount, siblings: p.siblings.map((s) => Buffer.from(s)) };
}

export function stateProofToWire(p: SparseProof): { siblings: Buffer[] } {
  return { siblings: p.siblings.map((s) => Buffer.from(s)) };
}

export function stateAbsenceToWire(a: SparseAbsenceProof): unknown {
  const siblings = a.siblings.map((s) => Buffer.from(s));
  return a.kind === "empty" ? { siblings, empty: {} } : { siblings, leaf: { keyHash: Buffer.from(a.keyHash), valueHash: Buffer.from(a.valueHash) } };
}

export function stateProofFromWire(w: unknown): SparseProof {
  const p = w as { siblings?: unknown } | null;
  if (!p || !Array.isArray(p.siblings)) throw new WireError("malformed state proof");
  return { siblings: p.siblings.map((s) => bytesFromWire(s, "state proof sibling")) };
}

/** proto-loader (oneofs: true) names the set branch of `end` in the `end` field. */
export function stateAbsenceFromWire(w: unknown): SparseAbsenceProof {
  const a = w as { siblings?: unknown; end?: unknown; leaf?: { keyHash?: unknown; valueHash?: unknown } | null } | null;
  if (!a || !Array.isArray(a.siblings)) throw new WireError("malformed state absence proof");
  const siblings = a.siblings.map((s) => bytesFromWire(s, "absence proof sibling"));
  if (a.end === "empty") return { kind: "empty", siblings };
  if (a.end === "leaf" && a.leaf) return { kind: "leaf", keyHash: bytesFromWire(a.leaf.keyHash, "absence proof keyHash"), valueHash: bytesFromWire(a.leaf.valueHash, "absence proof valueHash"), siblings };
  throw new WireError("state absence proof ends neither at an empty subtree nor at a leaf");
}

export function proofFromWire(w: unknown): MerkleProof {
  const p = w as Partial<WireProof> | null;
  if (!p || !Number.isSafeInteger(p.index) || !Number.isSafeInteger(p.leafCount) || !Array.isArray(p.siblings)) throw new WireError("malformed Merkle proof");
  return { index: p.index!, leafCount: p.leafCount!, siblings: p.siblings.map((s) => bytesFromWire(s, "proof sibling")) };
}

export function outcomeToWire(o: EncodedTxOutcome): WireOutcome {
  return { result: Buffer.from(o.result), events: o.events.map((e) => Buffer.from(e)) };
}

export function outcomeFromWire(w: unknown): EncodedTxOutcome {
  const o = w as Partial<WireOutcome> | null;
  if (!o || !Array.isArray(o.events)) throw new WireError("malformed tx outcome");
  return { result: bytesFromWire(o.result, "result"), events: o.events.map((e) => bytesFromWire(e, "event")) };
}

/** A committed block as GetBlock and SubscribeBlocks send it. */
export function blockToWire(block: CommittedBlock): unknown {
  return {
    header: headerToWire(block.header),
    hash: block.hash,
    commit: commitToWire(block.commit),
    txs: block.txs.map((t) => Buffer.from(t)),
    outcomes: block.outcomes.map(outcomeToWire),
  };
}

/** A block's events as GetEvents and SubscribeEvents send them: header, commit, each event with its proof. */
export function blockEventsToWire(block: CommittedBlock, events: readonly ProvenEvent[]): unknown {
  return {
    header: headerToWire(block.header),
    commit: commitToWire(block.commit),
    events: events.map((e) => ({ txIndex: e.txIndex, eventIndex: e.eventIndex, value: Buffer.from(e.value), proof: proofToWire(e.proof) })),
  };
}

export function bytesFromWire(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WireError(`${what} is not bytes`);
  return new Uint8Array(v);
}

export function hexFromWire(v: unknown, what: string, byteLength?: number): Hex {
  if (!isHex(v, byteLength)) throw new WireError(`${what} is not ${byteLength ? `${byteLength}-byte ` : ""}hex`);
  return lower(v);
}

export function safeIntFromWire(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new WireError(`${what} is not a non-negative integer`);
  return v;
}

export function bigintFromWire(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^\d+$/.test(v)) throw new WireError(`${what} is not a decimal string`);
  return BigInt(v);
}

function lower(h: string): Hex {
  return h.toLowerCase() as Hex;
}
