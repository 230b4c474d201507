// bench:operator — what `tributary operator` costs the Kubernetes API server at rest: N copies of the
// design's warehouse topology (5 local MariaDB servers each), each in its own namespace with its two
// Secrets, served by the tests' API server (test/harness/kube-api-server.ts: the CRD from `tributary crd`
// and the topologies in a real apiextensions-apiserver with etcd), and one operator run as the CLI runs it
// (runOperator with leader election, the real reconciler, pollIntervalSeconds 1).
//
// After every topology is Ready at the API server, and a settling pause, a fixed window counts every
// request the API server receives, by verb and resource, and prints requests per topology per minute
// (with and without the Lease renewals of leader election), status writes per minute (target 0), and this
// process's CPU and RSS. Prints figures only; loopback only; every server is removed at the end, also on
// error or Ctrl-C (the sandbox's own hooks).
//
// Environment: BENCH_TOPOLOGIES (default 4), BENCH_WINDOW_SECONDS (default 60), BENCH_SETTLE_SECONDS
// (default 35: the reconciler's 30 s interval for lag/GTID-only status changes, + 5 s).
import { renderCrdYaml } from '../src/api/crd.js';
import type { TopologyStatus } from '../src/api/status.js';
import { demoManifests } from '../src/cli/commands/demo.js';
import { runOperator } from '../src/cli/operator.js';
import { VOLATILE_WRITE_INTERVAL_MS, createReconciler } from '../src/controller/reconcile.js';
import { createSandbox, type Sandbox } from '../src/sandbox/index.js';
import { SqlClientPool } from '../src/sql/client.js';
import type { TopologyRef } from '../src/store/store.js';
import { silentLogger } from '../src/util/log.js';
import {
  KubeApiServer,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../test/harness/kube-api-server.js';
import { CpuMeter, envNumber, machineLine, mb, memoryFigures, sleep, startInBatches } from './common.js';

const TOPOLOGIES_N = Math.trunc(envNumber('BENCH_TOPOLOGIES', 4));
const WINDOW_SECONDS = envNumber('BENCH_WINDOW_SECONDS', 60);
const SETTLE_SECONDS = envNumber('BENCH_SETTLE_SECONDS', VOLATILE_WRITE_INTERVAL_MS / 1000 + 5);
const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const START_BATCH = 10;
const CONVERGE_DEADLINE_MS = 300_000;
/** The target: at most one request per topology per minute at rest, Lease renewals aside. */
const TARGET_PER_TOPOLOGY_MINUTE = 1;

const pad2 = (i: number) => String(i + 1).padStart(2, '0');

function table(counts: Record<string, number>, minutes: number): void {
  const rows = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (rows.length === 0) console.log('    (no request)');
  for (const [what, n] of rows)
    console.log(
      `    ${what.padEnd(34)} ${String(n).padStart(6)}   ${(n / minutes).toFixed(2).padStart(8)}/min   ${(n / minutes / TOPOLOGIES_N).toFixed(3).padStart(8)}/min per topology`,
    );
}

async function main(): Promise<void> {
  console.log(
    `bench:operator  Node ${process.version}, ${TOPOLOGIES_N} topologies × ${MEMBERS.length} servers, pollIntervalSeconds 1, tributary operator --leader-elect against the test API server (real apiextensions-apiserver), loopback`,
  );
  console.log(`machine: ${machineLine()}`);
  const sandboxes: Sandbox[] = [];
  const pool = new SqlClientPool();
  const stop = new AbortController();
  let api: KubeApiServer | undefined;
  let operator: Promise<void> | undefined;
  try {
    for (let i = 0; i < TOPOLOGIES_N; i++)
      sandboxes.push(
        await createSandbox({ names: MEMBERS, start: false, firstServerId: 1 + i * MEMBERS.length }),
      );
    const servers = sandboxes.flatMap((sb) => sb.servers);
    await startInBatches(servers, START_BATCH);
    console.log(`${servers.length} servers started`);

    api = await KubeApiServer.start({ bookmarkIntervalMs: 60_000 });
    await api.applyYaml(renderCrdYaml());
    const refs: TopologyRef[] = [];
    for (const [i, sb] of sandboxes.entries()) {
      const namespace = `bench-${pad2(i)}`;
      const [topology, ...secrets] = demoManifests(sb) as (KObject & {
        stringData?: Record<string, string>;
      })[];
      for (const s of secrets)
        await api.create(SECRETS, secretManifest(namespace, s.metadata.name, s.stringData ?? {}));
      const name = `warehouse-${pad2(i)}`;
      await api.create(TOPOLOGIES, { ...topology!, metadata: { name, namespace } });
      refs.push({ namespace, name });
    }

    const log = silentLogger();
    let enqueue: ((ref: TopologyRef) => void) | undefined;
    operator = runOperator({
      metricsPort: 0,
      healthPort: 0,
      host: '127.0.0.1',
      leaderElect: true,
      leaseNamespace: 'tributary-system',
      reconcile: createReconciler({ pool, log, wake: (ref) => enqueue?.(ref) }),
      onEnqueue: (fn) => (enqueue = fn),
      log,
      kubeConfig: api.kubeConfig(),
      signal: stop.signal,
      handleSignals: false,
    });

    const statusOf = (r: TopologyRef) =>
      api!.get(TOPOLOGIES, r.namespace, r.name)?.status as TopologyStatus | undefined;
    const t0 = performance.now();
    while (!refs.every((r) => statusOf(r)?.phase === 'Ready')) {
      if (performance.now() - t0 > CONVERGE_DEADLINE_MS) {
        const behind = refs.filter((r) => statusOf(r)?.phase !== 'Ready').map((r) => r.name);
        throw new Error(`not Ready after ${CONVERGE_DEADLINE_MS / 1000} s: ${behind.join(', ')}`);
      }
      await sleep(100);
    }
    console.log(
      `Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${api.requests.length} requests so far`,
    );
    const settleFrom = api.requests.length;
    await sleep(SETTLE_SECONDS * 1000);
    const settleMinutes = SETTLE_SECONDS / 60;
    console.log(`settling, ${SETTLE_SECONDS} s after Ready:`);
    table(api.counts(settleFrom), settleMinutes);

    const from = api.requests.length;
    const rvs = refs.map((r) => api!.get(TOPOLOGIES, r.namespace, r.name)?.metadata.resourceVersion);
    const cpu = new CpuMeter();
    await sleep(WINDOW_SECONDS * 1000);
    const cpuRead = cpu.read();
    const minutes = cpuRead.wallSeconds / 60;
    const counts = api.counts(from);
    const total = Object.values(counts).reduce((s, n) => s + n, 0);
    const leases = Object.entries(counts)
      .filter(([k]) => k.endsWith(' leases'))
      .reduce((s, [, n]) => s + n, 0);
    const statusWrites = counts['patch mysqltopologies/status'] ?? 0;
    const perTopology = (total - leases) / minutes / TOPOLOGIES_N;
    const unchanged = refs.filter(
      (r, i) => api!.get(TOPOLOGIES, r.namespace, r.name)?.metadata.resourceVersion === rvs[i],
    ).length;
    const mem = memoryFigures();

    console.log('');
    console.log(
      `at rest, ${cpuRead.wallSeconds.toFixed(1)} s window, requests at the API server by verb and resource:`,
    );
    table(counts, minutes);
    console.log(
      `  requests per topology per minute, Lease renewals aside: ${perTopology.toFixed(3)} (target ≤ ${TARGET_PER_TOPOLOGY_MINUTE}: ${perTopology <= TARGET_PER_TOPOLOGY_MINUTE ? 'ok' : 'MISSED'}); with them: ${(total / minutes / TOPOLOGIES_N).toFixed(3)}`,
    );
    console.log(
      `  status writes: ${statusWrites} (${(statusWrites / minutes).toFixed(2)}/min; target 0: ${statusWrites === 0 ? 'ok' : 'MISSED'}); resourceVersion unchanged over the window: ${unchanged}/${refs.length} topologies`,
    );
    console.log(
      `  refused requests (4xx/5xx): ${api.requests.slice(from).filter((r) => r.status >= 400).length}`,
    );
    console.log(
      `  CPU of this process (operator and API server): ${cpuRead.perMinute.toFixed(2)} s per minute; RSS ${mb(mem.rss)} MB`,
    );
  } finally {
    stop.abort();
    await operator?.catch(() => undefined);
    await pool.closeAll();
    await api?.close();
    await Promise.allSettled(sandboxes.map((sb) => sb.destroy()));
  }
}

main().catch((e: unknown) => {
  console.error(`bench:operator failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
