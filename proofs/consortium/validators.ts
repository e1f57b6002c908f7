/**
 * The validator set: addresses with stakes. Finality needs MORE than 2/3 of the total stake.
 */
import { abiEncode, type AbiType } from "../abi.ts";
import { type Hex, isHex, toHex } from "../hex.ts";
import { CONSORTIUM_SCHEME, keccak256 } from "./domain.ts";

export interface Validator {
  readonly address: Hex;
  readonly stake: bigint;
}

/** Validators sorted by address, unique, each with a positive stake. */
export interface ValidatorSet {
  readonly validators: readonly Validator[];
}

/** Normalizes and checks a validator list (throws on misuse: duplicates, bad stake, bad address). */
/**
 * The most validators a set may have: ConsortiumLightClient.sol refuses a larger set (it
 * counts signers in a 256-bit bitmap), so the chain must never schedule one or the EVM
 * light client could not follow it past that change.
 */
export const MAX_VALIDATORS = 256;

export function makeValidatorSet(validators: readonly { readonly address: string; readonly stake: bigint }[]): ValidatorSet {
  if (validators.length === 0) throw new RangeError("validators: at least one validator is required");
  if (validators.length > MAX_VALIDATORS) throw new RangeError(`validators: ${validators.length}, at most ${MAX_VALIDATORS}`);
  const list = validators.map((v, i) => {
    if (!isHex(v.address, 20)) throw new TypeError(`validators[${i}].address: expected 20-byte 0x-hex`);
    if (typeof v.stake !== "bigint" || v.stake <= 0n) throw new RangeError(`validators[${i}].stake: expected a positive bigint`);
    return { address: v.address.toLowerCase() as Hex, stake: v.stake };
  });
  list.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.address === list[i - 1]!.address) throw new RangeError(`validators: duplicate address ${list[i]!.address}`);
  }
  return Object.freeze({ validators: Object.freeze(list.map((v) => Object.freeze(v))) });
}

export function totalStake(set: ValidatorSet): bigint {
  return set.validators.reduce((sum, v) => sum + v.stake, 0n);
}

export function stakeOf(set: ValidatorSet, address: Hex): bigint | undefined {
  return set.validators.find((v) => v.address === address)?.stake;
}

/** More than 2/3 of `total` (Tendermint's "+2/3"): exactly 2/3 is not enough. */
export function isSupermajority(stake: bigint, total: bigint): boolean {
  return 3n * stake > 2n * total;
}

/** More than 1/3 of `total`: at least one honest validator among them when faults are < 1/3. */
export function exceedsOneThird(stake: bigint, total: bigint): boolean {
  return 3n * stake > total;
}

/**
 * keccak256(abi.encode(tag, n, address_1, stake_1, ..., address_n, stake_n)), validators
 * sorted by address; this is what headers commit to as `validatorsHash`.
 */
export function hashValidatorSet(set: ValidatorSet): Hex {
  const types: AbiType[] = ["bytes32", "uint256"];
  const values: (string | bigint | number)[] = [CONSORTIUM_SCHEME.tags.validators, set.validators.length];
  for (const v of set.validators) {
    types.push("address", "uint256");
    values.push(v.address, v.stake);
  }
  return toHex(keccak256(abiEncode(types, values)));
}
