// A seeded random schedule of ordinary production faults on one real topology, with the invariants checked
// after every round: no acknowledged write that reached a survivor is lost, at most one writable member per
// group at any sampled moment, the hand-made channel is never touched. Bounded in rounds and time; traffic
// stays on 127.0.0.1.
//
// Topology (7 servers): shard-a [a-0 prefer, a-1, a-2], shard-b [b-0, b-1], dw [dw-0] fed by both shards,
// and x-0 outside the topology feeding dw-0 over a hand-made channel.
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { TopologyStatus } from '../../src/api/status.js';
import { runController, type Controller } from '../../src/controller/loop.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import {
  createSandbox,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxFlavor,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { ANNOTATION_ACK_FAILOVER, type TopologyRef } from '../../src/store/store.js';
import { silentLogger } from '../../src/util/log.js';
import { prepareApp, sampleWritable, startApp, type Ack, type App, type Sampler } from '../harness/app.js';
import { facts } from '../harness/flavors.js';
import { prng } from '../harness/prng.js';
import { writeManifests } from '../harness/topology.js';

export type FaultKind =
  'kill-primary' | 'restart-primary' | 'kill-replica' | 'block-applier' | 'stop-channel' | 'kill-operator';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-primary',
  'restart-primary',
  'kill-replica',
  'block-applier',
  'stop-channel',
  'kill-operator',
];

export interface ChaosOptions {
  seed: number;
  rounds: number;
  flavor: SandboxFlavor;
  /** Progress lines (one per round). */
  log?: (line: string) => void;
  /** Bound on one round's recovery (ms). */
  recoveryTimeoutMs?: number;
}

export interface Violation {
  round: number;
  fault: FaultKind;
  what: string;
}

export interface ChaosReport {
  seed: number;
  flavor: SandboxFlavor;
  rounds: number;
  faults: Record<FaultKind, number>;
  violations: Violation[];
  /** Fault → topology Ready again with every member back, per round (ms). */
  recoveryMs: number[];
  acked: number;
  /** Acknowledged rows that only a killed primary held (they never reached a survivor). */
  unreplicatedAtCrash: number;
  failovers: number;
  writableSamples: number;
}

const GROUPS = { 'shard-a': ['a-0', 'a-1', 'a-2'], 'shard-b': ['b-0', 'b-1'] } as const;
type Shard = keyof typeof GROUPS;
const TABLE: Record<Shard, string> = { 'shard-a': 'shop.orders', 'shard-b': 'sales.invoices' };
const REF: TopologyRef = { namespace: 'db', name: 'chaos' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function manifests(sb: Sandbox): unknown[] {
  const m = (name: string, extra: Record<string, unknown> = {}) => sandboxMember(sb, name, extra);
  return sandboxManifests({
    name: 'chaos',
    spec: {
      failover: {
        pollIntervalSeconds: 0.5,
        downAfterSeconds: 2,
        catchUpTimeoutSeconds: 10,
        cooldownSeconds: 0,
      },
      groups: [
        { name: 'shard-a', members: [m('a-0', { promotionRule: 'prefer' }), m('a-1'), m('a-2')] },
        { name: 'shard-b', members: [m('b-0'), m('b-1')] },
        {
          name: 'dw',
          members: [m('dw-0')],
          channels: [
            { name: 'shard_a', from: 'shard-a' },
            { name: 'shard_b', from: 'shard-b' },
          ],
        },
      ],
    },
  });
}

/** The controller as a process would run it; `restart` is a kill -9 of it: new memory, same status file. */
class Operator {
  private pool = new SqlClientPool();
  private abort = new AbortController();
  private controller!: Controller;
  constructor(private readonly store: LocalStore) {
    this.start();
  }
  private start(): void {
    this.pool = new SqlClientPool();
    this.abort = new AbortController();
    const reconcile = createReconciler({
      pool: this.pool,
      log: silentLogger(),
      wake: (ref) => this.controller.enqueue(ref),
    });
    this.controller = runController({
      store: this.store,
      reconcile,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      signal: this.abort.signal,
      resyncIntervalMs: 1000,
    });
  }
  async stop(): Promise<void> {
    this.abort.abort();
    await this.controller.done;
    await this.pool.closeAll();
  }
  async restart(): Promise<void> {
    // No graceful end: connections are dropped, nothing is flushed beyond what was written.
    this.abort.abort();
    await this.controller.done.catch(() => undefined);
    await this.pool.closeAll();
    this.start();
  }
}

interface World {
  sb: Sandbox;
  store: LocalStore;
  op: Operator;
  apps: Record<Shard, App>;
  sampler: Sampler;
  external: Record<string, unknown>;
  /** Acknowledged ids only a killed primary held when it was re-cloned, per group. */
  onlyOnCrashed: Record<Shard, Set<number>>;
  /** The primaries killed or restarted this round: only they may hold acknowledged rows nobody received. */
  victims: Set<string>;
}

async function status(w: World): Promise<TopologyStatus> {
  return (await w.store.get(REF))!.status!;
}

const primaryOf = (s: TopologyStatus, g: Shard) => s.groups.find((x) => x.name === g)?.primary ?? undefined;

async function until(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * Brings a member back, as an administrator would: started, and re-cloned when it is fenced for holding
 * transactions its group's primary lacks (a primary killed before its last writes reached anyone). The
 * rows only it held are recorded first: they were acknowledged, but no survivor ever had them.
 */
async function heal(w: World, s: SandboxServer): Promise<void> {
  if (!s.running) await s.start();
  const st = await status(w);
  const fenced = st.instances.find((i) => i.name === s.name)?.role === 'fenced';
  const errant = st.conditions.find((c) => c.type === 'ErrantTransactions')?.message ?? '';
  if (!fenced || !new RegExp(`\\b${s.name}\\b`).test(errant)) return;
  // Rows only it holds are excused only for a primary this round killed; on any other member they are
  // transactions that reached a survivor, and re-cloning it would hide their loss.
  for (const g of Object.keys(GROUPS) as Shard[]) {
    if (!w.victims.has(s.name)) continue;
    if (!(GROUPS[g] as readonly string[]).includes(s.name)) continue;
    const [mine, theirs] = await Promise.all([ids(s, g), ids(w.sb.server(primaryOf(st, g)!), g)]);
    for (const id of mine) if (!theirs.has(id)) w.onlyOnCrashed[g].add(id);
  }
  await s.stop();
  await s.rebuild();
  await s.start();
}

/** The ids a server holds in a group's table (none when it cannot answer). */
async function ids(s: SandboxServer, g: Shard): Promise<Set<number>> {
  return new Set((await s.sql(`SELECT id FROM ${TABLE[g]}`).catch(() => [])).map((r) => Number(r.id)));
}

async function injectFault(w: World, kind: FaultKind, rnd: () => number): Promise<() => Promise<void>> {
  const st = await status(w);
  const shard: Shard = rnd() < 0.5 ? 'shard-a' : 'shard-b';
  const primary = w.sb.server(primaryOf(st, shard) ?? GROUPS[shard][0]);
  const replicas = GROUPS[shard].filter((n) => n !== primary.name).map((n) => w.sb.server(n));
  const replica = replicas[Math.floor(rnd() * replicas.length)]!;
  const f = facts(w.sb.servers[0]!.flavor);
  if (kind === 'kill-primary' || kind === 'restart-primary' || kind === 'kill-operator')
    w.victims.add(primary.name);
  switch (kind) {
    case 'kill-primary':
      await primary.kill9();
      await sleep(2500 + rnd() * 1500);
      return () => heal(w, primary);
    case 'restart-primary':
      await primary.restart();
      return () => heal(w, primary);
    case 'kill-replica':
      await replica.kill9();
      await sleep(500 + rnd() * 1000);
      return () => heal(w, replica);
    case 'block-applier': {
      const lock: Connection = await replica.admin();
      await lock.query(`LOCK TABLES ${TABLE[shard]} READ`);
      await sleep(1000 + rnd() * 2000);
      await lock.query('UNLOCK TABLES');
      await lock.end();
      return async () => undefined;
    }
    case 'stop-channel':
      await replica.sql(f.stopChannel('')).catch(() => undefined);
      return async () => undefined;
    case 'kill-operator':
      await primary.kill9();
      await sleep(2000 + rnd() * 800);
      await w.op.restart();
      return () => heal(w, primary);
  }
}

/** Acknowledged rows a group's final primary or dw-0 lacks, except those only a killed primary held. */
async function checkRows(
  w: World,
  g: Shard,
  round: number,
  fault: FaultKind,
  out: ChaosReport,
): Promise<void> {
  const st = await status(w);
  const primary = w.sb.server(primaryOf(st, g)!);
  const dw = w.sb.server('dw-0');
  // What was acknowledged up to now (the application goes on writing meanwhile).
  const acked: Ack[] = [...w.apps[g].acked];
  const complete = (have: Set<number>) => acked.every((a) => have.has(a.id) || w.onlyOnCrashed[g].has(a.id));
  // Replication is asynchronous: give the final primary and dw-0 a moment to hold what they will hold.
  await until(async () => complete(await ids(primary, g)) && complete(await ids(dw, g)), 10_000);
  const [onPrimary, onDw] = await Promise.all([ids(primary, g), ids(dw, g)]);
  const others = await Promise.all(GROUPS[g].map(async (n) => ({ n, ids: await ids(w.sb.server(n), g) })));
  const lost = new Map<string, number[]>();
  for (const a of acked) {
    if (onPrimary.has(a.id) && onDw.has(a.id)) continue;
    // Only a primary killed before anything received the row held it (asynchronous replication).
    if (w.onlyOnCrashed[g].has(a.id) && !onPrimary.has(a.id)) {
      out.unreplicatedAtCrash++;
      continue;
    }
    const holders = others.filter((o) => o.ids.has(a.id)).map((o) => o.n);
    const where = `${onPrimary.has(a.id) ? 'dw-0' : `the primary ${primary.name}`}; held by ${holders.join(', ') || 'nobody'}`;
    lost.set(where, [...(lost.get(where) ?? []), a.id]);
  }
  // One violation per kind of loss, with how many rows and the first few ids.
  for (const [where, idList] of lost)
    out.violations.push({
      round,
      fault,
      what: `${g}: ${idList.length} acknowledged rows (ids ${idList.slice(0, 5).join(', ')}${idList.length > 5 ? ', …' : ''}) missing on ${where}`,
    });
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const rnd = prng(opts.seed);
  const log = opts.log ?? (() => undefined);
  const report: ChaosReport = {
    seed: opts.seed,
    flavor: opts.flavor,
    rounds: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    violations: [],
    recoveryMs: [],
    acked: 0,
    unreplicatedAtCrash: 0,
    failovers: 0,
    writableSamples: 0,
  };
  const sb = await createSandbox({
    flavor: opts.flavor,
    names: ['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'dw-0', 'x-0'],
  });
  let w: World | undefined;
  try {
    const file = writeManifests(join(sb.dir, 'chaos.yaml'), manifests(sb));
    const store = new LocalStore({
      files: [file],
      statusOut: join(sb.dir, 'status.json'),
      log: () => undefined,
    });
    const op = new Operator(store);
    const ready = async () => (await store.get(REF))?.status?.phase === 'Ready';
    if (!(await until(ready, 60_000))) throw new Error('the chaos topology did not converge');
    const st0 = (await store.get(REF))!.status!;
    await prepareApp(sb.server(primaryOf(st0, 'shard-a')!), TABLE['shard-a']);
    await prepareApp(sb.server(primaryOf(st0, 'shard-b')!), TABLE['shard-b']);
    // The hand-made channel: x-0 (outside the topology) into dw-0. It must never be touched.
    const f = facts(opts.flavor);
    const x0 = sb.server('x-0');
    await x0.setReadOnly(false);
    await sb.server('dw-0').sql(f.changeSource('external', { port: x0.port, connectRetry: 7 }));
    await sb.server('dw-0').sql(f.startChannel('external'));
    const externalRow = async () => {
      const row = (await sb.server('dw-0').sql(f.showChannel('external')))[0] ?? {};
      return Object.fromEntries(
        [f.col.host, f.col.port, f.col.user, f.col.connectRetry, f.col.io, f.col.sql].map((k) => [k, row[k]]),
      );
    };
    await until(async () => (await externalRow())[f.col.io] === 'Yes', 10_000);
    const apps = {
      'shard-a': startApp(
        GROUPS['shard-a'].map((n) => sb.server(n)),
        { table: TABLE['shard-a'], pauseMs: 20, maxMs: 3_600_000 },
      ),
      'shard-b': startApp(
        GROUPS['shard-b'].map((n) => sb.server(n)),
        { table: TABLE['shard-b'], pauseMs: 20, maxMs: 3_600_000, firstId: 1 },
      ),
    };
    const sampler = sampleWritable(
      Object.values(GROUPS).map((g) => g.map((n) => sb.server(n))),
      25,
      3_600_000,
    );
    w = {
      sb,
      store,
      op,
      apps,
      sampler,
      external: await externalRow(),
      onlyOnCrashed: { 'shard-a': new Set(), 'shard-b': new Set() },
      victims: new Set(),
    };

    for (let round = 1; round <= opts.rounds; round++) {
      const kind = FAULT_KINDS[Math.floor(rnd() * FAULT_KINDS.length)]!;
      w.victims.clear();
      report.faults[kind]++;
      const started = Date.now();
      const healFn = await injectFault(w, kind, rnd);
      await healFn();
      // A held failover (stranded transactions) waits for a human: the chaos plays that human.
      const recovered = await until(async () => {
        const st = await status(w!);
        if (st.conditions.some((c) => c.type === 'FailoverHeld' || c.type === 'FailoverStuck')) {
          const g = st.failovers.find((r) => r.phase !== 'Done' && r.phase !== 'Aborted')?.group;
          if (g) store.setAnnotation(ANNOTATION_ACK_FAILOVER, g);
        }
        for (const s of sb.servers) if (s.name !== 'x-0') await heal(w!, s);
        return st.phase === 'Ready' && st.instances.every((i) => i.reachable);
      }, opts.recoveryTimeoutMs ?? 90_000);
      const took = Date.now() - started;
      if (recovered) report.recoveryMs.push(took);
      else {
        const st = await status(w);
        const why = st.conditions
          .filter((c) => c.status === 'True' && c.type !== 'Ready')
          .map((c) => `${c.type}: ${c.message}`)
          .join(' | ');
        report.violations.push({
          round,
          fault: kind,
          what: `not Ready within ${took} ms (${st.phase}; ${why})`,
        });
        log(`round ${round}: not Ready: ${why}`);
      }
      for (const g of Object.keys(GROUPS) as Shard[]) await checkRows(w, g, round, kind, report);
      const ext = await externalRow();
      if (JSON.stringify(ext) !== JSON.stringify(w.external))
        report.violations.push({
          round,
          fault: kind,
          what: `the hand-made channel changed: ${JSON.stringify(ext)}`,
        });
      for (const v of sampler.violations.splice(0))
        report.violations.push({
          round,
          fault: kind,
          what: `two writable members at once: ${v.writable.join(', ')}`,
        });
      report.rounds = round;
      const thisRound = (await status(w)).failovers.filter((r) => Date.parse(r.startedAt) >= started);
      // The journal keeps the last 20 closed records: count failovers round by round.
      report.failovers += thisRound.filter((r) => r.reason === 'DeadPrimary' && r.phase === 'Done').length;
      const journal = thisRound.map((r) => `${r.group} ${r.from}→${r.to} ${r.phase}`).join('; ');
      log(
        `round ${round}: ${kind}, ${recovered ? `recovered in ${took} ms` : 'NOT recovered'}${journal ? ` (${journal})` : ''}, violations so far ${report.violations.length}`,
      );
    }
  } finally {
    if (w) {
      await Promise.all(Object.values(w.apps).map((a) => a.stop()));
      await w.sampler.stop();
      report.acked = Object.values(w.apps).reduce((n, a) => n + a.acked.length, 0);
      report.writableSamples = w.sampler.samples;
      await w.op.stop();
    }
    await sb.destroy();
  }
  return report;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function formatReport(r: ChaosReport): string {
  const faults = Object.entries(r.faults)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `chaos ${r.flavor} seed ${r.seed}: ${r.rounds} rounds`,
    `  faults: ${faults || 'none'}`,
    `  failovers done: ${r.failovers}`,
    `  acknowledged rows: ${r.acked} (${r.unreplicatedAtCrash} held only by a primary killed before anything received them)`,
    `  writable-member samples: ${r.writableSamples}`,
    `  recovery (fault → Ready, every member back): p50 ${percentile(r.recoveryMs, 50)} ms, p95 ${percentile(r.recoveryMs, 95)} ms`,
    `  violations: ${r.violations.length}`,
    ...r.violations.map((v) => `    round ${v.round} (${v.fault}): ${v.what}`),
  ].join('\n');
}
