// The controller loop shared by the operator (store = Kubernetes API) and local mode (store = files).
//
// - One pass of a topology at a time (WorkQueue); watch events during a pass coalesce into one follow-up.
// - After a pass, the topology's timer is armed at the pass's requeueAfterMs (its pollIntervalSeconds).
// - A pass that throws is retried with exponential backoff (200 ms → 30 s by default); success resets it.
// - Periodic resync lists the store and enqueues every topology (watches can stall silently).
// - The loop writes what a pass returns: status (when statusChanged) and events, only while mayWrite().
// - A pass may write only if mayWrite() held when it started: a standby keeps running passes that observe
//   and count (the detection memory) but act on nothing; a pass that began before this process became
//   leader never acts on what it read then. The first pass after that re-reads everything.
// - Abort stops handing out work, clears every timer and waits for the passes that are running.
import type { TopologyStatus } from '../api/status.js';
import type { PassResult, Reconciler } from './pass.js';
import { ConflictError, refKey, type LifecycleStore, type Store, type TopologyRef } from '../store/store.js';
import type { Log } from '../util/log-sink.js';
import { systemClock, type Cancel, type Clock } from '../util/clock.js';
import { WorkQueue } from './queue.js';

export function isLifecycleStore(store: Store): store is Store & LifecycleStore {
  return typeof (store as Partial<LifecycleStore>).admit === 'function';
}

/** Thrown by the store handed to a pass when it tries to write while mayWrite() is false. */
export class WriteForbiddenError extends Error {
  constructor(what: string) {
    super(`${what} refused: this process may not write (not the leader, or stopping)`);
    this.name = 'WriteForbiddenError';
  }
}

export interface PassOutcome {
  ref: TopologyRef;
  /** The pass's result; undefined when it threw, or when the topology no longer exists. */
  result?: PassResult;
  error?: unknown;
  /** True when the pass did not run: the store's lifecycle (deletion, finalizer) said so. */
  skipped?: boolean;
  durationMs: number;
  statusWritten: boolean;
  eventsEmitted: number;
  /** True for a pass that could not write from its start (a standby's: it observes and counts only). */
  observeOnly?: boolean;
  /** When the next pass of this topology is due (ms from now), if one is scheduled. */
  nextInMs?: number;
}

export interface ControllerOptions {
  store: Store;
  reconcile: Reconciler;
  clock?: Clock;
  log: Log;
  /** When it returns false: no status, event or annotation writes, and passes are told not to write. */
  mayWrite?: () => boolean;
  signal: AbortSignal;
  /** Called after every pass (metrics, local mode's --once). Exceptions it throws are logged and ignored. */
  onPass?: (outcome: PassOutcome) => void;
  /** List the store and enqueue everything this often (default 60 s; 0 disables, one list at start still runs). */
  resyncIntervalMs?: number;
  /** Passes of different topologies that may run at once (default 4). */
  concurrency?: number;
  /** Retry backoff after a pass throws (default 200 ms doubling to 30 s). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Bounds on the requeue delay a pass asks for (default 100 ms … 1 h). */
  minRequeueMs?: number;
  maxRequeueMs?: number;
  /** Passed to every pass: plan only. */
  dryRun?: boolean;
  /** Skip the initial list (the caller enqueues what it wants). Default false. */
  skipInitialList?: boolean;
}

export interface Controller {
  /** Asks for a pass of the topology as soon as possible (watch events). */
  /** urgent: before every routine pass (a member's connection just broke). */
  enqueue(ref: TopologyRef, options?: { urgent?: boolean }): void;
  /** Lists the store now and enqueues every topology; forgets timers of topologies that disappeared. */
  resync(): Promise<void>;
  /** Resolves once the loop has stopped (signal aborted and running passes finished). */
  readonly done: Promise<void>;
  /** Introspection for tests and health: queued, running, armed timers. */
  stats(): { queued: number; running: number; timers: number };
  /** When the topology's next timed pass is due (absolute ms on the loop's clock), if armed. */
  dueAt(ref: TopologyRef): number | undefined;
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function runController(options: ControllerOptions): Controller {
  const { store, reconcile, log, signal } = options;
  const clock = options.clock ?? systemClock;
  const mayWrite = options.mayWrite ?? (() => true);
  const resyncIntervalMs = options.resyncIntervalMs ?? 60_000;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const minRequeueMs = options.minRequeueMs ?? 100;
  const maxRequeueMs = options.maxRequeueMs ?? 3_600_000;
  const queue = new WorkQueue<TopologyRef>(refKey, {
    clock,
    baseDelayMs: options.backoff?.baseMs ?? 200,
    maxDelayMs: options.backoff?.maxMs ?? 30_000,
  });
  const known = new Map<string, TopologyRef>();
  let resyncCancel: Cancel | undefined;
  let resyncRunning: Promise<void> | undefined;

  const passWritable = () => !signal.aborted && mayWrite();

  async function resync(): Promise<void> {
    if (signal.aborted) return;
    // Entries are replaced by every enqueue, so identity tells whether a key was enqueued during the list.
    const before = new Map(known);
    let refs: TopologyRef[];
    try {
      refs = await store.list();
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'resync: listing topologies failed');
      return;
    }
    if (signal.aborted) return;
    const seen = new Set(refs.map(refKey));
    for (const [key, ref] of before) {
      if (!seen.has(key) && known.get(key) === ref) {
        known.delete(key);
        queue.remove(ref);
      }
    }
    for (const ref of refs) enqueue(ref);
  }

  function scheduleResync(): void {
    if (resyncIntervalMs <= 0 || signal.aborted) return;
    resyncCancel = clock.schedule(resyncIntervalMs, () => {
      resyncRunning = resync().finally(() => {
        resyncRunning = undefined;
        scheduleResync();
      });
    });
  }

  function enqueue(ref: TopologyRef, options: { urgent?: boolean } = {}): void {
    if (signal.aborted) return;
    const copy = { namespace: ref.namespace, name: ref.name };
    known.set(refKey(copy), copy);
    queue.add(copy, options);
  }

  async function processOne(ref: TopologyRef): Promise<void> {
    const started = clock.now();
    // Pinned at the start: a pass that began as a standby stays observe-only to its end.
    const leading = passWritable();
    const writable = () => leading && passWritable();
    const outcome: PassOutcome = {
      ref,
      durationMs: 0,
      statusWritten: false,
      eventsEmitted: 0,
      ...(leading ? {} : { observeOnly: true }),
    };
    const key = refKey(ref);
    try {
      if (isLifecycleStore(store) && writable() && !options.dryRun) {
        if (!(await store.admit(ref))) {
          outcome.skipped = true;
          known.delete(key);
          queue.remove(ref);
          log.debug({ topology: key }, 'topology gone or being deleted; no pass');
          return;
        }
      }
      const guarded = guardStore(store, ref, writable);
      const result = await reconcile(guarded.store, ref, {
        dryRun: options.dryRun ?? false,
        mayWrite: writable,
      });
      if (!result) {
        known.delete(key);
        queue.remove(ref);
        log.debug({ topology: key }, 'topology not found; forgotten');
        return;
      }
      outcome.result = result;
      if (result.statusChanged && !options.dryRun) {
        if (!writable()) {
          log.debug({ topology: key }, 'status changed but writes are not allowed; not written');
        } else if (!guarded.alreadyWritten(result.status)) {
          const generation = result.status.observedGeneration ?? guarded.generation() ?? 0;
          try {
            // Conditional on the version the pass decided on: a newer journal is never overwritten.
            await store.writeStatus(ref, result.status, generation, {
              ...(result.resourceVersion !== undefined ? { resourceVersion: result.resourceVersion } : {}),
            });
            outcome.statusWritten = true;
          } catch (e) {
            if (!(e instanceof ConflictError)) throw e;
            log.debug({ topology: key }, 'status changed meanwhile; the next pass decides again');
            result.requeueAfterMs = 0;
          }
        }
      }
      if (!options.dryRun) {
        for (const event of result.events) {
          if (!writable()) break;
          try {
            await store.emitEvent(ref, event);
            outcome.eventsEmitted++;
          } catch (e) {
            log.warn(
              { topology: key, reason: event.reason, err: errorMessage(e) },
              'emitting an event failed',
            );
          }
        }
      }
      queue.forget(ref);
      // 0 asks for the next pass at once (a failover moving phase by phase); other delays are bounded.
      const requeue =
        result.requeueAfterMs <= 0
          ? 0
          : Number.isFinite(result.requeueAfterMs)
            ? Math.min(maxRequeueMs, Math.max(minRequeueMs, result.requeueAfterMs))
            : maxRequeueMs;
      // At once, and a suspect primary's re-probes, go before other topologies' routine passes.
      queue.addAfter(ref, requeue, { urgent: requeue === 0 || result.urgent === true });
      outcome.nextInMs = requeue;
    } catch (e) {
      outcome.error = e;
      const delay = queue.addRateLimited(ref);
      outcome.nextInMs = delay;
      const level = e instanceof WriteForbiddenError ? 'info' : 'error';
      log[level](
        { topology: key, err: errorMessage(e), retryInMs: delay, failures: queue.failures(ref) },
        'reconcile pass failed',
      );
    } finally {
      outcome.durationMs = clock.now() - started;
      if (options.onPass) {
        try {
          options.onPass(outcome);
        } catch (e) {
          log.warn({ err: errorMessage(e) }, 'onPass callback threw');
        }
      }
    }
  }

  async function worker(): Promise<void> {
    for (;;) {
      const ref = await queue.get();
      if (!ref) return;
      try {
        if (!signal.aborted) await processOne(ref);
      } finally {
        queue.done(ref);
      }
    }
  }

  const workers = Array.from({ length: concurrency }, () => worker());

  const done = new Promise<void>((resolve) => {
    const stop = () => {
      resyncCancel?.();
      queue.shutDown();
      void Promise.all([...workers, resyncRunning?.catch(() => undefined)]).then(() => {
        log.debug({}, 'controller loop stopped');
        resolve();
      });
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });

  if (!signal.aborted) {
    if (!options.skipInitialList) {
      resyncRunning = resync().finally(() => {
        resyncRunning = undefined;
      });
    }
    scheduleResync();
  }

  return {
    enqueue,
    resync: () => resync(),
    done,
    stats: () => ({ queued: queue.length, running: queue.active, timers: queue.timerCount }),
    dueAt: (ref) => queue.dueAt(ref),
  };
}

/**
 * The store a pass sees: writes fail with WriteForbiddenError while writes are not allowed, the generation
 * of the topology it read is remembered (for observedGeneration), and its own status writes are recorded
 * so the loop does not write the same status twice.
 */
function guardStore(
  store: Store,
  ref: TopologyRef,
  writable: () => boolean,
): { store: Store; generation: () => number | undefined; alreadyWritten: (s: TopologyStatus) => boolean } {
  const key = refKey(ref);
  let generation: number | undefined;
  let lastWritten: string | undefined;
  const guarded: Store = {
    list: () => store.list(),
    async get(r) {
      const t = await store.get(r);
      if (t && refKey(r) === key) generation = t.generation;
      return t;
    },
    readSecret: (ns, name) => store.readSecret(ns, name),
    async writeStatus(r, status, observedGeneration, options) {
      if (!writable()) throw new WriteForbiddenError('status write');
      const written = await store.writeStatus(r, status, observedGeneration, options);
      if (refKey(r) === key) lastWritten = JSON.stringify(status);
      return written;
    },
    async emitEvent(r, event) {
      if (!writable()) throw new WriteForbiddenError('event');
      await store.emitEvent(r, event);
    },
    async removeAnnotation(r, annotation, options) {
      if (!writable()) throw new WriteForbiddenError('annotation removal');
      return store.removeAnnotation(r, annotation, options);
    },
  };
  return {
    store: guarded,
    generation: () => generation,
    alreadyWritten: (s) => lastWritten !== undefined && lastWritten === JSON.stringify(s),
  };
}
