// The work of a pass grows linearly with members and channels (issue 18, "Cost grows linearly"), so that a
// quadratic step cannot land unnoticed. No servers: observations are built in memory, time is a number or
// a FakeClock, and work is counted, never timed. The count is V8's precise block coverage of src/ (the
// inspector's Profiler, call and block counts): every call and every executed block or loop iteration of
// the project's code, the same number on every run of the same input, so a quadratic step shows as a
// ratio however fast or busy the machine is.
//
// gather has no seam for fake servers (reconcile.ts probes through a real pool), so the pass is driven
// where it is pure — decidePass, previewPasses (`tributary plan`), routing steps, projectStatus — and the
// loop (runController) with a fake Reconciler over a MemoryStore; probes scheduled are counted through
// observeTopology with a pool whose every connection is refused.
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopologySpec, TopologySpecInput } from '../../../src/api/spec.js';
import type { TopologyStatus } from '../../../src/api/status.js';
import type { PassOutcome } from '../../../src/controller/loop.js';
import type { Reconciler } from '../../../src/controller/pass.js';
import type { InstanceObservation, Observation } from '../../../src/observe/types.js';
import type { DecideInput, PassPlan } from '../../../src/plan/decide.js';
import type { SqlClientPool } from '../../../src/sql/client.js';
import type { TopologyRef } from '../../../src/store/store.js';

// V8 counts exactly only code compiled after counting started, and not in code TurboFan optimized in the
// background (the counts then vary from run to run): the optimizing compiler is off while this file
// runs, and the project's modules are imported once counting started (the type imports above are erased).
v8.setFlagsFromString('--no-turbofan');
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
afterAll(async () => {
  await session.post('Profiler.stopPreciseCoverage');
  session.disconnect();
  v8.setFlagsFromString('--turbofan');
});

const { TopologySpec: SpecSchema } = await import('../../../src/api/spec.js');
const { runController } = await import('../../../src/controller/loop.js');
const { observeTopology } = await import('../../../src/observe/probe.js');
const { currentRouting, decidePass } = await import('../../../src/plan/decide.js');
const { previewPasses } = await import('../../../src/plan/preview.js');
const { routingAfter } = await import('../../../src/plan/routing.js');
const { projectStatus, significantPart } = await import('../../../src/report/status.js');
const { refKey } = await import('../../../src/store/store.js');
const { FakeClock, flushMicrotasks } = await import('../../../src/util/clock.js');
const { silentLog } = await import('../../../src/util/log-sink.js');
const { stableEqual } = await import('../../../src/util/stable.js');
const { channel, vars } = await import('../../fixtures/topology.js');
const { MemoryStore } = await import('./memory-store.js');

// ---- Counting operations ----

type Coverage = Awaited<ReturnType<typeof takeCoverage>>;

/** V8's counts since the last take (a take resets them). */
async function takeCoverage() {
  return (await session.post('Profiler.takePreciseCoverage')).result;
}

/** Operations (calls and executed blocks) per src/ file, for files `only` accepts. */
function opsByFile(coverage: Coverage, only: (file: string) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const script of coverage) {
    const at = script.url.indexOf('/src/');
    if (at < 0 || script.url.includes('/node_modules/')) continue;
    const file = script.url.slice(at + 1);
    if (!only(file)) continue;
    let n = 0;
    for (const f of script.functions) for (const r of f.ranges) n += r.count;
    out.set(file, (out.get(file) ?? 0) + n);
  }
  return out;
}

const total = (byFile: Map<string, number>) => [...byFile.values()].reduce((a, b) => a + b, 0);

/** The operations fn performs in src/ (files `only` accepts), per file and in all. */
async function countOps<T>(
  fn: () => T | Promise<T>,
  only: (file: string) => boolean = () => true,
): Promise<{ value: T; ops: number; byFile: Map<string, number> }> {
  await takeCoverage();
  const value = await fn();
  const byFile = opsByFile(await takeCoverage(), only);
  return { value, ops: total(byFile), byFile };
}

/** The files whose operations grew the most from `small` to `big`: where to look when a ratio fails. */
function growth(big: Map<string, number>, small: Map<string, number>, top = 3): string {
  return [...big]
    .map(([f, n]) => [f, n / Math.max(1, small.get(f) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([f, r]) => `${f} ${r.toFixed(1)}×`)
    .join(', ');
}

// ---- Topologies and observations of any size, built in memory ----

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const NOW_ISO = new Date(NOW).toISOString();
const REPLICATION = { user: 'repl', salt: 'linear-cost', fingerprint: 'scrypt:linear-cost' };

/**
 * Source groups (`shards`, members each) whose primaries feed one named channel each into the aggregator
 * group `dw` (`aggregator` members). The design's warehouse is shards [2, 1] and an aggregator of 2.
 */
interface Shape {
  shards: number[];
  aggregator: number;
}
const WAREHOUSE: Shape = { shards: [2, 1], aggregator: 2 };

interface Built {
  spec: TopologySpec;
  members: number;
  /** Managed channels: '' of every replica, and one named channel per source group. */
  channels: number;
  /** Servers just installed: all writable, no channels, no replication account. */
  fresh: Observation;
  /** Replicating as declared: replicas read-only on '', the aggregator's primary with every channel. */
  converged: Observation;
  /** The first source group's primary killed: its receivers reconnect. */
  dead: Observation;
  deadMember: string;
}

function build(name: string, shape: Shape): Built {
  const groups = [
    ...shape.shards.map((size, i) => ({ name: `s${i}`, size, from: [] as string[] })),
    { name: 'dw', size: shape.aggregator, from: shape.shards.map((_, i) => `s${i}`) },
  ];
  const host = (member: string) => `${member}.${name}.db`;
  const input: TopologySpecInput = {
    adminSecretRef: { name: 'tributary-admin' },
    replicationSecretRef: { name: 'tributary-repl' },
    groups: groups.map((g) => ({
      name: g.name,
      members: Array.from({ length: g.size }, (_, k) => ({
        name: `${g.name}-${k}`,
        host: host(`${g.name}-${k}`),
        port: 3306,
      })),
      ...(g.from.length ? { channels: g.from.map((f) => ({ name: `from_${f}`, from: f })) } : {}),
    })),
  };
  const ids = new Map<string, number>();
  for (const g of groups) for (let k = 0; k < g.size; k++) ids.set(`${g.name}-${k}`, ids.size + 1);
  // One GTID domain per group, 10 transactions each; the aggregator holds its sources' too.
  const own = (gi: number) => `${gi + 1}-${ids.get(`${groups[gi]!.name}-0`)}-10`;
  const executed = (gi: number) =>
    groups[gi]!.name === 'dw' ? groups.map((_, i) => own(i)).join(',') : own(gi);
  const server = (member: string, gi: number, readOnly: boolean, fresh = false): InstanceObservation => {
    const gtid = fresh ? '' : executed(gi);
    return {
      member,
      group: groups[gi]!.name,
      address: { host: host(member), port: 3306 },
      reachable: true,
      flavor: 'mariadb',
      vars: vars({
        serverId: ids.get(member)!,
        gtidDomainId: gi + 1,
        readOnly,
        gtidExecuted: gtid,
        gtidCurrentPos: gtid,
        gtidSlavePos: readOnly ? gtid : '',
        gtidBinlogPos: readOnly ? '' : gtid,
      }),
      channels: [],
      replicationUserExists: !fresh,
      ...(fresh ? {} : { replicationLogin: true }),
      observedAt: NOW_ISO,
      durationMs: 1,
    };
  };
  const from = (name: string, source: string, gi: number, dead?: string) =>
    channel(name, source, {
      sourceHost: host(source),
      sourcePort: 3306,
      sourceServerId: ids.get(source)!,
      retrievedGtidSet: own(gi),
      filter: { doDatabases: [], ignoreDatabases: [] },
      ...(source === dead ? { ioRunning: 'Connecting' as const } : {}),
    });
  const observe = (each: (member: string, k: number, gi: number) => InstanceObservation): Observation => ({
    instances: groups.flatMap((g, gi) =>
      Array.from({ length: g.size }, (_, k) => each(`${g.name}-${k}`, k, gi)),
    ),
    observedAt: NOW_ISO,
  });
  const replicating = (dead?: string) =>
    observe((member, k, gi) => {
      const g = groups[gi]!;
      if (member === dead)
        return {
          ...server(member, gi, false),
          reachable: false,
          error: 'connect ECONNREFUSED',
          channels: [],
        };
      if (k > 0) return { ...server(member, gi, true), channels: [from('', `${g.name}-0`, gi, dead)] };
      const channels = g.from.map((f) => from(`from_${f}`, `${f}-0`, Number(f.slice(1)), dead));
      return { ...server(member, gi, false), channels };
    });
  return {
    spec: SpecSchema.parse(input),
    members: ids.size,
    channels: ids.size - groups.length + shape.shards.length,
    fresh: observe((member, _k, gi) => server(member, gi, false, true)),
    converged: replicating(),
    dead: replicating('s0-0'),
    deadMember: 's0-0',
  };
}

// ---- One pass, decided and reported as reconcile.ts does ----

const decideInput = (t: Built, over: Partial<DecideInput> = {}): DecideInput => ({
  spec: t.spec,
  observation: t.converged,
  previous: undefined,
  streaks: new Map(),
  nowMs: NOW,
  annotations: {},
  replication: REPLICATION,
  routed: true,
  ...over,
});

/** The status a pass reports from its plan (reconcile.ts: projectStatus, then routing and credentials). */
function report(plan: PassPlan, previous: TopologyStatus | undefined): TopologyStatus {
  const projected = projectStatus(
    {
      view: plan.view,
      findings: plan.findings,
      generation: 1,
      now: NOW_ISO,
      paused: false,
      remembered: plan.remembered,
      failovers: plan.journal,
      extraConditions: plan.conditions.map((c) => ({ ...c, observedGeneration: 1 })),
      channelProblems: plan.channelProblems,
    },
    previous,
  );
  const routing = routingAfter(currentRouting(previous), plan.routing, NOW_ISO);
  return {
    ...projected,
    groups: projected.groups.map((g) => {
      const r = routing.get(g.name);
      return r ? { ...g, routing: r } : g;
    }),
    ...(plan.credentials ? { credentials: plan.credentials } : {}),
  };
}

/** The status of a topology at rest: met for the first time replicating as declared (adopted), reported. */
const restingStatus = (t: Built): TopologyStatus => report(decidePass(decideInput(t)), undefined);

interface Scenario {
  label: string;
  input: (t: Built, rest: TopologyStatus) => DecideInput;
  /** The passes of `tributary plan` (previewPasses) rather than one pass. */
  whole?: boolean;
}

const deadInput = (t: Built, rest: TopologyStatus) =>
  decideInput(t, {
    observation: t.dead,
    previous: rest,
    streaks: new Map([[t.deadMember, { since: NOW - 3_600_000, failures: 100 }]]),
  });

const SCENARIOS: Scenario[] = [
  { label: 'first contact, fresh servers', input: (t) => decideInput(t, { observation: t.fresh }) },
  { label: 'first contact, replicating (adopted)', input: (t) => decideInput(t) },
  { label: 'at rest', input: (t, rest) => decideInput(t, { previous: rest }) },
  { label: 'a source primary dead: the pass that opens the failover', input: deadInput },
  { label: 'the whole failover, as tributary plan shows it', input: deadInput, whole: true },
];

interface Work {
  /** Statements planned: actions plus routing steps, over every pass. */
  statements: number;
  actions: number;
  routingSteps: number;
  passes: number;
  /** Member views and findings of the (first) pass. */
  views: number;
  findings: number;
  /** Instances and channels in the status the (first) pass reports. */
  statusObjects: number;
  ops: number;
}

/** One pass (or a whole preview) of every topology, decided and reported; what it planned and did. */
async function measure(
  fleet: readonly Built[],
  rests: readonly TopologyStatus[],
  s: Scenario,
): Promise<{ work: Work; byFile: Map<string, number> }> {
  const inputs = fleet.map((t, i) => s.input(t, rests[i]!));
  const { value, ops, byFile } = await countOps(() =>
    inputs.map((i) => {
      const plans = s.whole ? previewPasses(i) : [decidePass(i)];
      return { plans, status: report(plans[0]!, i.previous) };
    }),
  );
  const sum = (f: (x: (typeof value)[number]) => number) => value.reduce((n, x) => n + f(x), 0);
  const overPlans = (f: (p: PassPlan) => number) => sum((x) => x.plans.reduce((n, p) => n + f(p), 0));
  const actions = overPlans((p) => p.actions.length);
  const routingSteps = overPlans((p) => p.routing.length);
  return {
    work: {
      statements: actions + routingSteps,
      actions,
      routingSteps,
      passes: sum((x) => x.plans.length),
      views: sum((x) => x.plans[0]!.view.members.size),
      findings: sum((x) => x.plans[0]!.findings.length),
      statusObjects: sum((x) => x.status.instances.length + x.status.channels.length),
      ops,
    },
    byFile,
  };
}

// ---- Fleets of warehouses: 250 members in 50 topologies … 2 000 in 400 ----

const FLEETS = [50, 100, 200, 400];
const SMALLEST = FLEETS[0]!;
const LARGEST = FLEETS.at(-1)!;
const fleetOf = (n: number) => Array.from({ length: n }, (_, i) => build(`t${i}`, WAREHOUSE));
const fleets = new Map(FLEETS.map((n) => [n, fleetOf(n)]));

describe('a fleet of topologies: the work of a pass is linear in members and channels', () => {
  const measured = new Map<string, Map<number, Work>>();

  beforeAll(async () => {
    const rows: Record<string, unknown>[] = [];
    const rests = new Map([...fleets].map(([n, fleet]) => [n, fleet.map(restingStatus)]));
    for (const s of SCENARIOS) {
      const byFleet = new Map<number, Work>();
      for (const [n, fleet] of fleets) {
        const { work } = await measure(fleet, rests.get(n)!, s);
        byFleet.set(n, work);
        rows.push({
          scenario: s.label,
          topologies: n,
          members: n * 5,
          ...work,
          opsPerMember: work.ops / (n * 5),
        });
      }
      measured.set(s.label, byFleet);
    }
    console.log('Work of one pass of every topology, fleets of warehouses (5 members, 4 channels each):');
    console.table(rows);
  });

  const work = (label: string, n: number) => measured.get(label)!.get(n)!;

  it('each topology costs the same whatever the fleet around it: every count proportional', () => {
    expect(fleetOf(1)[0]!.members).toBe(5);
    for (const s of SCENARIOS) {
      const { ops: _o, ...smallest } = work(s.label, SMALLEST);
      for (const n of FLEETS) {
        const { ops, ...counts } = work(s.label, n);
        const k = n / SMALLEST;
        expect(counts, `${s.label}, ${n} topologies`).toEqual(
          Object.fromEntries(Object.entries(smallest).map(([key, v]) => [key, v * k])),
        );
        // Operations per topology: within a small factor of the smallest fleet's (caches shared across
        // topologies make them a little cheaper, never dearer).
        expect(ops / n, `${s.label}: operations per topology, ${n} topologies`).toBeLessThanOrEqual(
          (1.5 * work(s.label, SMALLEST).ops) / SMALLEST,
        );
      }
      // 2 000 members / 400 topologies against 250 / 50: 8× the work, a quadratic step would make it 64×.
      expect(work(s.label, LARGEST).ops / work(s.label, SMALLEST).ops, s.label).toBeLessThanOrEqual(12);
    }
  });

  it('statements planned: every topology gets its own at first contact, none at rest', () => {
    const per = (label: string) => {
      const w = work(label, LARGEST);
      return {
        actions: w.actions / LARGEST,
        routingSteps: w.routingSteps / LARGEST,
        passes: w.passes / LARGEST,
      };
    };
    // Fresh servers: replicas fenced, accounts created, channels made, every group routed.
    expect(per('first contact, fresh servers').actions).toBeGreaterThanOrEqual(6);
    // A healthy topology met for the first time is left as it is: its routing only (writer and readers
    // of each of its 3 groups).
    expect(per('first contact, replicating (adopted)')).toEqual({ actions: 0, routingSteps: 6, passes: 1 });
    expect(per('at rest')).toEqual({ actions: 0, routingSteps: 0, passes: 1 });
    // The dead source primary: its two receivers (its replica's '' and the aggregator's channel) frozen,
    // its writer drained; the whole failover takes several passes.
    expect(per('a source primary dead: the pass that opens the failover')).toEqual({
      actions: 2,
      routingSteps: 1,
      passes: 1,
    });
    expect(per('the whole failover, as tributary plan shows it').passes).toBeGreaterThanOrEqual(3);
  });

  it('probes scheduled: one per member per pass, whatever the fleet', async () => {
    const rows: Record<string, unknown>[] = [];
    const opsAt = new Map<number, number>();
    for (const [n, fleet] of fleets) {
      let probes = 0;
      // Every connection refused at once: the probe is scheduled and fails, no server needed.
      const refused = {
        query: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { errno: -111 })),
        encrypted: undefined,
      };
      const pool = {
        get: () => {
          probes++;
          return refused;
        },
      } as unknown as SqlClientPool;
      const { value, ops } = await countOps(() =>
        Promise.all(
          fleet.map((t) =>
            observeTopology(t.spec, {
              admin: { username: 'tributary', password: 'x' },
              replicationUser: 'repl',
              pool,
            }),
          ),
        ),
      );
      const observed = value.reduce((k, o) => k + o.instances.length, 0);
      expect(observed).toBe(n * 5);
      expect(value.every((o) => o.instances.every((i) => !i.reachable))).toBe(true);
      expect(probes).toBe(n * 5);
      opsAt.set(n, ops);
      rows.push({ topologies: n, members: n * 5, probes, observed, ops, opsPerProbe: ops / probes });
    }
    console.log('Probes scheduled by one observation of every topology:');
    console.table(rows);
    expect(opsAt.get(LARGEST)! / opsAt.get(SMALLEST)!).toBeLessThanOrEqual(12);
  });
});

// ---- One topology with many members ----

describe('one wide topology: no step is quadratic in its members, groups or channels', () => {
  // 64 groups (the most validation allows): 63 sources of 3 members, an aggregator of 11 with 63
  // channels; and 4 groups of 50 members. Each against the same shape with 10× fewer members.
  const cases: [string, Shape, Shape][] = [
    [
      '64 groups, 63 channels into one',
      { shards: Array<number>(63).fill(3), aggregator: 11 },
      { shards: Array<number>(6).fill(3), aggregator: 2 },
    ],
    ['4 groups of 50', { shards: [50, 50, 50], aggregator: 50 }, { shards: [5, 5, 5], aggregator: 5 }],
  ];
  const results: { label: string; big: Built; small: Built; w: [Work, Work]; where: string }[] = [];

  beforeAll(async () => {
    const rows: Record<string, unknown>[] = [];
    for (const [shape, bigShape, smallShape] of cases) {
      const big = build('big', bigShape);
      const small = build('small', smallShape);
      const rests = [restingStatus(big), restingStatus(small)];
      for (const s of SCENARIOS) {
        const b = await measure([big], [rests[0]!], s);
        const m = await measure([small], [rests[1]!], s);
        const label = `${shape}: ${s.label}`;
        results.push({ label, big, small, w: [b.work, m.work], where: growth(b.byFile, m.byFile) });
        for (const [t, w] of [
          [big, b.work],
          [small, m.work],
        ] as const)
          rows.push({ scenario: label, members: t.members, channels: t.channels, ...w });
      }
    }
    console.log('Work of one pass of one topology, 200 members against 20:');
    console.table(rows);
    for (const r of results)
      console.log(
        `${r.label}: ${(r.w[0].ops / r.w[1].ops).toFixed(1)}× the operations; most growth in ${r.where}`,
      );
  });

  it('every count grows ~10× for 10× the members and channels (at most 15×)', () => {
    expect(results).toHaveLength(cases.length * SCENARIOS.length);
    for (const { label, big, small, w, where } of results) {
      expect(big.members).toBe(10 * small.members);
      expect(big.channels).toBeLessThanOrEqual(11 * small.channels);
      expect(w[0].views).toBe(big.members);
      const [b, s] = w;
      for (const key of Object.keys(b) as (keyof Work)[])
        if (key !== 'passes')
          expect(b[key], `${label}: ${key} (most growth in ${where})`).toBeLessThanOrEqual(15 * s[key]);
      expect(b.passes).toBe(s.passes);
    }
  });
});

// ---- The controller loop: passes per topology per simulated second ----

describe('the controller loop: one pass per topology per poll interval, whatever the fleet', () => {
  /** A pass as reconcile.ts makes it, from an in-memory observation: decide, report, status when changed. */
  const fakeReconciler =
    (byRef: Map<string, Built>, clock: InstanceType<typeof FakeClock>): Reconciler =>
    async (store, ref) => {
      const stored = await store.get(ref);
      if (!stored) return undefined;
      const t = byRef.get(refKey(ref))!;
      const plan = decidePass(decideInput(t, { previous: stored.status, routed: false, nowMs: clock.now() }));
      const status = report(plan, stored.status);
      return {
        status,
        statusChanged: !stableEqual(significantPart(status), significantPart(stored.status)),
        events: plan.events,
        actionsExecuted: 0,
        requeueAfterMs: plan.requeueAfterMs,
        ...(stored.resourceVersion !== undefined ? { resourceVersion: stored.resourceVersion } : {}),
      };
    };

  /** The fake clock, counting the timers the loop arms (its scheduling work, time-free). */
  class CountingClock extends FakeClock {
    armed = 0;
    override schedule(ms: number, fn: () => void) {
      this.armed++;
      return super.schedule(ms, fn);
    }
  }

  const SECONDS = 5;

  it(`${SECONDS} simulated seconds at rest: ${SECONDS} passes of every topology, no status write, one timer each`, async () => {
    const rows: Record<string, unknown>[] = [];
    for (const n of [SMALLEST, LARGEST]) {
      const clock = new CountingClock(NOW);
      const store = new MemoryStore();
      const byRef = new Map<string, Built>();
      fleets.get(n)!.forEach((t, i) => byRef.set(refKey(store.put('db', `t${i}`)), t));
      const outcomes: PassOutcome[] = [];
      const calls = new Map<string, number>();
      const reconcile = fakeReconciler(byRef, clock);
      const ac = new AbortController();
      const ctl = runController({
        store,
        reconcile: (s, ref: TopologyRef, o) => {
          calls.set(refKey(ref), (calls.get(refKey(ref)) ?? 0) + 1);
          return reconcile(s, ref, o);
        },
        clock,
        log: silentLog,
        signal: ac.signal,
        onPass: (o) => outcomes.push(o),
        resyncIntervalMs: 0,
      });
      try {
        // The first pass of every topology adopts it and writes its status; the next drops what only the
        // adopting pass reports (CredentialsUnverified): then the fleet is at rest.
        for (let i = 0; i < 10_000 && outcomes.length < n; i++) await flushMicrotasks(1);
        expect(outcomes).toHaveLength(n);
        let settled = false;
        for (let second = 0; second < 5 && !settled; second++) {
          const before = store.statusWrites.length;
          await clock.advance(1000);
          settled = store.statusWrites.length === before;
        }
        expect(settled).toBe(true);
        const writesToRest = store.statusWrites.length;
        expect(writesToRest).toBeLessThanOrEqual(2 * n);
        calls.clear();
        outcomes.length = 0;
        clock.armed = 0;

        await clock.advance(SECONDS * 1000);
        const perTopology = [...byRef.keys()].map((k) => calls.get(k) ?? 0);
        expect(Math.min(...perTopology)).toBe(SECONDS);
        expect(Math.max(...perTopology)).toBe(SECONDS);
        expect(outcomes.every((o) => o.error === undefined && !o.statusWritten)).toBe(true);
        expect(store.statusWrites).toHaveLength(writesToRest);
        // One timer armed per pass (its requeue), one armed per topology at any time: nothing accumulates.
        expect(clock.armed).toBe(outcomes.length);
        expect(ctl.stats()).toMatchObject({ queued: 0, running: 0, timers: n });
        rows.push({
          topologies: n,
          passes: outcomes.length,
          passesPerTopologyPerSecond: outcomes.length / n / SECONDS,
          statusWritesToRest: writesToRest,
          statusWritesAtRest: store.statusWrites.length - writesToRest,
          timersArmedPerPass: clock.armed / outcomes.length,
          timersPending: ctl.stats().timers,
        });
      } finally {
        ac.abort();
        await ctl.done;
      }
    }
    console.log(`The controller loop over ${SECONDS} simulated seconds at rest (pollIntervalSeconds 1):`);
    console.table(rows);
  });
});
