// bench:operator — what the controller costs at steady state when it watches many topologies: 20 copies of
// the design's warehouse topology (5 servers each, 100 local MariaDB servers in all), pollIntervalSeconds 1,
// one runController loop over one store, one SqlClientPool and one reconciler, as `tributary operator` runs
// them (default concurrency 4, resync every 60 s) — with manifest files instead of the Kubernetes API.
//
// The store: one LocalStore per topology (its own manifest file and status file, in its own namespace),
// behind a small Store that routes by namespace and counts the writes. After every topology has converged
// (a pass with phase Ready and nothing executed), a fixed window measures: this process's RSS and CPU
// seconds per minute, status writes per minute (0 expected: nothing changes), events, and the latency of
// one pass (the loop's onPass durationMs). Prints figures only; loopback only; every server is removed at
// the end, also on error or Ctrl-C (the sandbox's own hooks).
//
// Environment: BENCH_WINDOW_SECONDS (default 60), BENCH_SETTLE_SECONDS (pause between convergence and the
// window, default 35: the reconciler's 30 s interval for thread-state/lag/GTID-only status changes, + 5 s),
// BENCH_TOPOLOGIES (default 20).
import { join } from 'node:path';
import type { TopologyStatus } from '../src/api/status.js';
import { demoManifests } from '../src/cli/commands/demo.js';
import { systemClock, type Clock } from '../src/controller/clock.js';
import { runController, type Controller, type Log, type PassOutcome } from '../src/controller/loop.js';
import { VOLATILE_WRITE_INTERVAL_MS, createReconciler } from '../src/controller/reconcile.js';
import { createSandbox, type Sandbox } from '../src/sandbox/index.js';
import { SqlClientPool } from '../src/sql/client.js';
import { LocalStore } from '../src/store/local.js';
import {
  refKey,
  type StatusWriteOptions,
  type Store,
  type TopologyEvent,
  type TopologyRef,
} from '../src/store/store.js';
import { silentLogger } from '../src/util/log.js';
import {
  CpuMeter,
  RssSampler,
  againstTarget,
  diffPaths,
  envNumber,
  machineLine,
  labelStatusPath,
  mb,
  memoryFigures,
  ms,
  pathShape,
  rss,
  serversCpuSeconds,
  serversRss,
  sleep,
  startInBatches,
  summarize,
  writeManifestFile,
} from './common.js';

const TOPOLOGIES = Math.trunc(envNumber('BENCH_TOPOLOGIES', 20));
const WINDOW_SECONDS = envNumber('BENCH_WINDOW_SECONDS', 60);
/**
 * Between convergence and the window: changes of thread-state text, lag and GTID positions alone are
 * written at most every VOLATILE_WRITE_INTERVAL_MS, so what the converging pass caught mid-catch-up is
 * corrected up to that long after it. The window starts once that has passed.
 */
const SETTLE_SECONDS = envNumber('BENCH_SETTLE_SECONDS', VOLATILE_WRITE_INTERVAL_MS / 1000 + 5);
const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const START_BATCH = 10;
const CONVERGE_DEADLINE_MS = 300_000;
const RSS_TARGET_MB = 80;
/** Status writes of the window listed one by one (what changed). */
const WRITES_LISTED = 12;

/** The loop's clock with sub-millisecond now(), so onPass durations are not rounded to whole ms. */
const clock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  schedule: (msec, fn) => systemClock.schedule(msec, fn),
};

/** Status fields that changed in one write, against the status written before it. */
interface WriteRecord {
  at: number;
  ref: string;
  /** Changed paths, labelled with the channel or instance they belong to. */
  paths: { path: string; shape: string; before: unknown; after: unknown }[];
}

/** Many LocalStores behind one Store (one topology per namespace), counting every write. */
class MultiStore implements Store {
  readonly writes: WriteRecord[] = [];
  readonly events: { at: number; ref: string; event: TopologyEvent }[] = [];
  readonly annotationRemovals: { at: number; ref: string; key: string }[] = [];
  private readonly last = new Map<string, TopologyStatus>();

  constructor(private readonly byNamespace: ReadonlyMap<string, LocalStore>) {}

  private store(namespace: string): LocalStore {
    const s = this.byNamespace.get(namespace);
    if (!s) throw new Error(`no topology in namespace ${namespace}`);
    return s;
  }

  async list(): Promise<TopologyRef[]> {
    return (await Promise.all([...this.byNamespace.values()].map((s) => s.list()))).flat();
  }

  get(ref: TopologyRef) {
    return this.store(ref.namespace).get(ref);
  }

  readSecret(namespace: string, name: string) {
    return this.byNamespace.get(namespace)?.readSecret(namespace, name) ?? Promise.resolve(undefined);
  }

  async writeStatus(
    ref: TopologyRef,
    status: TopologyStatus,
    observedGeneration: number,
    options?: StatusWriteOptions,
  ): Promise<{ resourceVersion?: string }> {
    const key = refKey(ref);
    const before = this.last.get(key);
    const paths = (before ? diffPaths(before, status) : []).map((d) => ({
      ...d,
      shape: pathShape(d.path),
      path: labelStatusPath(status, d.path),
    }));
    this.writes.push({ at: Date.now(), ref: key, paths });
    this.last.set(key, structuredClone(status));
    return this.store(ref.namespace).writeStatus(ref, status, observedGeneration, options);
  }

  async emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void> {
    this.events.push({ at: Date.now(), ref: refKey(ref), event });
    await this.store(ref.namespace).emitEvent(ref, event);
  }

  async removeAnnotation(ref: TopologyRef, key: string): Promise<{ resourceVersion?: string }> {
    this.annotationRemovals.push({ at: Date.now(), ref: refKey(ref), key });
    return this.store(ref.namespace).removeAnnotation(ref, key);
  }
}

/** The loop's log: silent, but warnings and errors are counted and the first few kept. */
function countingLog(): Log & { problems: string[]; count: number } {
  const problems: string[] = [];
  const log = {
    problems,
    count: 0,
    debug() {},
    info() {},
    warn(obj: object, msg?: string) {
      log.count++;
      if (problems.length < 5) problems.push(`warn ${msg ?? ''} ${JSON.stringify(obj)}`);
    },
    error(obj: object, msg?: string) {
      log.count++;
      if (problems.length < 5) problems.push(`error ${msg ?? ''} ${JSON.stringify(obj)}`);
    },
  };
  return log;
}

/** Which status fields each write changed, and the first writes one by one (time from `from`). */
function reportWrites(writes: readonly WriteRecord[], from: number): void {
  if (writes.length === 0) return;
  const fields = new Map<string, number>();
  for (const w of writes) for (const p of w.paths) fields.set(p.shape, (fields.get(p.shape) ?? 0) + 1);
  console.log(`    fields changed: ${[...fields].map(([f, n]) => `${f} ${n}×`).join(', ')}`);
  for (const w of writes.slice(0, WRITES_LISTED)) {
    const what = w.paths
      .slice(0, 3)
      .map((p) => `${p.path}: ${JSON.stringify(p.before)} → ${JSON.stringify(p.after)}`)
      .join('; ');
    console.log(`    +${((w.at - from) / 1000).toFixed(1)} s ${w.ref} ${what || '(first write)'}`);
  }
  if (writes.length > WRITES_LISTED) console.log(`    … and ${writes.length - WRITES_LISTED} more`);
}

const pad2 = (i: number) => String(i + 1).padStart(2, '0');

async function main(): Promise<void> {
  const startRss = rss();
  console.log(
    `bench:operator  Node ${process.version}, ${TOPOLOGIES} topologies × ${MEMBERS.length} servers, pollIntervalSeconds 1, one runController, loopback`,
  );
  console.log(`machine: ${machineLine()}`);
  const sandboxes: Sandbox[] = [];
  const pool = new SqlClientPool();
  const abort = new AbortController();
  let loopDone: Promise<void> | undefined;
  try {
    // Servers: every sandbox prepared first (data directories copied), then started 10 at a time.
    const t0 = performance.now();
    for (let i = 0; i < TOPOLOGIES; i++)
      sandboxes.push(
        await createSandbox({ names: MEMBERS, start: false, firstServerId: 1 + i * MEMBERS.length }),
      );
    const prepared = performance.now() - t0;
    const servers = sandboxes.flatMap((sb) => sb.servers);
    const batches = await startInBatches(servers, START_BATCH);
    const started = performance.now() - t0;
    const b = summarize(batches);
    console.log(
      `${servers.length} servers: data directories ready in ${(prepared / 1000).toFixed(1)} s, started in ${((started - prepared) / 1000).toFixed(1)} s (${batches.length} batch${batches.length === 1 ? '' : 'es'} of ${START_BATCH}: p50 ${(b.p50 / 1000).toFixed(1)} s, max ${(b.max / 1000).toFixed(1)} s); servers' RSS ${mb(serversRss(servers))} MB in all`,
    );

    // One LocalStore per topology, in its own namespace.
    const byNamespace = new Map<string, LocalStore>();
    for (const [i, sb] of sandboxes.entries()) {
      const namespace = `bench-${pad2(i)}`;
      const docs = demoManifests(sb) as { metadata: { name: string; namespace: string } }[];
      for (const d of docs) d.metadata.namespace = namespace;
      docs[0]!.metadata.name = `warehouse-${pad2(i)}`;
      const file = writeManifestFile(join(sb.dir, 'topology.yaml'), docs);
      byNamespace.set(
        namespace,
        new LocalStore({ files: [file], statusOut: join(sb.dir, 'status.json'), log: () => undefined }),
      );
    }
    const store = new MultiStore(byNamespace);
    const refs = await store.list();

    // The loop, as the operator runs it.
    const log = countingLog();
    const last = new Map<string, PassOutcome>();
    let window: { from: number; outcomes: PassOutcome[] } | undefined;
    let convergePasses = 0;
    let convergeActions = 0;
    const loop: { controller?: Controller } = {};
    // As the operator wires it: a broken member connection wakes the topology's pass at once.
    const reconcile = createReconciler({
      pool,
      log: silentLogger(),
      wake: (ref) => loop.controller?.enqueue(ref),
    });
    const controller = runController({
      store,
      reconcile,
      log,
      clock,
      signal: abort.signal,
      onPass: (o) => {
        last.set(refKey(o.ref), o);
        if (window) window.outcomes.push(o);
        else {
          convergePasses++;
          convergeActions += o.result?.actionsExecuted ?? 0;
        }
      },
    });
    loop.controller = controller;
    loopDone = controller.done;

    const tc = performance.now();
    const steady = (o: PassOutcome | undefined) =>
      o?.result?.status.phase === 'Ready' && o.result.actionsExecuted === 0 && o.error === undefined;
    while (!refs.every((r) => steady(last.get(refKey(r))))) {
      if (performance.now() - tc > CONVERGE_DEADLINE_MS) {
        const behind = refs.filter((r) => !steady(last.get(refKey(r)))).map((r) => r.name);
        throw new Error(`not converged after ${CONVERGE_DEADLINE_MS / 1000} s: ${behind.join(', ')}`);
      }
      await sleep(100);
    }
    console.log(
      `converged in ${((performance.now() - tc) / 1000).toFixed(1)} s: ${convergePasses} passes, ${convergeActions} actions, ${store.writes.length} status writes, ${store.events.length} events`,
    );

    // Settle: the deferred corrections of the converging passes' snapshots land here.
    const settleFrom = Date.now();
    const settleWritesFrom = store.writes.length;
    await sleep(SETTLE_SECONDS * 1000);
    const settleWrites = store.writes.slice(settleWritesFrom);
    console.log(
      `settling for ${SETTLE_SECONDS} s after convergence: ${settleWrites.length} status write${settleWrites.length === 1 ? '' : 's'}, ${store.events.length} events in all so far`,
    );
    reportWrites(settleWrites, settleFrom);

    // The steady-state window.
    const writesBefore = store.writes.length;
    const eventsBefore = store.events.length;
    const removalsBefore = store.annotationRemovals.length;
    const problemsBefore = log.count;
    const serversCpuBefore = serversCpuSeconds(servers);
    const sampler = new RssSampler(1000);
    const cpu = new CpuMeter();
    const windowFrom = Date.now();
    window = { from: windowFrom, outcomes: [] };
    await sleep(WINDOW_SECONDS * 1000);
    const outcomes = window.outcomes;
    window = undefined;
    const cpuRead = cpu.read();
    const serversCpu = serversCpuSeconds(servers) - serversCpuBefore;
    const rssWindow = sampler.stop();
    const mem = memoryFigures();

    // The servers' own CPU without the loop (replication heartbeats, background threads), for comparison.
    abort.abort();
    await loopDone;
    const idleSeconds = Math.min(15, WINDOW_SECONDS / 2);
    const idleFrom = serversCpuSeconds(servers);
    await sleep(idleSeconds * 1000);
    const serversIdleCpu = serversCpuSeconds(servers) - idleFrom;

    const minutes = cpuRead.wallSeconds / 60;
    const writes = store.writes.slice(writesBefore);
    const events = store.events.slice(eventsBefore);
    const lat = summarize(outcomes.map((o) => o.durationMs));
    const failed = outcomes.filter((o) => o.error !== undefined).length;
    const actions = outcomes.reduce((s, o) => s + (o.result?.actionsExecuted ?? 0), 0);
    const counts = refs.map((r) => outcomes.filter((o) => refKey(o.ref) === refKey(r)).length);
    const perTopology = summarize(counts.map((n) => n / cpuRead.wallSeconds));

    console.log('');
    console.log(`steady state, ${cpuRead.wallSeconds.toFixed(1)} s window:`);
    console.log(
      `  passes: ${outcomes.length} (${(outcomes.length / cpuRead.wallSeconds).toFixed(1)}/s; per topology p50 ${perTopology.p50.toFixed(2)}/s, fewest ${Math.min(...counts)} passes), ${failed} failed, ${actions} actions executed`,
    );
    console.log('  pass latency (onPass durationMs)   p50 ms   p95 ms   max ms  mean ms');
    console.log(
      `                                   ${ms(lat.p50)} ${ms(lat.p95)} ${ms(lat.max)} ${ms(lat.mean)}`,
    );
    console.log(
      `  status writes: ${writes.length} (${(writes.length / minutes).toFixed(1)}/min; target 0/min: ${writes.length === 0 ? 'ok' : 'MISSED'})`,
    );
    reportWrites(writes, windowFrom);
    console.log(
      `  events: ${events.length}${events.length ? ` (${[...new Set(events.map((e) => e.event.reason))].join(', ')})` : ''}; annotation removals: ${store.annotationRemovals.length - removalsBefore}; loop warnings/errors: ${log.count - problemsBefore}`,
    );
    for (const p of log.problems) console.log(`    ${p}`);
    console.log(
      `  CPU of this process: ${cpuRead.perMinute.toFixed(2)} s per minute (${((cpuRead.systemSeconds / cpuRead.cpuSeconds) * 100).toFixed(0)}% in the kernel; ${((cpuRead.cpuSeconds * 1000) / (outcomes.length || 1)).toFixed(2)} ms per pass)`,
    );
    console.log(
      `  CPU of the ${servers.length} mariadbd: ${(serversCpu / minutes).toFixed(2)} s per minute in all during the window; ${((serversIdleCpu / idleSeconds) * 60).toFixed(2)} s per minute over ${idleSeconds} s with the loop stopped`,
    );
    console.log(
      `  RSS of this process: ${againstTarget(mem.rss / 1_048_576, RSS_TARGET_MB, 'MB')} at the end of the window; p50 ${mb(rssWindow.p50)} MB, max ${mb(rssWindow.max)} MB over it (sampled every second)`,
    );
    console.log(
      `    RSS at start (modules loaded, no server yet) ${mb(startRss)} MB; V8 heap ${mb(mem.heapUsed)} MB used of ${mb(mem.heapTotal)} MB, live after a full GC ${mb(mem.liveHeap)} MB; ${pool.size} SQL clients`,
    );
  } finally {
    abort.abort();
    await loopDone;
    await pool.closeAll();
    await Promise.allSettled(sandboxes.map((sb) => sb.destroy()));
  }
}

main().catch((e: unknown) => {
  console.error(`bench:operator failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
