// bench:reconcile — how long one steady-state reconciliation pass takes (nothing to change), in process,
// with one SqlClientPool, as the controller loop runs it: store.get → validate + Secrets → observe (every
// member probed in parallel) → analyze → plan → status projection and change detection.
//
// Two topologies on local sandbox servers (loopback only):
//   warehouse  the design's 5 servers (shard-a: a-0 a-1, shard-b: b-0, dw: dw-0 dw-1 with 2 channels),
//              the manifests of `tributary demo`
//   fleet-50   50 servers in 10 groups: shard-1 … shard-9 (5 members each) and dw (5 members) whose primary
//              receives 9 named channels shard_1 … shard_9, one from each shard; the first member of every
//              group is its primary
// Environment: BENCH_SCENARIO=warehouse|fleet-50 runs one of them; BENCH_PASSES_5 / BENCH_PASSES_50 change
// the number of timed passes (default 200 / 100). `--flavor mysql|mariadb|both` (default both) runs every
// scenario on each flavor in turn (one sandbox at a time) and ends with the figures side by side.
// Each is converged first (passes until Ready with nothing executed), then N passes are timed. The store is
// a LocalStore (manifest file + status file), the status written only when it changed, as the loop does.
// A breakdown times the steps of a pass separately. Prints figures only; every server is removed at the end,
// also on error or Ctrl-C (the sandbox's own hooks). Last, the compiled `tributary local` runs on the same
// servers for a while: the operator process's own RSS and CPU (the benchmark process carries tsx).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { TopologyStatus } from '../src/api/status.js';
import { analyze } from '../src/analyze/findings.js';
import { buildView } from '../src/analyze/view.js';
import { demoManifests } from '../src/cli/commands/demo.js';
import type { PassResult, Reconciler } from '../src/controller/pass.js';
import { createReconciler, loadInputs } from '../src/controller/reconcile.js';
import { rememberChannels } from '../src/plan/decide.js';
import { observeTopology } from '../src/observe/probe.js';
import { planConvergence } from '../src/plan/converge.js';
import { projectStatus } from '../src/report/status.js';
import { createSandbox, type Sandbox, type SandboxFlavor } from '../src/sandbox/index.js';
import { SqlClient, SqlClientPool } from '../src/sql/client.js';
import { gtidOps } from '../src/sql/gtid/index.js';
import { LocalStore } from '../src/store/local.js';
import type { TopologyRef } from '../src/store/store.js';
import { silentLogger } from '../src/util/log.js';
import { stableEqual } from '../src/util/stable.js';
import {
  CpuMeter,
  againstTarget,
  diffPaths,
  envNumber,
  machineLine,
  FLAVOR_LABEL,
  flavorsFromArgs,
  printSideBySide,
  serversRss,
  fullGc,
  labelStatusPath,
  memoryFigures,
  mb,
  ms,
  pathShape,
  rss,
  sleep,
  startInBatches,
  summarize,
  topologyManifests,
  writeManifestFile,
  processCpuSeconds,
  processRssBytes,
  type GroupLayout,
} from './common.js';

interface Scenario {
  key: string;
  label: string;
  servers: number;
  /** Timed steady-state passes. */
  passes: number;
  /** Untimed passes between convergence and the timed loop (JIT, warm pool connections). */
  warmup: number;
  /** Target p50 of one pass (ms). */
  targetP50Ms: number;
  /** Bound on the convergence phase and on the timed loop (each). */
  deadlineMs: number;
  build(flavor: SandboxFlavor): Promise<{ sandbox: Sandbox; docs: unknown[]; startMs: number[] }>;
}

const RSS_TARGET_MB = 80;
/** The operator process runs this long before, and is sampled this many seconds after. */
const OPERATOR_WARMUP_MS = 5000;
const OPERATOR_WINDOW_S = envNumber('BENCH_OPERATOR_SECONDS', 20);
const START_BATCH = 10;
const BREAKDOWN_ITERATIONS = 50;
/** Bound on convergence: passes (each waits at most 500 ms between). */
const MAX_CONVERGE_PASSES = 60;

const WAREHOUSE = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const SHARDS = 9;
const MEMBERS_PER_GROUP = 5;

function fleetNames(): string[] {
  const names: string[] = [];
  for (let s = 1; s <= SHARDS; s++) for (let m = 0; m < MEMBERS_PER_GROUP; m++) names.push(`s${s}-${m}`);
  for (let m = 0; m < MEMBERS_PER_GROUP; m++) names.push(`dw-${m}`);
  return names;
}

const scenarios: Scenario[] = [
  {
    key: 'warehouse',
    label: 'warehouse (5 servers, 3 groups, 2 named channels)',
    servers: 5,
    passes: envNumber('BENCH_PASSES_5', 200),
    warmup: 20,
    targetP50Ms: 15,
    deadlineMs: 120_000,
    async build(flavor) {
      const { sandbox, startMs } = await startedSandbox(flavor, WAREHOUSE);
      return { sandbox, docs: demoManifests(sandbox), startMs };
    },
  },
  {
    key: 'fleet-50',
    label: `fleet-50 (50 servers, ${SHARDS} shard groups + dw, ${SHARDS} named channels)`,
    servers: 50,
    passes: envNumber('BENCH_PASSES_50', 100),
    warmup: 10,
    targetP50Ms: 150,
    deadlineMs: 300_000,
    async build(flavor) {
      const { sandbox, startMs } = await startedSandbox(flavor, fleetNames());
      const group = (prefix: string) => sandbox.servers.filter((s) => s.name.startsWith(`${prefix}-`));
      const groups: GroupLayout[] = [];
      for (let s = 1; s <= SHARDS; s++) groups.push({ name: `shard-${s}`, members: group(`s${s}`) });
      groups.push({
        name: 'dw',
        members: group('dw'),
        channels: Array.from({ length: SHARDS }, (_, i) => ({
          name: `shard_${i + 1}`,
          from: `shard-${i + 1}`,
        })),
      });
      return { sandbox, docs: topologyManifests('fleet-50', 'db', groups), startMs };
    },
  },
];

/** A sandbox whose servers are started START_BATCH at a time; destroyed again when a start fails. */
async function startedSandbox(
  flavor: SandboxFlavor,
  names: string[],
): Promise<{ sandbox: Sandbox; startMs: number[] }> {
  const sandbox = await createSandbox({ flavor, names, start: false });
  try {
    return { sandbox, startMs: await startInBatches(sandbox.servers, START_BATCH) };
  } catch (e) {
    await sandbox.destroy();
    throw e;
  }
}

/** One pass as the loop runs it: reconcile, then write the status when it changed. */
async function pass(
  reconcile: Reconciler,
  store: LocalStore,
  ref: TopologyRef,
): Promise<{ result: PassResult; ms: number; writeMs: number }> {
  const t = performance.now();
  const result = await reconcile(store, ref);
  const elapsed = performance.now() - t;
  if (!result) throw new Error(`${ref.name}: the store no longer holds the topology`);
  if (result.problems?.length) throw new Error(`${ref.name}: ${result.problems.join('; ')}`);
  let writeMs = 0;
  if (result.statusChanged) {
    const w = performance.now();
    await store.writeStatus(ref, result.status, result.status.observedGeneration ?? 0);
    writeMs = performance.now() - w;
  }
  return { result, ms: elapsed, writeMs };
}

/** Counts SqlClient.query calls while fn runs (the bench's own process only). */
async function countQueries<T>(fn: () => Promise<T>): Promise<{ value: T; queries: number }> {
  const original = SqlClient.prototype.query;
  let queries = 0;
  SqlClient.prototype.query = function (this: SqlClient, ...args: Parameters<SqlClient['query']>) {
    queries++;
    return original.apply(this, args);
  } as SqlClient['query'];
  try {
    return { value: await fn(), queries };
  } finally {
    SqlClient.prototype.query = original;
  }
}

async function timeLoop(iterations: number, deadline: number, fn: () => Promise<unknown> | unknown) {
  const samples: number[] = [];
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

/** The figures of one scenario on one flavor, for the side-by-side summary. */
interface Outcome {
  version: string;
  p50: number;
  p95: number;
  /** Mean RSS of one server at the end (bytes). */
  serverRss: number;
  startSeconds: number;
}
const outcomes = new Map<string, Partial<Record<SandboxFlavor, Outcome>>>();

async function run(sc: Scenario, flavor: SandboxFlavor): Promise<void> {
  console.log('');
  console.log(`== ${FLAVOR_LABEL[flavor]}: ${sc.label}; load average ${loadavg()[0]!.toFixed(2)}`);
  const t0 = performance.now();
  const { sandbox, docs, startMs } = await sc.build(flavor);
  const pool = new SqlClientPool();
  try {
    console.log(
      `servers started in ${((performance.now() - t0) / 1000).toFixed(1)} s (batches of ${START_BATCH}: ${startMs.map((t) => (t / 1000).toFixed(1)).join(', ')} s)`,
    );
    const file = writeManifestFile(join(sandbox.dir, 'topology.yaml'), docs);
    const statusFile = join(sandbox.dir, 'status.json');
    writeFileSync(statusFile, '');
    const store = new LocalStore({ files: [file], statusOut: statusFile, log: () => undefined });
    const ref = (await store.list())[0]!;
    const reconcile = createReconciler({ pool, log: silentLogger() });

    // Converge: passes until Ready with nothing executed.
    const tc = performance.now();
    let converged: PassResult | undefined;
    let passes = 0;
    let actions = 0;
    const convergeDeadline = Date.now() + sc.deadlineMs;
    while (passes < MAX_CONVERGE_PASSES && Date.now() < convergeDeadline) {
      const { result } = await pass(reconcile, store, ref);
      passes++;
      actions += result.actionsExecuted;
      if (result.status.phase === 'Ready' && result.actionsExecuted === 0) {
        converged = result;
        break;
      }
      await sleep(Math.min(result.requeueAfterMs, 500));
    }
    if (!converged) throw new Error(`${ref.name} did not converge in ${passes} passes`);
    const s = converged.status.summary;
    console.log(
      `converged in ${((performance.now() - tc) / 1000).toFixed(1)} s: ${passes} passes, ${actions} actions; phase ${converged.status.phase}, ${s?.channels ?? '?'} channels running`,
    );

    for (let i = 0; i < sc.warmup; i++) await pass(reconcile, store, ref);
    fullGc();
    const liveBefore = process.memoryUsage().heapUsed;

    // Timed steady-state passes.
    const latencies: number[] = [];
    let executed = 0;
    let changed = 0;
    let writeMs = 0;
    let before: TopologyStatus | undefined = (await store.get(ref))?.status;
    const changes = new Map<string, { count: number; example: string }>();
    const cpu = new CpuMeter();
    const deadline = Date.now() + sc.deadlineMs;
    for (let i = 0; i < sc.passes && Date.now() < deadline; i++) {
      const r = await pass(reconcile, store, ref);
      latencies.push(r.ms);
      executed += r.result.actionsExecuted;
      if (r.result.statusChanged) {
        changed++;
        writeMs += r.writeMs;
        for (const d of diffPaths(before, r.result.status)) {
          const seen = changes.get(pathShape(d.path)) ?? { count: 0, example: '' };
          seen.count++;
          seen.example = `${labelStatusPath(r.result.status, d.path)}: ${JSON.stringify(d.before)} → ${JSON.stringify(d.after)}`;
          changes.set(pathShape(d.path), seen);
        }
      }
      before = r.result.status;
    }
    const cpuRead = cpu.read();
    const lat = summarize(latencies);
    const cut = lat.n < sc.passes ? `  (cut short at ${lat.n} of ${sc.passes})` : '';
    const mem = memoryFigures();

    console.log('');
    console.log(`steady state: ${lat.n} passes timed after ${sc.warmup} warm-up${cut}`);
    console.log('  pass latency         p50 ms   p95 ms   max ms  mean ms');
    console.log(`                     ${ms(lat.p50)} ${ms(lat.p95)} ${ms(lat.max)} ${ms(lat.mean)}`);
    console.log(`  p50 of one pass:   ${againstTarget(lat.p50, sc.targetP50Ms, 'ms', 2)}`);
    console.log(`  actions executed:  ${executed}  (must be 0 at steady state)`);
    console.log(
      `  status changed:    ${changed} of ${lat.n} passes${changed ? ` (file writes ${writeMs.toFixed(1)} ms in all)` : ''}`,
    );
    for (const [path, c] of changes) console.log(`    ${path}: ${c.count}×, e.g. ${c.example}`);
    console.log(
      `  CPU of this process: ${((cpuRead.cpuSeconds * 1000) / (lat.n || 1)).toFixed(2)} ms per pass, ${((cpuRead.systemSeconds * 1000) / (lat.n || 1)).toFixed(2)} ms of it in the kernel (${((cpuRead.cpuSeconds / cpuRead.wallSeconds) * 100).toFixed(0)}% of one core while timing)`,
    );
    console.log(`  RSS of this benchmark process (tsx + harness), after the run: ${mb(mem.rss)} MB`);
    console.log(
      `    RSS at start (modules loaded, no server yet) ${mb(startRss)} MB; V8 heap ${mb(mem.heapUsed)} MB used of ${mb(mem.heapTotal)} MB, live after a full GC ${mb(mem.liveHeap)} MB (${mb(liveBefore)} MB before the timed passes)`,
    );

    await breakdown(store, ref, pool, sc, latencies.length ? lat.p50 : NaN);
    const version = String(await sandbox.servers[0]!.scalar('SELECT VERSION()'));
    outcomes.set(sc.key, {
      ...outcomes.get(sc.key),
      [flavor]: {
        version,
        p50: lat.p50,
        p95: lat.p95,
        serverRss: serversRss(sandbox.servers) / sandbox.servers.length,
        startSeconds: startMs.reduce((a, b) => a + b, 0) / 1000,
      },
    });
    await operatorProcess(file, statusFile);
  } finally {
    await pool.closeAll();
    await sandbox.destroy();
  }
}

/** Times each step of a pass on its own, with the same store and pool: where a pass spends its time. */
/** The operator's own figures: the compiled `tributary local` (no tsx) reconciling the same servers. */
async function operatorProcess(file: string, statusFile: string): Promise<void> {
  const bin = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'local', '-f', file, '--status-out', statusFile], {
    stdio: 'ignore',
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent' },
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await sleep(OPERATOR_WARMUP_MS);
    const pid = child.pid!;
    const cpu0 = processCpuSeconds(pid) ?? NaN;
    const samples: number[] = [];
    for (let i = 0; i < OPERATOR_WINDOW_S && child.exitCode === null; i++) {
      await sleep(1000);
      samples.push((processRssBytes(pid) ?? NaN) / 1_048_576);
    }
    const cpuPerMin = (((processCpuSeconds(pid) ?? NaN) - cpu0) * 60) / samples.length;
    console.log('');
    console.log(
      `the operator process: \`tributary local\` (compiled), ${samples.length} s after ${OPERATOR_WARMUP_MS / 1000} s warm-up`,
    );
    console.log(
      `  RSS: ${againstTarget(Math.max(...samples), RSS_TARGET_MB, 'MB')} (max of 1 s samples; min ${Math.min(...samples).toFixed(1)} MB)`,
    );
    console.log(`  CPU: ${cpuPerMin.toFixed(2)} s per minute`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function breakdown(
  store: LocalStore,
  ref: TopologyRef,
  pool: SqlClientPool,
  sc: Scenario,
  passP50: number,
): Promise<void> {
  const deadline = Date.now() + sc.deadlineMs;
  const n = BREAKDOWN_ITERATIONS;
  const stored = (await store.get(ref))!;
  const inputs = await loadInputs(store, stored);
  if ('errors' in inputs) throw new Error(inputs.errors.join('; '));
  const observeOpts = { admin: inputs.admin, replicationUser: inputs.replication.username, pool };
  const { value: observation, queries } = await countQueries(() => observeTopology(inputs.spec, observeOpts));
  const reconcileOnce = createReconciler({ pool, log: silentLogger() });
  const { queries: passQueries } = await countQueries(() => reconcileOnce(store, ref));
  const previous = stored.status;
  const journal = previous?.failovers ?? [];
  const pure = () => {
    const view = buildView(inputs.spec, observation, previous);
    const remembered = rememberChannels(inputs.spec, previous, observation);
    const findings = analyze({ view, gtid: gtidOps, remembered });
    const actions = planConvergence(findings, {
      paused: inputs.spec.paused,
      busyGroups: new Set(),
      memberGroup: (m) => view.members.get(m)?.group,
    });
    return { view, remembered, findings, actions };
  };
  const decided = pure();
  const report = () => {
    const status = projectStatus(
      {
        view: decided.view,
        findings: decided.findings,
        generation: stored.generation,
        now: new Date().toISOString(),
        paused: inputs.spec.paused,
        remembered: decided.remembered,
        failovers: journal,
        extraConditions: [],
      },
      previous,
    );
    return stableEqual(status, previous);
  };
  const probeMs = observation.instances.map((i) => i.durationMs ?? NaN).filter(Number.isFinite);
  const steps: [string, Awaited<ReturnType<typeof timeLoop>>][] = [
    ['store.get (stat files, clone spec + status)', await timeLoop(n, deadline, () => store.get(ref))],
    ['loadInputs (zod validation, 2 Secrets)', await timeLoop(n, deadline, () => loadInputs(store, stored))],
    [
      'observe (all probes, in parallel)',
      await timeLoop(n, deadline, () => observeTopology(inputs.spec, observeOpts)),
    ],
    ['analyze + plan (pure)', await timeLoop(n, deadline, pure)],
    ['projectStatus + stableEqual (pure)', await timeLoop(n, deadline, report)],
  ];
  const statusBytes = Buffer.byteLength(JSON.stringify(previous ?? {}));
  const w = performance.now();
  await store.writeStatus(ref, previous!, stored.generation);
  const writeMs = performance.now() - w;

  console.log('');
  console.log(`breakdown: each step on its own, ${n} iterations (pass p50 ${passP50.toFixed(2)} ms)`);
  console.log('  step                                           p50 ms   p95 ms   max ms');
  for (const [name, st] of steps)
    console.log(`  ${name.padEnd(44)} ${ms(st.p50)} ${ms(st.p95)} ${ms(st.max)}`);
  const single = summarize(probeMs);
  console.log(
    `  one probe (per member, while all run at once): p50 ${single.p50.toFixed(2)} ms, max ${single.max.toFixed(2)} ms`,
  );
  console.log(
    `  queries: ${queries} per observe (${(queries / sc.servers).toFixed(1)} per member), ${passQueries} per steady-state pass`,
  );
  console.log(
    `  status: ${(statusBytes / 1024).toFixed(1)} KB as JSON; one status-file write (not done at steady state) ${writeMs.toFixed(2)} ms`,
  );
}

/** RSS once the modules are loaded, before any server or pass (tsx's own loader included). */
const startRss = rss();

async function main(): Promise<void> {
  console.log(
    `bench:reconcile  Node ${process.version}, loopback, one SqlClientPool, in-process reconciler, LocalStore`,
  );
  console.log(`machine: ${machineLine()}`);
  const only = process.env['BENCH_SCENARIO'];
  const chosen = scenarios.filter((sc) => !only || sc.key === only);
  if (chosen.length === 0)
    throw new Error(`BENCH_SCENARIO must be one of ${scenarios.map((sc) => sc.key).join(', ')}`);
  const flavors = flavorsFromArgs();
  for (const flavor of flavors) for (const sc of chosen) await run(sc, flavor);
  const heads: Partial<Record<SandboxFlavor, string>> = {};
  for (const o of outcomes.values())
    for (const f of flavors) if (o[f]) heads[f] = `${FLAVOR_LABEL[f]} ${o[f].version.split('-')[0]}`;
  const rows: [string, Partial<Record<SandboxFlavor, string>>][] = [];
  const cell = (fn: (o: Outcome) => string, key: string) =>
    Object.fromEntries(
      flavors.flatMap((f) => (outcomes.get(key)?.[f] ? [[f, fn(outcomes.get(key)![f]!)]] : [])),
    );
  for (const sc of chosen) {
    rows.push([
      `${sc.key}: steady pass p50, ms (target ≤ ${sc.targetP50Ms})`,
      cell((o) => o.p50.toFixed(2), sc.key),
    ]);
    rows.push([`${sc.key}: steady pass p95, ms`, cell((o) => o.p95.toFixed(2), sc.key)]);
    rows.push([`${sc.key}: RSS of one server, MB`, cell((o) => mb(o.serverRss), sc.key)]);
    rows.push([`${sc.key}: servers started in, s`, cell((o) => o.startSeconds.toFixed(1), sc.key)]);
  }
  printSideBySide('summary (same machine, one run)', heads, rows);
}

main().catch((e: unknown) => {
  console.error(`bench:reconcile failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
