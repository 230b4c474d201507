import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../../src/util/clock.js';
import {
  runController,
  WriteForbiddenError,
  type Controller,
  type PassOutcome,
} from '../../../src/controller/loop.js';
import { silentLog, type Log } from '../../../src/util/log-sink.js';
import type { PassOptions, PassResult, Reconciler } from '../../../src/controller/pass.js';
import type { Store, TopologyRef } from '../../../src/store/store.js';
import { deferred, MemoryStore, readyStatus } from './memory-store.js';

interface Harness {
  clock: FakeClock;
  store: MemoryStore;
  ctl: Controller;
  ac: AbortController;
  outcomes: PassOutcome[];
  calls: { ref: TopologyRef; at: number; options?: PassOptions }[];
}

const stops: AbortController[] = [];
afterEach(() => {
  for (const ac of stops.splice(0)) ac.abort();
});

function result(over: Partial<PassResult> = {}): PassResult {
  return {
    status: readyStatus(),
    statusChanged: false,
    events: [],
    actionsExecuted: 0,
    requeueAfterMs: 1000,
    ...over,
  };
}

function start(
  reconcile: (store: Store, ref: TopologyRef, options?: PassOptions) => Promise<PassResult | undefined>,
  opts: {
    store?: MemoryStore;
    mayWrite?: () => boolean;
    resyncIntervalMs?: number;
    concurrency?: number;
    log?: Log;
  } = {},
): Harness {
  const clock = new FakeClock();
  const store = opts.store ?? new MemoryStore();
  const ac = new AbortController();
  stops.push(ac);
  const outcomes: PassOutcome[] = [];
  const calls: Harness['calls'] = [];
  const wrapped: Reconciler = async (s, ref, options) => {
    calls.push({ ref, at: clock.now(), options });
    return reconcile(s, ref, options);
  };
  const ctl = runController({
    store,
    reconcile: wrapped,
    clock,
    log: opts.log ?? silentLog,
    signal: ac.signal,
    onPass: (o) => outcomes.push(o),
    resyncIntervalMs: opts.resyncIntervalMs ?? 0,
    concurrency: opts.concurrency,
    mayWrite: opts.mayWrite,
  });
  return { clock, store, ctl, ac, outcomes, calls };
}

describe('runController', () => {
  it('lists the store at start and runs one pass per topology', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    store.put('db', 'b');
    const h = start(async () => result(), { store });
    await flushMicrotasks();
    expect(h.calls.map((c) => c.ref.name).sort()).toEqual(['a', 'b']);
    expect(h.outcomes).toHaveLength(2);
  });

  it('never runs two passes of one topology at once; enqueues during a pass coalesce into one follow-up', async () => {
    const store = new MemoryStore();
    const ref = store.put('db', 'a');
    let running = 0;
    let maxRunning = 0;
    const gates = [deferred(), deferred(), deferred()];
    let n = 0;
    const h = start(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gates[n++]!.promise;
        running--;
        return result({ requeueAfterMs: 60_000 });
      },
      { store, concurrency: 4 },
    );
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    for (let i = 0; i < 5; i++) h.ctl.enqueue(ref);
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    gates[0]!.resolve();
    await flushMicrotasks();
    expect(h.calls).toHaveLength(2);
    gates[1]!.resolve();
    await flushMicrotasks();
    // Exactly one follow-up for the five enqueues.
    expect(h.calls).toHaveLength(2);
    expect(maxRunning).toBe(1);
  });

  it('runs passes of different topologies concurrently', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    store.put('db', 'b');
    let running = 0;
    let maxRunning = 0;
    const gate = deferred();
    const h = start(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate.promise;
        running--;
        return result();
      },
      { store, concurrency: 2 },
    );
    await flushMicrotasks();
    expect(maxRunning).toBe(2);
    gate.resolve();
    await flushMicrotasks();
    expect(h.outcomes).toHaveLength(2);
  });

  it('requeues each topology at the requeueAfterMs its pass returned', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    const h = start(async () => result({ requeueAfterMs: 1500 }), { store });
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    await h.clock.advance(1499);
    expect(h.calls).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.calls).toHaveLength(2);
    await h.clock.advance(1500 * 4);
    expect(h.calls).toHaveLength(6);
    const times = h.calls.map((c) => c.at - h.calls[0]!.at);
    expect(times).toEqual([0, 1500, 3000, 4500, 6000, 7500]);
    // One timer per topology, never more.
    expect(h.ctl.stats().timers).toBe(1);
  });

  it('retries a failing pass with exponential backoff and resets after a success', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    let fail = true;
    const h = start(
      async () => {
        if (fail) throw new Error('boom');
        return result({ requeueAfterMs: 10_000 });
      },
      { store },
    );
    await flushMicrotasks();
    await h.clock.advance(200 + 400 + 800 + 1600);
    const t0 = h.calls[0]!.at;
    expect(h.calls.map((c) => c.at - t0)).toEqual([0, 200, 600, 1400, 3000]);
    expect(h.outcomes.every((o) => o.error instanceof Error)).toBe(true);
    expect(h.outcomes.map((o) => o.nextInMs)).toEqual([200, 400, 800, 1600, 3200]);
    // Growth is capped at 30 s.
    await h.clock.advance(3200 + 6400 + 12_800 + 25_600 + 30_000 + 30_000);
    const gaps = h.calls.slice(1).map((c, i) => c.at - h.calls[i]!.at);
    expect(gaps.slice(-3)).toEqual([25_600, 30_000, 30_000]);
    // A success resets the backoff: the next failure waits the base delay again.
    fail = false;
    await h.clock.advance(30_000);
    const okAt = h.calls.at(-1)!.at;
    expect(h.outcomes.at(-1)!.error).toBeUndefined();
    fail = true;
    await h.clock.advance(10_000);
    expect(h.calls.at(-1)!.at - okAt).toBe(10_000);
    await h.clock.advance(200);
    expect(h.calls.at(-1)!.at - okAt).toBe(10_200);
    expect(h.outcomes.at(-1)!.nextInMs).toBe(400);
  });

  it('writes status only when the pass says it changed, with the generation it read, and emits events', async () => {
    const store = new MemoryStore();
    const ref = store.put('db', 'a', {}, 7);
    let changed = true;
    const h = start(
      async (s, r) => {
        await s.get(r);
        return result({
          statusChanged: changed,
          status: readyStatus({ phase: 'Degraded' }),
          events: changed
            ? [{ type: 'Warning', reason: 'ChannelBroken', message: 'dw-0/shard_a stopped' }]
            : [],
        });
      },
      { store },
    );
    await flushMicrotasks();
    expect(store.statusWrites).toHaveLength(1);
    expect(store.statusWrites[0]!.observedGeneration).toBe(7);
    expect(store.statusWrites[0]!.status.phase).toBe('Degraded');
    expect(store.events).toEqual([
      { ref, event: { type: 'Warning', reason: 'ChannelBroken', message: 'dw-0/shard_a stopped' } },
    ]);
    expect(h.outcomes[0]!.statusWritten).toBe(true);
    changed = false;
    await h.clock.advance(1000);
    expect(h.calls).toHaveLength(2);
    expect(store.statusWrites).toHaveLength(1);
    expect(h.outcomes[1]!.statusWritten).toBe(false);
  });

  it('does not write the status twice when the pass already wrote it', async () => {
    const store = new MemoryStore();
    store.put('db', 'a', {}, 3);
    const status = readyStatus({ phase: 'FailingOver' });
    start(
      async (s, r) => {
        await s.writeStatus(r, status, 3);
        return result({ statusChanged: true, status });
      },
      { store },
    );
    await flushMicrotasks();
    expect(store.statusWrites).toHaveLength(1);
  });

  it('writes nothing and tells the pass so while mayWrite() is false', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    let leader = false;
    const h = start(
      async () =>
        result({ statusChanged: true, events: [{ type: 'Normal', reason: 'Observed', message: 'x' }] }),
      { store, mayWrite: () => leader },
    );
    await flushMicrotasks();
    expect(h.calls[0]!.options?.mayWrite?.()).toBe(false);
    expect(store.statusWrites).toHaveLength(0);
    expect(store.events).toHaveLength(0);
    leader = true;
    await h.clock.advance(1000);
    expect(store.statusWrites).toHaveLength(1);
    expect(store.events).toHaveLength(1);
  });

  it('refuses writes from inside a pass when mayWrite() turns false mid-pass', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    let leader = true;
    const h = start(
      async (s, r) => {
        leader = false;
        await s.removeAnnotation(r, 'tributary.dev/switchover');
        return result();
      },
      { store, mayWrite: () => leader },
    );
    await flushMicrotasks();
    expect(h.outcomes[0]!.error).toBeInstanceOf(WriteForbiddenError);
    expect(store.removedAnnotations).toHaveLength(0);
  });

  it('a pass that started as a standby stays observe-only when leadership arrives mid-pass; the next pass writes', async () => {
    const store = new MemoryStore();
    const ref = store.put('db', 'a');
    let leader = false;
    const gate = deferred();
    const seen: boolean[] = [];
    let n = 0;
    const h = start(
      async (s, r, options) => {
        if (n++ === 0) {
          await gate.promise;
          // Leading now, but this pass decided on what it read as a standby: it may not write.
          seen.push(options?.mayWrite?.() ?? true);
          await expect(s.removeAnnotation(r, 'tributary.dev/switchover')).rejects.toBeInstanceOf(
            WriteForbiddenError,
          );
        } else seen.push(options?.mayWrite?.() ?? true);
        return result({
          statusChanged: true,
          events: [{ type: 'Normal', reason: 'Observed', message: 'x' }],
          requeueAfterMs: 60_000,
        });
      },
      { store, mayWrite: () => leader },
    );
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    leader = true;
    h.ctl.enqueue(ref); // what taking the Lease does: a pass at once, after the running one
    gate.resolve();
    await flushMicrotasks(6);
    expect(h.outcomes[0]).toMatchObject({ observeOnly: true, statusWritten: false, eventsEmitted: 0 });
    expect(h.outcomes[1]!.observeOnly).toBeUndefined();
    expect(h.outcomes[1]).toMatchObject({ statusWritten: true, eventsEmitted: 1 });
    expect(seen).toEqual([false, true]);
    expect(store.removedAnnotations).toHaveLength(0);
    expect(store.statusWrites).toHaveLength(1);
    expect(store.events).toHaveLength(1);
  });

  it('forgets a topology whose pass returns undefined (gone): no timer left', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    const h = start(async () => undefined, { store });
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    expect(h.ctl.stats().timers).toBe(0);
    await h.clock.advance(120_000);
    expect(h.calls).toHaveLength(1);
  });

  it('resyncs periodically: picks up new topologies, drops timers of removed ones', async () => {
    const store = new MemoryStore();
    const a = store.put('db', 'a');
    const h = start(async () => result({ requeueAfterMs: 3_600_000 }), { store, resyncIntervalMs: 10_000 });
    await flushMicrotasks();
    expect(h.calls).toHaveLength(1);
    store.put('db', 'b');
    store.delete(a);
    await h.clock.advance(10_000);
    expect(h.calls.map((c) => c.ref.name)).toEqual(['a', 'b']);
    expect(h.ctl.dueAt(a)).toBeUndefined();
    expect(store.listCalls).toBe(2);
    // A failing list is logged and retried at the next interval.
    store.failList = true;
    await h.clock.advance(10_000);
    store.failList = false;
    await h.clock.advance(10_000);
    expect(store.listCalls).toBe(4);
  });

  it('skips the pass when a lifecycle store does not admit the topology', async () => {
    const store = new MemoryStore() as MemoryStore & { admit(ref: TopologyRef): Promise<boolean> };
    store.put('db', 'a');
    store.put('db', 'b');
    store.admit = async (ref) => ref.name !== 'b';
    const h = start(async () => result(), { store });
    await flushMicrotasks();
    expect(h.calls.map((c) => c.ref.name)).toEqual(['a']);
    expect(h.outcomes.find((o) => o.ref.name === 'b')?.skipped).toBe(true);
  });

  it('stops cleanly: waits for the running pass, clears every timer, ignores later enqueues', async () => {
    const store = new MemoryStore();
    const a = store.put('db', 'a');
    store.put('db', 'b');
    const gate = deferred();
    const h = start(
      async (_s, r) => {
        if (r.name === 'a') await gate.promise;
        return result({ requeueAfterMs: 1000 });
      },
      { store, resyncIntervalMs: 5000 },
    );
    await flushMicrotasks();
    expect(h.clock.pending).toBeGreaterThan(0);
    h.ac.abort();
    let stopped = false;
    void h.ctl.done.then(() => (stopped = true));
    await flushMicrotasks();
    expect(stopped).toBe(false);
    gate.resolve();
    await flushMicrotasks();
    expect(stopped).toBe(true);
    expect(h.clock.pending).toBe(0);
    h.ctl.enqueue(a);
    await h.clock.advance(60_000);
    expect(h.calls).toHaveLength(2);
  });

  it('logs failures without secrets: only the error message', async () => {
    const store = new MemoryStore();
    store.put('db', 'a');
    const logged: object[] = [];
    const log: Log = { ...silentLog, error: (o) => logged.push(o) };
    start(
      async () => {
        throw new Error('connect ECONNREFUSED');
      },
      { store, log },
    );
    await flushMicrotasks();
    expect(logged[0]).toMatchObject({ topology: 'db/a', err: 'connect ECONNREFUSED', retryInMs: 200 });
  });
});
