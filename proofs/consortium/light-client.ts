/**
 * Light client: follows the chain header by header from a trusted point (usually genesis),
 * trusting nothing but the validator set it starts from.
 *
 * Trusted state after height h: the hash of header h and the set that signs h + 1 (header
 * h's nextValidatorsHash). Header h + 1 is accepted iff it is for the same chain, extends
 * header h (prevHash), names that set as validatorsHash, and its commit carries more than
 * 2/3 of that set's stake in valid, distinct signatures (verifyCommit). The set for h + 2 is
 * then the one header h + 1 commits to: the same set when nextValidatorsHash equals
 * validatorsHash, otherwise the caller must supply the new set, whose hash must match.
 * State proofs are then checked against a verified header's stateRoot.
 */
import { type Hex, fromHex } from "../hex.ts";
import { type SparseAbsenceProof, type SparseProof, verifySparseAbsence, verifySparseProof } from "../sparse-merkle.ts";
import { type Commit, type CommitVerification, type VerifyCommitOptions, verifyCommit } from "./commit.ts";
import { CONSORTIUM_SCHEME } from "./domain.ts";
import { type Header, hashHeader, headerProblem } from "./header.ts";
import { type ValidatorSet, hashValidatorSet } from "./validators.ts";

export interface TrustedState {
  readonly chainId: number;
  readonly height: number;
  /** Hash of header `height`; null when trust starts from a set alone (e.g. the genesis set without the genesis header). */
  readonly headerHash: Hex | null;
  /** The set that signs height + 1. */
  readonly nextSet: ValidatorSet;
}

export type TrustResult = { readonly ok: true; readonly state: TrustedState } | { readonly ok: false; readonly reason: string };

/** Trust anchored at a header known out of band (genesis: height 0, no commit). */
export function trustHeader(header: Header, nextSet: ValidatorSet): TrustResult {
  const problem = headerProblem(header);
  if (problem) return { ok: false, reason: problem };
  if (hashValidatorSet(nextSet) !== header.nextValidatorsHash) return { ok: false, reason: "the trusted next set does not hash to the header's nextValidatorsHash" };
  return { ok: true, state: { chainId: header.chainId, height: header.height, headerHash: hashHeader(header), nextSet } };
}

/** Trust in a set alone: the set that signs height `height + 1` (genesis: height 0). */
export function trustSet(chainId: number, height: number, nextSet: ValidatorSet): TrustedState {
  return { chainId, height, headerHash: null, nextSet };
}

export type HeaderUpdate =
  | {
      readonly ok: true;
      readonly state: TrustedState;
      /** The set that signed `header`. */
      readonly signingSet: ValidatorSet;
      readonly commit: Extract<CommitVerification, { ok: true }>;
      readonly setChanged: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/** Verifies the header right after `trusted` with its commit and, when the set changes, the next set. */
export function verifyNextHeader(trusted: TrustedState, header: Header, commit: Commit, nextSet?: ValidatorSet, options: VerifyCommitOptions = {}): HeaderUpdate {
  const problem = headerProblem(header);
  if (problem) return { ok: false, reason: problem };
  if (header.chainId !== trusted.chainId) return { ok: false, reason: `header is for chain ${header.chainId}, trusted chain is ${trusted.chainId}` };
  if (header.height !== trusted.height + 1) return { ok: false, reason: `header height ${header.height} does not follow trusted height ${trusted.height}` };
  if (trusted.headerHash !== null && header.prevHash !== trusted.headerHash) return { ok: false, reason: `header ${header.height} does not extend the trusted header (prevHash)` };
  if (header.validatorsHash !== hashValidatorSet(trusted.nextSet)) {
    return { ok: false, reason: `header ${header.height} names a validator set other than the one the trusted header committed to` };
  }
  const v = verifyCommit(header, commit, trusted.nextSet, options);
  if (!v.ok) return { ok: false, reason: `commit of ${header.height}: ${v.reason}` };
  let next: ValidatorSet;
  if (nextSet !== undefined) {
    if (hashValidatorSet(nextSet) !== header.nextValidatorsHash) return { ok: false, reason: `the supplied next validator set does not hash to header ${header.height}'s nextValidatorsHash` };
    next = nextSet;
  } else if (header.nextValidatorsHash === header.validatorsHash) {
    next = trusted.nextSet;
  } else {
    return { ok: false, reason: `header ${header.height} changes the validator set: the next set is required` };
  }
  return {
    ok: true,
    state: { chainId: trusted.chainId, height: header.height, headerHash: v.blockHash, nextSet: next },
    signingSet: trusted.nextSet,
    commit: v,
    setChanged: header.nextValidatorsHash !== header.validatorsHash,
  };
}

export interface HeaderWithCommit {
  readonly header: Header;
  readonly commit: Commit;
}

export type RunUpdate =
  | { readonly ok: true; readonly state: TrustedState; readonly verified: readonly { readonly height: number; readonly hash: Hex; readonly signingSet: ValidatorSet }[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Verifies consecutive headers after `trusted`, checking every link (chain id, height,
 * prevHash, validatorsHash = the set the previous header named) but commit signatures only
 * where trust needs them: at each header that changes the set (signed by the set before
 * the change) and at the last one. A header in between is then committed to by the hash
 * chain ending at a verified header, and no set change can hide there: it would need a
 * header naming a different next set, whose commit is checked. This rests on the same
 * assumption as checking every commit (each set is honest while it is the trusted one)
 * at a fraction of the signature checks.
 */
export function verifyHeaderRun(
  trusted: TrustedState,
  run: readonly HeaderWithCommit[],
  nextSetOf: (hash: Hex) => ValidatorSet | undefined,
  options: VerifyCommitOptions = {},
): RunUpdate {
  if (run.length === 0) return { ok: false, reason: "no headers" };
  let state = trusted;
  const verified: { height: number; hash: Hex; signingSet: ValidatorSet }[] = [];
  for (const [i, { header, commit }] of run.entries()) {
    const problem = headerProblem(header);
    if (problem) return { ok: false, reason: problem };
    if (header.chainId !== state.chainId) return { ok: false, reason: `header is for chain ${header.chainId}, trusted chain is ${state.chainId}` };
    if (header.height !== state.height + 1) return { ok: false, reason: `header height ${header.height} does not follow trusted height ${state.height}` };
    if (state.headerHash !== null && header.prevHash !== state.headerHash) return { ok: false, reason: `header ${header.height} does not extend the header before it (prevHash)` };
    if (header.validatorsHash !== hashValidatorSet(state.nextSet)) {
      return { ok: false, reason: `header ${header.height} names a validator set other than the one the header before it committed to` };
    }
    const changes = header.nextValidatorsHash !== header.validatorsHash;
    let next = state.nextSet;
    if (changes) {
      const supplied = nextSetOf(header.nextValidatorsHash);
      if (!supplied) return { ok: false, reason: `header ${header.height} changes the validator set: the next set is required` };
      if (hashValidatorSet(supplied) !== header.nextValidatorsHash) return { ok: false, reason: `the supplied next validator set does not hash to header ${header.height}'s nextValidatorsHash` };
      next = supplied;
    }
    const hash = hashHeader(header);
    if (changes || i === run.length - 1) {
      const v = verifyCommit(header, commit, state.nextSet, options);
      if (!v.ok) return { ok: false, reason: `commit of ${header.height}: ${v.reason}` };
    }
    verified.push({ height: header.height, hash, signingSet: state.nextSet });
    state = { chainId: state.chainId, height: header.height, headerHash: hash, nextSet: next };
  }
  return { ok: true, state, verified };
}

export type StateProofVerification = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** `key` → `value` is in the state committed by `header` (a header the light client verified). */
export function verifyStateProof(header: Header, key: Uint8Array, value: Uint8Array, proof: SparseProof): StateProofVerification {
  return verifySparseProof(CONSORTIUM_SCHEME.state, fromHex(header.stateRoot, "stateRoot", 32), key, value, proof);
}

/** `key` has no entry in the state committed by `header` (a header the light client verified). */
export function verifyStateAbsence(header: Header, key: Uint8Array, absence: SparseAbsenceProof): StateProofVerification {
  return verifySparseAbsence(CONSORTIUM_SCHEME.state, fromHex(header.stateRoot, "stateRoot", 32), key, absence);
}

/**
 * A light client with memory: the trusted state plus the set of every height it verified
 * (as ranges), so proofs anchored at an earlier verified height can still be checked.
 */
export class LightClient {
  #state: TrustedState;
  /** Sets by first height they sign, ascending. */
  readonly #sets: { fromHeight: number; set: ValidatorSet }[];

  constructor(state: TrustedState) {
    this.#state = state;
    this.#sets = [{ fromHeight: state.height + 1, set: state.nextSet }];
  }

  get state(): TrustedState {
    return this.#state;
  }

  get height(): number {
    return this.#state.height;
  }

  /** Applies the next header (see verifyNextHeader); on failure nothing changes. */
  update(header: Header, commit: Commit, nextSet?: ValidatorSet, options: VerifyCommitOptions = {}): HeaderUpdate {
    const r = verifyNextHeader(this.#state, header, commit, nextSet, options);
    if (!r.ok) return r;
    if (r.setChanged || hashValidatorSet(r.state.nextSet) !== hashValidatorSet(this.#state.nextSet)) this.#sets.push({ fromHeight: header.height + 1, set: r.state.nextSet });
    this.#state = r.state;
    return r;
  }

  /** Applies a run of consecutive headers (see verifyHeaderRun); on failure nothing changes. */
  updateRun(run: readonly HeaderWithCommit[], nextSetOf: (hash: Hex) => ValidatorSet | undefined, options: VerifyCommitOptions = {}): RunUpdate {
    const r = verifyHeaderRun(this.#state, run, nextSetOf, options);
    if (!r.ok) return r;
    for (const [i, step] of r.verified.entries()) {
      const nextHash = run[i]!.header.nextValidatorsHash;
      if (nextHash !== hashValidatorSet(this.#sets[this.#sets.length - 1]!.set)) this.#sets.push({ fromHeight: step.height + 1, set: nextSetOf(nextHash)! });
    }
    this.#state = r.state;
    return r;
  }

  /** The verified set that signs `height`, for heights from the anchor up to trusted height + 1. */
  setAt(height: number): ValidatorSet | undefined {
    if (height > this.#state.height + 1) return undefined;
    let found: ValidatorSet | undefined;
    for (const s of this.#sets) {
      if (s.fromHeight > height) break;
      found = s.set;
    }
    return found;
  }
}
