// runOperator end to end against the test API server (the CRD and topologies in a real
// apiextensions-apiserver): two replicas with leader election, a stub pass.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import { emptyChannelStatus, type TopologyStatus } from '../../src/api/status.js';
import { LeadershipLostError, runOperator } from '../../src/cli/operator.js';
import { silentLog } from '../../src/util/log-sink.js';
import type { Reconciler } from '../../src/controller/pass.js';
import { FINALIZER, mergePatchDiff } from '../../src/store/kubernetes.js';
import {
  KubeApiServer,
  LEASES,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  topologyManifest,
} from '../harness/kube-api-server.js';

let api: KubeApiServer;
beforeAll(async () => {
  api = await KubeApiServer.start({ bookmarkIntervalMs: 200 });
  // The CRD as `tributary crd | kubectl apply -f -` installs it: statuses are validated against it.
  await api.applyYaml(renderCrdYaml());
});
afterEach(async () => {
  await api.reset();
});
afterAll(async () => {
  await api.close();
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const channelStatus = {
  ...emptyChannelStatus('shard_a'),
  sourceHost: 'a-0.shard-a.db.svc',
  sourcePort: 3306,
  sourceUser: 'repl',
  sourceServerId: 1,
  ioRunning: 'Yes' as const,
  sqlRunning: 'Yes' as const,
  secondsBehindSource: 4,
  autoPosition: true,
  gtidMode: 'Slave_Pos',
  connectRetry: 60,
  heartbeatPeriod: 30,
};

/** A stub pass: a fixed status naming the process that computed it, written when it differs. */
function stub(who: string, passes: string[]): Reconciler {
  return async (store, ref, options) => {
    const t = await store.get(ref);
    if (!t) return undefined;
    // What a real pass reads besides the topology.
    await store.readSecret(ref.namespace, 'tributary-admin');
    // A standby's passes observe only (they may not write): recorded apart from the leader's.
    passes.push(options?.mayWrite?.() === false ? `${who} (standby)` : who);
    const status: TopologyStatus = {
      observedGeneration: t.generation,
      phase: 'Ready',
      conditions: [],
      groups: [{ name: 'g', primary: 'm-0', members: 1, ready: 1 }],
      instances: [{ name: 'm-0', group: 'g', reachable: true, role: 'primary' }],
      channels: [
        {
          ...channelStatus,
          name: 'shard_a',
          replica: 'dw-0',
          from: 'shard-a',
          source: 'a-0',
          managed: true,
          state: 'Running',
        },
      ],
      managedChannels: [],
      failovers: [],
      summary: { channelsRunning: 1, channelsTotal: 1 },
    };
    const changed =
      mergePatchDiff(JSON.parse(JSON.stringify(t.status ?? {})), JSON.parse(JSON.stringify(status))) !==
      undefined;
    return { status, statusChanged: changed, events: [], actionsExecuted: 0, requeueAfterMs: 100 };
  };
}

/** runOperator as leader-electing replica `who`, with short Lease timings, against the test API server. */
function elected(who: string, passes: string[], over: Partial<Parameters<typeof runOperator>[0]> = {}) {
  return runOperator({
    metricsPort: 0,
    healthPort: 0,
    leaderElect: true,
    reconcile: stub(who, passes),
    log: silentLog,
    kubeConfig: api.kubeConfig(),
    handleSignals: false,
    host: '127.0.0.1',
    leaseNamespace: 'tributary-system',
    identity: who,
    leaderElection: { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 },
    ...over,
  });
}

describe('runOperator', () => {
  it('two replicas: one leads and writes, both are ready, the standby takes over when the leader stops', async () => {
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const started: Record<string, { metricsPort: number; healthPort: number }> = {};
    const passes: string[] = [];
    const acs = { a: new AbortController(), b: new AbortController() };
    const run = (who: 'a' | 'b') =>
      runOperator({
        metricsPort: 0,
        healthPort: 0,
        leaderElect: true,
        reconcile: stub(who, passes),
        log: silentLog,
        kubeConfig: api.kubeConfig(),
        signal: acs[who].signal,
        handleSignals: false,
        host: '127.0.0.1',
        leaseNamespace: 'tributary-system',
        identity: who,
        leaderElection: { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 },
        onStarted: (info) => (started[who] = info),
      });
    const a = run('a');
    await waitFor(() => Boolean(started.a));
    await waitFor(() => passes.includes('a'));
    const b = run('b');
    await waitFor(() => Boolean(started.b));

    const get = async (port: number, path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, text: await r.text() };
    };
    await waitFor(async () => (await get(started.b!.healthPort, '/readyz')).status === 200);
    expect((await get(started.a!.healthPort, '/readyz')).status).toBe(200);
    expect((await get(started.a!.healthPort, '/healthz')).status).toBe(200);

    const o = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    expect(o.metadata.finalizers).toEqual([FINALIZER]);
    expect(o.status).toMatchObject({ phase: 'Ready', observedGeneration: 1 });
    // The standby runs observe-only passes, never one that may write.
    await waitFor(() => passes.includes('b (standby)'));
    expect(passes).not.toContain('b');

    const metricsA = (await get(started.a!.metricsPort, '/metrics')).text;
    expect(metricsA).toMatch(/^tributary_leader 1$/m);
    expect(metricsA).toMatch(
      /^tributary_channel_receiver_running\{namespace="db",topology="warehouse",replica="dw-0",channel="shard_a"\} 1$/m,
    );
    expect(metricsA).toMatch(
      /^tributary_channel_seconds_behind_source\{namespace="db",topology="warehouse",replica="dw-0",channel="shard_a"\} 4$/m,
    );
    expect(metricsA).toMatch(
      /^tributary_instance_up\{namespace="db",topology="warehouse",group="g",instance="m-0"\} 1$/m,
    );
    expect(metricsA).toMatch(/^tributary_status_writes_total\{namespace="db",topology="warehouse"\} 1$/m);
    expect(metricsA).toMatch(
      /^tributary_reconcile_duration_seconds_count\{namespace="db",topology="warehouse",result="success"\} \d+$/m,
    );
    expect((await get(started.b!.metricsPort, '/metrics')).text).toMatch(/^tributary_leader 0$/m);

    // The leader stops: it releases the Lease and the standby leads without waiting for it to expire.
    acs.a.abort();
    await a;
    // Stopping released the Lease (a no longer holds it), so the standby need not wait for it to expire.
    expect(
      (api.get(LEASES, 'tributary-system', 'tributary-operator')!.spec as { holderIdentity?: string })
        .holderIdentity,
    ).not.toBe('a');
    await waitFor(() => passes.at(-1) === 'b');
    expect(
      (api.get(LEASES, 'tributary-system', 'tributary-operator')!.spec as { holderIdentity: string })
        .holderIdentity,
    ).toBe('b');
    await waitFor(async () =>
      /^tributary_leader 1$/m.test((await get(started.b!.metricsPort, '/metrics')).text),
    );
    // a's servers are closed.
    await expect(fetch(`http://127.0.0.1:${started.a!.healthPort}/healthz`)).rejects.toThrow();
    acs.b.abort();
    await b;
    await waitFor(() => api.activeWatches === 0);
  });

  it('without leader election it reconciles at once, and stops cleanly', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    await api.create(TOPOLOGIES, topologyManifest('other', 'ignored'));
    const passes: string[] = [];
    const ac = new AbortController();
    let ports: { healthPort: number } | undefined;
    const done = runOperator({
      namespace: 'db',
      metricsPort: 0,
      healthPort: 0,
      leaderElect: false,
      reconcile: stub('solo', passes),
      log: silentLog,
      kubeConfig: api.kubeConfig(),
      signal: ac.signal,
      handleSignals: false,
      host: '127.0.0.1',
      onStarted: (i) => (ports = i),
    });
    await waitFor(
      () =>
        (api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase?: string } | undefined)?.phase === 'Ready',
    );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports!.healthPort}/readyz`)).status === 200);
    // Three more passes of db's topology: one of another namespace's would have come among them.
    const seen = passes.length;
    await waitFor(() => passes.length >= seen + 3);
    expect(api.get(TOPOLOGIES, 'other', 'ignored')!.status).toBeUndefined();
    expect(api.requests.filter((r) => r.path.includes('/namespaces/other/'))).toEqual([]);
    expect(api.list(LEASES)).toEqual([]);
    ac.abort();
    await done;
    await waitFor(() => api.activeWatches === 0);
  });

  it('at rest sends nothing but Lease renewals: the passes read from the informer caches', async () => {
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await api.create(SECRETS, secretManifest('db', 'tributary-repl', { username: 'r', password: 'q' }));
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const passes: string[] = [];
    const ac = new AbortController();
    const done = elected('a', passes, { signal: ac.signal });
    await waitFor(
      () =>
        (api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase?: string } | undefined)?.phase === 'Ready',
    );
    await waitFor(() => api.watchesOf(SECRETS) === 2);
    // Settled: a few passes after the caches filled; then five passes measured.
    const settled = passes.length;
    await waitFor(() => passes.length >= settled + 3);
    const from = api.requests.length;
    const passesBefore = passes.length;
    await waitFor(() => passes.length >= passesBefore + 5);
    const counts = api.counts(from);
    expect(Object.keys(counts).filter((k) => !k.endsWith(' leases'))).toEqual([]);
    ac.abort();
    await done;
  });

  it('losing the Lease to another holder ends the operator at once with LeadershipLostError', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const passes: string[] = [];
    const done = elected('a', passes, {
      leaderElection: { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 },
    });
    const outcome = done.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await waitFor(() => passes.includes('a'));
    // Someone else holds the Lease now (an operator that saw it expire, a human).
    await api.edit(LEASES, 'tributary-system', 'tributary-operator', (o) => {
      (o.spec as { holderIdentity: string }).holderIdentity = 'b';
      (o.spec as { renewTime: string }).renewTime = new Date().toISOString();
    });
    const e = await outcome;
    expect(e).toBeInstanceOf(LeadershipLostError);
    expect((e as Error).message).toMatch(/another candidate holds the lease/);
    // The operator has shut down (its streams are closed), and no pass ran after the loss.
    const n = passes.length;
    await waitFor(() => api.activeWatches === 0);
    expect(passes.length).toBe(n);
  });
});
