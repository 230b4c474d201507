// bench:scale — one `tributary operator` (the built CLI, as a process) for a fleet of topologies (issue 18):
// N copies of the demo's warehouse topology (shard-a: a-0, a-1; shard-b: b-0; dw: dw-0 with channels
// shard_a and shard_b, dw-1), 5 real MariaDB 10.11 servers each (the sandbox's small settings), all in one
// namespace of the tests' API server (test/harness/kube-api-server.ts: the CRD from `tributary crd` in a real
// apiextensions-apiserver with etcd), spec.failover pollIntervalSeconds 1 and downAfterSeconds 2. The operator
// runs with --leader-elect and --namespace, and logs in as the sandbox's least-privilege `tributary` account,
// so its connections are the ones PROCESSLIST shows for that user.
//
// Per fleet size (default 4 then 40 topologies, i.e. 20 then 200 servers), measured and printed side by side:
//   - all Ready: from the operator's spawn to every topology's status phase Ready at the API server;
//   - at rest (after a settle of the reconciler's 30 s volatile-write interval + 5 s, a 60 s window):
//     operator CPU seconds per minute (/proc/<pid>/stat utime+stime, getconf CLK_TCK) and VmRSS;
//     probes per second (Σ over the servers of Com_show_slave_status deltas: each probe sends one
//     SHOW ALL SLAVES STATUS), SQL statements per second (Σ Questions deltas less the benchmark's own
//     closing status read on each server); status writes and API requests per topology per minute (the API
//     server's record, the Lease apart); the per-topology pass time p50/p99 (estimated from the buckets of
//     the operator's tributary_reconcile_duration_seconds histogram over the window, linear within a bucket);
//   - connections held: per server, PROCESSLIST rows of the operator's user (read from an admin connection);
//   - kill -9 failovers of random primaries that have a replica (shard-a's or dw's), one at a time with the
//     fleet at rest: kill → the new primary writable and every dependent channel running from it (polled on
//     the servers every 5 ms): for shard-a the dw primary's shard_a, for dw the new primary's shard_a and
//     shard_b. Reported as total and as overhead (total − downAfterSeconds), against the targets. After each,
//     the killed server is restarted (it rejoins as a replica) and the topology waited for Ready. Per kill:
//     the journal's phase times and the topology's status writes from the kill to the channels running;
//   - the causes behind the misses: the same binary idle (an empty namespace) for its baseline memory, and
//     one status write as the operator sends it, timed at the same API server (and until a watch sees it).
//
// Environment: BENCH_SCALE_TOPOLOGIES (default "4,40"), BENCH_KILLS (default 5 for ≤ 4 topologies, else 10),
// BENCH_WINDOW_SECONDS (60), BENCH_SETTLE_SECONDS (35), BENCH_START_BATCH (servers started at once, 10),
// BENCH_SEED (the kills' random choices; printed). Prints figures only; loopback only; every server, the API
// server and the operator are removed at the end, also on error or Ctrl-C.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freemem, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { renderCrdYaml } from '../src/api/crd.js';
import type { TopologyStatus } from '../src/api/status.js';
import { DEMO_FAILOVER } from '../src/cli/commands/demo.js';
import { OPERATOR_USER, createSandbox, type Sandbox, type SandboxServer } from '../src/sandbox/index.js';
import { dialectFor } from '../src/sql/flavor.js';
import {
  KubeApiServer,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../test/harness/kube-api-server.js';
import { prng } from '../test/harness/prng.js';
import { startOperatorProcess, type OperatorProcess } from '../test/harness/operator-process.js';
import { BIN, warehouseDocs } from '../test/harness/topology.js';
import { envNumber, machineLine, sleep, summarize, until, type Summary } from './common.js';

const NS = 'bench';
const LEASE_NS = 'tributary-system';
const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const DOWN_AFTER_S = 2;
const FAILOVER = { ...DEMO_FAILOVER, pollIntervalSeconds: 1, downAfterSeconds: DOWN_AFTER_S };
/** The groups whose primary has a replica to take over (shard-b has one member). */
const KILLABLE_GROUPS = ['shard-a', 'dw'] as const;
const WINDOW_S = envNumber('BENCH_WINDOW_SECONDS', 60);
const SETTLE_S = envNumber('BENCH_SETTLE_SECONDS', 35);
const START_BATCH = Math.trunc(envNumber('BENCH_START_BATCH', 10));
const MAX_CONNECTIONS_PER_SERVER = 2;
/** Bounds: all Ready after the operator starts, one failover, a topology Ready again after a restart. */
const READY_TIMEOUT_MS = 300_000;
const FAILOVER_TIMEOUT_MS = 30_000;
const REJOIN_TIMEOUT_MS = 60_000;
const WATCH_EVERY_MS = 5;
/** How long the idle operator (no topology) runs before its memory is read. */
const BASELINE_MS = 5000;
/** Status writes timed at the API server after the kills. */
const STATUS_WRITES = 20;
/** Issue 18's targets (at 200 servers, in the operator against the API server). */
const TARGET = { p50: 100, p95: 300, rssMb: 150, cpuPerMin: 10, writes: 0, requests: 1 };
/** The whole `npm run bench:scale` must finish within this. */
const BUDGET_S = 15 * 60;

const pad2 = (i: number) => String(i + 1).padStart(2, '0');
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
const benchStart = performance.now();
/** How often a wait polls (the write-seen-on-a-watch figure is taken at this grain). */
const POLL_MS = 50;
const elapsedS = (from: number) => (performance.now() - from) / 1000;

// ---- small helpers ----------------------------------------------------------------------------------------

function topologiesFromEnv(): number[] {
  const raw = process.env.BENCH_SCALE_TOPOLOGIES ?? '4,40';
  const ns = raw.split(',').map((x) => Number(x.trim()));
  if (ns.length === 0 || ns.some((n) => !Number.isInteger(n) || n < 1 || n > 60))
    throw new Error(`BENCH_SCALE_TOPOLOGIES must be whole numbers 1–60 separated by commas, not ${raw}`);
  return ns;
}

function killsFor(topologies: number): number {
  const n = process.env.BENCH_KILLS ? envNumber('BENCH_KILLS', 10) : topologies <= 4 ? 5 : 10;
  // Each (topology, group) fails over at most once: the spec's cooldown (300 s) would refuse a second.
  return Math.min(Math.trunc(n), topologies * KILLABLE_GROUPS.length);
}

function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function rssBytesOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Established TCP connections of a process to the given ports (ss), a cross-check of PROCESSLIST. */
function tcpConnectionsTo(pid: number, ports: Set<number>): number {
  const out = spawnSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .filter((l) => ports.has(Number(l.trim().split(/\s+/)[3]?.split(':').pop()))).length;
}

/** Runs fn over items, at most `limit` at once. */
async function eachLimited<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---- the operator's /metrics ------------------------------------------------------------------------------

interface Scrape {
  /** Histogram buckets of tributary_reconcile_duration_seconds summed over every series, by `le`. */
  buckets: Map<number, number>;
  passes: number;
  statusWrites: number;
  /** V8 heap used and total, and memory outside the heap that V8 tracks (bytes; prom-client's defaults). */
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function scrape(op: OperatorProcess): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  const buckets = new Map<number, number>();
  let passes = 0;
  let statusWrites = 0;
  const gauge = (name: string) =>
    Number(/^(\S+) (\S+)$/.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? NaN);
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('tributary_reconcile_duration_seconds_bucket{')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const bound = le === '+Inf' ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    } else if (line.startsWith('tributary_reconcile_duration_seconds_count')) passes += value;
    else if (line.startsWith('tributary_status_writes_total')) statusWrites += value;
  }
  return {
    buckets,
    passes,
    statusWrites,
    heapUsed: gauge('tributary_nodejs_heap_size_used_bytes'),
    heapTotal: gauge('tributary_nodejs_heap_size_total_bytes'),
    external: gauge('tributary_nodejs_external_memory_bytes'),
  };
}

/** A quantile (seconds) of the observations between two scrapes, as Prometheus' histogram_quantile does. */
function histogramQuantile(q: number, before: Scrape, after: Scrape): number {
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => (after.buckets.get(b) ?? 0) - (before.buckets.get(b) ?? 0));
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! < rank) continue;
    const upper = bounds[i]!;
    if (upper === Infinity) return bounds[i - 1] ?? NaN;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
  }
  return NaN;
}

// ---- the servers' own counters ----------------------------------------------------------------------------

type Counters = Map<string, number>;

/** Questions and every Com_% counter of one server (one statement: it counts itself in Questions). */
async function serverCounters(s: SandboxServer): Promise<Counters> {
  const rows = await s.sql(
    "SHOW GLOBAL STATUS WHERE Variable_name = 'Questions' OR Variable_name LIKE 'Com\\_%'",
  );
  return new Map(rows.map((r) => [String(r.Variable_name), Number(r.Value)]));
}

function sumDeltas(before: Counters[], after: Counters[]): Counters {
  const out: Counters = new Map();
  after.forEach((a, i) => {
    for (const [k, v] of a) out.set(k, (out.get(k) ?? 0) + v - (before[i]!.get(k) ?? 0));
  });
  return out;
}

// ---- failovers ----------------------------------------------------------------------------------------------

interface Kill {
  topology: string;
  group: string;
  victim: string;
  candidate: string;
  error?: string;
  /** ms from the kill: the journal's Decided, the candidate writable, every dependent channel running. */
  decided: number;
  writable: number;
  running: number;
  rejoinMs: number;
  /** The journal's phases, ms from the kill (the operator's clock: the same host). */
  phases: Record<string, number>;
  /** Requests of this topology at the API server from the kill to every channel running: status writes, all. */
  statusWrites: number;
  requests: number;
}

async function q(conn: Connection, sql: string): Promise<Record<string, unknown>[]> {
  const [rows] = await conn.query({ sql, timeout: 2000 });
  return rows as Record<string, unknown>[];
}

/**
 * Polls the candidate's read_only and the dependent channels (on `holder`) every few ms until the candidate
 * is writable and every channel in `want` (name → source port) runs from its source.
 */
async function watchFailover(
  candidate: Connection,
  holder: Connection,
  want: Record<string, number>,
  deadline: number,
): Promise<{ writableAt?: number; runningAt?: number }> {
  const d = dialectFor('mariadb');
  const out: { writableAt?: number; runningAt?: number } = {};
  while (Date.now() < deadline) {
    let readOnly: number | undefined;
    let channels: ReturnType<typeof d.parseChannels> = [];
    try {
      readOnly = Number((await q(candidate, 'SELECT @@read_only AS ro'))[0]?.ro);
      channels = d.parseChannels(await q(holder, d.showChannels().sql));
    } catch {
      // a transient error counts as "not yet"
    }
    const t = Date.now();
    if (readOnly === 0) out.writableAt ??= t;
    const runs = (name: string, port: number) =>
      channels.some(
        (c) => c.name === name && c.sourcePort === port && c.ioRunning === 'Yes' && c.sqlRunning === 'Yes',
      );
    if (readOnly === 0 && Object.entries(want).every(([name, port]) => runs(name, port))) {
      out.runningAt = t;
      break;
    }
    await sleep(WATCH_EVERY_MS);
  }
  return out;
}

// ---- the API server's own cost of a status write ----------------------------------------------------------

/**
 * Times `n` status writes as the operator sends them (a JSON merge patch of /status carrying the
 * resourceVersion it was computed against), one after another, on a copy of `source` in a namespace no
 * operator watches; each write changes the failover journal (a phase's time), as a phase advance does.
 * Returns the write's round trip and the time until the write is seen on a watch (the harness's mirror).
 */
async function statusWriteLatency(
  api: KubeApiServer,
  source: KObject,
  n: number,
): Promise<{ write: Summary; seen: Summary }> {
  const ns = `${NS}-write-probe`;
  const name = 'write-probe';
  const status = structuredClone(source.status) as TopologyStatus;
  if (status.failovers.length === 0) throw new Error('no failover record to copy');
  await api.create(TOPOLOGIES, { ...source, metadata: { name, namespace: ns }, status: undefined });
  const url = `${api.url}/apis/tributary.dev/v1alpha1/namespaces/${ns}/mysqltopologies/${name}/status`;
  const write = async (body: unknown): Promise<string> => {
    const res = await fetch(url, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json', authorization: 'Bearer test-token' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`status write: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return ((await res.json()) as KObject).metadata.resourceVersion!;
  };
  let rv = await write({ status });
  const writes: number[] = [];
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    status.failovers[0]!.phaseTimes = { ...status.failovers[0]!.phaseTimes, Done: new Date().toISOString() };
    const t = performance.now();
    rv = await write({ metadata: { resourceVersion: rv }, status: { failovers: status.failovers } });
    writes.push(performance.now() - t);
    const expected = rv;
    await until(
      'the write seen on the watch',
      10_000,
      async () => {
        if (api.get(TOPOLOGIES, ns, name)?.metadata.resourceVersion === expected) return true;
        await new Promise((r) => setImmediate(r));
        return api.get(TOPOLOGIES, ns, name)?.metadata.resourceVersion === expected;
      },
      POLL_MS,
    );
    seen.push(performance.now() - t);
  }
  return { write: summarize(writes), seen: summarize(seen) };
}

// ---- one fleet ----------------------------------------------------------------------------------------------

interface Figures {
  topologies: number;
  servers: number;
  phases: [string, number][];
  readyS: number;
  baseline: { rss: number; heapUsed: number; heapTotal: number; external: number };
  window: {
    seconds: number;
    cpuPerMin: number;
    rssEnd: number;
    rssMax: number;
    heapUsed: number;
    heapTotal: number;
    external: number;
    passesPerS: number;
    probesPerS: number;
    statementsPerS: number;
    byKind: [string, number][];
    statusWritesPerTopoMin: number;
    operatorStatusWrites: number;
    requestsPerTopoMin: number;
    leasePerMin: number;
    requests: Record<string, number>;
    passP50: number;
    passP99: number;
    loadavg: number;
  };
  connections: { max: number; total: number; servers: number; tcp: number; limit: string };
  kills: Kill[];
  /** The API server's status write round trip, and write → seen on a watch (ms), after the kills. */
  statusWrite?: { write: Summary; seen: Summary };
}

interface Fleet {
  sandboxes: Sandbox[];
  api?: KubeApiServer;
  op?: OperatorProcess;
  tmp: string;
  torn?: Promise<void>;
}

/** The live fleet, for the Ctrl-C handler. */
let live: Fleet | undefined;

/** Stops the operator, the API server (etcd and its directory) and every server; once, however often asked. */
function teardown(f: Fleet): Promise<void> {
  f.torn ??= (async () => {
    if (f.op && f.op.proc.exitCode === null && f.op.proc.signalCode === null) f.op.proc.kill('SIGKILL');
    await f.op?.exited;
    await f.api?.close().catch(() => undefined);
    await Promise.allSettled(f.sandboxes.map((sb) => sb.destroy()));
    rmSync(f.tmp, { recursive: true, force: true });
  })();
  return f.torn;
}

function operatorHasFlag(flag: string): boolean {
  const r = spawnSync(process.execPath, [BIN, 'operator', '--help'], { encoding: 'utf8' });
  return (r.stdout ?? '').includes(flag);
}

async function runFleet(n: number, random: () => number): Promise<Figures> {
  const phases: [string, number][] = [];
  let phaseStart = performance.now();
  const phase = (name: string, detail = '') => {
    const s = elapsedS(phaseStart);
    phases.push([name, s]);
    console.log(`  [${name}: ${s.toFixed(1)} s${detail ? `; ${detail}` : ''}]`);
    phaseStart = performance.now();
  };
  const fleet: Fleet = { sandboxes: [], tmp: mkdtempSync(join(tmpdir(), 'tributary-bench-scale-')) };
  live = fleet;
  console.log('');
  console.log(
    `== ${n} topologies × ${MEMBERS.length} servers = ${n * MEMBERS.length} MariaDB servers (machine: ${machineLine()}, ${(freemem() / 2 ** 30).toFixed(1)} GiB free)`,
  );
  try {
    // Servers: one sandbox per topology (server ids, and so MariaDB GTID domains, distinct over the fleet).
    for (let i = 0; i < n; i++)
      fleet.sandboxes.push(
        await createSandbox({
          flavor: 'mariadb',
          names: MEMBERS,
          start: false,
          firstServerId: 1 + i * MEMBERS.length,
        }),
      );
    const servers = fleet.sandboxes.flatMap((sb) => sb.servers);
    for (let i = 0; i < servers.length; i += START_BATCH) {
      const results = await Promise.allSettled(servers.slice(i, i + START_BATCH).map((s) => s.start()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    phase('servers started', `${servers.length}, ${START_BATCH} at a time`);

    // The API server, the CRD, the two Secrets (every sandbox has the same accounts), the topologies.
    const api = await KubeApiServer.start({ bookmarkIntervalMs: 60_000 });
    fleet.api = api;
    await api.applyYaml(renderCrdYaml());
    const names: string[] = [];
    for (const [i, sb] of fleet.sandboxes.entries()) {
      const [topology, ...secrets] = warehouseDocs(sb, (spec) => {
        spec.failover = { ...FAILOVER };
      }) as (KObject & { stringData?: Record<string, string> })[];
      if (i === 0)
        for (const s of secrets)
          await api.create(SECRETS, secretManifest(NS, s.metadata.name, s.stringData ?? {}));
      const name = `warehouse-${pad2(i)}`;
      await api.create(TOPOLOGIES, { ...topology!, metadata: { name, namespace: NS } });
      names.push(name);
    }
    const kubeconfig = join(fleet.tmp, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, api.kubeConfigYaml(NS));
    phase('API server, CRD, topologies');

    // The operator's own baseline: the same process watching an empty namespace, for the memory figures.
    const idle = await startOperatorProcess({ kubeconfig, args: [`--namespace=${NS}-empty`] });
    fleet.op = idle;
    await until('the idle operator serves /metrics', 30_000, async () => (await idle.passes()) >= 0, POLL_MS);
    await sleep(BASELINE_MS);
    const baseline = { rss: rssBytesOf(idle.proc.pid!), ...(await scrape(idle)) };
    idle.proc.kill('SIGKILL');
    await idle.exited;
    fleet.op = undefined;
    phase(
      'idle operator (baseline)',
      `RSS ${mbOf(baseline.rss)} MB, heap used ${mbOf(baseline.heapUsed)} MB`,
    );

    const limitFlag = operatorHasFlag('--max-connections-per-server');
    const args = [`--namespace=${NS}`];
    if (limitFlag) args.push(`--max-connections-per-server=${MAX_CONNECTIONS_PER_SERVER}`);
    const status = (name: string) => api.get(TOPOLOGIES, NS, name)?.status as TopologyStatus | undefined;
    const opStart = performance.now();
    const op = await startOperatorProcess({
      kubeconfig,
      args,
      leaderElection: { name: 'bench-scale', namespace: LEASE_NS, leaseS: 15, renewS: 10, retryS: 2 },
    });
    fleet.op = op;
    const pid = op.proc.pid!;
    const alive = () => {
      if (op.proc.exitCode !== null || op.proc.signalCode !== null)
        throw new Error(`the operator exited (${op.proc.exitCode ?? op.proc.signalCode})`);
    };
    console.log(`  operator: node ${BIN} operator ${args.join(' ')} --leader-elect (pid ${pid})`);
    await until(
      'every topology Ready',
      READY_TIMEOUT_MS,
      () => {
        alive();
        return names.every((t) => status(t)?.phase === 'Ready');
      },
      POLL_MS,
    );
    const readyS = elapsedS(opStart);
    phase('operator start → all Ready', `${n} topologies`);

    const settleFrom = api.requests.length;
    await sleep(SETTLE_S * 1000);
    alive();
    const settleWrites = api.requests
      .slice(settleFrom)
      .filter((r) => r.resource === 'mysqltopologies/status' && r.verb !== 'get').length;
    phase('settle', `${settleWrites} status writes in it`);

    // ---- at rest ----
    const c0 = await eachLimited(servers, 20, serverCounters);
    const m0 = await scrape(op);
    const from = api.requests.length;
    const cpu0 = cpuSecondsOf(pid);
    const t0 = performance.now();
    const rssSamples: number[] = [rssBytesOf(pid)];
    const sampler = setInterval(() => rssSamples.push(rssBytesOf(pid)), 1000);
    await sleep(WINDOW_S * 1000);
    clearInterval(sampler);
    alive();
    const cpu1 = cpuSecondsOf(pid);
    const seconds = elapsedS(t0);
    const rssEnd = rssBytesOf(pid);
    const m1 = await scrape(op);
    const requests = api.counts(from);
    const c1 = await eachLimited(servers, 20, serverCounters);
    const minutes = seconds / 60;
    const deltas = sumDeltas(c0, c1);
    // Each server's second read counted itself in Questions (and in Com_show_status); the first did not.
    const benchStatements = servers.length;
    const statements = (deltas.get('Questions') ?? 0) - benchStatements;
    deltas.set('Com_show_status', (deltas.get('Com_show_status') ?? 0) - benchStatements);
    const byKind = [...deltas]
      .filter(([k, v]) => k.startsWith('Com_') && v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]): [string, number] => [k.slice(4), v / seconds]);
    const total = Object.values(requests).reduce((s, x) => s + x, 0);
    const lease = Object.entries(requests)
      .filter(([k]) => k.endsWith(' leases'))
      .reduce((s, [, x]) => s + x, 0);
    const statusWrites = Object.entries(requests)
      .filter(([k]) => k.endsWith(' mysqltopologies/status') && !k.startsWith('get '))
      .reduce((s, [, x]) => s + x, 0);
    const window = {
      seconds,
      cpuPerMin: (cpu1 - cpu0) / minutes,
      rssEnd,
      rssMax: Math.max(...rssSamples, rssEnd),
      heapUsed: m1.heapUsed,
      heapTotal: m1.heapTotal,
      external: m1.external,
      passesPerS: (m1.passes - m0.passes) / seconds,
      probesPerS: (deltas.get('Com_show_slave_status') ?? 0) / seconds,
      statementsPerS: statements / seconds,
      byKind,
      statusWritesPerTopoMin: statusWrites / minutes / n,
      operatorStatusWrites: m1.statusWrites - m0.statusWrites,
      requestsPerTopoMin: (total - lease) / minutes / n,
      leasePerMin: lease / minutes,
      requests,
      passP50: histogramQuantile(0.5, m0, m1) * 1000,
      passP99: histogramQuantile(0.99, m0, m1) * 1000,
      loadavg: loadavg()[0]!,
    };
    phase('at-rest window');
    console.log(`  API requests in the window (verb resource: count):`);
    for (const [k, v] of Object.entries(requests).sort())
      console.log(`    ${k.padEnd(36)} ${String(v).padStart(6)}`);
    console.log(
      `  SQL statements by kind (per second, Com_ deltas over ${servers.length} servers): ${byKind
        .slice(0, 8)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );

    // ---- connections held ----
    const held = await eachLimited(servers, 20, async (s) =>
      Number(
        await s.scalar('SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?', [OPERATOR_USER]),
      ),
    );
    const connections = {
      max: Math.max(...held),
      total: held.reduce((a, b) => a + b, 0),
      servers: servers.length,
      tcp: tcpConnectionsTo(pid, new Set(servers.map((s) => s.port))),
      limit: limitFlag ? `--max-connections-per-server=${MAX_CONNECTIONS_PER_SERVER}` : 'flag absent',
    };
    phase('connections counted');

    // ---- failovers ----
    const pairs = names.flatMap((t, i) => KILLABLE_GROUPS.map((g) => ({ t, i, g })));
    for (let i = pairs.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!];
    }
    const kills: Kill[] = [];
    console.log(
      '  ms from the kill; journal phases as the operator stamped them; writes/requests: status writes and all requests of that topology at the API server from the kill to the channels running',
    );
    console.log(
      '  kill  topology       group    victim → candidate    Decided CatchingUp Promoting Repointing     Done  writable   running  overhead  writes/requests  rejoin',
    );
    for (const { t, i, g } of pairs.slice(0, killsFor(n))) {
      alive();
      const sb = fleet.sandboxes[i]!;
      const st = status(t)!;
      const primaryOf = (group: string) => st.groups.find((x) => x.name === group)?.primary ?? undefined;
      const victim = primaryOf(g)!;
      const candidate = (g === 'shard-a' ? ['a-0', 'a-1'] : ['dw-0', 'dw-1']).find((m) => m !== victim)!;
      const kill: Kill = {
        topology: t,
        group: g,
        victim,
        candidate,
        decided: NaN,
        writable: NaN,
        running: NaN,
        rejoinMs: NaN,
        phases: {},
        statusWrites: 0,
        requests: 0,
      };
      kills.push(kill);
      const conns: Connection[] = [];
      let killAt = NaN;
      try {
        if (!victim) throw new Error(`${g} has no primary in the status`);
        // Dependent channels: shard-a's new primary feeds the dw primary's shard_a; a new dw primary runs
        // both shard channels from the shards' primaries.
        const holderName = g === 'shard-a' ? primaryOf('dw')! : candidate;
        const want: Record<string, number> =
          g === 'shard-a'
            ? { shard_a: sb.server(candidate).port }
            : {
                shard_a: sb.server(primaryOf('shard-a')!).port,
                shard_b: sb.server(primaryOf('shard-b')!).port,
              };
        const cand = await sb.server(candidate).admin();
        conns.push(cand);
        const holder = holderName === candidate ? cand : await sb.server(holderName).admin();
        if (holder !== cand) conns.push(holder);
        // The kill lands anywhere in the 1 s poll cycle.
        await sleep(200 + random() * 1000);
        const deadline = Date.now() + FAILOVER_TIMEOUT_MS;
        const watching = watchFailover(cand, holder, want, deadline);
        await sleep(WATCH_EVERY_MS * 2);
        killAt = Date.now();
        const reqFrom = api.requests.length;
        await sb.server(victim).kill9();
        const w = await watching;
        const mine = api.requests.slice(reqFrom).filter((r) => r.path.includes(`/mysqltopologies/${t}`));
        kill.requests = mine.length;
        kill.statusWrites = mine.filter(
          (r) => r.resource === 'mysqltopologies/status' && r.verb !== 'get',
        ).length;
        kill.writable = w.writableAt === undefined ? NaN : w.writableAt - killAt;
        kill.running = w.runningAt === undefined ? NaN : w.runningAt - killAt;
        if (!Number.isFinite(kill.running))
          throw new Error(`channels not running from ${candidate} within ${FAILOVER_TIMEOUT_MS / 1000} s`);
      } catch (e) {
        kill.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
      } finally {
        for (const c of conns) c.destroy();
      }
      // The killed server rejoins as a replica; the next kill waits for the topology to be Ready.
      const r0 = performance.now();
      try {
        await sb.server(victim).start();
        await until(
          `${t} Ready with ${victim} back as a replica`,
          REJOIN_TIMEOUT_MS,
          () => {
            alive();
            const s = status(t);
            const inst = s?.instances.find((x) => x.name === victim);
            return s?.phase === 'Ready' && inst?.reachable === true && inst.role === 'replica';
          },
          POLL_MS,
        );
        kill.rejoinMs = performance.now() - r0;
      } catch (e) {
        kill.error ??= e instanceof Error ? e.message.split('\n')[0] : String(e);
      }
      // The journal, read once the record is Done (it stays in the status).
      const rec = status(t)?.failovers.find((r) => r.from === victim && r.group === g);
      for (const [p, at] of Object.entries(rec?.phaseTimes ?? {})) kill.phases[p] = Date.parse(at) - killAt;
      kill.decided = kill.phases.Decided ?? NaN;
      const f = (v: number | undefined, w = 8) =>
        (v !== undefined && Number.isFinite(v) ? v.toFixed(0) : '-').padStart(w);
      console.log(
        `  ${String(kills.length).padStart(4)}  ${t.padEnd(13)}  ${g.padEnd(7)}  ${`${victim} → ${candidate}`.padEnd(18)} ${f(kill.decided)} ${f(kill.phases.CatchingUp, 10)} ${f(kill.phases.Promoting, 9)} ${f(kill.phases.Repointing, 10)} ${f(kill.phases.Done)}  ${f(kill.writable)}  ${f(kill.running)}  ${f(kill.running - DOWN_AFTER_S * 1000)}  ${`${kill.statusWrites}/${kill.requests}`.padStart(15)}  ${f(kill.rejoinMs, 6)}${kill.error ? `  FAILED: ${kill.error}` : ''}`,
      );
      if (kill.error && !Number.isFinite(kill.rejoinMs)) break; // the fleet is not at rest: stop killing
    }
    phase('failovers', `${kills.length} kills`);

    const failedOver = kills.find((k) => !k.error)?.topology;
    let statusWrite: Figures['statusWrite'];
    if (failedOver)
      statusWrite = await statusWriteLatency(api, api.get(TOPOLOGIES, NS, failedOver)!, STATUS_WRITES).catch(
        (e: unknown) => {
          console.log(`  status write timing failed: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        },
      );
    phase(
      'status write timing',
      statusWrite
        ? `${STATUS_WRITES} writes: p50 ${num(statusWrite.write.p50, 1)} ms, seen on a watch p50 ${num(statusWrite.seen.p50, 1)} ms`
        : 'skipped',
    );
    return {
      topologies: n,
      servers: servers.length,
      phases,
      readyS,
      baseline: {
        rss: baseline.rss,
        heapUsed: baseline.heapUsed,
        heapTotal: baseline.heapTotal,
        external: baseline.external,
      },
      window,
      connections,
      kills,
      ...(statusWrite ? { statusWrite } : {}),
    };
  } finally {
    const t = performance.now();
    await teardown(fleet);
    live = undefined;
    phases.push(['cleanup', elapsedS(t)]);
    console.log(`  [cleanup: ${elapsedS(t).toFixed(1)} s]`);
  }
}

// ---- printing ---------------------------------------------------------------------------------------------

const num = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const mbOf = (bytes: number) => num(bytes / 1_048_576, 0);
const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');

function killSummary(f: Figures): {
  total: Summary;
  overhead: Summary;
  decided: Summary;
  decidedToRunning: Summary;
  failed: number;
} {
  const ok = f.kills.filter((k) => Number.isFinite(k.running));
  return {
    total: summarize(ok.map((k) => k.running)),
    overhead: summarize(ok.map((k) => k.running - DOWN_AFTER_S * 1000)),
    decided: summarize(ok.map((k) => k.decided).filter(Number.isFinite)),
    decidedToRunning: summarize(ok.map((k) => k.running - k.decided).filter(Number.isFinite)),
    failed: f.kills.length - ok.length,
  };
}

function printTable(runs: Figures[]): void {
  const heads = runs.map((r) => `${r.topologies} topologies / ${r.servers} servers`);
  const rows: [string, string[]][] = [];
  const row = (label: string, fn: (f: Figures) => string) => rows.push([label, runs.map(fn)]);
  row('all Ready after the operator started, s', (f) => num(f.readyS));
  row(`operator CPU at rest, s per minute (target ≤ ${TARGET.cpuPerMin})`, (f) => num(f.window.cpuPerMin, 2));
  row(
    `operator RSS at rest, end / max of window, MB (target ≤ ${TARGET.rssMb})`,
    (f) => `${mbOf(f.window.rssEnd)} / ${mbOf(f.window.rssMax)}`,
  );
  row(
    '  of which V8 heap used / heap total / external, MB',
    (f) => `${mbOf(f.window.heapUsed)} / ${mbOf(f.window.heapTotal)} / ${mbOf(f.window.external)}`,
  );
  row(
    'operator with no topology: RSS / heap used, MB',
    (f) => `${mbOf(f.baseline.rss)} / ${mbOf(f.baseline.heapUsed)}`,
  );
  row('passes per second (reconcile histogram count)', (f) => num(f.window.passesPerS, 1));
  row('probes per second (Σ Com_show_slave_status)', (f) => num(f.window.probesPerS, 1));
  row('SQL statements per second (Σ Questions)', (f) => num(f.window.statementsPerS, 1));
  row(`status writes per topology per minute (target ${TARGET.writes})`, (f) =>
    num(f.window.statusWritesPerTopoMin, 3),
  );
  row(`API requests per topology per minute, Lease aside (target ≤ ${TARGET.requests})`, (f) =>
    num(f.window.requestsPerTopoMin, 3),
  );
  row('Lease requests per minute', (f) => num(f.window.leasePerMin, 1));
  row(
    'pass time p50 / p99, ms (histogram buckets, interpolated)',
    (f) => `${num(f.window.passP50, 1)} / ${num(f.window.passP99, 1)}`,
  );
  row(
    'operator connections per server: max / total (PROCESSLIST)',
    (f) => `${f.connections.max} / ${f.connections.total}`,
  );
  row('operator TCP connections to the servers (ss)', (f) => String(f.connections.tcp));
  row('kills done / failed', (f) => `${f.kills.length} / ${killSummary(f).failed}`);
  row('kill → Decided (journal) p50, ms', (f) => num(killSummary(f).decided.p50, 0));
  row('kill → channels running p50 / p95 / max, ms', (f) => {
    const s = killSummary(f).total;
    return `${num(s.p50, 0)} / ${num(s.p95, 0)} / ${num(s.max, 0)}`;
  });
  row(`overhead (− ${DOWN_AFTER_S} s) p50, ms (target ≤ ${TARGET.p50})`, (f) =>
    num(killSummary(f).overhead.p50, 0),
  );
  row(`overhead (− ${DOWN_AFTER_S} s) p95, ms (target ≤ ${TARGET.p95})`, (f) =>
    num(killSummary(f).overhead.p95, 0),
  );
  row('Decided → channels running p50, ms', (f) => num(killSummary(f).decidedToRunning.p50, 0));
  row('status writes of the topology, kill → running, p50 / max', (f) => {
    const w = summarize(f.kills.map((k) => k.statusWrites));
    return `${num(w.p50, 0)} / ${num(w.max, 0)}`;
  });
  row('API server: one status write p50 / p95, ms (timed apart)', (f) =>
    f.statusWrite ? `${num(f.statusWrite.write.p50, 1)} / ${num(f.statusWrite.write.p95, 1)}` : '-',
  );
  row('API server: write → seen on a watch p50 / p95, ms', (f) =>
    f.statusWrite ? `${num(f.statusWrite.seen.p50, 1)} / ${num(f.statusWrite.seen.p95, 1)}` : '-',
  );
  row('overhead max, ms', (f) => num(killSummary(f).overhead.max, 0));
  row('load average at the end of the rest window', (f) => num(f.window.loadavg, 2));
  for (const [i, [name]] of runs[0]!.phases.entries())
    row(`elapsed: ${name}, s`, (f) => num(f.phases[i]?.[1] ?? NaN));

  const labelWidth = Math.max(...rows.map(([l]) => l.length)) + 2;
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map(([, v]) => v[i]!.length)) + 3);
  console.log('');
  console.log(''.padEnd(labelWidth) + heads.map((h, i) => h.padStart(widths[i]!)).join(''));
  for (const [label, v] of rows)
    console.log(label.padEnd(labelWidth) + v.map((x, i) => x.padStart(widths[i]!)).join(''));
}

function printTargets(f: Figures): void {
  const k = killSummary(f);
  console.log('');
  console.log(`targets at ${f.servers} servers (issue 18):`);
  const line = (what: string, value: number, target: number, unit: string, digits = 0) =>
    console.log(
      `  ${what.padEnd(52)} ${num(value, digits).padStart(8)} ${unit.padEnd(6)} target ≤ ${target}: ${verdict(value <= target)}`,
    );
  line('failover overhead p50', k.overhead.p50, TARGET.p50, 'ms');
  line('failover overhead p95', k.overhead.p95, TARGET.p95, 'ms');
  line('operator RSS (max over the window)', f.window.rssMax / 1_048_576, TARGET.rssMb, 'MB');
  line('operator CPU at rest', f.window.cpuPerMin, TARGET.cpuPerMin, 's/min', 2);
  line(
    'status writes per topology per minute at rest',
    f.window.statusWritesPerTopoMin,
    TARGET.writes,
    '',
    3,
  );
  line(
    'API requests per topology per minute, Lease aside',
    f.window.requestsPerTopoMin,
    TARGET.requests,
    '',
    3,
  );
  line(
    `operator connections per server (${f.connections.limit})`,
    f.connections.max,
    MAX_CONNECTIONS_PER_SERVER,
    '',
  );
}

async function main(): Promise<void> {
  const sizes = topologiesFromEnv();
  const seed = process.env.BENCH_SEED
    ? Math.trunc(envNumber('BENCH_SEED', 1))
    : Math.floor(Math.random() * 2 ** 31);
  const random = prng(seed);
  console.log(
    `bench:scale  Node ${process.version}; the built tributary operator (--leader-elect, one namespace) against the test API server (real apiextensions-apiserver + etcd); MariaDB 10.11 sandboxes, small settings; warehouse topologies of 5; pollIntervalSeconds ${FAILOVER.pollIntervalSeconds}, downAfterSeconds ${DOWN_AFTER_S}, failureThreshold ${FAILOVER.failureThreshold}; settle ${SETTLE_S} s, window ${WINDOW_S} s; seed ${seed}`,
  );
  console.log(`machine: ${machineLine()}`);
  const runs: Figures[] = [];
  for (const n of sizes) runs.push(await runFleet(n, random));
  printTable(runs);
  printTargets(runs.at(-1)!);
  const total = elapsedS(benchStart);
  console.log('');
  console.log(
    `bench:scale took ${(total / 60).toFixed(1)} min (budget ${BUDGET_S / 60} min: ${verdict(total <= BUDGET_S)}); machine at the end: ${machineLine()}`,
  );
}

// Ctrl-C / SIGTERM: the whole fleet is torn down (bounded), then the process ends. The sandbox's own signal
// hook also kills the servers at once; with this listener present it does not re-raise the signal first.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`bench:scale: ${sig}, cleaning up`);
    setTimeout(() => process.exit(130), 60_000).unref();
    void (live ? teardown(live) : Promise.resolve()).finally(() => process.exit(130));
  });
process.on('exit', () => {
  if (live?.op && live.op.proc.exitCode === null && live.op.proc.signalCode === null)
    live.op.proc.kill('SIGKILL');
});

main().catch((e: unknown) => {
  console.error(`bench:scale failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
