// HAProxy end to end (issue 17, item 4): Debian's HAProxy with the sample's backends in front of real
// servers, the operator's passes run in process with the routing hook of deploy/routing/haproxy/ (the
// documented command line), and an application that knows only HAProxy's writer port (and a reader that
// knows only its reader port). Across kill -9, SIGSTOP and a switchover the application keeps writing with
// nothing acknowledged lost and nothing written to a drained primary; a replica lagging past
// spec.routing.maxReplicaLagSeconds leaves the reader backend and returns. Figures are printed, never
// asserted (`npm run bench:failover` owns the timings).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FailoverRecord, TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { routingHook } from '../../src/execute/routing-hook.js';
import type { RoutingTarget } from '../../src/execute/routing.js';
import { endpointNames, type RoutingOp } from '../../src/plan/routing.js';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { prepareApp } from '../harness/app.js';
import { FLAVORS } from '../harness/flavors.js';
import { HOOK_SCRIPT, startHaproxy, type Haproxy, type ServerState } from '../harness/haproxy.js';
import { driver, type Driver } from '../harness/passes.js';
import {
  longestPause,
  startRoutedReader,
  startRoutedWriter,
  type Attempt,
  type RoutedReader,
  type RoutedWriter,
} from '../harness/routed-app.js';
import { withSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';
import { until } from './waits.js';

const TOPOLOGY = 'warehouse';
const GROUP = 'shard-a';
const { writer: WRITER, readers: READERS } = endpointNames(TOPOLOGY, GROUP);
/** The declared window: a primary unreachable this long (and its replicas agreeing) is dead. */
const DOWN_AFTER_SECONDS = 1;
const MAX_LAG_SECONDS = 2;

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** One routing step as HAProxy's hook ran it: what, for whom (`!`: not ready), when it started and ended. */
interface StepRun {
  op: RoutingOp;
  members: string[];
  failover?: string | undefined;
  startedAt: number;
  doneAt: number;
  error?: string;
}

interface Rig {
  hp: Haproxy;
  d: Driver;
  steps: StepRun[];
  close(): Promise<void>;
}

/**
 * HAProxy, the topology (one group, `names`, a-0 the primary) and the passes with the HAProxy hook as the
 * routing target, converged: a-0 routed as the writer, every other member a reader, the application's
 * table and account on every member.
 */
async function rig(
  sb: Sandbox,
  names: string[],
  spec: { failover?: Record<string, unknown>; routing?: Record<string, unknown> } = {},
): Promise<Rig> {
  const hp = await startHaproxy({ backends: [{ writer: WRITER, readers: READERS }] });
  const pool = new SqlClientPool();
  const close = async () => {
    await pool.closeAll();
    await hp.stop();
  };
  try {
    const file = writeManifests(
      join(sb.dir, `${TOPOLOGY}.yaml`),
      sandboxManifests({
        name: TOPOLOGY,
        spec: {
          failover: { pollIntervalSeconds: 0.5, downAfterSeconds: DOWN_AFTER_SECONDS, ...spec.failover },
          routing: { ...spec.routing },
          groups: [{ name: GROUP, members: names.map((n) => sandboxMember(sb, n)) }],
        },
        // The operator's least-privilege login (src/sql/grants.ts), as in production.
        admin: { username: OPERATOR_USER, password: OPERATOR_PASSWORD },
      }),
    );
    const store = new LocalStore({ files: [file], statusOut: join(sb.dir, 'status.json'), log: () => {} });
    const log = silentLogger();
    // The command line deploy/routing/haproxy/README.md documents.
    const hook = routingHook({
      command: `HAPROXY_RUNTIME=${q(hp.runtime)} ${q(process.execPath)} ${q(HOOK_SCRIPT)}`,
      timeoutMs: 10_000,
      log,
    });
    const steps: StepRun[] = [];
    // The hook as the reconciler's target, noting when each step ran (the drain's end is the moment after
    // which nothing may reach the old primary).
    const target: RoutingTarget = {
      name: hook.name,
      async apply(ref, step) {
        const run: StepRun = {
          op: step.op,
          members: step.members.map((m) => `${m.name}${m.ready ? '' : '!'}`),
          failover: step.failover,
          startedAt: Date.now(),
          doneAt: 0,
        };
        try {
          await hook.apply(ref, step);
        } catch (e) {
          run.error = (e as Error).message;
          throw e;
        } finally {
          run.doneAt = Date.now();
          steps.push(run);
        }
      },
    };
    const reconcile = createReconciler({ pool, log, routing: { targets: [target] } });
    const d = driver(store, (await store.list())[0]!, reconcile);
    const replicas = names.filter((n) => n !== 'a-0');
    await d.until(
      (s) =>
        s.phase === 'Ready' &&
        routingOf(s)?.writer === 'a-0' &&
        routingOf(s)?.writerReady === true &&
        sameSet(routingOf(s)?.readers ?? [], replicas),
      60_000,
    );
    await prepareApp(sb.server('a-0'));
    for (const n of replicas)
      await until(
        async () =>
          Number(await sb.server(n).scalar(`SELECT COUNT(*) FROM mysql.user WHERE user = 'app'`)) === 1 &&
          Number(
            await sb
              .server(n)
              .scalar(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'orders'`),
          ) === 1,
      );
    // HAProxy holds what the status says it was given.
    expect(await hp.serverStates(WRITER)).toEqual([slot('writer', sb.server('a-0'), 'ready')]);
    return { hp, d, steps, close };
  } catch (e) {
    await close();
    throw e;
  }
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));
const last = (s: TopologyStatus): FailoverRecord | undefined => s.failovers.at(-1);
const routingOf = (s: TopologyStatus) => s.groups.find((g) => g.name === GROUP)?.routing;
const slot = (name: string, s: SandboxServer, state: ServerState['state']): ServerState => ({
  name,
  addr: '127.0.0.1',
  port: s.port,
  state,
});

/** The ids a server holds, on a connection of its own (bounded: a frozen server must not hang the test). */
async function idsOn(server: SandboxServer): Promise<Set<number>> {
  const c = await server.connect(ADMIN_USER, ADMIN_PASSWORD, { connectTimeout: 5000 });
  try {
    const [rows] = await c.query({ sql: 'SELECT id FROM shop.orders', timeout: 10_000 });
    return new Set((rows as { id: number }[]).map((r) => Number(r.id)));
  } finally {
    c.destroy();
  }
}

/** Waits (bounded) until `server` holds every acknowledged id; returns those it still lacks. */
async function missingOn(server: SandboxServer, acked: readonly Attempt[], ms = 20_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const have = await idsOn(server).catch(() => new Set<number>());
    const missing = acked.map((a) => a.id).filter((id) => !have.has(id));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Replication is asynchronous: rows the old primary acknowledged in the instant before it was killed or
 * frozen, but had not yet sent, never reached a survivor. Acknowledged rows the new primary lacks
 * (`missing`) may only be those: the old primary's last acknowledged ones, all held by it (read on a
 * connection of its own, before any pass runs). Anything else missing is a lost write.
 */
async function expectOnlyUnsent(missing: number[], acked: readonly Attempt[], old: SandboxServer) {
  if (missing.length === 0) return;
  const onOld = acked.filter((a) => a.port === old.port).map((a) => a.id);
  expect(missing).toEqual(onOld.filter((id) => id >= Math.min(...missing)));
  const held = await idsOn(old);
  expect(missing.filter((id) => !held.has(id))).toEqual([]);
}

/** The writer's routing steps of one failover record, in the order they ran, as `op members`. */
const writerStepsOf = (steps: readonly StepRun[], id: string) =>
  steps.filter((s) => s.failover === id && s.op !== 'readers').map((s) => `${s.op} ${s.members.join(',')}`);

const figure = (label: string, text: string) => console.log(`[haproxy-routing] ${label}: ${text}`);

describe.each(FLAVORS)('HAProxy in front of $label, routed by the operator', (f) => {
  const sandbox = (names: string[], fn: (sb: Sandbox) => Promise<void>) =>
    withSandbox({ flavor: f.flavor, names }, fn);
  /**
   * a-0 and a-1 routed, an application writing through HAProxy's writer port with 20 writes acknowledged,
   * all by a-0; the application and the rig go afterwards, whatever happens.
   */
  const underLoad = (
    fn: (x: { r: Rig; a0: SandboxServer; a1: SandboxServer; app: RoutedWriter }) => Promise<void>,
  ) =>
    sandbox(['a-0', 'a-1'], async (sb) => {
      const r = await rig(sb, ['a-0', 'a-1']);
      const [a0, a1] = [sb.server('a-0'), sb.server('a-1')];
      let app: RoutedWriter | undefined;
      try {
        app = startRoutedWriter(r.hp.writerPort(WRITER));
        await app.ackedMore(20);
        expect(new Set(app.acked().map((a) => a.port))).toEqual(new Set([a0.port]));
        await fn({ r, a0, a1, app });
      } finally {
        await app?.stop();
        await r.close();
      }
    });

  it(
    'kill -9 of the primary under load: writes resume on a-1 through the same port, none acknowledged lost',
    () =>
      underLoad(async ({ r, a0, a1, app }) => {
        const killedAt = Date.now();
        await a0.kill9();
        const s = await r.d.until((x) => last(x)?.phase === 'Done', 60_000);
        await app.ackedMore(20);
        await app.stop();

        const record = last(s)!;
        expect(record).toMatchObject({ group: GROUP, from: 'a-0', to: 'a-1', phase: 'Done' });
        // Drained before the promotion, routed once writable: through the real HAProxy.
        expect(writerStepsOf(r.steps, record.id)).toEqual(['drain a-0!', 'route a-1']);
        expect(r.steps.every((x) => x.error === undefined)).toBe(true);
        expect(routingOf(s)).toMatchObject({ writer: 'a-1', writerReady: true });
        expect(await r.hp.serverStates(WRITER)).toEqual([slot('writer', a1, 'ready')]);
        // Writes resumed through the same port, on a-1; everything acknowledged that reached a survivor
        // (on a-0 before the kill, on a-1 after) is on a-1.
        const acked = app.acked();
        const resumed = acked.filter((a) => a.startedAt > killedAt);
        expect(resumed.length).toBeGreaterThanOrEqual(20);
        expect(new Set(resumed.map((a) => a.port))).toEqual(new Set([a1.port]));
        const missing = await missingOn(a1, acked);
        if (missing.length > 0) await a0.start();
        await expectOnlyUnsent(missing, acked, a0);

        const routed = r.steps.find((x) => x.failover === record.id && x.op === 'route')!;
        figure(
          f.label,
          `kill -9 → HAProxy writer on a-1 ${routed.doneAt - killedAt} ms; → first write acknowledged on a-1 ${resumed[0]!.ackedAt! - killedAt} ms (window ${DOWN_AFTER_SECONDS} s); ${acked.length} writes acknowledged, 0 lost that reached a-1 (${missing.length} only a-0 held when killed)`,
        );
      }),
    180_000,
  );

  it(
    'SIGSTOP of the primary past the window, then thawed: no write started after the drain reaches it',
    () =>
      underLoad(async ({ r, a0, a1, app }) => {
        try {
          const frozenAt = Date.now();
          a0.freeze();
          const s = await r.d.until((x) => last(x)?.phase === 'Done', 90_000);
          const record = last(s)!;
          expect(record).toMatchObject({ group: GROUP, from: 'a-0', to: 'a-1', phase: 'Done' });
          expect(writerStepsOf(r.steps, record.id)).toEqual(['drain a-0!', 'route a-1']);
          const drain = r.steps.find((x) => x.failover === record.id && x.op === 'drain')!;
          expect(drain.error).toBeUndefined();
          // The record's drainedAt is noted once the pass's routing ran, at or after the drain's end.
          expect(Date.parse(record.drainedAt!)).toBeGreaterThanOrEqual(drain.doneAt);

          // a-0 wakes up alive and still writable, as it froze: no pass runs meanwhile, so nothing but
          // HAProxy stands between the application and it while the application writes 30 more rows.
          a0.thaw();
          const thawedAt = Date.now();
          await until(
            async () =>
              await idsOn(a0)
                .then(() => true)
                .catch(() => false),
            30_000,
          );
          expect(Number(await a0.scalar('SELECT @@GLOBAL.read_only'))).toBe(0);
          await app.ackedMore(30);
          expect(Number(await a0.scalar('SELECT @@GLOBAL.read_only'))).toBe(0);

          // No INSERT started after the drain is on a-0. (An INSERT in flight when a-0 froze may land there
          // once thawed: it was never acknowledged, and it makes a-0 errant; that is allowed, so only writes
          // started after the drain are asserted on.)
          // A row a-0 holds that a-1 lacks was written on a-0 itself: once fenced a-0 may rejoin as a replica
          // of a-1 (when nothing in flight landed on it), and then holds a-1's rows by replication.
          const noneAfterDrain = async () => {
            const [onA0, onA1] = [await idsOn(a0), await idsOn(a1)];
            const afterDrain = app!.attempts.filter((a) => a.startedAt >= drain.doneAt);
            expect(afterDrain.filter((a) => onA0.has(a.id) && !onA1.has(a.id)).map((a) => a.id)).toEqual([]);
            // They went to a-1, through the same port.
            expect(new Set(afterDrain.filter((a) => a.ackedAt).map((a) => a.port))).toEqual(
              new Set([a1.port]),
            );
            return { onA0, afterDrain };
          };
          await noneAfterDrain();
          expect(app.acked().filter((a) => a.startedAt > thawedAt).length).toBeGreaterThanOrEqual(30);

          // The operator makes it read-only again (a-1 is the primary now); the writes go on, still not to it.
          const fenced = await r.d.until(
            (x) => x.instances.find((i) => i.name === 'a-0')?.readOnly === true,
            60_000,
          );
          expect(fenced.instances.find((i) => i.name === 'a-0')).toMatchObject({ reachable: true });
          expect(routingOf(fenced)).toMatchObject({ writer: 'a-1', writerReady: true });
          await app.ackedMore(10);
          await app.stop();
          const { onA0, afterDrain } = await noneAfterDrain();
          // Nothing acknowledged that reached a-1 is lost.
          await expectOnlyUnsent(await missingOn(a1, app.acked()), app.acked(), a0);

          const inFlight = app.attempts.filter((a) => a.ackedAt === undefined && onA0.has(a.id));
          const routed = r.steps.find((x) => x.failover === record.id && x.op === 'route')!;
          figure(
            f.label,
            `SIGSTOP → drained ${drain.doneAt - frozenAt} ms, → HAProxy writer on a-1 ${routed.doneAt - frozenAt} ms; ${afterDrain.length} writes started after the drain, 0 on the old primary; unacknowledged writes that landed on it when thawed: ${inFlight.length}`,
          );
        } finally {
          a0.thaw();
        }
      }),
    240_000,
  );

  it(
    'switchover under load through HAProxy: nothing acknowledged lost, the write pause measured',
    () =>
      underLoad(async ({ r, a0, a1, app }) => {
        const startedAt = Date.now();
        const passesBefore = r.d.passes;
        await r.d.pass({ switchover: { group: GROUP, to: 'a-1' } });
        const s = await r.d.until((x) => last(x)?.phase === 'Done', 60_000);
        const doneAt = Date.now();
        await app.ackedMore(20);
        await app.stop();

        const record = last(s)!;
        expect(record).toMatchObject({ reason: 'Switchover', from: 'a-0', to: 'a-1', phase: 'Done' });
        expect(writerStepsOf(r.steps, record.id)).toEqual(['drain a-0!', 'route a-1']);
        expect(r.steps.every((x) => x.error === undefined)).toBe(true);
        expect(await r.hp.serverStates(WRITER)).toEqual([slot('writer', a1, 'ready')]);
        const drain = r.steps.find((x) => x.failover === record.id && x.op === 'drain')!;
        const acked = app.acked();
        // After the drain every acknowledgement came from a-1; before it, from a-0.
        expect(new Set(acked.filter((a) => a.startedAt >= drain.doneAt).map((a) => a.port))).toEqual(
          new Set([a1.port]),
        );
        expect(new Set(acked.filter((a) => a.ackedAt! <= drain.startedAt).map((a) => a.port))).toEqual(
          new Set([a0.port]),
        );
        // No acknowledged write lost: all of them on the new primary, and on a-0, now its replica.
        expect(await missingOn(a1, acked)).toEqual([]);
        expect(await missingOn(a0, acked)).toEqual([]);

        figure(
          f.label,
          `switchover through HAProxy: write pause ${longestPause(acked, startedAt, doneAt)} ms (switchover ${doneAt - startedAt} ms over ${r.d.passes - passesBefore} passes); ${acked.length} writes acknowledged, 0 lost`,
        );
      }),
    180_000,
  );

  it(
    `a replica lagging past maxReplicaLagSeconds (${MAX_LAG_SECONDS}) leaves the reader backend and returns`,
    () =>
      sandbox(['a-0', 'a-1', 'a-2'], async (sb) => {
        const r = await rig(sb, ['a-0', 'a-1', 'a-2'], {
          routing: { maxReplicaLagSeconds: MAX_LAG_SECONDS },
        });
        const [a1, a2] = [sb.server('a-1'), sb.server('a-2')];
        let app: RoutedWriter | undefined;
        let reader: RoutedReader | undefined;
        let lock: Awaited<ReturnType<SandboxServer['admin']>> | undefined;
        const readerSlots = async () =>
          (await r.hp.serverStates(READERS))
            .filter((x) => x.state !== 'maint' || x.port !== 1)
            .map((x) => `${x.port === a1.port ? 'a-1' : x.port === a2.port ? 'a-2' : x.port} ${x.state}`)
            .sort();
        /** Waits (bounded) for `n` reads begun after `since`; returns the ports that answered them. */
        const readsSince = async (since: number, n = 10) => {
          await until(() => reader!.reads.filter((x) => x.at >= since).length >= n);
          return reader!.portsSince(since);
        };
        try {
          expect(await readerSlots()).toEqual(['a-1 ready', 'a-2 ready']);
          app = startRoutedWriter(r.hp.writerPort(WRITER), { pauseMs: 20 });
          reader = startRoutedReader(r.hp.readerPort(READERS));
          // Reads through the reader port land on both replicas.
          const t0 = Date.now();
          await until(() => reader!.portsSince(t0).size === 2);
          expect(reader.portsSince(t0)).toEqual(new Set([a1.port, a2.port]));

          // a-1's applier waits behind a global read lock while the primary keeps writing: real lag.
          lock = await a1.admin();
          await lock.query('FLUSH TABLES WITH READ LOCK');
          const lockedAt = Date.now();
          const lagging = await r.d.until((x) => sameSet(routingOf(x)?.readers ?? [], ['a-2']), 60_000);
          // It left for its lag: reachable, replicating, behind by more than the bound.
          expect(lagging.instances.find((i) => i.name === 'a-1')).toMatchObject({ reachable: true });
          const channel = lagging.channels.find((c) => c.replica === 'a-1' && c.name === '');
          expect(channel?.secondsBehindSource).toBeGreaterThan(MAX_LAG_SECONDS);
          expect(await readerSlots()).toEqual(['a-1 maint', 'a-2 ready']);
          const left = r.steps.findLast((x) => x.op === 'readers')!;
          expect(left.members).toEqual(['a-2']);
          expect(await readsSince(left.doneAt)).toEqual(new Set([a2.port]));

          // Released: it catches up and returns to the reader backend; reads reach it again.
          await lock.query('UNLOCK TABLES');
          lock.destroy();
          lock = undefined;
          const releasedAt = Date.now();
          const back = await r.d.until((x) => sameSet(routingOf(x)?.readers ?? [], ['a-1', 'a-2']), 60_000);
          expect(routingOf(back)).toMatchObject({ writer: 'a-0', writerReady: true });
          expect(await readerSlots()).toEqual(['a-1 ready', 'a-2 ready']);
          const returned = r.steps.findLast((x) => x.op === 'readers')!;
          const t1 = Date.now();
          await until(() => reader!.portsSince(t1).size === 2);
          expect(reader.portsSince(t1)).toEqual(new Set([a1.port, a2.port]));
          await app.stop();
          // The writes went on throughout, all to a-0, and are on both replicas.
          expect(new Set(app.acked().map((a) => a.port))).toEqual(new Set([sb.server('a-0').port]));
          expect(await missingOn(a1, app.acked())).toEqual([]);
          expect(await missingOn(a2, app.acked())).toEqual([]);

          figure(
            f.label,
            `replica lag bound ${MAX_LAG_SECONDS} s: left the reader backend ${left.doneAt - lockedAt} ms after the lock, returned ${returned.doneAt - releasedAt} ms after the release`,
          );
        } finally {
          lock?.destroy();
          await reader?.stop();
          await app?.stop();
          await r.close();
        }
      }),
    240_000,
  );
});
