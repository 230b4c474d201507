// End to end against a Kubernetes API server, with the built `tributary operator` as a process that has
// a kubeconfig, as it runs in a cluster (no kubelet is needed: nothing here runs a Pod).
// - By default, against the tests' API server: the real apiextensions-apiserver with etcd for the CRD and the
//   topologies, the in-process core for the rest (test/harness/kube-api-server.ts). Debian's kubectl
//   applies `deploy/` (the CRD, the namespace, RBAC, the Deployment and its Service) as a user would.
// - With KUBECONFIG pointing at a kind cluster ("kind-*"), or any context with TRIBUTARY_E2E=1, against that
//   cluster instead (the test creates a CRD and a namespace: it must not run against a cluster by accident);
//   scripts/e2e-kind.sh also deploys the image there.
// What it checks: kubectl's discovery and validation work; the CRD from crds/ accepts the status the
// reconciler writes (structural schema, status subresource, merge patch), observedGeneration follows spec
// changes, the finalizer is added and removed on deletion (the object then goes away), events are
// recorded, and leader election holds a Lease.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  VersionApi,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without types
import { kubeApiRoot } from '../../scripts/ensure-kube-api-root.mjs';
import { KubeApiServer } from '../harness/kube-api-server.js';
import { startOperatorProcess } from '../harness/operator-process.js';

const REPO = new URL('../../', import.meta.url).pathname;

/** A cluster named by KUBECONFIG (kind, or TRIBUTARY_E2E=1), if one is. */
async function namedCluster(): Promise<KubeConfig | undefined> {
  if (!process.env.KUBECONFIG) return undefined;
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const context = kc.getCurrentContext();
  if (!context.startsWith('kind-') && process.env.TRIBUTARY_E2E !== '1') return undefined;
  const version = kc.makeApiClient(VersionApi).getCode();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`cluster of context "${context}": no answer in 5 s`)), 5000).unref(),
  );
  await Promise.race([version, timeout]);
  return kc;
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

describe('the operator process against a Kubernetes API server', () => {
  let kc: KubeConfig;
  let api: KubeApiServer | undefined;
  let dir: string;
  let kubeconfig: string;
  let op: ChildProcess | undefined;
  const kubectl = (...args: string[]) =>
    promisify(execFile)(join(kubeApiRoot() as string, 'bin/kubectl'), args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      cwd: REPO,
    });
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-e2e-'));
    const named = await namedCluster();
    if (named) {
      kc = named;
      kubeconfig = process.env.KUBECONFIG!;
    } else {
      api = await KubeApiServer.start();
      kc = api.kubeConfig(NS);
      kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, api.kubeConfigYaml(NS));
    }
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    // As a user installs it: kubectl (discovery, then its own validation) applies the CRD and the operator's
    // manifests; the CRD is then waited for as `kubectl wait` does.
    const crd = parse(
      readFileSync(new URL('../../crds/tributary.dev_mysqltopologies.yaml', import.meta.url), 'utf8'),
    ) as V1CustomResourceDefinition;
    if (api) {
      const applied = await kubectl('apply', '-k', 'deploy/');
      expect(applied.stdout).toContain(
        'customresourcedefinition.apiextensions.k8s.io/mysqltopologies.tributary.dev',
      );
      expect(applied.stdout).toContain('deployment.apps/tributary-operator');
    } else {
      try {
        const existing = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
        crd.metadata!.resourceVersion = existing.metadata?.resourceVersion;
        await ext.replaceCustomResourceDefinition({ name: crd.metadata!.name!, body: crd });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e;
        await ext.createCustomResourceDefinition({ body: crd });
      }
    }
    await waitFor('the CRD to be established', async () => {
      const c = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    });
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
    for (const name of ['tributary-admin', 'tributary-repl']) {
      await core.createNamespacedSecret({
        namespace: NS,
        body: {
          metadata: { name },
          stringData: { username: 'tributary', password: 'e2e-not-a-real-password' },
        },
      });
    }
    // The built operator, with a kubeconfig, watching this namespace, electing a leader in it.
    op = (
      await startOperatorProcess({
        kubeconfig,
        args: ['--namespace', NS, '--leader-elect'],
        env: { POD_NAMESPACE: NS },
      })
    ).proc;
  }, 120_000);

  afterAll(async () => {
    if (op && op.exitCode === null) {
      op.kill('SIGTERM');
      await new Promise((r) => op!.once('exit', r));
    }
    if (!api) await core?.deleteNamespace({ name: NS }).catch(() => undefined);
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('kubectl discovers the custom resource and explains it from the schema the server publishes', async () => {
    const resources = await kubectl('api-resources', '--api-group=tributary.dev', '-o', 'name');
    expect(resources.stdout.trim()).toBe('mysqltopologies.tributary.dev');
    const explained = await kubectl('explain', 'mysqltopology.spec.groups.channels');
    expect(explained.stdout).toMatch(/FIELD: channels/);
    expect(explained.stdout).toMatch(/from\s/);
  });

  it("kubectl refuses a topology the schema refuses, with the server's message", async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `apiVersion: tributary.dev/v1alpha1\nkind: MySQLTopology\nmetadata: {name: bad, namespace: ${NS}}\nspec:\n  adminSecretRef: {name: a}\n  replicationSecretRef: {name: r}\n  groups: [{name: g, members: [{name: m-0, host: h, port: 70000}]}]\n`,
    );
    const r = await kubectl('apply', '-f', bad).then(
      () => ({ stderr: '', failed: false }),
      (e: { stderr: string }) => ({ stderr: e.stderr, failed: true }),
    );
    expect(r.failed).toBe(true);
    expect(r.stderr).toMatch(/spec\.groups\[0\]\.members\[0\]\.port: Invalid value: 70000/);
  });

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
    // The pass's report (its instances): a journal written before acting (first contact's credentials
    // record) comes first, with observedGeneration too.
    const obj = await waitFor('status with observedGeneration 1', async () => {
      const o = await get();
      return o.status?.observedGeneration === 1 && o.status.instances?.length > 0 ? o : undefined;
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
    // A spec the schema admits but the operator refuses (two channels of dw from one source group): phase
    // Invalid, and a Warning event on the topology.
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name: 'warehouse',
        body: {
          spec: {
            groups: [
              { name: 'shard-a', members: [{ name: 'a-0', host: '127.0.0.1', port: 1 }] },
              {
                name: 'dw',
                members: [{ name: 'dw-0', host: '127.0.0.2', port: 1 }],
                channels: [
                  { name: 'shard_a', from: 'shard-a' },
                  { name: 'shard_a_again', from: 'shard-a' },
                ],
              },
            ],
          },
        },
      },
      (await import('@kubernetes/client-node')).setHeaderOptions(
        'Content-Type',
        'application/merge-patch+json',
      ),
    );
    await waitFor('phase Invalid', async () => (await get()).status?.phase === 'Invalid');
    const events = await waitFor('an event on the topology', async () => {
      const list = await core.listNamespacedEvent({ namespace: NS });
      const mine = list.items.filter((e) => e.involvedObject.kind === 'MySQLTopology');
      return mine.length ? mine : undefined;
    });
    expect(events[0]!.involvedObject.name).toBe('warehouse');
    expect(events.map((e) => e.reason)).toContain('InvalidSpec');
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
