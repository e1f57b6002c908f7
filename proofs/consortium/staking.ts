/**
 * Staking state: keys and encodings of the validator-set schedule, staking parameters,
 * unbonding queue and slashing records. They live in the same state map as balances and
 * locks (stateRoot), so each has a Merkle proof against a header like any other entry.
 *
 *   0x10                           params     (uint64 unbondingBlocks, uint256 minBond, uint32 slashBps)
 *   0x11                           schedule   (uint256 n, (uint64 fromHeight, bytes set) × n), fromHeight ascending
 *   0x12 ‖ uint64be(releaseHeight) unbonding  (uint256 n, (address owner, address validator, uint64 creationHeight,
 *                                              uint256 amount) × n)
 *   0x13 ‖ address                 slashing   (uint64 evidenceHeight, uint32 round, uint8 voteType, bytes32 evidenceHash,
 *                                              uint256 slashed, uint64 includedHeight, uint256 fromSelfBond,
 *                                              uint256 fromDelegations, uint256 fromUnbonding)
 *   0x14 ‖ validator ‖ delegator   delegation (uint256 amount); absent = none
 *   0x15 ‖ validator               delegated  (uint256 total of the validator's delegations); absent = 0
 *   0x16 ‖ validator               endpoint   (string p2pEndpoint) announced by the validator's own key
 * A set is encoded abi.encode(uint256 n, address_1, stake_1, …), sorted by address (the
 * validators-hash preimage without its tag). The set of height h is the last schedule entry
 * with fromHeight ≤ h.
 */
import { abiDecode, abiEncode, type AbiType } from "../abi.ts";
import { type Hex, concatBytes, fromHex, toHex } from "../hex.ts";
import { type Decoded } from "./state.ts";
import { type ValidatorSet, makeValidatorSet } from "./validators.ts";

export const STAKING_KEY_PREFIX = Object.freeze({ params: 0x10, schedule: 0x11, unbonding: 0x12, slashing: 0x13, delegation: 0x14, delegated: 0x15, endpoint: 0x16 } as const);

export const stakingParamsKey = (): Uint8Array => Uint8Array.of(STAKING_KEY_PREFIX.params);
export const validatorScheduleKey = (): Uint8Array => Uint8Array.of(STAKING_KEY_PREFIX.schedule);

export function unbondingKey(releaseHeight: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = STAKING_KEY_PREFIX.unbonding;
  new DataView(key.buffer).setBigUint64(1, BigInt(releaseHeight));
  return key;
}

export function slashingKey(validator: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STAKING_KEY_PREFIX.slashing), fromHex(validator, "validator", 20));
}

/** One delegator's stake with one validator; `delegationPrefix(validator)` scans them all. */
export function delegationKey(validator: Hex, delegator: Hex): Uint8Array {
  return concatBytes(delegationPrefix(validator), fromHex(delegator, "delegator", 20));
}

export function delegationPrefix(validator: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STAKING_KEY_PREFIX.delegation), fromHex(validator, "validator", 20));
}

/** The sum of a validator's delegations (its voting power is self-bond + this). */
export function delegatedKey(validator: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STAKING_KEY_PREFIX.delegated), fromHex(validator, "validator", 20));
}

export function endpointKey(validator: Hex): Uint8Array {
  return concatBytes(Uint8Array.of(STAKING_KEY_PREFIX.endpoint), fromHex(validator, "validator", 20));
}

// --- params ---------------------------------------------------------------------------------

export interface StakingParams {
  /** Blocks between an unbond (or a slash) and the stake's return to the owner's balance. */
  readonly unbondingBlocks: number;
  /** Smallest stake a validator may hold (base units of the native asset). */
  readonly minBond: bigint;
  /** Share of a validator's stake burnt on proven equivocation, in basis points (1..10000). */
  readonly slashBps: number;
}

const PARAMS_TYPES = ["uint64", "uint256", "uint32"] as const;

export function encodeStakingParams(p: StakingParams): Uint8Array {
  return abiEncode(PARAMS_TYPES, [p.unbondingBlocks, p.minBond, p.slashBps]);
}

export function decodeStakingParams(bytes: Uint8Array): Decoded<StakingParams> {
  const d = abiDecode(PARAMS_TYPES, bytes);
  if (!d.ok) return d;
  const [unbondingBlocks, minBond, slashBps] = d.values;
  if (unbondingBlocks > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "unbondingBlocks too large" };
  return { ok: true, value: { unbondingBlocks: Number(unbondingBlocks), minBond, slashBps: Number(slashBps) } };
}

// --- validator sets and the schedule ----------------------------------------------------------

function setTypes(n: number): AbiType[] {
  const types: AbiType[] = ["uint256"];
  for (let i = 0; i < n; i++) types.push("address", "uint256");
  return types;
}

export function encodeValidatorSet(set: ValidatorSet): Uint8Array {
  const values: (string | bigint | number)[] = [set.validators.length];
  for (const v of set.validators) values.push(v.address, v.stake);
  return abiEncode(setTypes(set.validators.length), values as never);
}

/** Leading uint256 count of a flat encoding, bounded so a hostile count cannot blow up decoding. */
function leadingCount(bytes: Uint8Array, maxItems: number): number | undefined {
  if (bytes.length < 32) return undefined;
  const n = BigInt(toHex(bytes.subarray(0, 32)));
  return n <= BigInt(maxItems) ? Number(n) : undefined;
}

export function decodeValidatorSet(bytes: Uint8Array): Decoded<ValidatorSet> {
  const n = leadingCount(bytes, Math.floor(bytes.length / 64));
  if (n === undefined) return { ok: false, reason: "validator set: bad count" };
  const d = abiDecode(setTypes(n), bytes);
  if (!d.ok) return d;
  const list: { address: string; stake: bigint }[] = [];
  for (let i = 0; i < n; i++) list.push({ address: d.values[1 + 2 * i] as string, stake: d.values[2 + 2 * i] as bigint });
  try {
    const set = makeValidatorSet(list);
    // Canonical only: sorted, unique (makeValidatorSet sorts, so compare the order given).
    if (set.validators.some((v, i) => v.address !== list[i]!.address.toLowerCase())) return { ok: false, reason: "validator set not sorted by address" };
    return { ok: true, value: set };
  } catch (err) {
    return { ok: false, reason: `validator set: ${(err as Error).message}` };
  }
}

export interface ScheduleEntry {
  /** First height this set signs. */
  readonly fromHeight: number;
  readonly set: ValidatorSet;
}

function scheduleTypes(n: number): AbiType[] {
  const types: AbiType[] = ["uint256"];
  for (let i = 0; i < n; i++) types.push("uint64", "bytes");
  return types;
}

export function encodeSchedule(entries: readonly ScheduleEntry[]): Uint8Array {
  const values: (number | Uint8Array)[] = [entries.length];
  for (const e of entries) values.push(e.fromHeight, encodeValidatorSet(e.set));
  return abiEncode(scheduleTypes(entries.length), values as never);
}

export function decodeSchedule(bytes: Uint8Array): Decoded<readonly ScheduleEntry[]> {
  const n = leadingCount(bytes, Math.floor(bytes.length / 64));
  if (n === undefined || n === 0) return { ok: false, reason: "validator schedule: bad count" };
  const d = abiDecode(scheduleTypes(n), bytes);
  if (!d.ok) return d;
  const out: ScheduleEntry[] = [];
  for (let i = 0; i < n; i++) {
    const from = d.values[1 + 2 * i] as bigint;
    const set = decodeValidatorSet(d.values[2 + 2 * i] as Uint8Array);
    if (!set.ok) return set;
    if (from > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "validator schedule: height too large" };
    if (out.length && Number(from) <= out[out.length - 1]!.fromHeight) return { ok: false, reason: "validator schedule: heights not ascending" };
    out.push({ fromHeight: Number(from), set: set.value });
  }
  return { ok: true, value: out };
}

/** The set that signs height `h` under `schedule`, or undefined before its first entry. */
export function setAtHeight(schedule: readonly ScheduleEntry[], h: number): ValidatorSet | undefined {
  let found: ValidatorSet | undefined;
  for (const e of schedule) {
    if (e.fromHeight > h) break;
    found = e.set;
  }
  return found;
}

// --- unbonding queue and slashing records -----------------------------------------------------

export interface UnbondingEntry {
  /** Who gets the stake back. */
  readonly owner: Hex;
  /** The validator it was bonded to (the owner itself for a self-bond): evidence against it slashes the entry. */
  readonly validator: Hex;
  /** Height of the block that started the unbonding. */
  readonly creationHeight: number;
  readonly amount: bigint;
}

const UNBONDING_FIELDS = 4;

function unbondingTypes(n: number): AbiType[] {
  const types: AbiType[] = ["uint256"];
  for (let i = 0; i < n; i++) types.push("address", "address", "uint64", "uint256");
  return types;
}

export function encodeUnbonding(entries: readonly UnbondingEntry[]): Uint8Array {
  const values: (number | string | bigint)[] = [entries.length];
  for (const e of entries) values.push(e.owner, e.validator, e.creationHeight, e.amount);
  return abiEncode(unbondingTypes(entries.length), values as never);
}

export function decodeUnbonding(bytes: Uint8Array): Decoded<readonly UnbondingEntry[]> {
  const n = leadingCount(bytes, Math.floor(bytes.length / (32 * UNBONDING_FIELDS)));
  if (n === undefined) return { ok: false, reason: "unbonding queue: bad count" };
  const d = abiDecode(unbondingTypes(n), bytes);
  if (!d.ok) return d;
  const out: UnbondingEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = 1 + UNBONDING_FIELDS * i;
    const creation = d.values[at + 2] as bigint;
    if (creation > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "unbonding queue: height too large" };
    out.push({ owner: d.values[at] as Hex, validator: d.values[at + 1] as Hex, creationHeight: Number(creation), amount: d.values[at + 3] as bigint });
  }
  return { ok: true, value: out };
}

const AMOUNT_TYPES = ["uint256"] as const;

/** A delegation or a delegated total: one uint256. */
export function encodeStakeAmount(amount: bigint): Uint8Array {
  return abiEncode(AMOUNT_TYPES, [amount]);
}

export function decodeStakeAmount(bytes: Uint8Array): Decoded<bigint> {
  const d = abiDecode(AMOUNT_TYPES, bytes);
  return d.ok ? { ok: true, value: d.values[0] } : d;
}

const ENDPOINT_TYPES = ["string"] as const;

export function encodeEndpoint(endpoint: string): Uint8Array {
  return abiEncode(ENDPOINT_TYPES, [endpoint]);
}

export function decodeEndpoint(bytes: Uint8Array): Decoded<string> {
  const d = abiDecode(ENDPOINT_TYPES, bytes);
  return d.ok ? { ok: true, value: d.values[0] } : d;
}

/** "host:port" a validator may announce: a DNS name or IPv4 literal, port 1..65535. */
export function endpointProblem(endpoint: string): string | undefined {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/.exec(endpoint);
  if (!m) return `endpoint ${JSON.stringify(endpoint.slice(0, 80))} is not host:port`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `endpoint port ${port} is not in 1..65535`;
  return undefined;
}

export interface SlashingRecord {
  readonly evidenceHeight: number;
  readonly round: number;
  readonly voteType: number;
  readonly evidenceHash: Hex;
  /** Everything burnt: fromSelfBond + fromDelegations + fromUnbonding. */
  readonly slashed: bigint;
  readonly includedHeight: number;
  /** From the validator's own bonded stake. */
  readonly fromSelfBond: bigint;
  /** From the stake delegated to it (each delegation by the same share). */
  readonly fromDelegations: bigint;
  /** From unbonding entries (its own and its delegators') created at or after the evidence height - 1 (still signing then). */
  readonly fromUnbonding: bigint;
}

const SLASHING_TYPES = ["uint64", "uint32", "uint8", "bytes32", "uint256", "uint64", "uint256", "uint256", "uint256"] as const;

export function encodeSlashing(r: SlashingRecord): Uint8Array {
  return abiEncode(SLASHING_TYPES, [r.evidenceHeight, r.round, r.voteType, r.evidenceHash, r.slashed, r.includedHeight, r.fromSelfBond, r.fromDelegations, r.fromUnbonding]);
}

export function decodeSlashing(bytes: Uint8Array): Decoded<SlashingRecord> {
  const d = abiDecode(SLASHING_TYPES, bytes);
  if (!d.ok) return d;
  const [evidenceHeight, round, voteType, evidenceHash, slashed, includedHeight, fromSelfBond, fromDelegations, fromUnbonding] = d.values;
  if (fromSelfBond + fromDelegations + fromUnbonding !== slashed) return { ok: false, reason: "slashing record: parts do not add up to the total" };
  return {
    ok: true,
    value: { evidenceHeight: Number(evidenceHeight), round: Number(round), voteType: Number(voteType), evidenceHash, slashed, includedHeight: Number(includedHeight), fromSelfBond, fromDelegations, fromUnbonding },
  };
}
