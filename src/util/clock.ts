// Time, injectable: the controller loop, the watch and leader election read the time and arm timers only
// through a Clock, so tests drive them with a FakeClock instead of waiting.

/** Cancels a timer armed with Clock.schedule; calling it twice, or after the timer fired, is harmless. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn once after ms milliseconds (0 or less: as soon as possible, never synchronously). */
  schedule(ms: number, fn: () => void): Cancel;
}

/** The real clock. Timers are looked up at call time, so vitest fake timers installed later still apply. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = globalThis.setTimeout(fn, Math.max(0, ms));
    return () => globalThis.clearTimeout(t);
  },
};

/** Resolves after ms on the given clock, or at once when the signal aborts (it never rejects). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.schedule(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff: base, 2·base, 4·base … capped at max (attempt counts from 1). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt <= 1) return Math.min(baseMs, maxMs);
  // 2 ** 60 is still finite; past that the cap applies anyway.
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 60));
}

interface FakeTimer {
  id: number;
  due: number;
  fn: () => void;
}

/** Lets pending promise callbacks (and one turn of I/O callbacks) run. */
export async function flushMicrotasks(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * A clock that moves only when told to. advance() fires due timers in order, letting promise chains settle
 * between timers, so code that awaits and then re-arms a timer behaves as it would in real time.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  schedule(ms: number, fn: () => void): Cancel {
    const timer: FakeTimer = { id: ++this.seq, due: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.timers.length;
  }

  /** Due times (absolute ms) of armed timers, earliest first. */
  dueTimes(): number[] {
    return this.timers.map((t) => t.due).sort((a, b) => a - b);
  }

  /** Moves time forward by ms, firing every timer that falls due on the way (including ones armed meanwhile). */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = Math.max(this.current, next.due);
      next.fn();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers)
      if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}
