import { describe, expect, it } from 'vitest';
import { FakeClock, backoffDelay, sleep } from '../../../src/util/clock.js';
import { WorkQueue } from '../../../src/controller/queue.js';

const id = (s: string) => s;

describe('WorkQueue', () => {
  it('hands a key to one worker at a time and coalesces adds during processing into one follow-up', async () => {
    const q = new WorkQueue<string>(id);
    q.add('a');
    q.add('a');
    expect(q.length).toBe(1);
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    q.add('a');
    // Not ready while processing: a second worker must not get it.
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((v) => (second = v));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done('a');
    await Promise.resolve();
    expect(second).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
    expect(q.active).toBe(0);
  });

  it('keeps one timer per key: addAfter replaces the earlier timer', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(id, { clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    expect(q.timerCount).toBe(1);
    expect(clock.pending).toBe(1);
    await clock.advance(4999);
    expect(q.length).toBe(0);
    await clock.advance(1);
    expect(q.length).toBe(1);
    expect(q.timerCount).toBe(0);
  });

  it('backs off exponentially per key up to the cap, and forget() resets', () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(id, { clock, baseDelayMs: 200, maxDelayMs: 30_000 });
    const delays = Array.from({ length: 10 }, () => q.addRateLimited('a'));
    expect(delays).toEqual([200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
    expect(q.addRateLimited('b')).toBe(200);
    q.forget('a');
    expect(q.failures('a')).toBe(0);
    expect(q.addRateLimited('a')).toBe(200);
  });

  it('remove() cancels the timer and a pending add', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(id, { clock });
    q.addAfter('a', 100);
    q.add('b');
    q.remove('a');
    q.remove('b');
    expect(clock.pending).toBe(0);
    expect(q.length).toBe(0);
    await clock.advance(1000);
    expect(q.length).toBe(0);
  });

  it('shutDown wakes idle workers with undefined and clears timers', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>(id, { clock });
    q.addAfter('a', 100);
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    expect(clock.pending).toBe(0);
    q.add('a');
    expect(await q.get()).toBeUndefined();
  });
});

describe('clock helpers', () => {
  it('backoffDelay doubles from base and caps', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 100, 500))).toEqual([100, 200, 400, 500]);
    expect(backoffDelay(10_000, 200, 30_000)).toBe(30_000);
  });

  it('sleep resolves at the deadline or on abort', async () => {
    const clock = new FakeClock();
    let woke = false;
    void sleep(clock, 1000).then(() => (woke = true));
    await clock.advance(999);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
    const ac = new AbortController();
    let aborted = false;
    void sleep(clock, 1000, ac.signal).then(() => (aborted = true));
    ac.abort();
    await Promise.resolve();
    await Promise.resolve();
    expect(aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('hands out urgent keys before routine ones, first come first served; an ordinary waiting key moves up', async () => {
    const q = new WorkQueue<string>(id);
    for (const k of ['r1', 'r2', 'r3']) q.add(k);
    q.add('u1', { urgent: true });
    q.add('r3', { urgent: true });
    q.add('u2', { urgent: true });
    const order: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) order.push(await q.get());
    expect(order).toEqual(['u1', 'r3', 'u2', 'r1', 'r2']);
    // A key urgent while it runs comes back urgent once it is done.
    q.add('r1', { urgent: true });
    q.add('x');
    q.done('r1');
    expect(await q.get()).toBe('r1');
    // An urgent timer (a suspect primary's next probe) fires into the urgent lane.
    const clock = new FakeClock();
    const t = new WorkQueue<string>(id, { clock });
    t.add('routine');
    t.addAfter('suspect', 100, { urgent: true });
    await clock.advance(100);
    expect(await t.get()).toBe('suspect');
    // Removed keys leave both lanes.
    q.add('y', { urgent: true });
    q.remove('y');
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('x');
  });
});
