// Two `tributary operator --leader-elect` processes (the built CLI) against the in-process API server
// (with the real CRD installed), real MariaDB members: the leader is killed with SIGKILL in the middle of
// a failover (its journal says Promoting, the primary is dead). The standby takes the Lease once it has
// expired and finishes that failover, exactly once.
// A hot standby (both flavors): the leader and a source primary die together. While the Lease is still held
// the standby probes the members and counts the primary's downtime but acts on nothing; once it leads it
// fails over at once from what it counted, exactly once. The timing is measured in `npm run bench:failover`.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import type { TopologyStatus } from '../../src/api/status.js';
import { demoManifests } from '../../src/cli/commands/demo.js';
import {
  EVENTS,
  KubeApiServer,
  LEASES,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../harness/kube-api-server.js';
import { failoverRecord } from '../fixtures/topology.js';
import { FLAVORS, channelRow } from '../harness/flavors.js';
import { startOperatorProcess, type OperatorProcess } from '../harness/operator-process.js';
import { useSandbox } from '../harness/sandbox.js';
import type { Sandbox } from '../../src/sandbox/index.js';

const NS = 'db';
const LEASE_NS = 'tributary-system';
/** Short Lease timings (seconds), as flags. */
const LEASE = { duration: 3, renewDeadline: 2, retry: 0.5 };

type Operator = OperatorProcess;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls an async predicate every 25 ms, up to `ms`; the last answer. */
async function until(pred: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await sleep(25);
  return pred();
}

async function holderOf(api: KubeApiServer): Promise<string> {
  const lease = await api.get(LEASES, LEASE_NS, 'tributary-operator');
  return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '';
}

/** The CRD, the demo's topology and Secrets; returns the kubeconfig file the operators use. */
async function setUp(api: KubeApiServer, sandbox: Sandbox): Promise<string> {
  await api.applyYaml(renderCrdYaml());
  const [topology, admin, repl] = demoManifests(sandbox) as Record<string, any>[];
  for (const s of [admin!, repl!])
    await api.create(SECRETS, secretManifest(NS, s.metadata.name, s.stringData));
  await api.create(TOPOLOGIES, topology as KObject);
  const file = join(sandbox.dir, 'kubeconfig.yaml');
  writeFileSync(file, api.kubeConfig(NS).exportConfig());
  return file;
}

async function startOperator(name: string, kubeconfig: string, procs: ChildProcess[]): Promise<Operator> {
  const op = await startOperatorProcess({
    kubeconfig,
    leaderElection: {
      name,
      namespace: LEASE_NS,
      leaseS: LEASE.duration,
      renewS: LEASE.renewDeadline,
      retryS: LEASE.retry,
    },
  });
  procs.push(op.proc);
  return op;
}

describe('leader election with two operator processes', () => {
  const sb = useSandbox({ names: ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'] });
  let api: KubeApiServer;
  const procs: ChildProcess[] = [];
  let kubeconfig: string;
  const status = async () =>
    (await api.get(TOPOLOGIES, NS, 'warehouse'))?.status as TopologyStatus | undefined;
  const holder = async () => holderOf(api);

  async function operator(name: string): Promise<Operator> {
    return startOperator(name, kubeconfig, procs);
  }

  beforeAll(async () => {
    api = await KubeApiServer.start({ bookmarkIntervalMs: 500 });
    kubeconfig = await setUp(api, sb());
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await api?.close();
  });

  it('kill -9 of the leader mid-failover: the standby takes over after the Lease expires and finishes it once', async () => {
    const a = await operator('op-a');
    expect(await until(async () => (await holder()).startsWith('op-a_'))).toBe(true);
    expect(await until(async () => (await status())?.phase === 'Ready')).toBe(true);
    const b = await operator('op-b');
    // The standby observes (its passes count) but does not take the Lease.
    expect(await until(async () => (await b.metric('tributary_standby_passes_total')) > 0)).toBe(true);
    expect((await holder()).startsWith('op-a_')).toBe(true);

    // The leader dies right after journaling a failover of shard-a (phase Promoting), its primary dead too.
    a.proc.kill('SIGKILL');
    expect(await a.exited).toBe(null);
    await sb().server('a-0').kill9();
    const record = failoverRecord({
      id: 'shard-a-handover',
      phase: 'Promoting',
      startedAt: new Date().toISOString(),
    });

    const journal = await fetch(
      `${api.url}/apis/tributary.dev/v1alpha1/namespaces/${NS}/mysqltopologies/warehouse/status`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({
          status: { phase: 'FailingOver', failovers: [...((await status())?.failovers ?? []), record] },
        }),
      },
    );
    expect(journal.status).toBe(200);

    // The standby takes the Lease once it has not been renewed for its duration (timings: bench:failover).
    expect(await until(async () => (await holder()).startsWith('op-b_'), 20_000)).toBe(true);

    expect(
      await until(async () => (await status())?.failovers.find((r) => r.id === record.id)?.phase === 'Done'),
    ).toBe(true);
    const s = (await status())!;
    expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    expect(s.failovers.find((r) => r.id === record.id)).toMatchObject({
      to: 'a-1',
      repointed: ['dw-0/shard_a'],
    });
    expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-1');
    // Exactly once: a-1 was promoted by one process; no second failover started for shard-a since.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await status())!.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    const started = (await api.list(EVENTS, NS)).filter(
      (e) =>
        (e as { reason?: string }).reason === 'FailoverStarted' && String(e.message).startsWith('shard-a'),
    );
    expect(started).toEqual([]);
    expect(b.proc.exitCode).toBe(null);
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});

describe.each(FLAVORS)('a hot standby on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'] });
  let api: KubeApiServer;
  const procs: ChildProcess[] = [];
  let kubeconfig: string;
  const status = async () =>
    (await api.get(TOPOLOGIES, NS, 'warehouse'))?.status as TopologyStatus | undefined;
  const holder = async () => holderOf(api);
  const shardA = async () => channelRow(f, sb().server('dw-0'), 'shard_a');
  const writes = (from: number) =>
    api.requests
      .slice(from)
      .filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb))
      .map((r) => `${r.verb} ${r.resource}`);

  beforeAll(async () => {
    api = await KubeApiServer.start({ bookmarkIntervalMs: 500 });
    kubeconfig = await setUp(api, sb());
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await api?.close();
  });

  it('leader and a source primary die together: the standby counted the downtime, acted on nothing, then failed over once', async () => {
    const a = await startOperator('op-a', kubeconfig, procs);
    expect(await until(async () => (await holder()).startsWith('op-a_'))).toBe(true);
    expect(await until(async () => (await status())?.phase === 'Ready')).toBe(true);
    const b = await startOperator('op-b', kubeconfig, procs);
    expect(await until(async () => (await b.metric('tributary_standby_passes_total')) > 0)).toBe(true);
    const aPort = sb().server('a-0').port;
    expect((await shardA())?.[f.col.port]).toBe(aPort);

    // The leader freezes (it sends nothing more) as a-0 dies. The test renews the Lease in the leader's
    // name, so the standby stays a standby for as long as this part needs.
    const from = api.requests.length;
    const leaseHolder = await holder();
    a.proc.kill('SIGSTOP');
    await sb().server('a-0').kill9();
    let renewing = true;
    const renewals = (async () => {
      while (renewing) {
        await api.edit(LEASES, LEASE_NS, 'tributary-operator', (o) => {
          (o.spec as Record<string, unknown>).renewTime = new Date().toISOString().replace('Z', '000Z');
        });
        await sleep(250);
      }
    })();
    // The standby counts a-0's failed probes: past failureThreshold (3) and the 1 s window, which a leader
    // would fail over on (probes at most 1/3 s apart in the window, then every second).
    const failed = () => b.metric('tributary_standby_failed_probes_total', { member: 'a-0' });
    expect(await until(async () => (await failed()) >= 6)).toBe(true);
    const passes = await b.metric('tributary_standby_passes_total');
    expect(await until(async () => (await b.metric('tributary_standby_passes_total')) >= passes + 2)).toBe(
      true,
    );
    // Alive and observing, and nothing acted: no write to the API server (the frozen leader sends none),
    // the Lease still the leader's, a-1 still read-only, dw-0's shard_a still pointing at a-0, no failover.
    expect(b.proc.exitCode).toBe(null);
    expect(await holder()).toBe(leaseHolder);
    expect(await b.metric('tributary_leader')).toBe(0);
    expect(writes(from).filter((w) => !w.endsWith('leases'))).toEqual([]);
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    expect((await shardA())?.[f.col.port]).toBe(aPort);
    expect((await status())?.failovers ?? []).toEqual([]);
    const counted = await failed();

    // Now the leader is dead for good: no more renewals, SIGKILL. The standby takes the Lease and fails
    // over from the downtime it counted.
    renewing = false;
    await renewals;
    a.proc.kill('SIGKILL');
    expect(await a.exited).toBe(null);
    expect(await until(async () => (await holder()).startsWith('op-b_'), 20_000)).toBe(true);
    expect(
      await until(async () => {
        const r = (await status())?.failovers.find((x) => x.group === 'shard-a');
        return r?.phase === 'Done';
      }),
    ).toBe(true);
    const s = (await status())!;
    expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    const record = s.failovers.find((r) => r.group === 'shard-a')!;
    expect(record).toMatchObject({ from: 'a-0', to: 'a-1', repointed: ['dw-0/shard_a'] });
    // The standby's detection started before it led: it had counted a-0's failed probes while the Lease
    // was another's, and it decided only once it held the Lease.
    expect(counted).toBeGreaterThanOrEqual(6);
    const lease = (await api.get(LEASES, LEASE_NS, 'tributary-operator'))!.spec as { acquireTime: string };
    expect(Date.parse(record.phaseTimes.Decided!)).toBeGreaterThanOrEqual(
      Math.floor(Date.parse(lease.acquireTime) / 1000) * 1000,
    );
    const row = await shardA();
    expect(row?.[f.col.port]).toBe(sb().server('a-1').port);
    expect(row?.[f.col.io]).toBe('Yes');
    expect(row?.[f.col.sql]).toBe('Yes');
    // Exactly once: two more passes of the new leader start no second failover.
    const ran = await b.metric('tributary_reconcile_duration_seconds_count');
    expect(
      await until(async () => (await b.metric('tributary_reconcile_duration_seconds_count')) >= ran + 2),
    ).toBe(true);
    expect((await status())!.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    expect(await b.metric('tributary_leader')).toBe(1);
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
