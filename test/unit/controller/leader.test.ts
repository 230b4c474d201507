// Leader election against the in-process API server, with fake time (each elector has its own clock).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/util/clock.js';
import { LeaderElector } from '../../../src/controller/leader.js';
import { KubeApiServer, LEASES } from '../../harness/kube-api-server.js';

let api: KubeApiServer;
const stops: AbortController[] = [];
beforeAll(async () => {
  api = await KubeApiServer.start();
});
afterEach(async () => {
  for (const ac of stops.splice(0)) ac.abort();
  await api.reset();
});
afterAll(async () => {
  await api.close();
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function candidate(identity: string) {
  const clock = new FakeClock();
  const log: string[] = [];
  const elector = new LeaderElector({
    kubeConfig: api.kubeConfig(),
    namespace: 'tributary-system',
    identity,
    clock,
    onStartedLeading: () => log.push('started'),
    onStoppedLeading: ({ lost }) => log.push(lost ? 'lost' : 'stopped'),
  });
  const ac = new AbortController();
  stops.push(ac);
  let done: Promise<void> | undefined;
  return {
    clock,
    elector,
    log,
    ac,
    start() {
      done = elector.run(ac.signal);
      return done;
    },
    async stop() {
      ac.abort();
      await done;
    },
    /** Moves this candidate's clock and waits for the round it triggers to finish. */
    async tick(ms = 2000) {
      const r = elector.rounds;
      await clock.advance(ms);
      await waitFor(() => elector.rounds > r);
    },
  };
}

const holder = async () =>
  (
    (await api.get(LEASES, 'tributary-system', 'tributary-operator'))?.spec as
      { holderIdentity?: string } | undefined
  )?.holderIdentity;

describe('LeaderElector', () => {
  it('creates the Lease and leads; a second candidate does not', async () => {
    const a = candidate('a');
    const b = candidate('b');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    expect(a.log).toEqual(['started']);
    expect(await holder()).toBe('a');
    const lease = (await api.get(LEASES, 'tributary-system', 'tributary-operator'))!;
    expect(lease.spec).toMatchObject({ leaseDurationSeconds: 15, leaseTransitions: 0 });
    // MicroTime: six fractional digits.
    expect((lease.spec as { renewTime: string }).renewTime).toMatch(/\.\d{6}Z$/);
    void b.start();
    await waitFor(() => b.elector.rounds > 0);
    expect(await b.elector.tryAcquireOrRenew()).toBe('held');
    expect(b.elector.isLeader()).toBe(false);
  });

  it('renews every retry period', async () => {
    const a = candidate('a');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    const puts = () => api.requestsMatching('PUT', '/leases/tributary-operator').length;
    const before = puts();
    await a.tick(2000);
    await a.tick(2000);
    expect(puts()).toBe(before + 2);
    expect(a.elector.isLeader()).toBe(true);
  });

  it('hands over at once when the leader stops and releases the Lease', async () => {
    const a = candidate('a');
    const b = candidate('b');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    void b.start();
    await waitFor(() => b.elector.rounds > 0);
    await a.stop();
    expect(a.log).toEqual(['started', 'stopped']);
    expect(a.elector.isLeader()).toBe(false);
    expect(await holder()).toBe('');
    await b.tick(2000);
    expect(b.elector.isLeader()).toBe(true);
    expect(await holder()).toBe('b');
    expect(
      (
        (await api.get(LEASES, 'tributary-system', 'tributary-operator'))!.spec as {
          leaseTransitions: number;
        }
      ).leaseTransitions,
    ).toBe(1);
  });

  it('takes over a Lease that has not changed for the lease duration; the old leader steps down when it notices', async () => {
    const a = candidate('a');
    const b = candidate('b');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    void b.start();
    await waitFor(() => b.elector.rounds > 0);
    // a is frozen (its clock does not move: no renewals). Before 15 s of b's time, b waits.
    for (let i = 0; i < 7; i++) await b.tick(2000);
    expect(b.elector.isLeader()).toBe(false);
    await b.tick(2000);
    expect(b.elector.isLeader()).toBe(true);
    expect(await holder()).toBe('b');
    // a wakes up: its next round finds b holding the Lease and loses leadership at once.
    await a.tick(2000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log).toEqual(['started', 'lost']);
  });

  it('a standby counts the lease duration from its read before the last renewal, and tries again at the expiry', async () => {
    const a = candidate('a');
    const b = candidate('b');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    void b.start(); // b's first read at 0 s of its clock
    await waitFor(() => b.elector.rounds > 0);
    await b.tick(2000); // 2 s: unchanged
    await a.tick(2000); // a renews, then a freezes (dies)
    await b.tick(2000); // 4 s: b sees the renewal, which happened after its read at 2 s
    // client-go would count from 4 s (take over at 19 s); b counts from 2 s: the Lease expires at 17 s.
    for (let i = 0; i < 6; i++) await b.tick(2000);
    expect(b.elector.isLeader()).toBe(false); // 16 s
    expect(b.elector.nextRoundInMs('held')).toBe(1000); // the next round lands on the expiry
    await b.tick(1000);
    expect(b.elector.isLeader()).toBe(true);
    expect(await holder()).toBe('b');
  });

  it('never counts from more than half of leaseDuration − renewDeadline before the read that saw the change', async () => {
    const a = candidate('a');
    const b = candidate('b'); // not running: its rounds are called by hand
    void a.start();
    await waitFor(() => a.elector.isLeader());
    expect(await b.elector.tryAcquireOrRenew()).toBe('held'); // b reads at 0 s
    await a.tick(2000); // a renews, then freezes
    // b's next read comes 10 s later: the renewal may have happened just before it.
    await b.clock.advance(10_000);
    expect(await b.elector.tryAcquireOrRenew()).toBe('held');
    // Counted from 10 − (15 − 10) / 2 = 7.5 s, not from 0 s: held until 22.5 s.
    await b.clock.advance(12_499);
    expect(await b.elector.tryAcquireOrRenew()).toBe('held');
    await b.clock.advance(1);
    expect(await b.elector.tryAcquireOrRenew()).toBe('acquired');
  });

  it('stops leading when renewals fail past the renew deadline, before the Lease can expire for others', async () => {
    const a = candidate('a');
    void a.start();
    await waitFor(() => a.elector.isLeader());
    api.injectFailure({ pathIncludes: '/leases/', status: 500, times: 100 });
    for (let i = 0; i < 4; i++) await a.tick(2000);
    expect(a.elector.isLeader()).toBe(true);
    await a.clock.advance(2000);
    // 10 s after the last renewal: mayWrite() must already be false, and the callback has run.
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log).toEqual(['started', 'lost']);
  });

  it('only one of two candidates racing for a free Lease wins (the other gets a conflict)', async () => {
    await api.create(LEASES, {
      metadata: { name: 'tributary-operator', namespace: 'tributary-system' },
      spec: { holderIdentity: '' },
    });
    const a = candidate('a');
    const b = candidate('b');
    const results = await Promise.all([a.elector.tryAcquireOrRenew(), b.elector.tryAcquireOrRenew()]);
    expect(results.filter((r) => r === 'acquired')).toHaveLength(1);
    // The loser either read the Lease after the winner wrote it, or raced and got a 409.
    expect(results.filter((r) => r === 'conflict' || r === 'held')).toHaveLength(1);
    expect(['a', 'b']).toContain(await holder());
  });

  it('a 409 on update loses the round only: the next round acquires', async () => {
    await api.create(LEASES, {
      metadata: { name: 'tributary-operator', namespace: 'tributary-system' },
      spec: { holderIdentity: '' },
    });
    const a = candidate('a');
    api.injectFailure({ method: 'PUT', pathIncludes: '/leases/', status: 409 });
    void a.start();
    await waitFor(() => a.elector.rounds === 1);
    expect(a.elector.isLeader()).toBe(false);
    await a.tick(2000);
    expect(a.elector.isLeader()).toBe(true);
    expect(await holder()).toBe('a');
  });
});
