// Two `tributary operator --leader-elect` processes (the built CLI) against the in-process API server
// (with the real CRD installed), real MariaDB members: the leader is killed with SIGKILL in the middle of
// a failover (its journal says Promoting, the primary is dead). The standby takes the Lease once it has
// expired and finishes that failover, exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import type { TopologyStatus } from '../../src/api/status.js';
import { demoManifests } from '../../src/cli/commands/demo.js';
import {
  EVENTS,
  FakeKubeApiServer,
  LEASES,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../harness/kube-api-server.js';
import { failoverRecord } from '../fixtures/topology.js';
import { freePort } from '../harness/net.js';
import { useSandbox } from '../harness/sandbox.js';
import { BIN } from '../harness/topology.js';

const NS = 'db';
const LEASE_NS = 'tributary-system';
/** Short Lease timings (seconds), as flags. */
const LEASE = { duration: 3, renewDeadline: 2, retry: 0.5 };

describe('leader election with two operator processes', () => {
  const sb = useSandbox({ names: ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'] });
  let api: FakeKubeApiServer;
  const procs: ChildProcess[] = [];
  let kubeconfig: string;
  const status = () => api.get(TOPOLOGIES, NS, 'warehouse')?.status as TopologyStatus | undefined;
  const holder = () =>
    (api.get(LEASES, LEASE_NS, 'tributary-operator')?.spec as { holderIdentity?: string } | undefined)
      ?.holderIdentity ?? '';
  const until = async (pred: () => boolean, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    return pred();
  };

  async function operator(name: string): Promise<{ proc: ChildProcess; exited: Promise<number | null> }> {
    const [metrics, health] = [await freePort(), await freePort()];
    const proc = spawn(
      process.execPath,
      [
        BIN,
        'operator',
        '--leader-elect',
        `--leader-elect-lease-duration=${LEASE.duration}`,
        `--leader-elect-renew-deadline=${LEASE.renewDeadline}`,
        `--leader-elect-retry-period=${LEASE.retry}`,
        `--metrics-port=${metrics}`,
        `--health-port=${health}`,
      ],
      {
        stdio: 'ignore',
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
          POD_NAME: name,
          POD_NAMESPACE: LEASE_NS,
          TRIBUTARY_LOG_LEVEL: 'silent',
        },
      },
    );
    procs.push(proc);
    return { proc, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
  }

  beforeAll(async () => {
    api = await FakeKubeApiServer.start({ bookmarkIntervalMs: 500 });
    api.applyYaml(renderCrdYaml());
    const [topology, admin, repl] = demoManifests(sb()) as Record<string, any>[];
    for (const s of [admin!, repl!]) api.create(SECRETS, secretManifest(NS, s.metadata.name, s.stringData));
    api.create(TOPOLOGIES, topology as KObject);
    kubeconfig = join(sb().dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, api.kubeConfig(NS).exportConfig());
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await api?.close();
  });

  it('kill -9 of the leader mid-failover: the standby takes over after the Lease expires and finishes it once', async () => {
    const a = await operator('op-a');
    expect(await until(() => holder().startsWith('op-a_'))).toBe(true);
    expect(await until(() => status()?.phase === 'Ready')).toBe(true);
    const b = await operator('op-b');
    // The standby reads (its informers) but never writes.
    await new Promise((r) => setTimeout(r, 1000));
    expect(holder().startsWith('op-a_')).toBe(true);

    // The leader dies right after journaling a failover of shard-a (phase Promoting), its primary dead too.
    a.proc.kill('SIGKILL');
    const killedAt = Date.now();
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
          status: { phase: 'FailingOver', failovers: [...(status()?.failovers ?? []), record] },
        }),
      },
    );
    expect(journal.status).toBe(200);

    // The standby takes the Lease once it has not been renewed for its duration (checked every retry period).
    expect(await until(() => holder().startsWith('op-b_'), 20_000)).toBe(true);
    const tookOverMs = Date.now() - killedAt;
    expect(tookOverMs).toBeLessThan((LEASE.duration + 2 * LEASE.retry + 2) * 1000);

    expect(await until(() => status()?.failovers.find((r) => r.id === record.id)?.phase === 'Done')).toBe(
      true,
    );
    const s = status()!;
    expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    expect(s.failovers.find((r) => r.id === record.id)).toMatchObject({
      to: 'a-1',
      repointed: ['dw-0/shard_a'],
    });
    expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-1');
    // Exactly once: a-1 was promoted by one process; no second failover started for shard-a since.
    await new Promise((r) => setTimeout(r, 2000));
    expect(status()!.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    const started = api
      .list(EVENTS, NS)
      .filter(
        (e) =>
          (e as { reason?: string }).reason === 'FailoverStarted' && String(e.message).startsWith('shard-a'),
      );
    expect(started).toEqual([]);
    expect(b.proc.exitCode).toBe(null);
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
