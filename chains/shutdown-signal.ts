import type { EventEmitter } from "node:events";

/**
 * A repeat within this long is the same Ctrl-C: a terminal signals the whole foreground
 * process group, and `npm start` / `npx` forward the signal to their child once more, so the
 * process (the relayer daemon, a consortium node) receives SIGINT twice within milliseconds
 * of one key press.
 */
export const SAME_SIGNAL_MS = 1000;

/**
 * Resolve on the first SIGINT or SIGTERM; a later one (a second Ctrl-C, past SAME_SIGNAL_MS)
 * exits at once. `signals`, `exit` and `now` are for tests (default: this process).
 */
export function untilSignal(opts: { signals?: EventEmitter; exit?: (code: number) => void; now?: () => number } = {}): Promise<NodeJS.Signals> {
  const signals = opts.signals ?? process;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const now = opts.now ?? Date.now;
  return new Promise((resolve) => {
    let firstAt: number | null = null;
    const on = (sig: NodeJS.Signals) => {
      if (firstAt === null) {
        firstAt = now();
        resolve(sig);
      } else if (now() - firstAt > SAME_SIGNAL_MS) {
        exit(130);
      }
    };
    signals.on("SIGINT", on);
    signals.on("SIGTERM", on);
  });
}
