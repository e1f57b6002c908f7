import { parseArgs, type ParseArgsConfig } from "node:util";
import { InvalidInputError } from "../../chains/errors.ts";

/** Strict flag parsing: an unknown or malformed flag is a clear error, never ignored. */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new InvalidInputError("arguments", (err as Error).message.replace(/\. To specify a positional argument.*$/s, "").replace(/\s*\n\s*/g, " "));
  }
}

export function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === "") throw new InvalidInputError(command, `--${flag} is required`);
  return value;
}

export function positiveInt(value: string | undefined, flag: string, max = 10 * 365 * 24 * 3600): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new InvalidInputError(`--${flag}`, `"${value}" is not a positive whole number`);
  if (Number(value) > max) throw new InvalidInputError(`--${flag}`, `${value} is larger than ${max}`);
  return Number(value);
}
