// Routing as a failover step, on real servers of every flavor, through the routing hook (what
// `tributary local --routing-hook` and `tributary operator --routing-hook` run): the old primary is
// drained before anything is promoted, the new one routed once writable; a failed drain holds the
// promotion only where spec.failover.requireDrain asks for it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FailoverRecord, TopologyStatus } from '../../src/api/status.js';
import type { Reconciler } from '../../src/controller/pass.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { routingHook } from '../../src/execute/routing-hook.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import type { TopologyEvent } from '../../src/store/store.js';
import { silentLogger } from '../../src/util/log.js';
import { FLAVORS } from '../harness/flavors.js';
import { driver, type Driver } from '../harness/passes.js';
import { useSandbox } from '../harness/sandbox.js';
import { cli, warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];

/** A hook that records every document it is given; a `fail` file makes it fail, `hang` makes it hang. */
const HOOK = `import { appendFileSync, existsSync, readFileSync } from 'node:fs';
const dir = process.argv[2];
const input = JSON.parse(readFileSync(0, 'utf8'));
if (existsSync(dir + '/hang')) await new Promise((r) => setTimeout(r, 60_000));
if (existsSync(dir + '/fail')) { console.error('refused by the test'); process.exit(3); }
appendFileSync(dir + '/routing.jsonl', JSON.stringify(input) + '\\n');
console.log(input.action + ' ' + input.group);
`;

interface HookDoc {
  topology: { namespace: string; name: string };
  group: string;
  action: 'drain' | 'route' | 'readers';
  members: { name: string; host: string; port: number; ready: boolean; addresses: string[] }[];
  failover: string | null;
  writer: string;
  readers: string;
}

interface Setup {
  d: Driver;
  reconcile: Reconciler;
  events: TopologyEvent[];
  store: LocalStore;
  pool: SqlClientPool;
  docs: () => HookDoc[];
  hookCommand: string;
  manifest: string;
}

async function setup(
  sb: Sandbox,
  mutate?: (spec: Record<string, any>) => void,
  timeoutMs = 10_000,
): Promise<Setup> {
  const manifest = writeManifests(join(sb.dir, 'warehouse.yaml'), warehouseDocs(sb, mutate));
  writeFileSync(join(sb.dir, 'hook.mjs'), HOOK);
  rmSync(join(sb.dir, 'routing.jsonl'), { force: true });
  const hookCommand = `${process.execPath} ${join(sb.dir, 'hook.mjs')} ${sb.dir}`;
  const store = new LocalStore({
    files: [manifest],
    statusOut: join(sb.dir, 'status.json'),
    log: () => undefined,
  });
  const pool = new SqlClientPool();
  const log = silentLogger();
  const reconcile = createReconciler({
    pool,
    log,
    routing: { targets: [routingHook({ command: hookCommand, timeoutMs, log })] },
  });
  const events: TopologyEvent[] = [];
  const d = driver(store, (await store.list())[0]!, reconcile, (r) => events.push(...r.events));
  const docs = () => {
    const file = join(sb.dir, 'routing.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as HookDoc);
  };
  return { d, reconcile, events, store, pool, docs, hookCommand, manifest };
}

const brief = (docs: HookDoc[], group: string) =>
  docs
    .filter((x) => x.group === group)
    .map((x) => `${x.action} ${x.members.map((m) => `${m.name}${m.ready ? '' : '!'}`).join(',')}`);
const lastRecord = (s: TopologyStatus, group: string): FailoverRecord | undefined =>
  [...s.failovers].reverse().find((r) => r.group === group);
const routingOf = (s: TopologyStatus, group: string) => s.groups.find((g) => g.name === group)?.routing;

describe.each(FLAVORS)('$label: routing through the routing hook', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });
  let shared: Setup;

  it('routes every group at first contact, with the endpoint names; at rest the hook is not run again', async () => {
    shared = await setup(sb());
    const { d, docs } = shared;
    // `tributary plan --routing-hook` shows the routing among the statements, and runs nothing.
    const plan = await cli(['plan', '-f', shared.manifest, '--routing-hook', shared.hookCommand]);
    expect(plan.stdout).toMatch(
      /shard-a: route writes to a-0 \(127\.0\.0\.1:\d+\) \(a-0 is the primary\) \[routing\]/,
    );
    expect(plan.stdout).toMatch(/dw: route writes to dw-0/);
    expect(docs()).toEqual([]);
    const s = await d.until(
      (x) => x.phase === 'Ready' && routingOf(x, 'dw')?.readers.includes('dw-1') === true,
    );
    // a-1 joins the readers once its channel runs (the pass that creates it may report it connecting).
    const shardA = brief(docs(), 'shard-a');
    expect(shardA[0]).toBe('route a-0');
    expect(shardA.filter((x) => x.startsWith('route'))).toEqual(['route a-0']);
    expect(shardA.at(-1)).toBe('readers a-1');
    const a = docs().find((x) => x.group === 'shard-a' && x.action === 'route')!;
    expect(a).toMatchObject({
      topology: { name: 'warehouse' },
      writer: 'warehouse-shard-a-primary',
      readers: 'warehouse-shard-a-replicas',
      failover: null,
      members: [{ name: 'a-0', host: '127.0.0.1', port: sb().server('a-0').port, addresses: ['127.0.0.1'] }],
    });
    expect(routingOf(s, 'shard-a')).toMatchObject({ writer: 'a-0', writerReady: true, readers: ['a-1'] });
    // No credential reaches the hook.
    expect(JSON.stringify(docs())).not.toMatch(/password|secret/i);
    // At rest: further passes (each an event the driver waits for) run no hook; the servers answer.
    const before = docs().length;
    for (let i = 0; i < 3; i++) expect((await d.pass()).status.phase).toBe('Ready');
    expect(docs().length).toBe(before);
  });

  it('kill -9 of a-0: drained before anything is promoted, a-1 routed once writable, readers follow', async () => {
    const { d, docs } = shared;
    const before = docs().length;
    await sb().server('a-0').kill9();
    const s = await d.until((x) => lastRecord(x, 'shard-a')?.phase === 'Done');
    const r = lastRecord(s, 'shard-a')!;
    // Before the window the hook may hear that a-0 is not ready; then the drain, and only then a-1.
    const after = docs()
      .slice(before)
      .filter((x) => x.group === 'shard-a' && x.action !== 'readers');
    const drain = after.findIndex((x) => x.action === 'drain');
    expect(brief(after.slice(0, drain), 'shard-a').every((x) => x === 'route a-0!')).toBe(true);
    expect(brief(after.slice(drain, drain + 2), 'shard-a')).toEqual(['drain a-0!', 'route a-1']);
    expect(after[drain]!.failover).toBe(r.id);
    expect(after[drain + 1]!.failover).toBe(r.id);
    // Journaled: drained before the promotion phase began, routed at or after it.
    expect(Date.parse(r.drainedAt!)).toBeLessThanOrEqual(Date.parse(r.phaseTimes['Promoting']!));
    expect(Date.parse(r.routedAt!)).toBeGreaterThanOrEqual(Date.parse(r.phaseTimes['Promoting']!));
    expect(r.drainProblem).toBeUndefined();
    expect(routingOf(s, 'shard-a')).toMatchObject({ writer: 'a-1', writerReady: true });
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(0);
    await shared.pool.closeAll();
  });
});

describe.each(FLAVORS)('$label: a failed drain', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('with spec.failover.requireDrain the promotion waits for the drain; once the hook works it goes on', async () => {
    const { d, docs, pool } = await setup(sb(), (spec) => (spec.failover.requireDrain = true));
    await d.until((x) => x.phase === 'Ready' && routingOf(x, 'shard-a')?.writer === 'a-0');
    writeFileSync(join(sb().dir, 'fail'), '');
    await sb().server('a-0').kill9();
    const held = await d.until(
      (x) =>
        x.conditions.some((c) => c.type === 'RoutingFailed' && /refused by the test/.test(c.message)) &&
        /leave the writer endpoints/.test(lastRecord(x, 'shard-a')?.waitingFor ?? ''),
    );
    expect(lastRecord(held, 'shard-a')).toMatchObject({ phase: 'Promoting' });
    // Several more passes, each retrying the drain a second later (never in a tight loop): a-1 stays
    // read-only and answers.
    for (let i = 0; i < 3; i++) expect((await d.pass()).requeueAfterMs).toBe(1000);
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    rmSync(join(sb().dir, 'fail'));
    const s = await d.until((x) => lastRecord(x, 'shard-a')?.phase === 'Done');
    expect(lastRecord(s, 'shard-a')!.drainProblem).toBeUndefined();
    expect(brief(docs(), 'shard-a').slice(-2)).toEqual(['drain a-0!', 'route a-1']);
    await pool.closeAll();
  });

  it('without it, a drain that times out is said (event, condition, record) and the failover goes on', async () => {
    // a-0 returns and rejoins under a-1; the cooldown of the failover before is lifted for this test.
    await sb().server('a-0').start();
    const { d, pool, events } = await setup(sb(), (spec) => (spec.failover.cooldownSeconds = 0), 1000);
    await d.until((x) => x.phase === 'Ready' && routingOf(x, 'shard-a')?.writer === 'a-1', 30_000);
    writeFileSync(join(sb().dir, 'hang'), '');
    await sb().server('a-1').kill9();
    const s = await d.until(
      (x) => lastRecord(x, 'shard-a')?.to === 'a-0' && lastRecord(x, 'shard-a')?.phase === 'Done',
      30_000,
    );
    expect(lastRecord(s, 'shard-a')!.drainProblem).toMatch(
      /hook: routing hook timed out after 1000 ms \(drain shard-a\)/,
    );
    expect(
      events.some((e) => e.reason === 'RoutingFailed' && /failover goes on without it/.test(e.message)),
    ).toBe(true);
    expect(Number(await sb().server('a-0').scalar('SELECT @@read_only'))).toBe(0);
    // The hook answers again: the next passes route a-0, level-triggered.
    rmSync(join(sb().dir, 'hang'));
    const routed = await d.until((x) => routingOf(x, 'shard-a')?.writer === 'a-0');
    expect(routingOf(routed, 'shard-a')).toMatchObject({ writer: 'a-0', writerReady: true });
    expect(routed.conditions.some((c) => c.type === 'RoutingFailed')).toBe(false);
    await pool.closeAll();
  });
});

describe.each(FLAVORS)('$label: a crash between the drain and the promotion', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('the restarted pass drains again (idempotent) and only then promotes; one failover', async () => {
    const { d, reconcile, store, docs, pool } = await setup(sb());
    await d.until((x) => x.phase === 'Ready' && routingOf(x, 'shard-a')?.readers.length === 1);
    await sb().server('a-0').kill9();
    // The process dies right after a drain: its pass stops writing there (as a lost Lease or a crash would
    // have it) and its report is lost. Passes until one drained a-0.
    const drains = () => docs().filter((x) => x.group === 'shard-a' && x.action === 'drain').length;
    const ref = (await store.list())[0]!;
    let drainedBy: FailoverRecord | undefined;
    for (let i = 0; i < 100 && !drainedBy; i++) {
      const r = (await reconcile(store, ref, { mayWrite: () => drains() === 0 }))!;
      if (r.routing?.done.some((s) => s.op === 'drain')) drainedBy = r.status.failovers.at(-1);
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(drainedBy).toMatchObject({ group: 'shard-a', from: 'a-0', to: 'a-1' });
    // The stored status still routes a-0: the next pass drains again before it promotes.
    const stored = (await store.get(ref))!.status!;
    expect(routingOf(stored, 'shard-a')?.writer).toBe('a-0');
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    expect(drains()).toBe(1);
    const s = await d.until((x) => lastRecord(x, 'shard-a')?.phase === 'Done');
    expect(drains()).toBe(2);
    expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    expect(lastRecord(s, 'shard-a')!.id).toBe(drainedBy!.id);
    expect(routingOf(s, 'shard-a')).toMatchObject({ writer: 'a-1', writerReady: true });
    await pool.closeAll();
  });
});
