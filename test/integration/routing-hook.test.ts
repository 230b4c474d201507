// Routing as a failover step, on real servers of every flavor, through the routing hook (what
// `tributary local --routing-hook` and `tributary operator --routing-hook` run): the old primary is
// drained before anything is promoted, the new one routed once writable; a failed drain holds the
// promotion only where spec.failover.requireDrain asks for it. The persistent mode (--routing-hook-persistent:
// one long-running process, a line per step and an answer line each) is tested with real processes first.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailoverRecord, TopologyStatus } from '../../src/api/status.js';
import type { Reconciler } from '../../src/controller/pass.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { routingHook, type RoutingHook } from '../../src/execute/routing-hook.js';
import type { RoutingStep } from '../../src/plan/routing.js';
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

/** The same record, kept by a persistent hook (a line per step, an answer each), with its pid per step. */
const LINE_HOOK = `import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const dir = process.argv[2];
for await (const line of createInterface({ input: process.stdin })) {
  appendFileSync(dir + '/routing.jsonl', line + '\\n');
  appendFileSync(dir + '/pids', process.pid + '\\n');
  console.log(JSON.stringify({ ok: true }));
}
`;

async function setup(
  sb: Sandbox,
  mutate?: (spec: Record<string, any>) => void,
  timeoutMs = 10_000,
  persistent = false,
): Promise<Setup & { hook: RoutingHook }> {
  const manifest = writeManifests(join(sb.dir, 'warehouse.yaml'), warehouseDocs(sb, mutate));
  writeFileSync(join(sb.dir, 'hook.mjs'), persistent ? LINE_HOOK : HOOK);
  rmSync(join(sb.dir, 'routing.jsonl'), { force: true });
  const hookCommand = `${process.execPath} ${join(sb.dir, 'hook.mjs')} ${sb.dir}`;
  const store = new LocalStore({
    files: [manifest],
    statusOut: join(sb.dir, 'status.json'),
    log: () => undefined,
  });
  const pool = new SqlClientPool();
  const log = silentLogger();
  const hook = routingHook({ command: hookCommand, timeoutMs, persistent, log });
  const reconcile = createReconciler({ pool, log, routing: { targets: [hook] } });
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
  return { d, reconcile, events, store, pool, docs, hookCommand, manifest, hook };
}

const brief = (docs: HookDoc[], group: string) =>
  docs
    .filter((x) => x.group === group)
    .map((x) => `${x.action} ${x.members.map((m) => `${m.name}${m.ready ? '' : '!'}`).join(',')}`);
const lastRecord = (s: TopologyStatus, group: string): FailoverRecord | undefined =>
  [...s.failovers].reverse().find((r) => r.group === group);
const routingOf = (s: TopologyStatus, group: string) => s.groups.find((g) => g.name === group)?.routing;

/**
 * A persistent hook (docs/routing.md): one document a line, one answer line each. It records every step
 * (its pid, and whether an earlier step was still unanswered when it came) and behaves by group: `noisy`
 * prints lines that are no answer, `refuse` answers an error, `hang` starts a child and never answers, `die`
 * exits, `slow` answers late. Lines are handled as they come (not one at a time), so two steps sent at once
 * would be seen overlapping and answered out of order. At the end of its input it says so and exits.
 */
const SERVE_HOOK = `import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
const dir = process.argv[2];
console.error('hook starting');
let unanswered = 0;
const answer = (a) => { unanswered--; console.log(JSON.stringify(a)); };
createInterface({ input: process.stdin })
  .on('line', async (line) => {
    const doc = JSON.parse(line);
    appendFileSync(dir + '/steps.jsonl', JSON.stringify({ pid: process.pid, group: doc.group, action: doc.action, overlap: unanswered > 0 }) + '\\n');
    unanswered++;
    switch (doc.group) {
      case 'noisy':
        console.log('not an answer');
        console.log('{"ok":"maybe"}');
        console.error('warming up');
        return answer({ ok: true });
      case 'refuse':
        return answer({ ok: false, error: 'backend refused by the test' });
      case 'hang': {
        const child = spawn('sleep', ['600'], { stdio: 'ignore' });
        appendFileSync(dir + '/child', String(child.pid));
        return;
      }
      case 'die':
        console.error('dying on purpose');
        process.exit(3);
      case 'slow':
        await new Promise((r) => setTimeout(r, 300));
        return answer({ ok: true });
      default:
        return answer({ ok: true });
    }
  })
  .on('close', () => appendFileSync(dir + '/eof', String(process.pid)));
`;

/** A hook that never reads its input (so never sees its end) and keeps a child: close() must kill both. */
const STUBBORN_HOOK = `import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
const child = spawn('sleep', ['600'], { stdio: 'ignore' });
appendFileSync(process.argv[2] + '/stubborn', process.pid + ' ' + child.pid);
setInterval(() => undefined, 1000);
`;

/** Running: a zombie (killed, not reaped yet: its parent may be a slow init) counts as gone. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
};
/** Waits (bounded) for a killed process to be gone: reaping it is not instantaneous. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}
/** Waits (bounded) for a file the hook writes. */
async function fileOf(path: string): Promise<string> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
  return readFileSync(path, 'utf8');
}

describe('the persistent routing hook (one process, a line per step)', () => {
  let dir: string;
  const logged: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logged.push(s) });
  const ref = { namespace: 'db', name: 'warehouse' };
  const step = (group: string, op: RoutingStep['op'] = 'route'): RoutingStep => ({
    group,
    op,
    members: [{ name: 'a-0', host: '127.0.0.1', port: 3306, ready: true }],
    reason: 'test',
  });
  const steps = () =>
    readFileSync(join(dir, 'steps.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; group: string; action: string; overlap: boolean });
  const open: RoutingHook[] = [];
  const hookOf = (timeoutMs = 10_000, script = 'serve.mjs') => {
    const h = routingHook({
      command: `${process.execPath} ${join(dir, script)} ${dir}`,
      timeoutMs,
      persistent: true,
      log,
    });
    open.push(h);
    return h;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-hook-'));
    writeFileSync(join(dir, 'serve.mjs'), SERVE_HOOK);
    writeFileSync(join(dir, 'stubborn.mjs'), STUBBORN_HOOK);
  });
  afterAll(async () => {
    await Promise.all(open.map((h) => h.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('one process takes every step, answers ok; its other output goes to the log', async () => {
    const hook = hookOf();
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    await hook.apply(ref, step('shard-a', 'drain'));
    await hook.apply(ref, step('noisy'));
    await hook.apply(ref, step('shard-a', 'route'));
    const seen = steps();
    expect(seen.map((x) => `${x.action} ${x.group}`)).toEqual([
      'drain shard-a',
      'route noisy',
      'route shard-a',
    ]);
    expect(new Set(seen.map((x) => x.pid)).size).toBe(1);
    expect(alive(seen[0]!.pid)).toBe(true);
    // Lines that are no answer (not JSON, or no boolean ok) are logged with the step that read them.
    const noisy = logged.filter((l) => l.includes('"group":"noisy"')).join('');
    expect(noisy).toContain('not an answer');
    expect(noisy).toContain('{\\"ok\\":\\"maybe\\"}');
    // stderr is another pipe, read when it comes: by the end of the process every line is in the log.
    await hook.close();
    expect(logged.join('')).toContain('warming up');
    expect(logged.join('')).toContain('hook starting');
  });

  it('an error answer fails the step with its line; the same process takes the next one', async () => {
    const hook = hookOf();
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    await expect(hook.apply(ref, step('refuse', 'drain'))).rejects.toThrow(
      /^routing hook failed on drain refuse: backend refused by the test$/,
    );
    await hook.apply(ref, step('shard-a'));
    const [a, b] = steps();
    expect(a!.pid).toBe(b!.pid);
    expect(alive(b!.pid)).toBe(true);
  });

  it('steps sent at once go one at a time, answered in order', async () => {
    const hook = hookOf();
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    const results = await Promise.allSettled([
      hook.apply(ref, step('slow')),
      hook.apply(ref, step('refuse')),
      hook.apply(ref, step('shard-b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/on route refuse: backend refused/);
    const seen = steps();
    expect(seen.map((x) => x.group)).toEqual(['slow', 'refuse', 'shard-b']);
    expect(seen.map((x) => x.overlap)).toEqual([false, false, false]);
  });

  it('a timeout kills its process group (a child it started too); the next step starts a fresh process', async () => {
    const hook = hookOf(1000);
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    rmSync(join(dir, 'child'), { force: true });
    await expect(hook.apply(ref, step('hang', 'drain'))).rejects.toThrow(
      /^routing hook timed out after 1000 ms \(drain hang\)$/,
    );
    const [hung] = steps();
    const child = Number(await fileOf(join(dir, 'child')));
    expect(await gone(hung!.pid)).toBe(true);
    expect(await gone(child)).toBe(true);
    await hook.apply(ref, step('shard-a'));
    const fresh = steps()[1]!;
    expect(fresh.group).toBe('shard-a');
    expect(fresh.pid).not.toBe(hung!.pid);
    expect(alive(fresh.pid)).toBe(true);
  });

  it('an exit while a step waits fails it with its last stderr line; the next step starts a fresh process', async () => {
    const hook = hookOf();
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    await hook.apply(ref, step('shard-a'));
    await expect(hook.apply(ref, step('die', 'drain'))).rejects.toThrow(
      /^routing hook exited \(exit 3\) on drain die: dying on purpose$/,
    );
    await hook.apply(ref, step('shard-a'));
    const [first, died, after] = steps();
    expect(died!.pid).toBe(first!.pid);
    expect(after!.pid).not.toBe(died!.pid);
    expect(alive(after!.pid)).toBe(true);
  });

  it('a command that does not start fails the step with the shell’s line', async () => {
    const hook = routingHook({ command: 'tributary-no-such-hook', persistent: true, log });
    open.push(hook);
    await expect(hook.apply(ref, step('shard-a'))).rejects.toThrow(
      /^routing hook exited \(exit 127\) on route shard-a: .*tributary-no-such-hook.*not found/,
    );
  });

  it('close() ends its input and it exits; a step after close fails at once', async () => {
    const hook = hookOf();
    rmSync(join(dir, 'steps.jsonl'), { force: true });
    rmSync(join(dir, 'eof'), { force: true });
    await hook.apply(ref, step('shard-a'));
    const pid = steps()[0]!.pid;
    expect(alive(pid)).toBe(true);
    await hook.close();
    expect(readFileSync(join(dir, 'eof'), 'utf8')).toBe(String(pid));
    expect(await gone(pid)).toBe(true);
    await expect(hook.apply(ref, step('shard-a'))).rejects.toThrow(/routing hook is closed/);
    expect(steps()).toHaveLength(1);
  });

  it('close() kills a hook that does not end with its input, and what it started', async () => {
    const hook = hookOf(30_000, 'stubborn.mjs');
    rmSync(join(dir, 'stubborn'), { force: true });
    // It never answers: the step waits until close() kills it, after the grace, with its group.
    const waiting = hook.apply(ref, step('shard-a'));
    const [pid, child] = (await fileOf(join(dir, 'stubborn'))).split(' ').map(Number) as [number, number];
    expect(alive(pid) && alive(child)).toBe(true);
    await hook.close();
    await expect(waiting).rejects.toThrow(/^routing hook exited \(signal SIGKILL\) on route shard-a$/);
    expect(await gone(pid)).toBe(true);
    expect(await gone(child)).toBe(true);
  });
});

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

describe.each(FLAVORS)('$label: routing through a persistent routing hook', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('one process routes every group, then drains a killed primary before a-1 is promoted and routed', async () => {
    const { d, docs, hook, pool } = await setup(sb(), undefined, 10_000, true);
    try {
      // First contact: the groups' steps, run in parallel by the pass, go through the one process in turn.
      await d.until((x) => x.phase === 'Ready' && routingOf(x, 'shard-a')?.readers.includes('a-1') === true);
      expect(brief(docs(), 'shard-a')[0]).toBe('route a-0');
      expect(brief(docs(), 'dw')[0]).toBe('route dw-0');
      await sb().server('a-0').kill9();
      const s = await d.until((x) => lastRecord(x, 'shard-a')?.phase === 'Done');
      const moves = brief(docs(), 'shard-a').filter((x) => !x.startsWith('readers'));
      const drain = moves.indexOf('drain a-0!');
      expect(moves.slice(drain, drain + 2)).toEqual(['drain a-0!', 'route a-1']);
      expect(lastRecord(s, 'shard-a')!.drainProblem).toBeUndefined();
      expect(routingOf(s, 'shard-a')).toMatchObject({ writer: 'a-1', writerReady: true });
      expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(0);
      const pids = readFileSync(join(sb().dir, 'pids'), 'utf8').split('\n').filter(Boolean);
      expect(pids.length).toBe(docs().length);
      expect(new Set(pids).size).toBe(1);
    } finally {
      await hook.close();
      await pool.closeAll();
    }
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
