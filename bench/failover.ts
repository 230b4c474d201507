// bench:failover — how long a failover takes, from the kill -9, with the controller run as the operator runs
// it: runController over a LocalStore, the design's warehouse topology (shard-a: a-0, a-1; shard-b: b-0;
// dw: dw-0, dw-1 with channels shard_a and shard_b), the spec's pollIntervalSeconds 1 and failureThreshold 3,
// the reconciler's defaults (settle 4 s, probe timeout 3 s, GTID waits 30 s).
//
//   (a) shard-a's primary a-0 is killed under light write load on shop.orders;
//   (b) dw-0, the multi-source replica (dw's primary), is killed under light load on both shards.
//
// Each trial has a fresh sandbox of five servers (so a fresh status file: no journal, no cooldown). The kill
// lands at a random point of the 1 s poll cycle. Measured from the kill:
//   detect    the failover record's Decided time in the journal the store wrote;
//   writable  the candidate answers @@read_only = 0 (polled on it directly every ~5 ms);
//   running   every dependent channel runs from the new primary (polled on the servers directly):
//             (a) dw-0's shard_a Yes/Yes with Master_Port = a-1's, and a-1 writable;
//             (b) dw-1's shard_a and shard_b Yes/Yes from a-0 and b-0, and dw-1 writable.
// After each trial, with a marker row written on each source and arrived everywhere: rows that some survivor
// holds and another lacks (lost; must be 0), and channels whose applier stopped on an error (1062 would be a
// duplicate; must be 0). Prints figures only. Loopback only; every sandbox is destroyed, also on error.
//
// (c) leader + primary killed together: two `tributary operator --leader-elect` processes (the CLI from
// source) against the test API server, the operator's default Lease timings (15 s, renew deadline 10 s, retry
// 2 s) and downAfterSeconds 10 in the spec. The leader (SIGKILL) and a-0 (kill -9) die at the same moment;
// the hot standby has been probing all along. Measured from the kill: the standby holds the Lease, Decided,
// a-1 writable, dw-0's shard_a running from a-1, against the target max(lease, window) + 1 s. Before the kill,
// the standby's own load is sampled for 10 s: passes/s, probes/s, connections held, CPU.
// BENCH_STANDBY_LEASE / BENCH_STANDBY_WINDOW (seconds) change the lease duration (renew deadline and retry
// scaled as 10/15 and 2/15 of it) and the window.
//
// (d) routing (issue 17's figures; bench/failover-routing.ts): HAProxy with the routing hook and the
// EndpointSlices in front of shard-a, an application writing through HAProxy only; a switchover (write
// pause, acknowledged writes lost, writes on the old primary after its drain), then kill -9 of the primary
// (kill → writer endpoints at the new primary, kill → first write acknowledged there). BENCH_ROUTING_TRIALS
// (default 3) trials per flavor, a fresh sandbox and HAProxy each, one API server for the run.
//
// BENCH_TRIALS (default 10): trials per scenario. `--scenario a|b|c|d` runs one scenario only. `--flavor mysql|mariadb|both` (default both): every
// scenario on each flavor in turn, then the figures side by side. The servers are read through the SQL
// layer's dialect (SHOW ALL REPLICAS STATUS / SHOW REPLICA STATUS), the same words for both flavors here.
// On MySQL a kill under load can leave transactions that only dw-0 holds; they cannot be fetched without
// shard-b's data, so such a trial waits for an acknowledgement and ends as failed (reported, not hidden).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { renderCrdYaml } from '../src/api/crd.js';
import type { TopologyStatus } from '../src/api/status.js';
import { DEMO_FAILOVER, demoManifests } from '../src/cli/commands/demo.js';
import { runController, type Controller } from '../src/controller/loop.js';
import { silentLog } from '../src/util/log-sink.js';
import { createReconciler } from '../src/controller/reconcile.js';
import { createSandbox, type Sandbox, type SandboxFlavor } from '../src/sandbox/index.js';
import type { Dialect } from '../src/sql/dialect.js';
import { dialectFor } from '../src/sql/flavor.js';
import { SqlClient, SqlClientPool, type SqlClientOptions } from '../src/sql/client.js';
import { LocalStore } from '../src/store/local.js';
import type { Store } from '../src/store/store.js';
import { silentLogger } from '../src/util/log.js';
import { ids, startLoad, type Load } from '../test/harness/load.js';
import {
  KubeApiServer,
  LEASES,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../test/harness/kube-api-server.js';
import { startOperatorProcess, type OperatorProcess } from '../test/harness/operator-process.js';
import {
  printRouting,
  routingSummaryRows,
  routingTrialsFromEnv,
  runRoutingTrial,
  startRoutingApi,
  type RoutingTrial,
} from './failover-routing.js';
import {
  FLAVOR_LABEL,
  envNumber,
  flavorsFromArgs,
  mb,
  printSideBySide,
  serversRss,
  sleep,
  summarize,
  summaryCells,
  until,
  untilSchemaOn,
  writeManifestFile,
} from './common.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
/** Light load: one INSERT, then this pause. */
const LOAD_PAUSE_MS = 5;
/** Bound on the rows one load writes. */
const LOAD_MAX_ROWS = 20_000;
/** Load before the kill: this, plus a random part of the poll interval (the kill lands anywhere in a cycle). */
const PRE_KILL_MS = 300;
const POLL_INTERVAL_MS = 1000;
/** The declared detection window of the demo's spec (spec.failover.downAfterSeconds): never shortened. */
const WINDOW_MS = 1000 * DEMO_FAILOVER.downAfterSeconds;
/** Target for what detection adds after the declared window (p50). */
const OVERHEAD_TARGET_MS = 100;
/** How often the servers are polled during a trial. */
const WATCH_EVERY_MS = 5;
/** Bounds: topology Ready, a trial's failover (kill → Done and channels running), rows arriving. */
const READY_TIMEOUT_MS = 30_000;
const FAILOVER_TIMEOUT_MS = 30_000;
const ROWS_TIMEOUT_MS = 15_000;
const MARKER_ID = 1_000_000;
const PHASES = ['Decided', 'CatchingUp', 'Promoting', 'Repointing', 'Done'] as const;

interface Scenario {
  title: string;
  victim: string;
  candidate: string;
  loads: { server: string; table: string }[];
  /** The server holding the dependent channels, and each channel's required source. */
  replica: string;
  channels: Record<string, string>;
  /** Channels on `replica` that must never stop or move (a failover touches only its own group's). */
  untouched: Record<string, string>;
  /** Per table: the server writing it after the failover, and every survivor that must hold its rows. */
  tables: { table: string; writer: string; holders: string[] }[];
}

const SCENARIOS: Scenario[] = [
  {
    title: "(a) shard-a's primary a-0 killed under load on shop.orders",
    victim: 'a-0',
    candidate: 'a-1',
    loads: [{ server: 'a-0', table: 'shop.orders' }],
    replica: 'dw-0',
    channels: { shard_a: 'a-1' },
    untouched: { shard_b: 'b-0' },
    tables: [{ table: 'shop.orders', writer: 'a-1', holders: ['a-1', 'dw-0', 'dw-1'] }],
  },
  {
    title: '(b) dw-0, the multi-source replica, killed under load on both shards',
    victim: 'dw-0',
    candidate: 'dw-1',
    loads: [
      { server: 'a-0', table: 'shop.orders' },
      { server: 'b-0', table: 'sales.invoices' },
    ],
    replica: 'dw-1',
    channels: { shard_a: 'a-0', shard_b: 'b-0' },
    untouched: {},
    tables: [
      { table: 'shop.orders', writer: 'a-0', holders: ['a-0', 'a-1', 'dw-1'] },
      { table: 'sales.invoices', writer: 'b-0', holders: ['b-0', 'dw-1'] },
    ],
  },
];

interface Trial {
  error?: string;
  setupMs: number;
  acked: number;
  /** Milliseconds from the kill (NaN when not seen): the operator's first failed statement on the victim. */
  firstFail: number;
  detect: number;
  writable: number;
  running: number;
  phases: Partial<Record<(typeof PHASES)[number], number>>;
  /** Passes from the one with the first failed probe up to and including the one that decided. */
  passesToDecide: number;
  /** Durations of the passes that only counted failed probes (before the deciding one). */
  probePassMs: number[];
  /** Status writes (journal + status) between Decided and Done: count and total ms. */
  writes: { n: number; ms: number };
  lost: number;
  /** Acknowledged by the dead primary, on no survivor (asynchronous replication's window; informational). */
  neverShipped: number;
  /** Channels with Last_SQL_Errno ≠ 0 after the trial (member/channel:errno). */
  sqlErrors: string[];
  untouchedBroken: string[];
  readOnlyBefore: boolean;
  /** What happened from the kill to Done, ms from the kill: passes, statements, status writes. */
  timeline: Span[];
  /** Mean RSS of one surviving server at the end of the trial (bytes). */
  serverRss: number;
}

interface Span {
  start: number;
  end: number;
  /** 'pass', 'write', 'sql' (then who and what), or a watch mark. */
  kind: string;
  who?: string;
  what?: string;
  failed?: boolean;
}

/** The statements the observe step sends (both dialects); everything else the operator sends is an action. */
const PROBE_SQL =
  /^(SELECT VERSION\(\)|SHOW ALL REPLICAS STATUS|SHOW REPLICA STATUS|SELECT CHANNEL_NAME, HEARTBEAT_INTERVAL|SELECT COUNT\(\*\) AS n FROM mysql\.user)/;

/** The statements this benchmark reads servers with (status columns differ by flavor; parsed ones do not). */
const dialectOf = (flavor: SandboxFlavor): Dialect => dialectFor(flavor === 'mysql' ? 'mysql' : 'mariadb');

/** The operator's connection pool, with every statement's start and end recorded. */
class TracingPool extends SqlClientPool {
  readonly spans: Span[] = [];
  readonly #traced = new WeakSet<SqlClient>();

  override get(opts: SqlClientOptions): SqlClient {
    const client = super.get(opts);
    if (this.#traced.has(client)) return client;
    this.#traced.add(client);
    const query = client.query.bind(client);
    const who = opts.label ?? `${opts.host}:${opts.port}`;
    client.query = async <T>(...args: Parameters<SqlClient['query']>): Promise<T[]> => {
      const what = typeof args[0] === 'string' ? args[0] : args[0].display;
      const start = Date.now();
      let failed = true;
      try {
        const rows = await query<T>(...args);
        failed = false;
        return rows;
      } finally {
        this.spans.push({ start, end: Date.now(), kind: 'sql', who, what, failed });
      }
    };
    return client;
  }
}

/** The servers' VERSION(), read in the first trial (for the heading). */
let serverVersion = '?';

const since = (t: number | undefined, from: number) => (t === undefined ? NaN : t - from);

function trialsFromEnv(): number {
  const n = envNumber('BENCH_TRIALS', 10);
  if (!Number.isInteger(n) || n > 1000)
    throw new Error(`BENCH_TRIALS must be a whole number 1–1000, not ${n}`);
  return n;
}

const fmt = (v: number, width = 7) => (Number.isFinite(v) ? v.toFixed(0) : '-').padStart(width);

async function query(conn: Connection, sql: string): Promise<Record<string, unknown>[]> {
  const [rows] = await conn.query({ sql, timeout: 2000 });
  return rows as Record<string, unknown>[];
}

/** Polls the candidate and the replica every few ms from just before the kill until every channel runs. */
async function watch(
  d: Dialect,
  sc: Scenario,
  sb: Sandbox,
  candidate: Connection,
  replica: Connection,
  deadline: number,
): Promise<{ writableAt?: number; runningAt?: number; readOnlyBefore: boolean; untouchedBroken: string[] }> {
  const out: { writableAt?: number; runningAt?: number; readOnlyBefore: boolean; untouchedBroken: string[] } =
    { readOnlyBefore: false, untouchedBroken: [] };
  const port = (m: string) => sb.server(m).port;
  const broken = new Set<string>();
  let first = true;
  while (Date.now() < deadline) {
    let readOnly: number | undefined;
    let channels: ReturnType<Dialect['parseChannels']> = [];
    try {
      readOnly = Number((await query(candidate, 'SELECT @@read_only AS ro'))[0]?.ro);
      channels = d.parseChannels(await query(replica, d.showChannels().sql));
    } catch {
      // a transient error counts as "not yet"
    }
    const t = Date.now();
    if (first) out.readOnlyBefore = readOnly === 1;
    first = false;
    const row = (name: string) => channels.find((c) => c.name === name);
    const runs = (name: string, from: string) => {
      const r = row(name);
      return (
        r !== undefined && r.sourcePort === port(from) && r.ioRunning === 'Yes' && r.sqlRunning === 'Yes'
      );
    };
    for (const [name, from] of Object.entries(sc.untouched)) {
      if (channels.length > 0 && !runs(name, from)) {
        const r = row(name);
        broken.add(`${sc.replica}/${name} ${r?.ioRunning}/${r?.sqlRunning}:${r?.sourcePort}`);
      }
    }
    if (readOnly === 0 && out.writableAt === undefined) out.writableAt = t;
    if (readOnly === 0 && Object.entries(sc.channels).every(([name, from]) => runs(name, from))) {
      out.runningAt = t;
      break;
    }
    await sleep(WATCH_EVERY_MS);
  }
  out.untouchedBroken = [...broken];
  return out;
}

async function runTrial(sc: Scenario, flavor: SandboxFlavor): Promise<Trial> {
  const trial: Trial = {
    setupMs: NaN,
    acked: 0,
    firstFail: NaN,
    detect: NaN,
    writable: NaN,
    running: NaN,
    phases: {},
    passesToDecide: 0,
    probePassMs: [],
    writes: { n: 0, ms: 0 },
    lost: 0,
    neverShipped: 0,
    sqlErrors: [],
    untouchedBroken: [],
    readOnlyBefore: false,
    timeline: [],
    serverRss: NaN,
  };
  const d = dialectOf(flavor);
  const t0 = Date.now();
  let sb: Sandbox | undefined;
  const abort = new AbortController();
  let controller: Controller | undefined;
  const pool = new TracingPool();
  const loads: Load[] = [];
  const conns: Connection[] = [];
  try {
    sb = await createSandbox({ flavor, names: MEMBERS });
    trial.setupMs = Date.now() - t0;
    const s = sb;
    const file = writeManifestFile(join(s.dir, 'warehouse.yaml'), demoManifests(s));
    const local = new LocalStore({ files: [file], statusOut: join(s.dir, 'status.json'), log: () => {} });

    // The store the loop sees: the LocalStore, with every status write timed and its journal read.
    const passes: { start: number; end: number }[] = [];
    const writes: { start: number; end: number }[] = [];
    let doneWrittenAt = Infinity;
    let latest: TopologyStatus | undefined;
    const store: Store = {
      list: () => local.list(),
      get: (ref) => local.get(ref),
      readSecret: (ns, name) => local.readSecret(ns, name),
      emitEvent: (ref, event) => local.emitEvent(ref, event),
      removeAnnotation: (ref, key) => local.removeAnnotation(ref, key),
      async writeStatus(ref, status, generation, options) {
        const start = Date.now();
        const written = await local.writeStatus(ref, status, generation, options);
        const end = Date.now();
        writes.push({ start, end });
        latest = status;
        if (status.failovers.some((r) => r.from === sc.victim && r.phase === 'Done'))
          doneWrittenAt = Math.min(doneWrittenAt, end);
        return written;
      },
    };
    controller = runController({
      store,
      // As `tributary local` and the operator do: a broken connection asks for a pass at once.
      reconcile: createReconciler({ pool, log: silentLogger(), wake: (ref) => controller?.enqueue(ref) }),
      log: silentLog,
      signal: abort.signal,
      onPass: (o) => {
        const end = Date.now();
        passes.push({ start: end - o.durationMs, end });
        if (o.result) latest = o.result.status;
      },
    });

    await until('topology Ready', READY_TIMEOUT_MS, () => latest?.phase === 'Ready');
    serverVersion = String(await s.server('a-0').scalar('SELECT VERSION()'));
    await s.server('a-0').sql('CREATE DATABASE shop');
    await s.server('a-0').sql('CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20))');
    await s.server('b-0').sql('CREATE DATABASE sales');
    // shard_b replicates `sales` only (Replicate_Do_DB): the DDL must run with `sales` as default database.
    await s.server('b-0').sql('USE sales; CREATE TABLE invoices (id INT PRIMARY KEY, v VARCHAR(20))');
    const tablesOn = async (m: string, n: number) =>
      Number(
        await s
          .server(m)
          .scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema IN ('shop', 'sales') AND table_name IN ('orders', 'invoices')",
          )
          .catch(() => -1),
      ) === n;
    await until(
      'tables replicated',
      ROWS_TIMEOUT_MS,
      async () => (await tablesOn('dw-1', 2)) && tablesOn('a-1', 1),
    );

    for (const l of sc.loads)
      loads.push(startLoad(s.server(l.server), l.table, { max: LOAD_MAX_ROWS, pauseMs: LOAD_PAUSE_MS }));
    const candidate = await s.server(sc.candidate).admin();
    conns.push(candidate);
    const replica = await s.server(sc.replica).admin();
    conns.push(replica);
    await sleep(PRE_KILL_MS + Math.random() * POLL_INTERVAL_MS);

    const watching = watch(d, sc, s, candidate, replica, Date.now() + FAILOVER_TIMEOUT_MS);
    await sleep(WATCH_EVERY_MS * 2); // the first samples are taken before the kill
    const killAt = Date.now();
    await s.server(sc.victim).kill9();
    const w = await watching;
    await until('journal Done', Math.max(0, killAt + FAILOVER_TIMEOUT_MS - Date.now()), () =>
      Boolean(latest?.failovers.some((r) => r.from === sc.victim && r.phase === 'Done')),
    );
    for (const l of loads) await l.stop();

    const rec = latest?.failovers.find((r) => r.from === sc.victim);
    for (const p of PHASES) {
      const at = rec?.phaseTimes[p];
      if (at) trial.phases[p] = Date.parse(at) - killAt;
    }
    trial.detect = trial.phases.Decided ?? NaN;
    trial.writable = since(w.writableAt, killAt);
    trial.running = since(w.runningAt, killAt);
    trial.readOnlyBefore = w.readOnlyBefore;
    trial.untouchedBroken = w.untouchedBroken;
    trial.acked = loads.reduce((n, l) => n + l.acked.length, 0);
    const firstFail = pool.spans.find((x) => x.who === sc.victim && x.failed && x.end >= killAt);
    trial.firstFail = since(firstFail?.start, killAt);
    const decidedAt = killAt + trial.detect;
    const upToDecision = passes.filter((p) => p.end >= (firstFail?.start ?? killAt) && p.start <= decidedAt);
    trial.passesToDecide = upToDecision.length;
    trial.probePassMs = upToDecision.slice(0, -1).map((p) => p.end - p.start);
    const failoverWrites = writes.filter((x) => x.start >= decidedAt && x.end <= doneWrittenAt);
    trial.writes = { n: failoverWrites.length, ms: failoverWrites.reduce((a, x) => a + x.end - x.start, 0) };
    const to = killAt + (trial.phases.Done ?? FAILOVER_TIMEOUT_MS);
    const rel = (x: Span): Span => ({ ...x, start: x.start - killAt, end: x.end - killAt });
    trial.timeline = [
      ...passes.filter((p) => p.end >= killAt && p.start <= to).map((p) => rel({ ...p, kind: 'pass' })),
      ...writes.filter((x) => x.end >= killAt && x.start <= to).map((x) => rel({ ...x, kind: 'write' })),
      ...pool.spans.filter((x) => x.end >= killAt && x.start <= to).map(rel),
      ...(trial.writable
        ? [{ start: trial.writable, end: trial.writable, kind: `${sc.candidate} writable` }]
        : []),
      { start: trial.running, end: trial.running, kind: 'dependent channels running' },
    ].sort((a, b) => a.start - b.start || a.end - b.end);
    if (!rec) throw new Error('no failover record in the journal');
    if (rec.to !== sc.candidate) throw new Error(`failover promoted ${rec.to}, not ${sc.candidate}`);
    if (!Number.isFinite(trial.running)) throw new Error('dependent channels never all ran');

    await checkRows(d, sc, s, loads, trial);
    trial.serverRss = serversRss(s.servers.filter((x) => x.running)) / (MEMBERS.length - 1);
    return trial;
  } catch (e) {
    trial.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return trial;
  } finally {
    for (const l of loads) await l.stop().catch(() => undefined);
    abort.abort();
    await controller?.done;
    for (const c of conns) c.destroy();
    await pool.closeAll().catch(() => undefined);
    await sb?.destroy();
  }
}

/** A marker row on each writer, then row sets compared across every survivor, and appliers checked. */
async function checkRows(
  d: Dialect,
  sc: Scenario,
  sb: Sandbox,
  loads: Load[],
  trial: Pick<Trial, 'lost' | 'neverShipped' | 'sqlErrors'>,
): Promise<void> {
  for (const t of sc.tables) {
    await sb.server(t.writer).sql(`INSERT INTO ${t.table} (id, v) VALUES (${MARKER_ID}, 'marker')`);
    for (const h of t.holders)
      await until(
        `marker of ${t.table} on ${h}`,
        ROWS_TIMEOUT_MS,
        async () =>
          Number(await sb.server(h).scalar(`SELECT COUNT(*) FROM ${t.table} WHERE id = ${MARKER_ID}`)) === 1,
      );
    const sets = await Promise.all(t.holders.map(async (h) => new Set(await ids(sb.server(h), t.table))));
    const union = new Set(sets.flatMap((x) => [...x]));
    trial.lost += [...union].filter((id) => sets.some((x) => !x.has(id))).length;
    const load = loads[sc.loads.findIndex((l) => l.table === t.table)];
    trial.neverShipped += (load?.acked ?? []).filter((id) => !union.has(id)).length;
  }
  for (const m of MEMBERS.filter((x) => x !== sc.victim)) {
    for (const c of d.parseChannels(await sb.server(m).sql(d.showChannels().sql)))
      if (c.lastSQLErrno !== 0) trial.sqlErrors.push(`${m}/${c.name || "''"}:${c.lastSQLErrno}`);
  }
}

function printScenario(sc: Scenario, trials: Trial[], flavor: SandboxFlavor): void {
  console.log('');
  console.log(`${FLAVOR_LABEL[flavor]}: ${sc.title}`);
  console.log(
    'trial  setup  acked  1st-fail  passes  detect  promoted  writable  running     done  writes  lost  unshipped  sql-errors',
  );
  trials.forEach((t, i) => {
    const head = `${String(i + 1).padStart(5)} ${fmt(t.setupMs, 6)}`;
    if (t.error && !Number.isFinite(t.running)) {
      console.log(`${head}  failed: ${t.error}`);
      return;
    }
    const notes = [
      ...(t.error ? [`failed: ${t.error}`] : []),
      ...(t.readOnlyBefore ? [] : [`${sc.candidate} was not read-only before the kill`]),
      ...t.untouchedBroken.map((b) => `touched ${b}`),
    ];
    console.log(
      `${head} ${fmt(t.acked, 6)} ${fmt(t.firstFail, 9)} ${fmt(t.passesToDecide, 7)} ${fmt(t.detect)} ${fmt(t.phases.Repointing ?? NaN, 9)} ${fmt(t.writable, 9)} ${fmt(t.running, 8)} ${fmt(t.phases.Done ?? NaN, 8)} ${`${t.writes.n}/${t.writes.ms}ms`.padStart(7)} ${fmt(t.lost, 5)} ${fmt(t.neverShipped, 10)}  ${t.sqlErrors.length === 0 ? '0' : t.sqlErrors.join(' ')}${notes.length ? `  ${notes.join('; ')}` : ''}`,
    );
  });
  const ok = trials.filter((t) => !t.error);
  const line = (label: string, values: number[]) => {
    const s = summarize(values.filter((x) => Number.isFinite(x)));
    console.log(`  ${label.padEnd(58)} ${fmt(s.p50)} ${fmt(s.p95)} ${fmt(s.max)}   (n=${s.n})`);
  };
  console.log('');
  console.log(`  ms from the kill${' '.repeat(43)}    p50     p95     max`);
  line(
    `(1) detection: failover record Decided in the journal (window ${WINDOW_MS} + overhead)`,
    ok.map((t) => t.detect),
  );
  line(
    '    overhead after the declared window (detection − window)',
    ok.map((t) => t.detect - WINDOW_MS),
  );
  line(
    `(2) new primary ${sc.candidate} writable (@@read_only = 0)`,
    ok.map((t) => t.writable),
  );
  line(
    '(3) every dependent channel running from the new primary',
    ok.map((t) => t.running),
  );
  line(
    '    journal Done',
    ok.map((t) => t.phases.Done ?? NaN),
  );
  console.log('  where the time goes (ms)');
  const diff = (t: Trial, a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? NaN : b - a;
  line(
    'kill → first failed probe of it (waiting for the poll timer)',
    ok.map((t) => t.firstFail),
  );
  line(
    'first failed probe → Decided (threshold, re-probe spacing)',
    ok.map((t) => t.detect - t.firstFail),
  );
  line(
    '  one pass that only counts a failed probe (duration)',
    ok.flatMap((t) => t.probePassMs),
  );
  line(
    'Decided → Promoting (relay log applied / catch-up)',
    ok.map((t) => diff(t, t.phases.Decided, t.phases.Promoting)),
  );
  line(
    'Promoting → Repointing (channel reset, read_only off)',
    ok.map((t) => diff(t, t.phases.Promoting, t.phases.Repointing)),
  );
  line(
    'Repointing → channels running (observe, repoint, START)',
    ok.map((t) => t.running - (t.phases.Repointing ?? NaN)),
  );
  line(
    'channels running → Done (settle loop, status)',
    ok.map((t) => (t.phases.Done ?? NaN) - t.running),
  );
  line(
    'status writes Decided → Done (total, fsync included)',
    ok.map((t) => t.writes.ms),
  );
  const lost = trials.reduce((a, t) => a + t.lost, 0);
  const errs = trials.reduce((a, t) => a + t.sqlErrors.length, 0);
  const dup = trials.reduce((a, t) => a + t.sqlErrors.filter((e) => e.endsWith(':1062')).length, 0);
  console.log(
    `  integrity over ${trials.length} trials: lost rows ${lost}, duplicated rows (applier 1062) ${dup}, channels with Last_SQL_Errno ≠ 0 ${errs}; acked but never shipped ${trials.reduce((a, t) => a + t.neverShipped, 0)}; failed trials ${trials.length - ok.length}`,
  );
  const overhead = summarize(ok.map((t) => t.detect - WINDOW_MS)).p50;
  console.log(
    `  target p50 detection overhead after the ${WINDOW_MS} ms window ≤ ${OVERHEAD_TARGET_MS} ms: ${overhead <= OVERHEAD_TARGET_MS ? 'met' : 'missed'} (p50 ${fmt(overhead, 0)} ms)`,
  );
  const p50 = summarize(ok.map((t) => t.running)).p50;
  console.log(
    `  kill → every dependent channel running p50 ${fmt(p50, 0)} ms (the ${WINDOW_MS} ms window included)`,
  );
  const median = [...ok].sort((a, b) => a.running - b.running)[Math.floor((ok.length - 1) / 2)];
  if (median) printTimeline(median);
}

/**
 * One trial from the kill to Done, ms from the kill: passes, status writes, statements. Runs of probe
 * statements (the observe step: 3–4 statements per server, in parallel) are folded into one line.
 */
function printTimeline(t: Trial): void {
  console.log(
    `  timeline of the median trial (ms from the kill; journal phases: ${PHASES.map((p) => `${p} ${fmt(t.phases[p] ?? NaN, 0)}`).join(', ')})`,
  );
  const lines: string[] = [];
  let fold: Span[] = [];
  const flush = () => {
    if (fold.length === 0) return;
    const start = Math.min(...fold.map((x) => x.start));
    const end = Math.max(...fold.map((x) => x.end));
    const servers = new Set(fold.map((x) => x.who)).size;
    const failed = fold.filter((x) => x.failed).map((x) => x.who);
    lines.push(
      `${fmt(start, 7)} ${fmt(end - start, 5)}  observe: ${fold.length} probe statements on ${servers} servers${failed.length ? ` (failed: ${[...new Set(failed)].join(', ')})` : ''}`,
    );
    fold = [];
  };
  for (const x of t.timeline) {
    if (x.kind === 'sql' && PROBE_SQL.test(x.what ?? '')) {
      fold.push(x);
      continue;
    }
    flush();
    const what =
      x.kind === 'sql'
        ? `${x.who}: ${(x.what ?? '').replace(/\s+/g, ' ').slice(0, 90)}`
        : x.kind === 'pass'
          ? `pass (ends at ${fmt(x.end, 0)})`
          : x.kind === 'write'
            ? 'status write (journal/status file, fsync)'
            : `** ${x.kind}`;
    lines.push(
      `${fmt(x.start, 7)} ${x.start === x.end && x.kind !== 'sql' && x.kind !== 'write' ? '     ' : fmt(x.end - x.start, 5)}  ${what}`,
    );
  }
  flush();
  for (const l of lines) console.log(`  ${l}`);
}

async function main(): Promise<void> {
  const count = trialsFromEnv();
  const flavors = flavorsFromArgs();
  let failed = 0;
  const heads: Partial<Record<SandboxFlavor, string>> = {};
  const results = new Map<string, Partial<Record<SandboxFlavor, Trial[]>>>();
  console.log(
    `bench:failover  Node ${process.version}, loopback; ${count} trials per scenario and flavor, a fresh sandbox of 5 servers each`,
  );
  console.log(
    `controller: runController + LocalStore, the demo's spec (pollIntervalSeconds 1, downAfterSeconds 1, failureThreshold 3), wake-up on a broken connection; load: 1 INSERT + ${LOAD_PAUSE_MS} ms pause per source; kill after ${PRE_KILL_MS} ms + U(0, ${POLL_INTERVAL_MS}) ms of load`,
  );
  const only = scenarioFromArgs();
  const standby: Partial<Record<SandboxFlavor, StandbyTrial[]>> = {};
  const routing: Partial<Record<SandboxFlavor, RoutingTrial[]>> = {};
  // One API server for every routing trial (its backend takes a second or two to start).
  const routingApi = !only || only === 'd' ? await startRoutingApi() : undefined;
  try {
    for (const flavor of flavors) {
      for (const [i, sc] of SCENARIOS.entries()) {
        if (only && only !== String.fromCharCode(97 + i)) continue;
        const trials: Trial[] = [];
        for (let i = 0; i < count; i++) trials.push(await runTrial(sc, flavor));
        heads[flavor] = `${FLAVOR_LABEL[flavor]} ${serverVersion.split('-')[0]}`;
        results.set(sc.title, { ...results.get(sc.title), [flavor]: trials });
        printScenario(sc, trials, flavor);
        failed += trials.filter((t) => t.error || t.lost > 0 || t.sqlErrors.length > 0).length;
      }
      if (!only || only === 'c') {
        const trials: StandbyTrial[] = [];
        for (let i = 0; i < count; i++) trials.push(await runStandbyTrial(flavor));
        heads[flavor] = `${FLAVOR_LABEL[flavor]} ${serverVersion.split('-')[0]}`;
        standby[flavor] = trials;
        printStandby(trials, flavor);
        failed += trials.filter((t) => t.error || t.lost > 0 || t.sqlErrors.length > 0).length;
      }
      if (routingApi) {
        const trials: RoutingTrial[] = [];
        for (let i = 0; i < routingTrialsFromEnv(); i++)
          trials.push(await runRoutingTrial(flavor, routingApi));
        serverVersion = trials.find((t) => t.version)?.version ?? serverVersion;
        heads[flavor] = `${FLAVOR_LABEL[flavor]} ${serverVersion.split('-')[0]}`;
        routing[flavor] = trials;
        printRouting(trials, flavor);
        failed += trials.filter(
          (t) => t.error || t.swLost > 0 || t.afterDrain > 0 || t.stopAfterDrain > 0,
        ).length;
      }
    }
  } finally {
    await routingApi?.close();
  }
  const rows: [string, Partial<Record<SandboxFlavor, string>>][] = [];
  const cell = (title: string, fn: (ok: Trial[], all: Trial[]) => string) =>
    Object.fromEntries(
      flavors.flatMap((f) => {
        const all = results.get(title)?.[f];
        return all
          ? [
              [
                f,
                fn(
                  all.filter((t) => !t.error),
                  all,
                ),
              ],
            ]
          : [];
      }),
    );
  const pct = (ok: Trial[], p: 'p50' | 'p95', pick: (t: Trial) => number) =>
    fmt(summarize(ok.map(pick).filter(Number.isFinite))[p], 0).trim();
  for (const [i, sc] of SCENARIOS.entries()) {
    if (!results.has(sc.title)) continue;
    const tag = `(${String.fromCharCode(97 + i)})`;
    rows.push([
      `${tag} kill → every dependent channel running p50, ms`,
      cell(sc.title, (ok) => pct(ok, 'p50', (t) => t.running)),
    ]);
    rows.push([
      `${tag} kill → every dependent channel running p95, ms`,
      cell(sc.title, (ok) => pct(ok, 'p95', (t) => t.running)),
    ]);
    rows.push([`${tag} kill → Decided p50, ms`, cell(sc.title, (ok) => pct(ok, 'p50', (t) => t.detect))]);
    rows.push([
      `${tag} detection overhead after the ${WINDOW_MS} ms window p50, ms`,
      cell(sc.title, (ok) => pct(ok, 'p50', (t) => t.detect - WINDOW_MS)),
    ]);
    rows.push([
      `${tag} trials ok / run; lost rows`,
      cell(sc.title, (ok, all) => `${ok.length}/${all.length}; ${all.reduce((a, t) => a + t.lost, 0)}`),
    ]);
    rows.push([
      `${tag} RSS of one server after the trial, MB`,
      cell(sc.title, (ok) => mb(summarize(ok.map((t) => t.serverRss).filter(Number.isFinite)).p50)),
    ]);
  }
  if (Object.keys(standby).length > 0) rows.push(...standbySummaryRows(flavors, standby));
  if (Object.keys(routing).length > 0) rows.push(...routingSummaryRows(flavors, routing));
  printSideBySide('summary (same machine, one run)', heads, rows);
  if (failed > 0) process.exitCode = 1;
}

// ---- (c) leader + primary killed together: the hot standby -----------------------------------------------

const NS = 'db';
const LEASE_NS = 'tributary-system';
/** The CLI from source (tsx), so the benchmark measures the tree as it is, built or not. */
const CLI = join(import.meta.dirname, '../src/cli/main.ts');
/** How long the standby's own load is sampled before the kill. */
const STANDBY_SAMPLE_MS = 10_000;

interface StandbyTiming {
  leaseS: number;
  renewS: number;
  retryS: number;
  windowS: number;
  /** max(lease, window) + 1 s */
  targetMs: number;
}

function standbyTiming(): StandbyTiming {
  const leaseS = envNumber('BENCH_STANDBY_LEASE', 15);
  const windowS = envNumber('BENCH_STANDBY_WINDOW', 10);
  return {
    leaseS,
    renewS: (leaseS * 10) / 15,
    retryS: (leaseS * 2) / 15,
    windowS,
    targetMs: (Math.max(leaseS, windowS) + 1) * 1000,
  };
}

interface StandbyLoad {
  passesPerS: number;
  probesPerS: number;
  /** TCP connections the standby holds to the database servers, and to the API server. */
  dbConnections: number;
  apiConnections: number;
  /** CPU of the standby process (% of one core) and its RSS (tsx's loader included). */
  cpuPct: number;
  rss: number;
}

interface StandbyTrial {
  error?: string;
  /** ms from the kill (NaN when not seen) */
  takeover: number;
  detect: number;
  writable: number;
  running: number;
  done: number;
  /** Failover records of shard-a in the journal at the end (must be 1). */
  failovers: number;
  /** The standby had counted failed probes of a-0 before it held the Lease. */
  countedBeforeLeading: boolean;
  lost: number;
  neverShipped: number;
  sqlErrors: string[];
  untouchedBroken: string[];
  load?: StandbyLoad;
}

/** The operator from source (tsx), as the standby scenario runs it: leader election with its timings. */
function startOperator(name: string, kubeconfig: string, t: StandbyTiming): Promise<OperatorProcess> {
  return startOperatorProcess({
    kubeconfig,
    source: CLI,
    leaderElection: { name, namespace: LEASE_NS, leaseS: t.leaseS, renewS: t.renewS, retryS: t.retryS },
  });
}

/** CPU ticks (user + system) of a process, from /proc. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Established TCP connections of a process to the given ports (ss -tnp). */
function connectionsTo(pid: number, ports: Set<number>): number {
  const out = spawnSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .filter((l) => ports.has(Number(l.trim().split(/\s+/)[3]?.split(':').pop()))).length;
}

async function sampleStandbyLoad(op: OperatorProcess, sb: Sandbox, api: KubeApiServer): Promise<StandbyLoad> {
  const pid = op.proc.pid!;
  const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const p0 = await op.metric('tributary_standby_passes_total');
  const c0 = cpuTicks(pid);
  const t0 = Date.now();
  await sleep(STANDBY_SAMPLE_MS);
  const p1 = await op.metric('tributary_standby_passes_total');
  const c1 = cpuTicks(pid);
  const seconds = (Date.now() - t0) / 1000;
  const passesPerS = (p1 - p0) / seconds;
  return {
    passesPerS,
    probesPerS: passesPerS * MEMBERS.length,
    dbConnections: connectionsTo(pid, new Set(sb.servers.map((x) => x.port))),
    apiConnections: connectionsTo(pid, new Set([Number(new URL(api.url).port)])),
    cpuPct: ((c1 - c0) / clockTicks / seconds) * 100,
    rss: rssOf(pid),
  };
}

async function runStandbyTrial(flavor: SandboxFlavor): Promise<StandbyTrial> {
  const t = standbyTiming();
  const sc = SCENARIOS[0]!; // a-0 dies; a-1 takes over; dw-0's shard_a follows
  const trial: StandbyTrial = {
    takeover: NaN,
    detect: NaN,
    writable: NaN,
    running: NaN,
    done: NaN,
    failovers: 0,
    countedBeforeLeading: false,
    lost: 0,
    neverShipped: 0,
    sqlErrors: [],
    untouchedBroken: [],
  };
  const d = dialectOf(flavor);
  let sb: Sandbox | undefined;
  let api: KubeApiServer | undefined;
  const ops: OperatorProcess[] = [];
  const loads: Load[] = [];
  const conns: Connection[] = [];
  try {
    sb = await createSandbox({ flavor, names: MEMBERS });
    const s = sb;
    const server = await KubeApiServer.start({ bookmarkIntervalMs: 1000 });
    api = server;
    await server.applyYaml(renderCrdYaml());
    const [topology, admin, repl] = demoManifests(s) as KObject[];
    const spec = topology!.spec as { failover: Record<string, unknown> };
    spec.failover = { ...DEMO_FAILOVER, downAfterSeconds: t.windowS };
    for (const x of [admin!, repl!])
      await server.create(
        SECRETS,
        secretManifest(
          NS,
          x.metadata.name,
          (x as unknown as { stringData: Record<string, string> }).stringData,
        ),
      );
    await server.create(TOPOLOGIES, topology!);
    const kubeconfig = join(s.dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, server.kubeConfig(NS).exportConfig());
    const holder = async () =>
      (
        (await server.get(LEASES, LEASE_NS, 'tributary-operator'))?.spec as
          { holderIdentity?: string } | undefined
      )?.holderIdentity ?? '';
    const status = async () =>
      (await server.get(TOPOLOGIES, NS, 'warehouse'))?.status as TopologyStatus | undefined;

    const a = await startOperator('op-a', kubeconfig, t);
    ops.push(a);
    await until('op-a leads', READY_TIMEOUT_MS, async () => (await holder()).startsWith('op-a_'));
    await until('topology Ready', READY_TIMEOUT_MS, async () => (await status())?.phase === 'Ready');
    serverVersion = String(await s.server('a-0').scalar('SELECT VERSION()'));
    await s.server('a-0').sql('CREATE DATABASE shop');
    await s.server('a-0').sql('CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20))');
    await untilSchemaOn(
      ['a-1', 'dw-0', 'dw-1'].map((m) => s.server(m)),
      'shop',
      ROWS_TIMEOUT_MS,
    );
    const b = await startOperator('op-b', kubeconfig, t);
    ops.push(b);
    await until(
      'op-b observing as a standby',
      READY_TIMEOUT_MS,
      async () => (await b.metric('tributary_standby_passes_total')) > 0,
    );
    trial.load = await sampleStandbyLoad(b, s, server);

    loads.push(startLoad(s.server('a-0'), 'shop.orders', { max: LOAD_MAX_ROWS, pauseMs: LOAD_PAUSE_MS }));
    const candidate = await s.server(sc.candidate).admin();
    conns.push(candidate);
    const replica = await s.server(sc.replica).admin();
    conns.push(replica);
    // The kill lands anywhere in the leader's renewal cycle.
    await sleep(PRE_KILL_MS + Math.random() * t.retryS * 1000);
    const deadline = Date.now() + t.targetMs + FAILOVER_TIMEOUT_MS;
    const watching = watch(d, sc, s, candidate, replica, deadline);
    await sleep(WATCH_EVERY_MS * 2);
    const killAt = Date.now();
    a.proc.kill('SIGKILL');
    await s.server('a-0').kill9();
    // The Lease polled every 20 ms; the standby's count of a-0's failed probes read every 200 ms before it.
    let failedBefore = 0;
    for (let i = 0; Date.now() < deadline; i++) {
      if ((await holder()).startsWith('op-b_')) {
        trial.takeover = Date.now() - killAt;
        break;
      }
      if (i % 10 === 0)
        failedBefore = Math.max(
          failedBefore,
          await b.metric('tributary_standby_failed_probes_total', { member: 'a-0' }),
        );
      await sleep(20);
    }
    trial.countedBeforeLeading = failedBefore > 0;
    const w = await watching;
    await until('journal Done', Math.max(0, deadline - Date.now()), async () =>
      Boolean((await status())?.failovers.some((r) => r.from === 'a-0' && r.phase === 'Done')),
    );
    for (const l of loads) await l.stop();
    const journal = (await status())?.failovers ?? [];
    const rec = journal.find((r) => r.from === 'a-0');
    const at = (p: (typeof PHASES)[number]) =>
      rec?.phaseTimes[p] ? Date.parse(rec.phaseTimes[p]!) - killAt : NaN;
    trial.detect = at('Decided');
    trial.done = at('Done');
    trial.writable = since(w.writableAt, killAt);
    trial.running = since(w.runningAt, killAt);
    trial.untouchedBroken = w.untouchedBroken;
    trial.failovers = journal.filter((r) => r.group === 'shard-a').length;
    if (!rec) throw new Error('no failover record in the journal');
    if (rec.to !== sc.candidate) throw new Error(`failover promoted ${rec.to}, not ${sc.candidate}`);
    if (trial.failovers !== 1) throw new Error(`${trial.failovers} failover records for shard-a`);
    if (!Number.isFinite(trial.running)) throw new Error('dw-0/shard_a never ran from a-1');
    await checkRows(d, sc, s, loads, trial);
    return trial;
  } catch (e) {
    trial.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return trial;
  } finally {
    for (const l of loads) await l.stop().catch(() => undefined);
    for (const c of conns) c.destroy();
    for (const op of ops) {
      if (op.proc.exitCode === null && op.proc.signalCode === null) op.proc.kill('SIGKILL');
      await op.exited;
    }
    await api?.close();
    await sb?.destroy();
  }
}

function printStandby(trials: StandbyTrial[], flavor: SandboxFlavor): void {
  const t = standbyTiming();
  console.log('');
  console.log(
    `${FLAVOR_LABEL[flavor]}: (c) leader + primary killed together (operator SIGKILL + a-0 kill -9; lease ${t.leaseS} s, renew deadline ${t.renewS.toFixed(1)} s, retry ${t.retryS.toFixed(1)} s, downAfterSeconds ${t.windowS})`,
  );
  console.log(
    'trial  standby-leads  decided  writable  running     done  records  counted-before  lost  sql-errors',
  );
  trials.forEach((x, i) => {
    const head = String(i + 1).padStart(5);
    if (x.error && !Number.isFinite(x.running)) {
      console.log(`${head}  failed: ${x.error}`);
      return;
    }
    const notes = [
      ...(x.error ? [`failed: ${x.error}`] : []),
      ...x.untouchedBroken.map((b) => `touched ${b}`),
    ];
    console.log(
      `${head} ${fmt(x.takeover, 14)} ${fmt(x.detect, 8)} ${fmt(x.writable, 9)} ${fmt(x.running, 8)} ${fmt(x.done, 8)} ${fmt(x.failovers, 8)} ${(x.countedBeforeLeading ? 'yes' : 'NO').padStart(15)} ${fmt(x.lost, 5)}  ${x.sqlErrors.length === 0 ? '0' : x.sqlErrors.join(' ')}${notes.length ? `  ${notes.join('; ')}` : ''}`,
    );
  });
  const ok = trials.filter((x) => !x.error);
  const line = (label: string, values: number[]) => {
    const s = summarize(values.filter((v) => Number.isFinite(v)));
    console.log(`  ${label.padEnd(58)} ${fmt(s.p50)} ${fmt(s.p95)} ${fmt(s.max)}   (n=${s.n})`);
  };
  console.log('');
  console.log(`  ms from the kill${' '.repeat(43)}    p50     p95     max`);
  line(
    'the standby holds the Lease',
    ok.map((x) => x.takeover),
  );
  line(
    'failover record Decided (by the new leader)',
    ok.map((x) => x.detect),
  );
  line(
    'a-1 writable (@@read_only = 0)',
    ok.map((x) => x.writable),
  );
  line(
    'dw-0/shard_a running from a-1 (channel repointed)',
    ok.map((x) => x.running),
  );
  line(
    'journal Done',
    ok.map((x) => x.done),
  );
  const worst = summarize(ok.map((x) => x.running)).max;
  const p50 = summarize(ok.map((x) => x.running)).p50;
  console.log(
    `  target: channel repointed ≤ max(lease ${t.leaseS} s, window ${t.windowS} s) + 1 s = ${t.targetMs} ms: ${ok.length > 0 && worst <= t.targetMs ? 'met' : 'MISSED'} (p50 ${fmt(p50, 0)} ms, max ${fmt(worst, 0)} ms; before the standby: lease + window + 3 s)`,
  );
  const loads = ok.flatMap((x) => (x.load ? [x.load] : []));
  const med = (pick: (l: StandbyLoad) => number) => summarize(loads.map(pick)).p50;
  console.log(
    `  the standby's own load (p50 of ${loads.length} samples of ${STANDBY_SAMPLE_MS / 1000} s, before the kill): ${med((l) => l.passesPerS).toFixed(2)} passes/s, ${med((l) => l.probesPerS).toFixed(1)} member probes/s, ${med((l) => l.dbConnections)} connections to the ${MEMBERS.length} servers, ${med((l) => l.apiConnections)} to the API server, CPU ${med((l) => l.cpuPct).toFixed(1)} % of a core, RSS ${mb(med((l) => l.rss))} MB (tsx included)`,
  );
  console.log(
    `  integrity over ${trials.length} trials: lost rows ${trials.reduce((n, x) => n + x.lost, 0)}, channels with Last_SQL_Errno ≠ 0 ${trials.reduce((n, x) => n + x.sqlErrors.length, 0)}; failed trials ${trials.length - ok.length}`,
  );
}

function standbySummaryRows(
  flavors: readonly SandboxFlavor[],
  standby: Partial<Record<SandboxFlavor, StandbyTrial[]>>,
): [string, Partial<Record<SandboxFlavor, string>>][] {
  const t = standbyTiming();
  const cell = summaryCells(flavors, standby);
  const running = (ok: StandbyTrial[], p: 'p50' | 'max') =>
    fmt(summarize(ok.map((x) => x.running).filter(Number.isFinite))[p], 0).trim();
  return [
    [
      `(c) leader + primary killed → channel repointed p50, ms (target ${t.targetMs})`,
      cell((ok) => running(ok, 'p50')),
    ],
    [
      `(c) leader + primary killed → channel repointed max, ms (target ${t.targetMs})`,
      cell((ok) => running(ok, 'max')),
    ],
    [
      '(c) trials ok / run; lost rows',
      cell((ok, all) => `${ok.length}/${all.length}; ${all.reduce((a, x) => a + x.lost, 0)}`),
    ],
    [
      '(c) standby: member probes/s; connections to servers',
      cell((ok) => {
        const l = ok.flatMap((x) => (x.load ? [x.load] : []));
        return `${summarize(l.map((x) => x.probesPerS)).p50.toFixed(1)}; ${summarize(l.map((x) => x.dbConnections)).p50}`;
      }),
    ],
  ];
}

/** `--scenario a|b|c|d`: one scenario only (all by default). */
function scenarioFromArgs(argv: readonly string[] = process.argv.slice(2)): string | undefined {
  let value: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--scenario') value = argv[i + 1] ?? '';
    else if (a.startsWith('--scenario=')) value = a.slice('--scenario='.length);
  });
  if (value !== undefined && !['a', 'b', 'c', 'd'].includes(value))
    throw new Error(`--scenario must be a, b, c or d, not ${JSON.stringify(value)}`);
  return value;
}

main().catch((e: unknown) => {
  console.error(`bench:failover failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
