/**
 * Staking execution: bond, unbond, equivocation evidence, and the unbonding queue.
 *
 * Stake is the native asset (ISTH) moved out of the owner's balance; it stays in the
 * asset's supply while bonded or unbonding. Validator-set changes made by block H (bond,
 * unbond, slash) take effect at height H + 2: block H writes the new set into the schedule
 * with fromHeight H + 2, so header H + 1 (executed on the state after H) already names it as
 * its nextValidatorsHash and a light client learns it one block before it signs.
 * Unbonded (and slashed validators' remaining) stake returns to the balance at the start
 * of block H + unbondingBlocks. Keys and encodings: proofs/consortium/staking.ts.
 */
import { type Hex } from "../../proofs/hex.ts";
import { type DuplicateVoteEvidence, verifyEvidence } from "../../proofs/consortium/evidence.ts";
import {
  type ScheduleEntry,
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
import { type ValidatorSet, makeValidatorSet, stakeOf } from "../../proofs/consortium/validators.ts";
import { reject, TxErrorCode } from "./codes.ts";
import { recoverSigner } from "./crypto.ts";
import { MAX_SCHEDULE } from "./consensus/proposer.ts";
import { type KvReader, type KvStore } from "./kv.ts";
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

export function bond(kv: KvStore, owner: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  if (slashingRecord(kv, owner)) throw reject(TxErrorCode.VALIDATOR_SLASHED, `${owner} was slashed for equivocation and cannot bond again`);
  const state = new LedgerState(kv);
  const balance = state.balance(owner, STAKE_ASSET);
  if (balance < amount) throw reject(TxErrorCode.INSUFFICIENT_FUNDS, `bond of ${amount} ${STAKE_ASSET} but ${owner} holds ${balance}`);
  const pending = pendingSet(kv);
  const stake = (stakeOf(pending, owner) ?? 0n) + amount;
  if (stake < params.minBond) throw reject(TxErrorCode.BOND_TOO_SMALL, `stake would be ${stake}, the minimum is ${params.minBond}`);
  const next = withStake(pending, owner, stake);
  state.setBalance(owner, STAKE_ASSET, balance - amount);
  writePendingSet(kv, next, ctx.height, params);
}

export function unbond(kv: KvStore, owner: Hex, amount: bigint, ctx: StakingContext): void {
  const params = readParams(kv);
  const pending = pendingSet(kv);
  const stake = stakeOf(pending, owner);
  if (stake === undefined) throw reject(TxErrorCode.NOT_A_VALIDATOR, `${owner} has no bonded stake`);
  if (amount > stake) throw reject(TxErrorCode.UNBOND_EXCEEDS_STAKE, `unbond of ${amount} but ${owner} has ${stake} bonded`);
  const rest = stake - amount;
  if (rest > 0n && rest < params.minBond) throw reject(TxErrorCode.BOND_TOO_SMALL, `${rest} would stay bonded, below the minimum ${params.minBond}; unbond all ${stake} instead`);
  const next = withStake(pending, owner, rest);
  writePendingSet(kv, next, ctx.height, params);
  enqueueUnbonding(kv, ctx.height + params.unbondingBlocks, owner, amount);
}

export interface SlashOutcome {
  readonly validator: Hex;
  readonly slashed: bigint;
  readonly evidenceHash: Hex;
}

/**
 * Proven equivocation: burns slashBps of the validator's bonded stake, removes it from the
 * set (from height + 2), starts unbonding the rest, and records the evidence under the
 * validator's slashing key (which also refuses a second slash).
 */
export function submitEvidence(kv: KvStore, evidence: DuplicateVoteEvidence, ctx: StakingContext): SlashOutcome {
  const params = readParams(kv);
  if (evidence.height > ctx.height) throw reject(TxErrorCode.EVIDENCE_OUT_OF_RANGE, `evidence for height ${evidence.height} is from the future (block ${ctx.height})`);
  if (evidence.height < ctx.height - params.unbondingBlocks) {
    throw reject(TxErrorCode.EVIDENCE_OUT_OF_RANGE, `evidence for height ${evidence.height} is older than the unbonding period (${params.unbondingBlocks} blocks before ${ctx.height})`);
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
  const pending = pendingSet(kv);
  const stake = stakeOf(pending, v.validator) ?? 0n;
  const slashed = (stake * BigInt(params.slashBps)) / BPS;
  if (stake > 0n) {
    if (pending.validators.length === 1) throw reject(TxErrorCode.LAST_VALIDATOR, `${v.validator} is the only validator; removing it would halt the chain`);
    writePendingSet(kv, withStake(pending, v.validator, 0n), ctx.height, params);
    if (stake - slashed > 0n) enqueueUnbonding(kv, ctx.height + params.unbondingBlocks, v.validator, stake - slashed);
    burn(kv, slashed);
  }
  kv.set(
    slashingKey(v.validator),
    encodeSlashing({ evidenceHeight: evidence.height, round: evidence.round, voteType: evidence.voteType, evidenceHash: v.evidenceHash, slashed, includedHeight: ctx.height }),
  );
  return { validator: v.validator, slashed, evidenceHash: v.evidenceHash };
}

// --- helpers ----------------------------------------------------------------------------------

/** The set after every change so far (the schedule's last entry). */
function pendingSet(kv: KvReader): ValidatorSet {
  const schedule = readSchedule(kv);
  return schedule[schedule.length - 1]!.set;
}

function withStake(set: ValidatorSet, address: Hex, stake: bigint): ValidatorSet {
  const others = set.validators.filter((v) => v.address !== address);
  const list = stake > 0n ? [...others, { address, stake }] : others;
  if (list.length === 0) throw reject(TxErrorCode.LAST_VALIDATOR, "the validator set would be empty");
  const g = list.reduce((acc, v) => gcd(acc, v.stake), 0n);
  const period = list.reduce((acc, v) => acc + v.stake / g, 0n);
  if (period > BigInt(MAX_SCHEDULE)) {
    throw reject(TxErrorCode.STAKE_GRANULARITY, `stakes would need a proposer rotation of ${period} steps (limit ${MAX_SCHEDULE}); bond a rounder amount`);
  }
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

function enqueueUnbonding(kv: KvStore, releaseHeight: number, owner: Hex, amount: bigint): void {
  const key = unbondingKey(releaseHeight);
  const bytes = kv.get(key);
  const entries: UnbondingEntry[] = bytes ? [...must(decodeUnbonding(bytes), "unbonding queue")] : [];
  const i = entries.findIndex((e) => e.owner === owner);
  if (i >= 0) entries[i] = { owner, amount: entries[i]!.amount + amount };
  else entries.push({ owner, amount });
  kv.set(key, encodeUnbonding(entries));
}

function burn(kv: KvStore, amount: bigint): void {
  const state = new LedgerState(kv);
  const asset = state.asset(STAKE_ASSET);
  if (!asset) throw new Error("corrupt state: native asset missing");
  state.putAsset({ ...asset, supply: asset.supply - amount });
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
