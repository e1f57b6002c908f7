import { pino, type DestinationStream } from "pino";

/**
 * Structured JSON-lines logging (pino): one object per line with `level` (a name),
 * `time` (ISO), `msg` and the fields; swap handlers pass `swap: <id>`.
 * Secrets never leave the process: fields named like keys, passwords or preimages are
 * replaced by "[redacted]" at any of the first two levels of nesting, whatever the caller passes.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Field names whose values are never written. */
export const REDACTED_FIELDS = ["privateKey", "key", "preimage", "secret", "password", "apiKey", "authorization", "mnemonic"] as const;

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

function levelFromEnv(): LogLevel {
  const v = process.env.ISTHMUS_LOG_LEVEL as LogLevel | undefined;
  return v && LEVELS.includes(v) ? v : "info";
}

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const destination: DestinationStream = opts.write
    ? { write: (s: string) => opts.write!(s.replace(/\n$/, "")) }
    : // Synchronous: the last lines before a process.exit (or a SIGKILL failpoint) are not lost.
      pino.destination({ fd: 1, sync: true });
  const root = pino(
    {
      level: opts.level ?? levelFromEnv(),
      base: opts.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: "[redacted]" },
    },
    destination,
  );
  return wrap(root);
}

function wrap(p: pino.Logger): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (!p.isLevelEnabled(level)) return;
    p[level](fields ? plain(fields) : {}, msg);
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => wrap(p.child(plain(fields))),
  };
}

/** Bigints as decimal strings, errors as their message and code (never a stack with data in it). */
function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === "bigint") out[k] = v.toString();
    else if (v instanceof Error) out[k] = { message: v.message, ...("code" in v ? { code: (v as { code: unknown }).code } : {}) };
    else if (v && typeof v === "object" && !Array.isArray(v)) out[k] = JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
    else out[k] = v;
  }
  return out;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
