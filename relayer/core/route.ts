import { InvalidInputError } from "../../chains/errors.ts";
import type { Rate } from "./amount.ts";

/** "consortium:KRW" → { chain: "consortium", asset: "KRW" }. */
export interface AssetRef {
  readonly chain: string;
  readonly asset: string;
}

export function parseAssetRef(text: string, what: string): AssetRef {
  const m = /^([a-z][a-z0-9_-]*):([A-Za-z][A-Za-z0-9]*)$/.exec(text.trim());
  if (!m) throw new InvalidInputError(what, `"${text}" is not of the form <chain>:<ASSET>, e.g. consortium:KRW`);
  return { chain: m[1]!, asset: m[2]! };
}

export function formatAssetRef(ref: AssetRef): string {
  return `${ref.chain}:${ref.asset}`;
}

/** One direction the relayer serves: the user gives `from`, the relayer gives `to`. */
export interface Route {
  readonly from: AssetRef;
  readonly to: AssetRef;
  /** Units of `to` per unit of `from`, in whole-asset terms. */
  readonly rate: Rate;
  /** Limits on the amount the user gives, in `from` base units. */
  readonly minIn: bigint;
  readonly maxIn: bigint;
}

export function routeKey(from: AssetRef, to: AssetRef): string {
  return `${formatAssetRef(from)}->${formatAssetRef(to)}`;
}

export function findRoute(routes: readonly Route[], from: AssetRef, to: AssetRef): Route {
  const route = routes.find(
    (r) => r.from.chain === from.chain && r.from.asset === from.asset && r.to.chain === to.chain && r.to.asset === to.asset,
  );
  if (!route) {
    const offered = routes.map((r) => routeKey(r.from, r.to)).join(", ");
    throw new InvalidInputError("route", `the relayer does not offer ${routeKey(from, to)}; it offers ${offered}`);
  }
  return route;
}
