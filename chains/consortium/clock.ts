/**
 * Clocks in unix milliseconds. Validators read one to propose and to judge a proposal's
 * time; the chain's time is the agreed block time, never this. Injectable so a devnet or a
 * test can move every validator's notion of "now" together.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** Another clock shifted by an offset that only grows: `advance` fast-forwards chain time. */
export class OffsetClock implements Clock {
  private offset: number;
  private readonly base: Clock;

  constructor(base: Clock = systemClock, offsetMs = 0) {
    if (!Number.isFinite(offsetMs)) throw new RangeError("offsetMs: expected a finite number");
    this.base = base;
    this.offset = offsetMs;
  }

  now(): number {
    return this.base.now() + this.offset;
  }

  get offsetMs(): number {
    return this.offset;
  }

  /** Moves time forward by `sec` seconds (never backwards: block time must stay monotonic). */
  advance(sec: number): void {
    this.advanceMs(sec * 1000);
  }

  advanceMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance: expected a non-negative duration, got ${ms}`);
    this.offset += ms;
  }
}
