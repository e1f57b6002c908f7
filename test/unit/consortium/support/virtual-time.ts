/**
 * Virtual time for consensus simulations: one event queue that holds the engines' timers
 * and the network's deliveries, run in time order (ties in scheduling order). Nothing waits
 * on the wall clock, so a run is fast and a seed replays exactly.
 */
import { type Clock } from "../../../../chains/consortium/clock.ts";
import { type EngineTimers, type TimerHandle } from "../../../../chains/consortium/consensus/timers.ts";

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class VirtualTime implements EngineTimers {
  #now = 0;
  #seq = 0;
  /** Sorted by (at, seq); small enough in these runs that binary insertion beats a heap on clarity. */
  readonly #queue: Event[] = [];

  /** A unix-ms clock for the engines, reading `epochMs` plus virtual time. */
  clock(epochMs: number): Clock {
    return { now: () => epochMs + this.#now };
  }

  now(): number {
    return this.#now;
  }

  /** Runs `fn` `ms` from now (0 or negative: after everything already due now). */
  at(ms: number, fn: () => void): Event {
    const event: Event = { at: this.#now + Math.max(0, ms), seq: this.#seq++, run: fn, cancelled: false };
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.#queue[mid]!;
      if (e.at < event.at || (e.at === event.at && e.seq < event.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, event);
    return event;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.at(ms, fn);
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Event).cancelled = true;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    // One handle for the whole series: cancelling it stops every later tick.
    const handle = { cancelled: false };
    const tick = () => {
      if (handle.cancelled) return;
      fn();
      this.at(ms, tick);
    };
    this.at(ms, tick);
    return handle;
  }

  clearInterval(handle: TimerHandle): void {
    (handle as { cancelled: boolean }).cancelled = true;
  }

  /** Runs events due up to `untilMs` (virtual), then sets the time to it. */
  runUntil(untilMs: number): void {
    while (this.#queue.length > 0 && this.#queue[0]!.at <= untilMs) {
      const e = this.#queue.shift()!;
      if (e.cancelled) continue;
      this.#now = e.at;
      e.run();
    }
    this.#now = Math.max(this.#now, untilMs);
  }

  /** Advances by `ms`, running what falls due. */
  advance(ms: number): void {
    this.runUntil(this.#now + ms);
  }
}

/** mulberry32: a tiny seeded PRNG (uniform in [0, 1)), so each seed is one reproducible schedule. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
