// End to end against a real Kubernetes API server. Runs only when KUBECONFIG points at a reachable cluster
// whose context is a kind cluster ("kind-*"), or any context with TRIBUTARY_E2E=1 (the test creates a CRD
// and a namespace: it must not run against a cluster by accident). Otherwise it says so and runs nothing.
//
// What it checks, with the operator running in this process (scripts/e2e-kind.sh also deploys the image):
// the CRD from crds/ accepts the status the reconciler writes (structural schema, status subresource,
// merge patch), observedGeneration follows spec changes, the finalizer is added and removed on deletion
// (the object then goes away), events are recorded, and leader election holds a Lease.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  VersionApi,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOperator } from '../../src/cli/operator.js';
import { silentLog } from '../../src/controller/loop.js';
import type { Reconciler } from '../../src/controller/pass.js';

async function probeCluster(): Promise<{ kc: KubeConfig } | { reason: string }> {
  if (!process.env.KUBECONFIG) return { reason: 'KUBECONFIG is not set' };
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (e) {
    return { reason: `KUBECONFIG does not load: ${e instanceof Error ? e.message : String(e)}` };
  }
  const context = kc.getCurrentContext();
  if (!context.startsWith('kind-') && process.env.TRIBUTARY_E2E !== '1') {
    return {
      reason: `context "${context}" is not a kind cluster; set TRIBUTARY_E2E=1 to run against it anyway`,
    };
  }
  try {
    const version = kc.makeApiClient(VersionApi).getCode();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref(),
    );
    await Promise.race([version, timeout]);
    return { kc };
  } catch (e) {
    return {
      reason: `cluster of context "${context}" is not reachable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    };
  }
}

const cluster = await probeCluster();
const reachable = 'kc' in cluster;
if (!reachable) {
  // scripts/e2e-kind.sh sets this: there, a skipped e2e would be a false pass.
  if (process.env.TRIBUTARY_E2E_REQUIRED === '1')
    throw new Error(`e2e: required but cannot run: ${cluster.reason}`);
  console.warn(`e2e: no KUBECONFIG cluster, not run (${cluster.reason})`);
}

const NS = `tributary-e2e-${Date.now().toString(36)}`;
const GROUP = 'tributary.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'mysqltopologies';

async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`e2e: timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!reachable)('operator against a real Kubernetes API', () => {
  const kc = (cluster as { kc: KubeConfig }).kc;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  const stop = new AbortController();
  let operator: Promise<void> | undefined;

  beforeAll(async () => {
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const crd = parse(
      readFileSync(new URL('../../crds/tributary.dev_mysqltopologies.yaml', import.meta.url), 'utf8'),
    ) as V1CustomResourceDefinition;
    try {
      const existing = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      crd.metadata!.resourceVersion = existing.metadata?.resourceVersion;
      await ext.replaceCustomResourceDefinition({ name: crd.metadata!.name!, body: crd });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await ext.createCustomResourceDefinition({ body: crd });
    }
    await waitFor('the CRD to be established', async () => {
      const c = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    });
    await core.createNamespace({ body: { metadata: { name: NS } } });
    for (const name of ['tributary-admin', 'tributary-repl']) {
      await core.createNamespacedSecret({
        namespace: NS,
        body: {
          metadata: { name },
          stringData: { username: 'tributary', password: 'e2e-not-a-real-password' },
        },
      });
    }
    // The real reconciler (members point nowhere: it reports them unreachable). Loaded lazily so this file
    // is collected even while other modules are in flux.
    const { createReconciler } = await import('../../src/controller/reconcile.js');
    const { SqlClientPool } = await import('../../src/sql/client.js');
    const { silentLogger } = await import('../../src/util/log.js');
    const pool = new SqlClientPool();
    const reconcile: Reconciler = createReconciler({ pool, log: silentLogger() });
    operator = runOperator({
      namespace: NS,
      metricsPort: 0,
      healthPort: 0,
      leaderElect: true,
      leaseNamespace: NS,
      reconcile,
      log: silentLog,
      kubeConfig: kc,
      signal: stop.signal,
      handleSignals: false,
      host: '127.0.0.1',
    }).finally(() => pool.closeAll());
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await operator;
    await core?.deleteNamespace({ name: NS }).catch(() => undefined);
  }, 120_000);

  it('adds the finalizer, writes a schema-valid status with observedGeneration, records events', async () => {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'MySQLTopology',
        metadata: { name: 'warehouse' },
        spec: {
          adminSecretRef: { name: 'tributary-admin' },
          replicationSecretRef: { name: 'tributary-repl' },
          failover: { enabled: false, pollIntervalSeconds: 2 },
          groups: [
            { name: 'shard-a', members: [{ name: 'a-0', host: '127.0.0.1', port: 1 }] },
            {
              name: 'dw',
              members: [{ name: 'dw-0', host: '127.0.0.2', port: 1 }],
              channels: [{ name: 'shard_a', from: 'shard-a' }],
            },
          ],
        },
      },
    });
    const get = () =>
      custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name: 'warehouse',
      });
    const obj = await waitFor('status with observedGeneration 1', async () => {
      const o = await get();
      return o.status?.observedGeneration === 1 ? o : undefined;
    });
    expect(obj.metadata.finalizers).toContain('tributary.dev/finalizer');
    expect(obj.status.phase).toBeTruthy();
    expect(
      obj.status.instances.map((i: { name: string; reachable: boolean }) => [i.name, i.reachable]),
    ).toEqual(
      expect.arrayContaining([
        ['a-0', false],
        ['dw-0', false],
      ]),
    );
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name: 'warehouse',
        body: { spec: { paused: true } },
      },
      (await import('@kubernetes/client-node')).setHeaderOptions(
        'Content-Type',
        'application/merge-patch+json',
      ),
    );
    await waitFor('observedGeneration 2', async () => (await get()).status?.observedGeneration === 2);
    const events = await waitFor('an event on the topology', async () => {
      const list = await core.listNamespacedEvent({ namespace: NS });
      const mine = list.items.filter((e) => e.involvedObject.kind === 'MySQLTopology');
      return mine.length ? mine : undefined;
    });
    expect(events[0]!.involvedObject.name).toBe('warehouse');
    const lease = await waitFor('the leader Lease', async () => {
      const { CoordinationV1Api } = await import('@kubernetes/client-node');
      return kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: NS, name: 'tributary-operator' });
    });
    expect(lease.spec?.holderIdentity).toBeTruthy();
  }, 120_000);

  it('on deletion removes its finalizer and nothing else: the object goes away', async () => {
    await custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      name: 'warehouse',
    });
    await waitFor('the topology to be gone', async () => {
      try {
        await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: PLURAL,
          name: 'warehouse',
        });
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 404;
      }
    });
  }, 120_000);
});
