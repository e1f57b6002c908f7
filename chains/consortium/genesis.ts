/**
 * Genesis: chain id, start time, validators (the trust anchor for every commit), assets and
 * initial balances. The native asset ISTH (18 decimals, no issuer: nobody can mint it) is
 * always defined; genesis adds issued assets such as KRW. Height 0 is a header built from
 * genesis alone (no commit): anyone holding the genesis can recompute it.
 */
import { type Hex, isHex } from "../../proofs/hex.ts";
import { ZERO_ADDRESS, ZERO_HASH } from "../../proofs/consortium/domain.ts";
import { type Header } from "../../proofs/consortium/header.ts";
import { resultsRoot, txRoot } from "../../proofs/consortium/results.ts";
import { ASSET_SYMBOL_RE } from "../../proofs/consortium/state.ts";
import { type ValidatorSet, hashValidatorSet, makeValidatorSet } from "../../proofs/consortium/validators.ts";
import { type StakingParams } from "../../proofs/consortium/staking.ts";
import { InvalidInputError } from "../errors.ts";
import { MemoryKv } from "./kv.ts";
import { LedgerState } from "./ledger-state.ts";
import { STAKE_ASSET, writeGenesisStaking } from "./staking.ts";

export interface GenesisAsset {
  readonly symbol: string;
  readonly decimals: number;
  /** Only this address may issue more; the zero address means nobody. */
  readonly issuer: Hex;
}

export interface GenesisBalance {
  readonly address: Hex;
  readonly asset: string;
  /** Base units. */
  readonly amount: bigint;
}

export interface Genesis {
  readonly chainId: number;
  /** Time of block 0 in unix ms; block 1 must be later. */
  readonly timeMs: number;
  readonly validators: ValidatorSet;
  /** Every asset, native first. */
  readonly assets: readonly GenesisAsset[];
  readonly balances: readonly GenesisBalance[];
  /** Unbonding period, minimum stake, slash share (staking.ts). */
  readonly staking: StakingParams;
}

/** Defaults: 20 blocks of unbonding, any positive stake, 10% slashed on equivocation. */
export const DEFAULT_STAKING: StakingParams = Object.freeze({ unbondingBlocks: 20, minBond: 1n, slashBps: 1000 });

export interface GenesisParams {
  readonly chainId: number;
  readonly timeMs: number;
  readonly validators: readonly { readonly address: string; readonly stake: bigint }[];
  /** Issued assets (ISTH is added automatically). */
  readonly assets?: readonly { readonly symbol: string; readonly decimals: number; readonly issuer: string }[];
  readonly balances?: readonly { readonly address: string; readonly asset: string; readonly amount: bigint }[];
  readonly staking?: Partial<StakingParams>;
}

export const NATIVE_ASSET: GenesisAsset = Object.freeze({ symbol: "ISTH", decimals: 18, issuer: ZERO_ADDRESS });

/** Checks and normalizes genesis parameters; throws InvalidInputError naming the bad field. */
export function makeGenesis(p: GenesisParams): Genesis {
  if (!Number.isSafeInteger(p.chainId) || p.chainId <= 0) throw new InvalidInputError("genesis.chainId", "must be a positive integer");
  if (!Number.isSafeInteger(p.timeMs) || p.timeMs < 0) throw new InvalidInputError("genesis.timeMs", "must be unix milliseconds");
  let validators: ValidatorSet;
  try {
    validators = makeValidatorSet(p.validators);
  } catch (err) {
    throw new InvalidInputError("genesis.validators", (err as Error).message);
  }
  const assets: GenesisAsset[] = [NATIVE_ASSET];
  (p.assets ?? []).forEach((a, i) => {
    const where = `genesis.assets[${i}]`;
    if (!ASSET_SYMBOL_RE.test(a.symbol)) throw new InvalidInputError(`${where}.symbol`, `"${a.symbol}" is not A-Z/0-9, 2-16 chars`);
    if (assets.some((x) => x.symbol === a.symbol)) throw new InvalidInputError(`${where}.symbol`, `${a.symbol} is defined twice`);
    if (!Number.isInteger(a.decimals) || a.decimals < 0 || a.decimals > 36) throw new InvalidInputError(`${where}.decimals`, "must be an integer in 0..36");
    if (!isHex(a.issuer, 20)) throw new InvalidInputError(`${where}.issuer`, "must be a 20-byte 0x-hex address");
    assets.push({ symbol: a.symbol, decimals: a.decimals, issuer: a.issuer.toLowerCase() as Hex });
  });
  const balances = (p.balances ?? []).map((b, i) => {
    const where = `genesis.balances[${i}]`;
    if (!isHex(b.address, 20)) throw new InvalidInputError(`${where}.address`, "must be a 20-byte 0x-hex address");
    if (!assets.some((a) => a.symbol === b.asset)) throw new InvalidInputError(`${where}.asset`, `unknown asset ${b.asset}`);
    if (typeof b.amount !== "bigint" || b.amount <= 0n) throw new InvalidInputError(`${where}.amount`, "must be a positive bigint");
    return { address: b.address.toLowerCase() as Hex, asset: b.asset, amount: b.amount };
  });
  const staking = { ...DEFAULT_STAKING, ...(p.staking ?? {}) };
  if (!Number.isSafeInteger(staking.unbondingBlocks) || staking.unbondingBlocks < 2) throw new InvalidInputError("genesis.staking.unbondingBlocks", "must be an integer ≥ 2 (set changes take 2 blocks)");
  if (typeof staking.minBond !== "bigint" || staking.minBond <= 0n) throw new InvalidInputError("genesis.staking.minBond", "must be a positive bigint");
  if (!Number.isInteger(staking.slashBps) || staking.slashBps < 1 || staking.slashBps > 10_000) throw new InvalidInputError("genesis.staking.slashBps", "must be an integer in 1..10000 (basis points)");
  const small = validators.validators.find((v) => v.stake < staking.minBond);
  if (small) throw new InvalidInputError("genesis.validators", `${small.address} has stake ${small.stake}, below staking.minBond ${staking.minBond}`);
  return Object.freeze({ chainId: p.chainId, timeMs: p.timeMs, validators, assets: Object.freeze(assets), balances: Object.freeze(balances), staking: Object.freeze(staking) });
}

/** The state at height 0. */
export function genesisState(g: Genesis): MemoryKv {
  const kv = new MemoryKv();
  const state = new LedgerState(kv);
  const supply = new Map<string, bigint>();
  for (const b of g.balances) {
    state.setBalance(b.address, b.asset, state.balance(b.address, b.asset) + b.amount);
    supply.set(b.asset, (supply.get(b.asset) ?? 0n) + b.amount);
  }
  // Genesis stakes are bonded ISTH: part of the supply, not of any balance.
  supply.set(STAKE_ASSET, (supply.get(STAKE_ASSET) ?? 0n) + g.validators.validators.reduce((sum, v) => sum + v.stake, 0n));
  for (const a of g.assets) state.putAsset({ ...a, supply: supply.get(a.symbol) ?? 0n });
  writeGenesisStaking(kv, g.staking, g.validators);
  return kv;
}

export function genesisHeader(g: Genesis, stateRoot: Hex): Header {
  return {
    chainId: g.chainId,
    height: 0,
    timeMs: g.timeMs,
    prevHash: ZERO_HASH,
    txRoot: txRoot([]),
    resultsRoot: resultsRoot([]),
    stateRoot,
    validatorsHash: hashValidatorSet(g.validators),
    nextValidatorsHash: hashValidatorSet(g.validators),
    proposer: ZERO_ADDRESS,
  };
}

/** JSON form (bigints as decimal strings) for files and the node API. */
export interface GenesisJson {
  readonly chainId: number;
  readonly timeMs: number;
  readonly validators: readonly { readonly address: string; readonly stake: string }[];
  readonly assets: readonly { readonly symbol: string; readonly decimals: number; readonly issuer: string }[];
  readonly balances: readonly { readonly address: string; readonly asset: string; readonly amount: string }[];
  /** Absent in files written before staking: the defaults apply. */
  readonly staking?: { readonly unbondingBlocks: number; readonly minBond: string; readonly slashBps: number };
}

export function genesisToJson(g: Genesis): GenesisJson {
  return {
    chainId: g.chainId,
    timeMs: g.timeMs,
    validators: g.validators.validators.map((v) => ({ address: v.address, stake: v.stake.toString() })),
    assets: g.assets.filter((a) => a.symbol !== NATIVE_ASSET.symbol).map((a) => ({ ...a })),
    balances: g.balances.map((b) => ({ address: b.address, asset: b.asset, amount: b.amount.toString() })),
    staking: { unbondingBlocks: g.staking.unbondingBlocks, minBond: g.staking.minBond.toString(), slashBps: g.staking.slashBps },
  };
}

export function genesisFromJson(j: GenesisJson): Genesis {
  const big = (s: string, what: string) => {
    if (typeof s !== "string" || !/^\d+$/.test(s)) throw new InvalidInputError(what, "must be a decimal string");
    return BigInt(s);
  };
  return makeGenesis({
    chainId: j.chainId,
    timeMs: j.timeMs,
    validators: j.validators.map((v, i) => ({ address: v.address, stake: big(v.stake, `genesis.validators[${i}].stake`) })),
    assets: j.assets,
    balances: j.balances.map((b, i) => ({ address: b.address, asset: b.asset, amount: big(b.amount, `genesis.balances[${i}].amount`) })),
    ...(j.staking ? { staking: { unbondingBlocks: j.staking.unbondingBlocks, minBond: big(j.staking.minBond, "genesis.staking.minBond"), slashBps: j.staking.slashBps } } : {}),
  });
}
