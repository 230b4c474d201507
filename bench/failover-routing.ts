// bench:failover (d) — traffic follows the primary (issue 17's figures). One group, shard-a (a-0, a-1, a-2),
// the demo's failover spec (pollIntervalSeconds 1, downAfterSeconds 1, failureThreshold 3), the controller
// as the operator runs it (runController, wake-up on a broken connection) with both routing targets in the
// operator's order: the EndpointSlices (createKubernetesEndpoints against the tests' API server, the
// topology created there so its slices have an owner uid), then the HAProxy hook (deploy/routing/haproxy/,
// run through the shell as --routing-hook runs it) in front of the servers: by default persistent (its
// `--serve` mode, one process answering a line per step, as --routing-hook-persistent runs it);
// BENCH_ROUTING_HOOK=exec runs it per step (a process per step). An application writes through
// HAProxy's writer port only: one connection, one INSERT every LOAD_PAUSE_MS as the account `app` (no
// SUPER: read_only refuses it), a new id per attempt; a dropped connection is reopened at once. Each row
// records the server that executed it (@@port) and when (NOW(6) there).
//
// Each trial is a fresh sandbox, HAProxy and topology:
//   1. switchover a-0 → a-1 (the annotation, as a person asks for it) under that load: the write pause (the
//      longest gap between two acknowledged writes around it), acknowledged writes missing on a-1, and rows
//      a-0 executed after the drain step ended (the end of the hook's drain run: HAProxy in maint, sessions
//      cut). Targets: pause p50 ≤ 1 s, 0 lost, 0 after the drain.
//   2. kill -9 of a-1 (the primary now) at a random point of the poll cycle: from the kill, the writer
//      Service's EndpointSlices holding exactly the new primary, ready (the API server's store), HAProxy's
//      writer slot at its address, ready (`show servers state`), each polled on its own every ~5 ms, and the
//      first write acknowledged through HAProxy that the new primary executed. Targets: window + 200 ms and
//      window + 500 ms (p50).
//   3. SIGSTOP of that new primary (alive but frozen) after the kill's failover is acknowledged (the
//      cooldown lifted with tributary.dev/ack-failover, as a person does), thawed once the last member took
//      over and the application wrote there: rows the thawed server executed after its drain ended, split
//      by when the application sent them: after the drain (routed to a drained primary: target 0), or
//      before it (in flight to the frozen server, executed when it thawed: never acknowledged).
// Loopback only; HAProxy, the sandbox and the API server's objects are gone after each trial, also on error.
import type { Connection } from 'mysql2/promise';
import { createConnection } from 'mysql2/promise';
import { join } from 'node:path';
import { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER } from '../src/api/annotations.js';
import { renderCrdYaml } from '../src/api/crd.js';
import type { FailoverRecord, TopologyStatus } from '../src/api/status.js';
import { DEMO_FAILOVER } from '../src/cli/commands/demo.js';
import { runController, type Controller } from '../src/controller/loop.js';
import { createReconciler } from '../src/controller/reconcile.js';
import { routingHook, type RoutingHook } from '../src/execute/routing-hook.js';
import type { RoutingTarget } from '../src/execute/routing.js';
import type { RoutingOp } from '../src/plan/routing.js';
import {
  createSandbox,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxFlavor,
} from '../src/sandbox/index.js';
import { SqlClientPool } from '../src/sql/client.js';
import { createKubernetesEndpoints } from '../src/store/endpoints.js';
import { LocalStore } from '../src/store/local.js';
import { silentLogger } from '../src/util/log.js';
import { silentLog } from '../src/util/log-sink.js';
import { APP_PASSWORD, APP_USER } from '../test/harness/app.js';
import { HOOK_SCRIPT, startHaproxy, type Haproxy } from '../test/harness/haproxy.js';
import { ENDPOINT_SLICES, KubeApiServer, TOPOLOGIES, type KObject } from '../test/harness/kube-api-server.js';
import {
  FLAVOR_LABEL,
  envNumber,
  sleep,
  summarize,
  summaryCells,
  until,
  untilSchemaOn,
  writeManifestFile,
} from './common.js';

const NS = 'db';
const TOPOLOGY = 'warehouse';
const GROUP = 'shard-a';
const MEMBERS = ['a-0', 'a-1', 'a-2'];
const WRITER = `${TOPOLOGY}-${GROUP}-primary`;
const READERS = `${TOPOLOGY}-${GROUP}-replicas`;
/** The declared detection window (spec.failover.downAfterSeconds of the demo): never shortened. */
export const ROUTING_WINDOW_MS = 1000 * DEMO_FAILOVER.downAfterSeconds;
/** How the HAProxy hook runs: persistent (`--serve`, the default) or exec (a process per step). */
export type RoutingHookMode = 'persistent' | 'exec';

export function routingHookModeFromEnv(): RoutingHookMode {
  const v = process.env.BENCH_ROUTING_HOOK ?? 'persistent';
  if (v !== 'persistent' && v !== 'exec')
    throw new Error(`BENCH_ROUTING_HOOK must be persistent or exec, not ${JSON.stringify(v)}`);
  return v;
}

/** Issue 17's targets. */
const ENDPOINT_TARGET_MS = ROUTING_WINDOW_MS + 200;
const FIRST_WRITE_TARGET_MS = ROUTING_WINDOW_MS + 500;
const PAUSE_TARGET_MS = 1000;
/** The application: one INSERT, then this pause; a failed connect or write is retried after it too. */
const LOAD_PAUSE_MS = 5;
const APP_CONNECT_TIMEOUT_MS = 2000;
const APP_QUERY_TIMEOUT_MS = 5000;
const POLL_INTERVAL_MS = 1000;
const PRE_KILL_MS = 300;
const POLL_EVERY_MS = 5;
/** Writes acknowledged on the new route before the next step (and after the switchover, to close its gap). */
const SETTLE_WRITES = 50;
/** After the thaw: time for the thawed server to run what its sockets held. */
const THAWED_MS = 2000;
const READY_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 30_000;
const ROWS_TIMEOUT_MS = 15_000;

export interface RoutingTrial {
  error?: string;
  /** The servers' VERSION(). */
  version?: string;
  setupMs: number;
  /** Switchover: longest gap between two acknowledged writes around it (ms), acknowledged writes then. */
  pause: number;
  swAcked: number;
  /** Acknowledged writes (before the kill) that a-1, the switchover's target, lacks. */
  swLost: number;
  /** Rows a-0 executed after its drain step ended (switchover). */
  afterDrain: number;
  /** Switchover requested → the hook's drain ended / route ended (ms). */
  swDrained: number;
  swRouted: number;
  /** Kill -9 of a-1, ms from the kill (NaN when not seen). */
  decided: number;
  writable: number;
  slice: number;
  haproxy: number;
  firstWrite: number;
  /** The hook's runs for the kill's failover, ms from the kill: drain start/end, route start/end. */
  drainRun: [number, number];
  routeRun: [number, number];
  /** Acknowledged through HAProxy by a-1 and on no survivor (asynchronous replication; informational). */
  unshipped: number;
  /** SIGSTOP, ms from the freeze: Decided, HAProxy at the last member, journal Done. */
  stopDecided: number;
  stopDone: number;
  stopHaproxy: number;
  /** Rows the thawed server executed after its drain: sent after the drain / sent before it (in flight). */
  stopAfterDrain: number;
  stopInFlight: number;
  /** Durations of the hook's steps (ms; persistent: request → answer), every step of the trial. */
  hookMs: number[];
}

interface HookRun {
  op: RoutingOp;
  failover?: string;
  member?: string;
  start: number;
  end: number;
}

interface Ack {
  id: number;
  at: number;
}

/** The application of the figures: writes through one address (HAProxy's writer port) only. */
interface RoutedApp {
  readonly acks: Ack[];
  /** When each attempt was sent, by id. */
  readonly sent: Map<number, number>;
  stop(): Promise<void>;
}

function startRoutedApp(port: number, firstId: number): RoutedApp {
  const acks: Ack[] = [];
  const sent = new Map<number, number>();
  let stopped = false;
  const done = (async () => {
    let conn: Connection | undefined;
    let id = firstId;
    const deadline = Date.now() + 10 * 60_000;
    while (!stopped && Date.now() < deadline) {
      try {
        if (!conn) {
          conn = await createConnection({
            host: '127.0.0.1',
            port,
            user: APP_USER,
            password: APP_PASSWORD,
            connectTimeout: APP_CONNECT_TIMEOUT_MS,
          });
          conn.on('error', () => undefined); // a dropped connection surfaces in the next query
        }
        const n = id++; // a new id per attempt: an attempt of unknown outcome never collides with a retry
        sent.set(n, Date.now());
        await conn.query({
          sql: 'INSERT INTO shop.orders (id, port) VALUES (?, @@port)',
          values: [n],
          timeout: APP_QUERY_TIMEOUT_MS,
        });
        acks.push({ id: n, at: Date.now() });
      } catch {
        conn?.destroy();
        conn = undefined;
      }
      await sleep(LOAD_PAUSE_MS);
    }
    conn?.destroy();
  })();
  return {
    acks,
    sent,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** HAProxy's writer slot points at the port (127.0.0.1) and is ready. */
async function haproxyAt(h: Haproxy, port: number): Promise<boolean> {
  const slot = (await h.serverStates(WRITER).catch(() => [])).find((s) => s.name === 'writer');
  return slot?.addr === '127.0.0.1' && slot.port === port && slot.state === 'ready';
}

/** The writer Service's slices hold exactly 127.0.0.1 at the port, ready (read from the API server's store). */
function sliceAt(api: KubeApiServer, port: number): boolean {
  const eps = api
    .list(ENDPOINT_SLICES, NS)
    .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === WRITER)
    .flatMap((s) => {
      const p = (s['ports'] as { port?: number }[] | undefined)?.[0]?.port;
      const list = (s['endpoints'] as { addresses: string[]; conditions?: { ready?: boolean } }[]) ?? [];
      return list.flatMap((e) => e.addresses.map((a) => ({ a, p, ready: e.conditions?.ready !== false })));
    });
  return eps.length > 0 && eps.every((e) => e.a === '127.0.0.1' && e.p === port && e.ready);
}

/** Polls a check every few ms, on its own (a slow check never delays another's sample): when it first held. */
async function firstTrue(
  deadline: number,
  check: () => Promise<string | undefined> | string | undefined,
): Promise<{ at: number; who: string } | undefined> {
  while (Date.now() < deadline) {
    const who = await check();
    if (who !== undefined) return { at: Date.now(), who };
    await sleep(POLL_EVERY_MS);
  }
  return undefined;
}

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** The rows a server holds: id → the port of the server that executed it, and when (ms). */
async function rowsOf(sb: Sandbox, member: string): Promise<Map<number, { port: number; at: number }>> {
  const rows = await sb
    .server(member)
    .sql('SELECT id, port, UNIX_TIMESTAMP(at) * 1000 AS ms FROM shop.orders');
  return new Map(rows.map((r) => [Number(r.id), { port: Number(r.port), at: Number(r.ms) }]));
}

/** One trial on a fresh sandbox; `api` is shared by the trials (reset after each). */
export async function runRoutingTrial(flavor: SandboxFlavor, api: KubeApiServer): Promise<RoutingTrial> {
  const trial: RoutingTrial = {
    setupMs: NaN,
    pause: NaN,
    swAcked: 0,
    swLost: 0,
    afterDrain: 0,
    swDrained: NaN,
    swRouted: NaN,
    decided: NaN,
    writable: NaN,
    slice: NaN,
    haproxy: NaN,
    firstWrite: NaN,
    drainRun: [NaN, NaN],
    routeRun: [NaN, NaN],
    unshipped: 0,
    stopDecided: NaN,
    stopHaproxy: NaN,
    stopDone: NaN,
    stopAfterDrain: 0,
    stopInFlight: 0,
    hookMs: [],
  };
  const t0 = Date.now();
  let sb: Sandbox | undefined;
  let h: Haproxy | undefined;
  let hook: RoutingHook | undefined;
  let controller: Controller | undefined;
  let app: RoutedApp | undefined;
  const abort = new AbortController();
  const pool = new SqlClientPool();
  const conns: Connection[] = [];
  try {
    sb = await createSandbox({ flavor, names: MEMBERS });
    const s = sb;
    h = await startHaproxy({ backends: [{ writer: WRITER, readers: READERS }] });
    const proxy = h;
    trial.setupMs = Date.now() - t0;
    const port = (m: string) => s.server(m).port;
    const manifests = sandboxManifests({
      name: TOPOLOGY,
      namespace: NS,
      spec: {
        flavor: 'auto',
        failover: DEMO_FAILOVER,
        groups: [{ name: GROUP, members: MEMBERS.map((m) => sandboxMember(s, m)) }],
      },
    });
    const file = writeManifestFile(join(s.dir, 'warehouse.yaml'), manifests);
    const local = new LocalStore({ files: [file], statusOut: join(s.dir, 'status.json'), log: () => {} });
    const ref = { namespace: NS, name: TOPOLOGY };
    const uid = (await api.create(TOPOLOGIES, manifests[0] as KObject)).metadata.uid;

    const endpoints = createKubernetesEndpoints(api.kubeConfig(NS), { namespace: NS });
    const watch = endpoints.watch({
      signal: abort.signal,
      enqueue: (r) => controller?.enqueue(r),
      uidOf: async () => uid,
    });
    await watch.whenSynced;
    const hookRuns: HookRun[] = [];
    const persistent = routingHookModeFromEnv() === 'persistent';
    hook = routingHook({
      command: `HAPROXY_RUNTIME=${q(proxy.runtime)} ${q(process.execPath)} ${q(HOOK_SCRIPT)}${persistent ? ' --serve' : ''}`,
      persistent,
      log: silentLogger(),
    });
    const inner = hook;
    const timedHook: RoutingTarget = {
      name: inner.name,
      async apply(r, step) {
        const start = Date.now();
        try {
          await inner.apply(r, step);
        } finally {
          hookRuns.push({
            op: step.op,
            ...(step.failover ? { failover: step.failover } : {}),
            ...(step.members[0] ? { member: step.members[0].name } : {}),
            start,
            end: Date.now(),
          });
        }
      },
    };
    controller = runController({
      store: local,
      // As the operator: EndpointSlices first, then the hook; a broken connection asks for a pass at once.
      reconcile: createReconciler({
        pool,
        log: silentLogger(),
        wake: (r) => controller?.enqueue(r),
        routing: {
          targets: [endpoints, timedHook],
          observe: (r, spec) => endpoints.observe(r, spec.groups),
        },
      }),
      log: silentLog,
      signal: abort.signal,
    });
    const status = async (): Promise<TopologyStatus | undefined> => (await local.get(ref))?.status;
    const record = async (pick: (r: FailoverRecord) => boolean) => (await status())?.failovers.find(pick);
    const readers = async () =>
      (await status())?.groups.find((g) => g.name === GROUP)?.routing?.readers ?? [];
    const hookRun = (rec: FailoverRecord, op: RoutingOp) =>
      hookRuns.find((r) => r.failover === rec.id && r.op === op && (op !== 'route' || r.member === rec.to));

    await until(
      'Ready and routed to a-0',
      READY_TIMEOUT_MS,
      async () =>
        (await status())?.phase === 'Ready' &&
        sliceAt(api, port('a-0')) &&
        (await haproxyAt(proxy, port('a-0'))),
    );
    trial.version = String(await s.server('a-0').scalar('SELECT VERSION()'));
    await s.server('a-0').sql('CREATE DATABASE shop');
    await s
      .server('a-0')
      .sql(
        'CREATE TABLE shop.orders (id INT PRIMARY KEY, port INT NOT NULL, at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))',
      );
    await s.server('a-0').sql(`CREATE USER '${APP_USER}'@'%' IDENTIFIED BY '${APP_PASSWORD}'`);
    await s.server('a-0').sql(`GRANT SELECT, INSERT ON shop.* TO '${APP_USER}'@'%'`);
    await untilSchemaOn(
      ['a-1', 'a-2'].map((m) => s.server(m)),
      'shop',
      ROWS_TIMEOUT_MS,
    );
    const running = startRoutedApp(proxy.writerPort(WRITER), 1);
    app = running;
    const acked = (n: number) =>
      until(`${n} writes acknowledged`, STEP_TIMEOUT_MS, () => running.acks.length >= n);
    await acked(SETTLE_WRITES);

    // ---- 1. switchover a-0 → a-1 under load ----
    const swAt = Date.now();
    local.setAnnotation(ANNOTATION_SWITCHOVER, `${GROUP}=a-1`);
    controller.enqueue(ref);
    await until(
      'switchover Done and routed to a-1',
      STEP_TIMEOUT_MS,
      async () =>
        Boolean(await record((r) => r.reason === 'Switchover' && r.phase === 'Done')) &&
        sliceAt(api, port('a-1')) &&
        (await haproxyAt(proxy, port('a-1'))),
    );
    const sw = (await record((r) => r.reason === 'Switchover'))!;
    if (sw.to !== 'a-1') throw new Error(`switchover went to ${sw.to}`);
    await acked(running.acks.length + SETTLE_WRITES);
    const swAcks = running.acks.filter((a) => a.at >= swAt - 1000);
    trial.pause = Math.max(0, ...swAcks.slice(1).map((a, i) => a.at - swAcks[i]!.at));
    const swDrain = hookRun(sw, 'drain');
    trial.swDrained = swDrain ? swDrain.end - swAt : NaN;
    trial.swRouted = (hookRun(sw, 'route')?.end ?? NaN) - swAt;
    if (!swDrain) throw new Error('the switchover ran no drain through the hook');
    const before = [...running.acks];
    trial.swAcked = before.length;
    const missing = async () => {
      const on = await rowsOf(s, 'a-1');
      return before.filter((a) => !on.has(a.id)).length;
    };
    await until('acknowledged writes on a-1', ROWS_TIMEOUT_MS, async () => (await missing()) === 0).catch(
      () => undefined,
    );
    trial.swLost = await missing();
    trial.afterDrain = [...(await rowsOf(s, 'a-0')).values()].filter(
      (r) => r.port === port('a-0') && r.at >= swDrain.end,
    ).length;
    // Both replicas back in the reader set: they replicate from a-1 again, so either may be promoted.
    await until('both replicas read from again', READY_TIMEOUT_MS, async () => {
      const r = await readers();
      return (await status())?.phase === 'Ready' && r.includes('a-0') && r.includes('a-2');
    });

    // ---- 2. kill -9 of a-1 ----
    const survivors = ['a-0', 'a-2'];
    const admins = new Map<string, Connection>();
    for (const m of survivors) {
      const c = await s.server(m).admin();
      conns.push(c);
      admins.set(m, c);
    }
    await sleep(PRE_KILL_MS + Math.random() * POLL_INTERVAL_MS);
    const killAt = Date.now();
    await s.server('a-1').kill9();
    const deadline = killAt + STEP_TIMEOUT_MS;
    const [sliceSeen, haproxySeen, writableSeen] = await Promise.all([
      firstTrue(deadline, () => survivors.find((m) => sliceAt(api, port(m)))),
      firstTrue(deadline, async () => {
        for (const m of survivors) if (await haproxyAt(proxy, port(m))) return m;
        return undefined;
      }),
      firstTrue(deadline, async () => {
        for (const m of survivors) {
          const [rows] = await admins.get(m)!.query({ sql: 'SELECT @@read_only AS ro', timeout: 2000 });
          if (Number((rows as { ro: unknown }[])[0]?.ro) === 0) return m;
        }
        return undefined;
      }),
    ]);
    trial.slice = (sliceSeen?.at ?? NaN) - killAt;
    trial.haproxy = (haproxySeen?.at ?? NaN) - killAt;
    trial.writable = (writableSeen?.at ?? NaN) - killAt;
    await acked(running.acks.length + SETTLE_WRITES);
    await until('the failover Done', STEP_TIMEOUT_MS, async () =>
      Boolean(await record((r) => r.reason === 'DeadPrimary' && r.from === 'a-1' && r.phase === 'Done')),
    );
    const rec = (await record((r) => r.reason === 'DeadPrimary' && r.from === 'a-1'))!;
    const next = rec.to;
    const last = survivors.find((m) => m !== next)!;
    if (!survivors.includes(next)) throw new Error(`the failover promoted ${next}`);
    if (sliceSeen?.who !== next || haproxySeen?.who !== next)
      throw new Error(`endpoints at ${sliceSeen?.who}/${haproxySeen?.who}, the failover promoted ${next}`);
    if (rec.phaseTimes.Decided) trial.decided = Date.parse(rec.phaseTimes.Decided) - killAt;
    const rel = (r: HookRun | undefined): [number, number] => [
      (r?.start ?? NaN) - killAt,
      (r?.end ?? NaN) - killAt,
    ];
    trial.drainRun = rel(hookRun(rec, 'drain'));
    trial.routeRun = rel(hookRun(rec, 'route'));
    const onNext = await rowsOf(s, next);
    const first = running.acks.find((a) => a.at >= killAt && onNext.get(a.id)?.port === port(next));
    trial.firstWrite = first ? first.at - killAt : NaN;
    trial.unshipped = running.acks.filter((a) => !onNext.has(a.id)).length;

    // ---- 3. SIGSTOP of the new primary, after the failover is acknowledged ----
    local.setAnnotation(ANNOTATION_ACK_FAILOVER, GROUP);
    controller.enqueue(ref);
    await until('the failover acknowledged, the last member reading', STEP_TIMEOUT_MS, async () =>
      Boolean(
        (await record((r) => r.id === rec.id && r.acknowledged === true)) && (await readers()).includes(last),
      ),
    );
    await acked(running.acks.length + SETTLE_WRITES);
    await sleep(PRE_KILL_MS + Math.random() * POLL_INTERVAL_MS);
    const freezeAt = Date.now();
    s.server(next).freeze();
    let thawed = false;
    try {
      const moved = await firstTrue(freezeAt + 2 * STEP_TIMEOUT_MS, async () =>
        (await haproxyAt(proxy, port(last))) ? last : undefined,
      );
      trial.stopHaproxy = (moved?.at ?? NaN) - freezeAt;
      await until('the SIGSTOP failover Done', STEP_TIMEOUT_MS, async () =>
        Boolean(await record((r) => r.reason === 'DeadPrimary' && r.from === next && r.phase === 'Done')),
      );
      await acked(running.acks.length + SETTLE_WRITES);
      s.server(next).thaw();
      thawed = true;
      await sleep(THAWED_MS);
    } finally {
      if (!thawed) s.server(next).thaw();
    }
    await running.stop();
    const stopRec = (await record((r) => r.reason === 'DeadPrimary' && r.from === next))!;
    if (stopRec.phaseTimes.Decided) trial.stopDecided = Date.parse(stopRec.phaseTimes.Decided) - freezeAt;
    if (stopRec.phaseTimes.Done) trial.stopDone = Date.parse(stopRec.phaseTimes.Done) - freezeAt;
    const stopDrain = hookRun(stopRec, 'drain');
    if (!stopDrain) throw new Error('the SIGSTOP failover ran no drain through the hook');
    const late = [...(await rowsOf(s, next)).entries()].filter(
      ([, r]) => r.port === port(next) && r.at >= stopDrain.end,
    );
    trial.stopAfterDrain = late.filter(([id]) => (running.sent.get(id) ?? 0) >= stopDrain.end).length;
    trial.stopInFlight = late.length - trial.stopAfterDrain;
    trial.hookMs = hookRuns.map((r) => r.end - r.start);
    return trial;
  } catch (e) {
    trial.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return trial;
  } finally {
    await app?.stop().catch(() => undefined);
    abort.abort();
    await controller?.done;
    for (const c of conns) c.destroy();
    await pool.closeAll().catch(() => undefined);
    await hook?.close();
    await h?.stop();
    await sb?.destroy();
    await api.reset();
  }
}

/** The API server the trials share: the test harness's, with the CRD (started once per run). */
export async function startRoutingApi(): Promise<KubeApiServer> {
  const api = await KubeApiServer.start({ bookmarkIntervalMs: 1000 });
  await api.applyYaml(renderCrdYaml());
  return api;
}

export function routingTrialsFromEnv(): number {
  const n = envNumber('BENCH_ROUTING_TRIALS', 3);
  if (!Number.isInteger(n) || n > 100)
    throw new Error(`BENCH_ROUTING_TRIALS must be a whole number 1–100, not ${n}`);
  return n;
}

/** The hook's mode as the output names it. */
const hookLabel = () =>
  routingHookModeFromEnv() === 'persistent'
    ? 'persistent, --serve'
    : 'a process per step, BENCH_ROUTING_HOOK=exec';

const fmt = (v: number, width = 7) => (Number.isFinite(v) ? v.toFixed(0) : '-').padStart(width);
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

export function printRouting(trials: RoutingTrial[], flavor: SandboxFlavor): void {
  console.log('');
  console.log(
    `${FLAVOR_LABEL[flavor]}: (d) routing through HAProxy (hook: ${hookLabel()}) and EndpointSlices, shard-a (a-0, a-1, a-2): switchover a-0 → a-1, kill -9 of a-1, SIGSTOP of the next primary`,
  );
  console.log(
    'trial  setup  sw-pause  sw-lost  after-drain  decided  writable  slice  haproxy  1st-write  unshipped  stop:decided  haproxy  after-drain  in-flight',
  );
  trials.forEach((x, i) => {
    const head = `${String(i + 1).padStart(5)} ${fmt(x.setupMs, 6)}`;
    const err = x.error ? `  failed: ${x.error}` : '';
    console.log(
      `${head} ${fmt(x.pause, 9)} ${fmt(x.swLost, 8)} ${fmt(x.afterDrain, 12)} ${fmt(x.decided, 8)} ${fmt(x.writable, 9)} ${fmt(x.slice, 6)} ${fmt(x.haproxy, 8)} ${fmt(x.firstWrite, 10)} ${fmt(x.unshipped, 10)} ${fmt(x.stopDecided, 13)} ${fmt(x.stopHaproxy, 8)} ${fmt(x.stopAfterDrain, 12)} ${fmt(x.stopInFlight, 10)}${err}`,
    );
  });
  const ok = trials.filter((x) => !x.error);
  const line = (label: string, values: number[]) => {
    const s = summarize(values.filter((v) => Number.isFinite(v)));
    console.log(`  ${label.padEnd(66)} ${fmt(s.p50)} ${fmt(s.p95)} ${fmt(s.max)}   (n=${s.n})`);
  };
  console.log('');
  console.log(`  ms${' '.repeat(65)}    p50     p95     max`);
  const rows: [string, (x: RoutingTrial) => number][] = [
    ['kill → failover record Decided', (x) => x.decided],
    ["kill → hook's drain run started", (x) => x.drainRun[0]],
    ["kill → hook's drain run ended", (x) => x.drainRun[1]],
    ['kill → new primary writable (@@read_only = 0)', (x) => x.writable],
    ['kill → writer EndpointSlices hold exactly the new primary, ready', (x) => x.slice],
    ["kill → hook's route run started", (x) => x.routeRun[0]],
    ["kill → HAProxy's writer slot at the new primary, ready", (x) => x.haproxy],
    ['kill → first write acknowledged through HAProxy, by the new primary', (x) => x.firstWrite],
    ['switchover: longest gap between acknowledged writes', (x) => x.pause],
    ["switchover asked → hook's drain run ended", (x) => x.swDrained],
    ["switchover asked → hook's route run to a-1 ended", (x) => x.swRouted],
    ['SIGSTOP → failover record Decided', (x) => x.stopDecided],
    ["SIGSTOP → HAProxy's writer slot at the last member, ready", (x) => x.stopHaproxy],
    ['SIGSTOP → failover record Done', (x) => x.stopDone],
  ];
  for (const [label, pick] of rows) line(label, ok.map(pick));
  line(
    routingHookModeFromEnv() === 'persistent'
      ? 'one step of the HAProxy hook, request → answer (every step, every trial)'
      : 'one run of the HAProxy hook (every step of every trial)',
    ok.flatMap((x) => x.hookMs),
  );
  const p50 = (pick: (x: RoutingTrial) => number) => summarize(ok.map(pick).filter(Number.isFinite)).p50;
  const sum = (pick: (x: RoutingTrial) => number) => trials.reduce((a, x) => a + pick(x), 0);
  const ep = Math.max(
    p50((x) => x.slice),
    p50((x) => x.haproxy),
  );
  console.log(
    `  targets: kill → writer endpoint p50 ≤ window ${ROUTING_WINDOW_MS} + 200 = ${ENDPOINT_TARGET_MS} ms: ${verdict(ok.length > 0 && ep <= ENDPOINT_TARGET_MS)} (EndpointSlice ${fmt(
      p50((x) => x.slice),
      0,
    )}, HAProxy ${fmt(
      p50((x) => x.haproxy),
      0,
    )}); kill → first write p50 ≤ ${FIRST_WRITE_TARGET_MS} ms: ${verdict(ok.length > 0 && p50((x) => x.firstWrite) <= FIRST_WRITE_TARGET_MS)} (${fmt(
      p50((x) => x.firstWrite),
      0,
    )})`,
  );
  const drained = sum((x) => x.afterDrain + x.stopAfterDrain);
  console.log(
    `  targets: switchover pause p50 ≤ ${PAUSE_TARGET_MS} ms: ${verdict(ok.length > 0 && p50((x) => x.pause) <= PAUSE_TARGET_MS)} (${fmt(
      p50((x) => x.pause),
      0,
    )}); acknowledged writes lost 0: ${verdict(sum((x) => x.swLost) === 0)} (${sum((x) => x.swLost)}); writes sent to an old primary after its drain 0: ${verdict(drained === 0)} (${drained}: switchover ${sum((x) => x.afterDrain)}, SIGSTOP ${sum((x) => x.stopAfterDrain)})`,
  );
  console.log(
    `  SIGSTOP: writes in flight to the frozen primary, executed by it after its drain when it thawed (never acknowledged) ${sum((x) => x.stopInFlight)}; kill -9: acknowledged by the killed primary and on no survivor (asynchronous replication) ${sum((x) => x.unshipped)}; failed trials ${trials.length - ok.length}`,
  );
}

export function routingSummaryRows(
  flavors: readonly SandboxFlavor[],
  results: Partial<Record<SandboxFlavor, RoutingTrial[]>>,
): [string, Partial<Record<SandboxFlavor, string>>][] {
  const cell = summaryCells(flavors, results);
  const stat = (pick: (x: RoutingTrial) => number, p: 'p50' | 'max') => (ok: RoutingTrial[]) =>
    fmt(summarize(ok.map(pick).filter(Number.isFinite))[p], 0).trim();
  const both = (pick: (x: RoutingTrial) => number) => (ok: RoutingTrial[]) =>
    `${stat(pick, 'p50')(ok)} / ${stat(pick, 'max')(ok)}`;
  const total = (pick: (x: RoutingTrial) => number) => (_: RoutingTrial[], all: RoutingTrial[]) =>
    String(all.reduce((a, x) => a + pick(x), 0));
  return [
    ['(d) routing hook mode (BENCH_ROUTING_HOOK: persistent or exec)', cell(() => routingHookModeFromEnv())],
    [
      `(d) kill → writer EndpointSlice at new primary p50 / max, ms (target p50 ≤ ${ENDPOINT_TARGET_MS})`,
      cell(both((x) => x.slice)),
    ],
    [
      `(d) kill → HAProxy writer at new primary p50 / max, ms (target p50 ≤ ${ENDPOINT_TARGET_MS})`,
      cell(both((x) => x.haproxy)),
    ],
    [
      `(d) kill → first write via HAProxy on new primary p50 / max, ms (target p50 ≤ ${FIRST_WRITE_TARGET_MS})`,
      cell(both((x) => x.firstWrite)),
    ],
    [
      `(d) switchover via HAProxy: write pause p50 / max, ms (target p50 ≤ ${PAUSE_TARGET_MS})`,
      cell(both((x) => x.pause)),
    ],
    ['(d) switchover: acknowledged writes lost (target 0)', cell(total((x) => x.swLost))],
    [
      '(d) writes sent to an old primary after its drain: switchover; SIGSTOP (target 0)',
      cell((_, all) => `${total((x) => x.afterDrain)(_, all)}; ${total((x) => x.stopAfterDrain)(_, all)}`),
    ],
    ['(d) SIGSTOP: in flight at the drain, run by the thawed primary', cell(total((x) => x.stopInFlight))],
    ['(d) trials ok / run', cell((ok, all) => `${ok.length}/${all.length}`)],
  ];
}
