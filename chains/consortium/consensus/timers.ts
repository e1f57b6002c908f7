/**
 * How the consensus engine reads monotonic time and schedules its timeouts. The system
 * timers are the default; a simulation injects virtual ones so a test can run many rounds
 * under a seeded schedule in milliseconds, and observe every timeout the engine arms.
 */
export type TimerHandle = unknown;

export interface EngineTimers {
  /** Monotonic milliseconds (intervals between events, never a date). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** A repeating timer that must not keep the process alive on its own. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export const systemTimers: EngineTimers = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (fn: () => void, ms: number): TimerHandle => setInterval(fn, ms).unref(),
  clearInterval: (handle: TimerHandle) => clearInterval(handle as NodeJS.Timeout),
});
