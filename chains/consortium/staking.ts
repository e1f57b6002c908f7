/**
 * Staking execution: bond, unbond, delegate, undelegate, endpoint announcements,
 * equivocation evidence, and the unbonding queue.
 *
 * Stake is the native asset (ISTH) moved out of the owner's balance; it stays in the
 * asset's supply while bonded or unbonding. A validator's voting power (its stake in the
 * set) is its self-bond plus everything delegated to it; the delegated total is kept under
 * its own key, so self-bond = power − delegated for a member, and a validator is a member
 * iff its self-bond is positive. Validator-set changes made by block H (bond, unbond,
 * delegate, undelegate, slash) take effect at height H + 2: block H writes the new set into
 * the schedule with fromHeight H + 2, so header H + 1 (executed on the state after H)
 * already names it as its nextValidatorsHash and a light client learns it one block before
 * it signs. Unbonded (and slashed validators' remaining) stake returns to the balance at the
 * start of block H + unbondingBlocks. Keys and encodings: proofs/consortium/staking.ts.
 */
import { type Hex } from "../../proofs/hex.ts";
import { type DuplicateVoteEvidence, verifyEvidence } from "../../proofs/consortium/evidence.ts";
import {
  type ScheduleEntry,
  decodeEndpoint,
  decodeStakeAmount,
  delegatedKey,
  delegationKey,
  delegationPrefix,
  encodeEndpoint,
  encodeStakeAmount,
  endpointKey,
  type StakingParams,
  type UnbondingEntry,
  decodeSchedule,
  decodeSlashing,
  decodeStakingParams,
  decodeUnbonding,
  encodeSchedule,
  encodeSlashing,
  encodeStakingParams,
  encodeUnbonding,
  setAtHeight,
  slashingKey,
  stakingParamsKey,
  unbondingKey,
  validatorScheduleKey,
  type SlashingRecord,
} from "../../proofs/consortium/staking.ts";
import { MAX_VALIDATORS, type ValidatorSet, makeValidatorSet, stakeOf } from "../../proofs/consortium/validators.ts";
import { reject, TxErrorCode } from "./codes.ts";
import { recoverSigner } from "./crypto.ts";
import { type KvReader, type KvScan, type KvStore } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";

/** The native asset that is bonded. */
export const STAKE_ASSET = "ISTH";
/** Set changes decided in block H sign from H + SET_CHANGE_DELAY. */
export const SET_CHANGE_DELAY = 2;
const BPS = 10_000n;

function must<T>(d: { ok: true; value: T } | { ok: false; reason: string }, what: string): T {
  if (!d.ok) throw new Error(`corrupt state: ${what}: ${d.reason}`);
  return d.value;
}

export function readParams(kv: KvReader): StakingParams {
  const bytes = kv.get(stakingParamsKey());
  if (!bytes) throw new Error("corrupt state: staking params missing");
  return must(decodeStakingParams(bytes), "staking params");
}

export function readSchedule(kv: KvReader): readonly ScheduleEntry[] {
  const bytes = kv.get(validatorScheduleKey());
  if (!bytes) throw new Error("corrupt state: validator schedule missing");
  return must(decodeSchedule(bytes), "validator schedule");
}

/** The set that signs `height`, as decided by the state in `kv` (valid up to head + 2). */
export function validatorSetAt(kv: KvReader, height: number): ValidatorSet {
  const set = setAtHeight(readSchedule(kv), height);
  if (!set) throw new Error(`no validator set for height ${height} in the schedule (pruned)`);
  return set;
}

export function slashingRecord(kv: KvReader, validator: Hex): SlashingRecord | undefined {
  const bytes = kv.get(slashingKey(validator));
  return bytes ? must(decodeSlashing(bytes), "slashing record") : undefined;
}

/** Genesis writes: params and the first schedule entry (the genesis set signs from height 1). */
export function writeGenesisStaking(kv: KvStore, params: StakingParams, set: ValidatorSet): void {
  kv.set(stakingParamsKey(), encodeStakingParams(params));
  kv.set(validatorScheduleKey(), encodeSchedule([{ fromHeight: 1, set }]));
}

/** Start of block `height`: stake whose unbonding period ends here returns to its owners. */
export function releaseMatured(kv: KvStore, height: number): void {
  const key = unbondingKey(height);
  const bytes = kv.get(key);
  if (!bytes) return;
  const state = new LedgerState(kv);
  for (const e of must(decodeUnbonding(bytes), "unbonding queue")) state.setBalance(e.owner, STAKE_ASSET, state.balance(e.owner, STAKE_ASSET) + e.amount);
  kv.delete(key);
}

export interface StakingContext {
  readonly chainId: number;
  readonly height: number;
}

/** The sum of the stake delegated to `validator` (bonded, not unbonding). */
export function delegatedTo(kv: KvReader, validator: Hex): bigint {
  const bytes = kv.get(delegatedKey(validator));
  return bytes ? must(decodeStakeAmount(bytes), "delegated total") : 0n;
}

/** `delegator`'s bonded delegation to `validator` (0 if none). */
export function delegationOf(kv: KvReader, validator: Hex, delegator: Hex): bigint {
  const bytes = kv.get(delegationKey(validator, delegator));
  return bytes ? must(decodeStakeAmount(bytes), "delegation") : 0n;
}

/** The validator's own bonded stake as of the latest change (0 if it is not a member). */
export function selfBondOf(kv: KvReader, validator: Hex): bigint {
  const power = stakeOf(pendingSet(kv), validator);
  return power === undefined ? 0n : power - delegatedTo(kv, validator);
}

/** The p2p endpoint `validator` announced (kind 11), if any. */
export function endpointOf(kv: KvReader, validator: Hex): string | undefined {
  const bytes = kv.get(endpointKey(validator));
  return bytes ? must(decodeEndpoint(bytes), "endpoint") : undefined;
}

/** Announced endpoints of the members of the latest set (what validators dial). */
export function memberEndpoints(kv: KvReader): { readonly address: Hex; readonly endpoint: string }[] {
  const out: { address: Hex; endpoint: string }[] = [];
  for (const v of pendingSet(kv).validators) {
    const endpoint = endpointOf(kv, v.address);
    if (endpoint) out.push({ address: v.address, endpoint });
  }
  return out;
}

export interface StakingContext {
  readonly chainId: number;
  readonly height: number;
}

export function bond(kv: KvStore, owner: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  if (slashingRecord(kv, owner)) throw reject(TxErrorCode.VALIDATOR_SLASHED, `${owner} was slashed for equivocation and cannot bond again`);
  const state = new LedgerState(kv);
  const balance = state.balance(owner, STAKE_ASSET);
  if (balance < amount) throw reject(TxErrorCode.INSUFFICIENT_FUNDS, `bond of ${amount} ${STAKE_ASSET} but ${owner} holds ${balance}`);
  const pending = pendingSet(kv);
  if (stakeOf(pending, owner) === undefined && pending.validators.length >= MAX_VALIDATORS) {
    throw reject(TxErrorCode.TOO_MANY_VALIDATORS, `the validator set has ${pending.validators.length} members, the most a light client accepts`);
  }
  const self = selfBondOf(kv, owner) + amount;
  if (self < params.minBond) throw reject(TxErrorCode.BOND_TOO_SMALL, `self-bond would be ${self}, the minimum is ${params.minBond}`);
  // A validator that left with delegations still recorded gets their power back on its return.
  const next = withStake(pending, owner, self + delegatedTo(kv, owner));
  state.setBalance(owner, STAKE_ASSET, balance - amount);
  writePendingSet(kv, next, ctx.height, params);
}

export function unbond(kv: KvStore, owner: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  const pending = pendingSet(kv);
  if (stakeOf(pending, owner) === undefined) throw reject(TxErrorCode.NOT_A_VALIDATOR, `${owner} has no bonded stake`);
  const self = selfBondOf(kv, owner);
  if (amount > self) throw reject(TxErrorCode.UNBOND_EXCEEDS_STAKE, `unbond of ${amount} but ${owner} has ${self} self-bonded`);
  const rest = self - amount;
  if (rest > 0n && rest < params.minBond) throw reject(TxErrorCode.BOND_TOO_SMALL, `${rest} would stay bonded, below the minimum ${params.minBond}; unbond all ${self} instead`);
  // Unbonding all of its own stake takes the validator (and the power delegated to it) out of the set.
  const next = withStake(pending, owner, rest > 0n ? rest + delegatedTo(kv, owner) : 0n);
  writePendingSet(kv, next, ctx.height, params);
  enqueueUnbonding(kv, ctx.height + params.unbondingBlocks, { owner, validator: owner, creationHeight: ctx.height, amount });
}

/** Moves ISTH from `delegator`'s balance into `validator`'s voting power. */
export function delegate(kv: KvStore, delegator: Hex, validator: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  if (delegator === validator) throw reject(TxErrorCode.SELF_DELEGATION, `${delegator} delegating to itself: use bond for a validator's own stake`);
  if (slashingRecord(kv, validator)) throw reject(TxErrorCode.VALIDATOR_SLASHED, `${validator} was slashed for equivocation and takes no delegations`);
  const pending = pendingSet(kv);
  const power = stakeOf(pending, validator);
  if (power === undefined) throw reject(TxErrorCode.NOT_A_VALIDATOR, `${validator} is not a bonded validator`);
  const state = new LedgerState(kv);
  const balance = state.balance(delegator, STAKE_ASSET);
  if (balance < amount) throw reject(TxErrorCode.INSUFFICIENT_FUNDS, `delegation of ${amount} ${STAKE_ASSET} but ${delegator} holds ${balance}`);
  const next = withStake(pending, validator, power + amount);
  state.setBalance(delegator, STAKE_ASSET, balance - amount);
  writeAmount(kv, delegationKey(validator, delegator), delegationOf(kv, validator, delegator) + amount);
  writeAmount(kv, delegatedKey(validator), delegatedTo(kv, validator) + amount);
  writePendingSet(kv, next, ctx.height, params);
}

/** Starts returning part of a delegation; like an unbond it waits out the unbonding period (and can be slashed meanwhile). */
export function undelegate(kv: KvStore, delegator: Hex, validator: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  const have = delegationOf(kv, validator, delegator);
  if (amount > have) throw reject(TxErrorCode.UNDELEGATE_EXCEEDS_DELEGATION, `undelegation of ${amount} but ${delegator} has ${have} delegated to ${validator}`);
  const pending = pendingSet(kv);
  const power = stakeOf(pending, validator);
  // A member keeps a positive self-bond, so this never empties its stake.
  if (power !== undefined) writePendingSet(kv, withStake(pending, validator, power - amount), ctx.height, params);
  writeAmount(kv, delegationKey(validator, delegator), have - amount);
  writeAmount(kv, delegatedKey(validator), delegatedTo(kv, validator) - amount);
  enqueueUnbonding(kv, ctx.height + params.unbondingBlocks, { owner: delegator, validator, creationHeight: ctx.height, amount });
}

/**
 * Kind 11: a member of the validator set names the p2p endpoint where the others reach it.
 * The tx is signed by the validator's own key (the sender is the validator), so nobody else
 * can redirect its traffic; non-members are refused so nobody can make validators dial
 * arbitrary hosts.
 */
export function announceEndpoint(kv: KvStore, validator: Hex, endpoint: string): void {
  if (stakeOf(pendingSet(kv), validator) === undefined) throw reject(TxErrorCode.NOT_A_VALIDATOR, `${validator} is not a bonded validator; bond before announcing an endpoint`);
  kv.set(endpointKey(validator), encodeEndpoint(endpoint));
}

export interface SlashOutcome {
  readonly validator: Hex;
  readonly slashed: bigint;
  readonly evidenceHash: Hex;
}

/**
 * Proven equivocation at height h: burns slashBps of the validator's self-bond, of each
 * delegation to it, and of each unbonding entry bonded to it that was created at or after
 * h - (SET_CHANGE_DELAY - 1) = h - 1 (a change made by block h - 1 signs only from h + 1, so
 * that stake still signed at h)
 * (that stake was bonded when the offence happened; Cosmos SDK semantics). Removes it from
 * the set (from height + 2), starts unbonding the rest of its self-bond, and records the
 * evidence and the amounts under the validator's slashing key (which also refuses a second
 * slash). Delegations stay recorded (reduced) until their owners undelegate.
 */
export function submitEvidence(kv: KvStore & KvScan, evidence: DuplicateVoteEvidence, ctx: StakingContext): SlashOutcome {
  const params = readParams(kv);
  if (evidence.height > ctx.height) throw reject(TxErrorCode.EVIDENCE_OUT_OF_RANGE, `evidence for height ${evidence.height} is from the future (block ${ctx.height})`);
  // The stake that signed at h includes unbonds made by block h - 1, which are released at the
  // start of block h - 1 + U; evidence must come before then, or that stake escapes the cut.
  const window = params.unbondingBlocks - SET_CHANGE_DELAY;
  if (evidence.height < ctx.height - window) {
    throw reject(
      TxErrorCode.EVIDENCE_OUT_OF_RANGE,
      `evidence for height ${evidence.height} is too old: block ${ctx.height} takes evidence from height ${ctx.height - window} on (the unbonding period of ${params.unbondingBlocks} blocks less the ${SET_CHANGE_DELAY}-block set-change delay, so the stake that signed it is still held)`,
    );
  }
  const schedule = readSchedule(kv);
  const setThen = setAtHeight(schedule, evidence.height);
  if (!setThen) throw reject(TxErrorCode.EVIDENCE_OUT_OF_RANGE, `no validator set known for height ${evidence.height}`);
  const v = verifyEvidence(ctx.chainId, evidence, setThen, recoverSigner);
  if (!v.ok) throw reject(TxErrorCode.EVIDENCE_INVALID, v.reason);
  const prior = slashingRecord(kv, v.validator);
  if (prior) {
    if (prior.evidenceHash === v.evidenceHash) throw reject(TxErrorCode.DUPLICATE_EVIDENCE, `this evidence was committed at height ${prior.includedHeight}`);
    throw reject(TxErrorCode.VALIDATOR_SLASHED, `${v.validator} was already slashed (evidence of height ${prior.evidenceHeight}, committed at ${prior.includedHeight})`);
  }
  const cut = (amount: bigint) => (amount * BigInt(params.slashBps)) / BPS;
  const pending = pendingSet(kv);
  const member = stakeOf(pending, v.validator) !== undefined;
  if (member && pending.validators.length === 1) throw reject(TxErrorCode.LAST_VALIDATOR, `${v.validator} is the only validator; removing it would halt the chain`);
  const self = selfBondOf(kv, v.validator);
  const fromSelfBond = cut(self);
  const fromDelegations = slashDelegations(kv, v.validator, cut);
  // Before the remaining self-bond is queued below: that entry is not part of the offence.
  // Stake unbonded by block h - 1 still signed at h: it is part of the offence (Cosmos SDK's distributionHeight).
  const signingFrom = evidence.height - (SET_CHANGE_DELAY - 1);
  const fromUnbonding = slashUnbonding(kv, v.validator, signingFrom, ctx.height, params.unbondingBlocks, cut);
  if (member) {
    writePendingSet(kv, withStake(pending, v.validator, 0n), ctx.height, params);
    if (self - fromSelfBond > 0n) enqueueUnbonding(kv, ctx.height + params.unbondingBlocks, { owner: v.validator, validator: v.validator, creationHeight: ctx.height, amount: self - fromSelfBond });
  }
  const slashed = fromSelfBond + fromDelegations + fromUnbonding;
  burn(kv, slashed);
  kv.set(
    slashingKey(v.validator),
    encodeSlashing({ evidenceHeight: evidence.height, round: evidence.round, voteType: evidence.voteType, evidenceHash: v.evidenceHash, slashed, includedHeight: ctx.height, fromSelfBond, fromDelegations, fromUnbonding }),
  );
  return { validator: v.validator, slashed, evidenceHash: v.evidenceHash };
}

/** Cuts every delegation to `validator` by the slash share; returns the total cut. */
function slashDelegations(kv: KvStore & KvScan, validator: Hex, cut: (a: bigint) => bigint): bigint {
  let total = 0n;
  for (const e of kv.scan(delegationPrefix(validator))) {
    const amount = must(decodeStakeAmount(e.value), "delegation");
    const c = cut(amount);
    if (c === 0n) continue;
    total += c;
    if (amount - c === 0n) kv.delete(e.key);
    else kv.set(e.key, encodeStakeAmount(amount - c));
  }
  if (total > 0n) writeAmount(kv, delegatedKey(validator), delegatedTo(kv, validator) - total);
  return total;
}

/**
 * Cuts the queued entries bonded to `validator` created at or after `fromHeight` (the first
 * block whose unbonds still signed at the offence). They release at creation +
 * unbondingBlocks, and evidence is taken only before the first of them is released, so they
 * sit in the queue slots from fromHeight + U to height + U.
 */
function slashUnbonding(kv: KvStore, validator: Hex, fromHeight: number, height: number, unbondingBlocks: number, cut: (a: bigint) => bigint): bigint {
  let total = 0n;
  for (let release = fromHeight + unbondingBlocks; release <= height + unbondingBlocks; release++) {
    const key = unbondingKey(release);
    const bytes = kv.get(key);
    if (!bytes) continue;
    let changed = false;
    const entries: UnbondingEntry[] = [];
    for (const e of must(decodeUnbonding(bytes), "unbonding queue")) {
      const c = e.validator === validator && e.creationHeight >= fromHeight ? cut(e.amount) : 0n;
      if (c > 0n) {
        total += c;
        changed = true;
      }
      if (e.amount - c > 0n) entries.push({ ...e, amount: e.amount - c });
    }
    if (!changed) continue;
    if (entries.length === 0) kv.delete(key);
    else kv.set(key, encodeUnbonding(entries));
  }
  return total;
}

// --- helpers ----------------------------------------------------------------------------------

/** The set after every change so far (the schedule's last entry): who signs from two blocks on. */
export function latestSet(kv: KvReader): ValidatorSet {
  return pendingSet(kv);
}

function pendingSet(kv: KvReader): ValidatorSet {
  const schedule = readSchedule(kv);
  return schedule[schedule.length - 1]!.set;
}

function withStake(set: ValidatorSet, address: Hex, stake: bigint): ValidatorSet {
  const others = set.validators.filter((v) => v.address !== address);
  const list = stake > 0n ? [...others, { address, stake }] : others;
  if (list.length === 0) throw reject(TxErrorCode.LAST_VALIDATOR, "the validator set would be empty");
  return makeValidatorSet(list);
}

/**
 * Block H's change signs from H + 2. Entries no longer needed (superseded before the oldest
 * height evidence may still be about) are pruned so the schedule stays small.
 */
function writePendingSet(kv: KvStore, set: ValidatorSet, height: number, params: StakingParams): void {
  const from = height + SET_CHANGE_DELAY;
  const schedule = [...readSchedule(kv)];
  if (schedule[schedule.length - 1]!.fromHeight === from) schedule.pop();
  schedule.push({ fromHeight: from, set });
  const oldest = height - params.unbondingBlocks - 1;
  while (schedule.length > 1 && schedule[1]!.fromHeight <= oldest) schedule.shift();
  kv.set(validatorScheduleKey(), encodeSchedule(schedule));
}

function enqueueUnbonding(kv: KvStore, releaseHeight: number, entry: UnbondingEntry): void {
  const key = unbondingKey(releaseHeight);
  const bytes = kv.get(key);
  const entries: UnbondingEntry[] = bytes ? [...must(decodeUnbonding(bytes), "unbonding queue")] : [];
  const same = (e: UnbondingEntry) => e.owner === entry.owner && e.validator === entry.validator && e.creationHeight === entry.creationHeight;
  const i = entries.findIndex(same);
  if (i >= 0) entries[i] = { ...entry, amount: entries[i]!.amount + entry.amount };
  else entries.push(entry);
  kv.set(key, encodeUnbonding(entries));
}

/** A zero amount is stored as absence, so equal states have equal roots. */
function writeAmount(kv: KvStore, key: Uint8Array, amount: bigint): void {
  if (amount < 0n) throw new Error("corrupt state: negative stake amount");
  if (amount === 0n) kv.delete(key);
  else kv.set(key, encodeStakeAmount(amount));
}

function burn(kv: KvStore, amount: bigint): void {
  const state = new LedgerState(kv);
  const asset = state.asset(STAKE_ASSET);
  if (!asset) throw new Error("corrupt state: native asset missing");
  state.putAsset({ ...asset, supply: asset.supply - amount });
}
