// A per-key serialized work queue (the shape of client-go's workqueue), with delayed and rate-limited adds.
//
// Guarantees:
// - a key is handed to at most one worker at a time (between get() and done());
// - adding a key that is already waiting is a no-op; adding a key that is being processed marks it dirty,
//   and done() queues it once more: any number of adds during a pass coalesce into one follow-up;
// - each key has at most one armed timer (addAfter replaces it), so a topology never accumulates timers;
// - addRateLimited() delays by exponential backoff per key until forget() resets it;
// - an urgent add (a failover moving on, a member whose connection just broke) is handed out before every
//   ordinary one, urgent keys first come first served: a failover never waits behind other topologies'
//   routine passes.
import { backoffDelay, systemClock, type Cancel, type Clock } from '../util/clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** First retry delay after a failure (default 200 ms). */
  baseDelayMs?: number;
  /** Retry delay cap (default 30 s). */
  maxDelayMs?: number;
}

export class WorkQueue<T> {
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Keys waiting for a worker, in order: the urgent ones, then the others. */
  private readonly readyUrgent: string[] = [];
  private readonly ready: string[] = [];
  /** Keys added urgently and not yet handed out. */
  private readonly urgentKeys = new Set<string>();
  /** Keys added and not yet handed out (waiting in `ready`, or to be re-queued when their pass is done). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly items = new Map<string, T>();
  private readonly timers = new Map<string, { due: number; cancel: Cancel }>();
  private readonly failureCounts = new Map<string, number>();
  private readonly waiters: ((item: T | undefined) => void)[] = [];
  private stopped = false;

  constructor(
    private readonly keyOf: (item: T) => string,
    options: WorkQueueOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
  }

  /** Makes the item ready now (coalescing with a pending or running pass of the same key). */
  add(item: T, options: { urgent?: boolean } = {}): void {
    if (this.stopped) return;
    const key = this.keyOf(item);
    this.items.set(key, item);
    if (options.urgent && !this.urgentKeys.has(key)) {
      this.urgentKeys.add(key);
      // Already waiting as an ordinary key: it moves up.
      const i = this.ready.indexOf(key);
      if (i >= 0) {
        this.ready.splice(i, 1);
        this.readyUrgent.push(key);
      }
    }
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Arms the key's timer to add it after ms, replacing a timer armed before. */
  addAfter(item: T, ms: number, options: { urgent?: boolean } = {}): void {
    if (this.stopped) return;
    const key = this.keyOf(item);
    this.items.set(key, item);
    this.timers.get(key)?.cancel();
    if (ms <= 0) {
      this.timers.delete(key);
      this.add(item, options);
      return;
    }
    const entry = {
      due: this.clock.now() + ms,
      cancel: this.clock.schedule(ms, () => {
        if (this.timers.get(key) === entry) this.timers.delete(key);
        this.add(this.items.get(key) ?? item, options);
      }),
    };
    this.timers.set(key, entry);
  }

  /** Counts one more failure of the key and adds it after the backoff delay; returns that delay. */
  addRateLimited(item: T): number {
    const key = this.keyOf(item);
    const attempt = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, attempt);
    const delay = backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs);
    this.addAfter(item, delay);
    return delay;
  }

  /** Resets the key's failure count (after a successful pass). */
  forget(item: T): void {
    this.failureCounts.delete(this.keyOf(item));
  }

  /** Failures counted for the key since the last forget(). */
  failures(item: T): number {
    return this.failureCounts.get(this.keyOf(item)) ?? 0;
  }

  /** Forgets the key entirely: its timer, failures, and any pending (not running) add. */
  remove(item: T): void {
    const key = this.keyOf(item);
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    this.failureCounts.delete(key);
    if (!this.processing.has(key)) {
      this.dirty.delete(key);
      this.urgentKeys.delete(key);
      for (const list of [this.readyUrgent, this.ready]) {
        const i = list.indexOf(key);
        if (i >= 0) list.splice(i, 1);
      }
      this.items.delete(key);
    }
  }

  /** The absolute time the key's timer fires, when one is armed. */
  dueAt(item: T): number | undefined {
    return this.timers.get(this.keyOf(item))?.due;
  }

  /** Waits for the next ready key and marks it processing; undefined once shut down. */
  get(): Promise<T | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = this.readyUrgent.shift() ?? this.ready.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends processing of the key; re-queues it once when it was added meanwhile. */
  done(item: T): void {
    const key = this.keyOf(item);
    this.processing.delete(key);
    if (this.stopped) return;
    if (this.dirty.has(key)) this.push(key);
    else if (!this.timers.has(key) && !this.failureCounts.has(key)) this.items.delete(key);
  }

  /** Stops handing out work, cancels every timer, and wakes idle workers (their get() returns undefined). */
  shutDown(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.ready.length = 0;
    this.readyUrgent.length = 0;
    this.urgentKeys.clear();
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get isShutDown(): boolean {
    return this.stopped;
  }

  /** Keys waiting for a worker. */
  get length(): number {
    return this.readyUrgent.length + this.ready.length;
  }

  /** Keys being processed now. */
  get active(): number {
    return this.processing.size;
  }

  /** Armed timers. */
  get timerCount(): number {
    return this.timers.size;
  }

  isProcessing(item: T): boolean {
    return this.processing.has(this.keyOf(item));
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else (this.urgentKeys.has(key) ? this.readyUrgent : this.ready).push(key);
  }

  private take(key: string): T {
    this.dirty.delete(key);
    this.urgentKeys.delete(key);
    this.processing.add(key);
    return this.items.get(key) as T;
  }
}
