import { InvalidInputError } from "../../chains/errors.ts";

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** "12.34" with 2 decimals → 1234n. Rejects signs, exponents and excess precision rather than rounding. */
export function parseAmount(text: string, decimals: number, what = "amount"): bigint {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new InvalidInputError(what, `"${text}" is not a positive decimal number`);
  const [, whole, frac = ""] = m;
  if (frac.length > decimals) {
    throw new InvalidInputError(what, `"${text}" has ${frac.length} decimals but the asset has only ${decimals}`);
  }
  const units = BigInt(whole! + frac.padEnd(decimals, "0"));
  if (units === 0n) throw new InvalidInputError(what, "must be greater than zero");
  return units;
}

/** 1234n with 2 decimals → "12.34"; trailing zeros trimmed, never exponent notation. */
export function formatAmount(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const s = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const whole = s.slice(0, s.length - decimals);
  const frac = s.slice(s.length - decimals).replace(/0+$/, "");
  return (negative ? "-" : "") + (frac ? `${whole}.${frac}` : whole);
}

/** An exact non-negative rational parsed from a decimal string ("0.001" → 1/1000). */
export interface Rate {
  readonly num: bigint;
  readonly den: bigint;
  readonly text: string;
}

export function parseRate(text: string, what = "rate"): Rate {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new InvalidInputError(what, `"${text}" is not a positive decimal number`);
  const [, whole, frac = ""] = m;
  const num = BigInt(whole! + frac);
  if (num === 0n) throw new InvalidInputError(what, "must be greater than zero");
  return { num, den: 10n ** BigInt(frac.length), text: text.trim() };
}

/**
 * Convert `amountIn` base units of an asset with `decIn` decimals to base units of an
 * asset with `decOut` decimals at `rate` (units out per unit in), rounding down so the
 * relayer never promises more than the rate.
 */
export function convert(amountIn: bigint, decIn: number, decOut: number, rate: Rate): bigint {
  const num = amountIn * rate.num * 10n ** BigInt(decOut);
  const den = rate.den * 10n ** BigInt(decIn);
  return num / den;
}
