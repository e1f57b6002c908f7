/** Balances: transfers between accounts and issuance by an asset's issuer. */
import { type Hex } from "../../proofs/hex.ts";
import { type AssetRecord } from "../../proofs/consortium/state.ts";
import { type ChainEvent } from "../../proofs/consortium/results.ts";
import { reject, TxErrorCode } from "./codes.ts";
import { type LedgerState } from "./ledger-state.ts";

const UINT256_MAX = (1n << 256n) - 1n;

export function requireAsset(state: LedgerState, symbol: string): AssetRecord {
  const asset = state.asset(symbol);
  if (!asset) throw reject(TxErrorCode.UNKNOWN_ASSET, `no asset ${symbol} on this chain`, { asset: symbol });
  return asset;
}

export function debit(state: LedgerState, owner: Hex, symbol: string, amount: bigint): void {
  requireAsset(state, symbol);
  const balance = state.balance(owner, symbol);
  if (balance < amount) {
    throw reject(TxErrorCode.INSUFFICIENT_FUNDS, `${owner} has ${balance} ${symbol} base units, needs ${amount}`, {
      owner,
      asset: symbol,
      balance: balance.toString(),
      needed: amount.toString(),
    });
  }
  state.setBalance(owner, symbol, balance - amount);
}

/** Never overflows: a balance is bounded by the asset's supply, itself bounded at issue. */
export function credit(state: LedgerState, owner: Hex, symbol: string, amount: bigint): void {
  requireAsset(state, symbol);
  state.setBalance(owner, symbol, state.balance(owner, symbol) + amount);
}

export function transfer(state: LedgerState, from: Hex, to: Hex, symbol: string, amount: bigint): ChainEvent[] {
  debit(state, from, symbol, amount);
  credit(state, to, symbol, amount);
  return [{ kind: "transfer", from, to, asset: symbol, amount }];
}

export function issue(state: LedgerState, issuer: Hex, to: Hex, symbol: string, amount: bigint): ChainEvent[] {
  const asset = requireAsset(state, symbol);
  if (asset.issuer !== issuer) {
    throw reject(TxErrorCode.NOT_ISSUER, `${issuer} is not the issuer of ${symbol}`, { asset: symbol, issuer: asset.issuer });
  }
  if (asset.supply + amount > UINT256_MAX) throw reject(TxErrorCode.SUPPLY_OVERFLOW, `issuing ${amount} would overflow the ${symbol} supply`);
  state.putAsset({ ...asset, supply: asset.supply + amount });
  credit(state, to, symbol, amount);
  return [{ kind: "issued", issuer, to, asset: symbol, amount }];
}
