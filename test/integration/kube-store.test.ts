// KubernetesStore and the controller loop against the test API server (test/harness/kube-api-server.ts):
// the topologies live in a real apiextensions-apiserver with etcd, Secrets and Events in the core.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderCrdYaml, topologyCrd } from '../../src/api/crd.js';
import { emptyChannelStatus, type TopologyStatus } from '../../src/api/status.js';
import { FakeClock } from '../../src/util/clock.js';
import { runController, type PassOutcome } from '../../src/controller/loop.js';
import { silentLog } from '../../src/util/log-sink.js';
import type { PassResult, Reconciler } from '../../src/controller/pass.js';
import { FINALIZER, KubernetesStore, mergePatchDiff } from '../../src/store/kubernetes.js';
import { ConflictError, refKey, type TopologyRef } from '../../src/store/store.js';
import {
  EVENTS,
  KubeApiServer,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  topologyManifest,
} from '../harness/kube-api-server.js';

let api: KubeApiServer;
const stops: AbortController[] = [];

beforeAll(async () => {
  api = await KubeApiServer.start({ bookmarkIntervalMs: 200 });
  await api.applyYaml(renderCrdYaml());
});
afterEach(async () => {
  for (const ac of stops.splice(0)) ac.abort();
  await api.reset();
});
afterAll(async () => {
  await api.close();
});

function abortable(): AbortController {
  const ac = new AbortController();
  stops.push(ac);
  return ac;
}

const status = (over: Partial<TopologyStatus> = {}): TopologyStatus => ({
  phase: 'Ready',
  conditions: [],
  groups: [{ name: 'g', primary: 'm-0', members: 1, ready: 1 }],
  instances: [],
  channels: [],
  managedChannels: [],
  failovers: [],
  ...over,
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('KubernetesStore: reads', () => {
  it('lists topologies in all namespaces, or in one', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    await api.create(TOPOLOGIES, topologyManifest('other', 'x'));
    const all = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    expect((await all.list()).map(refKey).sort()).toEqual(['db/warehouse', 'other/x']);
    const one = new KubernetesStore({ kubeConfig: api.kubeConfig(), namespace: 'db' });
    expect((await one.list()).map(refKey)).toEqual(['db/warehouse']);
  });

  it('gets a topology with generation, annotations, raw spec, parsed status and deletion mark', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => {
      o.metadata.annotations = { 'tributary.dev/switchover': 'g=m-1' };
      (o.spec as { paused?: boolean }).paused = true;
    });
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const ref = { namespace: 'db', name: 'warehouse' };
    await store.writeStatus(ref, status({ phase: 'Paused' }), 2);
    const t = await store.get(ref);
    expect(t).toMatchObject({
      ref,
      generation: 2,
      annotations: { 'tributary.dev/switchover': 'g=m-1' },
      spec: { paused: true, adminSecretRef: { name: 'tributary-admin' } },
      status: { phase: 'Paused', observedGeneration: 2 },
    });
    expect(t?.deleting).toBeUndefined();
    expect(await store.get({ namespace: 'db', name: 'nope' })).toBeUndefined();
  });

  it('reads a Secret, decoding base64 data; a missing Secret is undefined', async () => {
    await api.create(
      SECRETS,
      secretManifest('db', 'tributary-admin', { username: 'tributary', password: 'p@ss wörd' }),
    );
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    expect(await store.readSecret('db', 'tributary-admin')).toEqual({
      username: 'tributary',
      password: 'p@ss wörd',
    });
    expect(await store.readSecret('db', 'missing')).toBeUndefined();
  });
});

describe('KubernetesStore: a stored status that partly does not parse', () => {
  // Another CRD than this operator's, whose status takes anything: an older or newer operator, or a human,
  // may have stored what this one cannot read.
  beforeEach(async () => {
    const crd = topologyCrd() as {
      spec: { versions: { schema: { openAPIV3Schema: Record<string, any> } }[] };
    };
    crd.spec.versions[0]!.schema.openAPIV3Schema.properties.status = {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
    };
    await api.applyYaml(JSON.stringify(crd));
  });
  afterEach(async () => {
    await api.applyYaml(renderCrdYaml());
  });

  it('keeps the journal and what else it can read, and names the parts left out', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const record = {
      id: 'g-1',
      group: 'g',
      from: 'm-0',
      to: 'm-1',
      reason: 'DeadPrimary',
      phase: 'CatchingUp',
      startedAt: '2026-11-29T10:00:00Z',
    };
    const raw = await fetch(
      `${api.url}/apis/tributary.dev/v1alpha1/namespaces/db/mysqltopologies/warehouse/status`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({
          status: {
            phase: 'Ready',
            failovers: [record, { ...record, id: 'g-2', phase: 'Napping' }],
            managedChannels: [{ group: 'dw', name: 'shard_a', from: 'shard-a' }],
            channels: 'not a list',
          },
        }),
      },
    );
    expect(raw.status).toBe(200);
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const t = (await store.get({ namespace: 'db', name: 'warehouse' }))!;
    expect(t.status?.failovers).toEqual([expect.objectContaining({ id: 'g-1', phase: 'CatchingUp' })]);
    expect(t.status?.managedChannels).toEqual([{ group: 'dw', name: 'shard_a', from: 'shard-a' }]);
    expect(t.status?.phase).toBe('Ready');
    expect(t.statusProblems).toEqual([
      expect.stringMatching(/^status\.failovers\[1\] \("g-2"\): phase: .*; left out$/),
      expect.stringMatching(/^status\.channels: .*; left out$/),
    ]);
  });
});

describe('KubernetesStore: writes', () => {
  const ref = { namespace: 'db', name: 'warehouse' };
  beforeEach(async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
  });

  it('writes status through the status subresource as a merge patch, with observedGeneration, only on change', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    await store.writeStatus(ref, status(), 1);
    const patches = api.requestsMatching('PATCH', '/mysqltopologies/warehouse/status');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType).toBe('application/merge-patch+json');
    expect(patches[0]!.status).toBe(200);
    const stored = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    expect(stored.status).toMatchObject({ phase: 'Ready', observedGeneration: 1 });
    expect(stored.metadata.generation).toBe(1);
    // Same status again: nothing is sent.
    await store.writeStatus(ref, status(), 1);
    expect(api.requestsMatching('PATCH', '/status')).toHaveLength(1);
    // A change sends only the difference, and removes what disappeared.
    await store.writeStatus(
      ref,
      status({ phase: 'Degraded', summary: { channelsRunning: 0, channelsTotal: 1 } }),
      1,
    );
    await store.writeStatus(ref, status({ phase: 'Degraded' }), 1);
    const last = api.requestsMatching('PATCH', '/status').at(-1)!;
    // Conditional on the version the difference was computed against.
    expect(last.body).toEqual({
      metadata: { resourceVersion: expect.stringMatching(/^\d+$/) },
      status: { summary: null },
    });
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.status).not.toHaveProperty('summary');
    expect(api.requestsMatching('PATCH', '/status')).toHaveLength(3);
  });

  it('does not touch spec or generation when writing status, even when the stored object changed meanwhile', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    await store.get(ref);
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => ((o.spec as { paused?: boolean }).paused = true));
    await store.writeStatus(ref, status({ phase: 'Paused' }), 2);
    const stored = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    expect(stored.metadata.generation).toBe(2);
    expect((stored.spec as { paused?: boolean }).paused).toBe(true);
    expect(stored.status).toMatchObject({ phase: 'Paused', observedGeneration: 2 });
  });

  it('emits core/v1 Events on the topology; a repeat is written at most once a minute, with its count', async () => {
    const clock = new FakeClock();
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig(), clock });
    const uid = api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.uid;
    const broken = { type: 'Warning', reason: 'ChannelBroken', message: 'dw-0/shard_a: error 1236' } as const;
    await store.emitEvent(ref, broken);
    // Repeats within the minute: counted, not written.
    for (let i = 0; i < 5; i++) {
      await clock.advance(5_000);
      await store.emitEvent(ref, broken);
    }
    await store.emitEvent(ref, { type: 'Normal', reason: 'FailoverDone', message: 'shard-a: a-0 -> a-1' });
    expect(api.list(EVENTS, 'db')).toHaveLength(2);
    expect(api.requestsMatching('PATCH', '/events/')).toHaveLength(0);
    expect(api.list(EVENTS, 'db').find((e) => e.reason === 'ChannelBroken')!.count).toBe(1);
    // A minute after the first write, the count is written once.
    await clock.advance(40_000);
    await waitFor(() => api.requestsMatching('PATCH', '/events/').length === 1);
    // A repeat after that minute is written at once.
    await clock.advance(61_000);
    await store.emitEvent(ref, broken);
    expect(api.requestsMatching('PATCH', '/events/')).toHaveLength(2);
    const events = api.list(EVENTS, 'db');
    expect(events).toHaveLength(2);
    expect(events.find((e) => e.reason === 'ChannelBroken')).toMatchObject({
      type: 'Warning',
      count: 7,
      involvedObject: {
        apiVersion: 'tributary.dev/v1alpha1',
        kind: 'MySQLTopology',
        name: 'warehouse',
        namespace: 'db',
        uid,
      },
      source: { component: 'tributary-operator' },
    });
    const eventPatches = api.requestsMatching('PATCH', '/events/');
    expect(eventPatches.every((p) => p.contentType === 'application/merge-patch+json')).toBe(true);
    // Ten minutes without a repeat: the next one is a new Event.
    await clock.advance(11 * 60_000);
    await store.emitEvent(ref, broken);
    expect(api.list(EVENTS, 'db').filter((e) => e.reason === 'ChannelBroken')).toHaveLength(2);
    store.close();
  });

  it('removes an annotation with a merge patch setting it to null, keeping the others', async () => {
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => {
      o.metadata.annotations = { 'tributary.dev/switchover': 'g=m-1', keep: 'me' };
    });
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    await store.removeAnnotation(ref, 'tributary.dev/switchover');
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.annotations).toEqual({ keep: 'me' });
    const patch = api.requestsMatching('PATCH', '/mysqltopologies/warehouse').at(-1)!;
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.body).toEqual({ metadata: { annotations: { 'tributary.dev/switchover': null } } });
    await store.removeAnnotation({ namespace: 'db', name: 'gone' }, 'x');
  });

  it('adds the finalizer on first sight; on deletion removes it and admits no pass', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    expect(await store.admit(ref)).toBe(true);
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.finalizers).toEqual([FINALIZER]);
    const patches = api.requestsMatching('PATCH', '/mysqltopologies/warehouse').length;
    expect(await store.admit(ref)).toBe(true);
    expect(api.requestsMatching('PATCH', '/mysqltopologies/warehouse')).toHaveLength(patches);
    await api.delete(TOPOLOGIES, 'db', 'warehouse');
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')?.metadata.deletionTimestamp).toBeTruthy();
    expect((await store.get(ref))?.deleting).toBe(true);
    expect(await store.admit(ref)).toBe(false);
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')).toBeUndefined();
    expect(await store.admit(ref)).toBe(false);
  });

  it('keeps other finalizers and retries on a conflicting concurrent change', async () => {
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => (o.metadata.finalizers = ['example.com/other']));
    api.injectFailure({ method: 'PATCH', pathIncludes: '/mysqltopologies/warehouse', status: 409 });
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    expect(await store.admit(ref)).toBe(true);
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.finalizers).toEqual([
      'example.com/other',
      FINALIZER,
    ]);
    await api.delete(TOPOLOGIES, 'db', 'warehouse');
    expect(await store.admit(ref)).toBe(false);
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.finalizers).toEqual(['example.com/other']);
  });
});

describe('KubernetesStore: status round trip and concurrency, with the CRD installed', () => {
  const ref = { namespace: 'db', name: 'warehouse' };
  beforeEach(async () => {
    await api.applyYaml(renderCrdYaml());
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
  });
  const withChannel = (): TopologyStatus =>
    status({
      groups: [{ name: 'g', primary: null, members: 1, ready: 0 }],
      channels: [
        {
          ...emptyChannelStatus('shard_a'),
          ioRunning: 'Yes',
          sqlRunning: 'Yes',
          replica: 'dw-0',
          from: 'shard-a',
          source: null,
          managed: true,
          state: 'Running',
        },
      ],
    });

  it('what it writes reads back equal (nulls read as absent), and the same status is not written again', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    await store.writeStatus(ref, withChannel(), 1);
    const patch = api.requestsMatching('PATCH', '/status')[0]!;
    expect(JSON.stringify(patch.body)).not.toContain('null');
    const read = await store.get(ref);
    expect(read?.statusProblems).toBeUndefined();
    expect(read?.status).toEqual({ ...withChannel(), observedGeneration: 1 });
    await store.writeStatus(ref, read!.status!, 1);
    expect(api.requestsMatching('PATCH', '/status')).toHaveLength(1);
  });

  it('a write decided on a stale copy fails with ConflictError; an unconditional one is recomputed on a fresh read', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const read = (await store.get(ref))!;
    const { resourceVersion } = await store.writeStatus(ref, status({ phase: 'FailingOver' }), 1, {
      resourceVersion: read.resourceVersion,
    });
    expect(resourceVersion).toBe(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.resourceVersion);
    // Another writer (a second operator, a human) changes the object.
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => (o.metadata.labels = { touched: 'yes' }));
    await expect(
      store.writeStatus(ref, status({ phase: 'Ready' }), 1, { resourceVersion }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(api.requests.filter((r) => r.status === 409)).toHaveLength(1);
    expect((api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase: string }).phase).toBe('FailingOver');
    // Unconditional: the 409 leads to a fresh read and a new patch.
    await store.writeStatus(ref, status({ phase: 'Degraded' }), 1);
    expect((api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase: string }).phase).toBe('Degraded');
  });
});

describe('the in-process API server enforces what clients get wrong', () => {
  beforeEach(async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
  });
  const base = '/apis/tributary.dev/v1alpha1/namespaces/db/mysqltopologies/warehouse';

  const raw = (method: string, path: string, contentType: string, body: unknown) =>
    fetch(api.url + path, { method, headers: { 'content-type': contentType }, body: JSON.stringify(body) });

  it('refuses strategic merge and plain JSON patches of custom resources (415)', async () => {
    expect((await raw('PATCH', base, 'application/strategic-merge-patch+json', { spec: {} })).status).toBe(
      415,
    );
    expect((await raw('PATCH', base + '/status', 'application/json', { status: {} })).status).toBe(415);
    expect(
      (await raw('PATCH', base + '/status', 'application/merge-patch+json', { status: { phase: 'Ready' } }))
        .status,
    ).toBe(200);
  });

  it('the client library without an explicit content type sends a JSON patch, which fails on a missing status', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const params = {
      group: 'tributary.dev',
      version: 'v1alpha1',
      namespace: 'db',
      plural: 'mysqltopologies',
      name: 'warehouse',
    };
    await expect(
      custom.patchNamespacedCustomObjectStatus({
        ...params,
        body: [{ op: 'replace', path: '/status/phase', value: 'Ready' }],
      }),
    ).rejects.toMatchObject({ code: 422 });
    expect(api.requests.at(-1)!.contentType).toBe('application/json-patch+json');
    await custom.patchNamespacedCustomObjectStatus(
      { ...params, body: { status: { phase: 'Ready' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.status).toEqual({ phase: 'Ready' });
  });

  it('ignores status on the main resource and spec on /status; generation moves only with spec', async () => {
    await raw('PATCH', base, 'application/merge-patch+json', { status: { phase: 'Ready' } });
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.status).toBeUndefined();
    await raw('PATCH', base + '/status', 'application/merge-patch+json', {
      spec: { paused: true },
      status: { phase: 'Paused' },
    });
    let o = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    // The server defaults paused (false); the /status write did not set it.
    expect((o.spec as { paused?: boolean }).paused).toBe(false);
    expect(o.metadata.generation).toBe(1);
    await raw('PATCH', base, 'application/merge-patch+json', { metadata: { labels: { a: 'b' } } });
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.generation).toBe(1);
    await raw('PATCH', base, 'application/merge-patch+json', { spec: { paused: true } });
    o = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    expect(o.metadata.generation).toBe(2);
    expect(o.status).toEqual({ phase: 'Paused' });
  });

  it('answers 409 to an update with a stale resourceVersion and 422 to one without', async () => {
    const o = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (x) => (x.metadata.labels = { moved: 'on' }));
    expect((await raw('PUT', base, 'application/json', o)).status).toBe(409);
    expect(
      (
        await raw('PUT', base, 'application/json', {
          ...o,
          metadata: { ...o.metadata, resourceVersion: undefined },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await raw('PATCH', base, 'application/merge-patch+json', {
          metadata: { resourceVersion: o.metadata.resourceVersion, finalizers: [] },
        })
      ).status,
    ).toBe(409);
  });
});

describe('KubernetesStore.watch', () => {
  function startWatch(store: KubernetesStore, opts: { stallTimeoutMs?: number } = {}) {
    const ac = abortable();
    const enqueued: string[] = [];
    const deleted: string[] = [];
    const handle = store.watch({
      enqueue: (r) => enqueued.push(refKey(r)),
      onDeleted: (r) => deleted.push(refKey(r)),
      signal: ac.signal,
      backoff: { baseMs: 20, maxMs: 200 },
      ...opts,
    });
    return { ac, enqueued, deleted, handle };
  }

  it('enqueues on list and on relevant changes, not on status-only changes (our own writes)', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    expect(w.enqueued).toEqual(['db/a']);
    await waitFor(() => api.watchesOf(TOPOLOGIES) === 1 && api.watchesOf(SECRETS) === 2);
    await api.create(TOPOLOGIES, topologyManifest('db', 'b'));
    await waitFor(() => w.enqueued.includes('db/b'));
    await store.writeStatus({ namespace: 'db', name: 'a' }, status(), 1);
    await api.edit(
      TOPOLOGIES,
      'db',
      'b',
      (o) => (o.metadata.annotations = { 'tributary.dev/switchover': 'g=m-0' }),
    );
    await waitFor(() => w.enqueued.filter((k) => k === 'db/b').length === 2);
    expect(w.enqueued.filter((k) => k === 'db/a')).toHaveLength(1);
    await api.edit(TOPOLOGIES, 'db', 'a', (o) => ((o.spec as { paused?: boolean }).paused = true));
    await waitFor(() => w.enqueued.filter((k) => k === 'db/a').length === 2);
    await api.delete(TOPOLOGIES, 'db', 'a');
    await waitFor(() => w.deleted.includes('db/a'));
  });

  it('watches exactly the Secrets the topologies name, each by name; a change enqueues the topologies naming it', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    await api.create(TOPOLOGIES, topologyManifest('db', 'b', { adminSecretRef: { name: 'other-admin' } }));
    await api.create(TOPOLOGIES, topologyManifest('elsewhere', 'c'));
    await api.create(SECRETS, secretManifest('db', 'unrelated', { token: 'not for tributary' }));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    // db: tributary-admin, tributary-repl, other-admin; elsewhere: tributary-admin, tributary-repl.
    await waitFor(() => api.watchesOf(SECRETS) === 5);
    expect(w.handle.stats().secrets).toBe(5);
    const secretRequests = api.requests.filter((r) => r.resource === 'secrets');
    expect(secretRequests.length).toBeGreaterThan(0);
    for (const r of secretRequests) {
      expect(r.path, 'namespaced').toMatch(/^\/api\/v1\/namespaces\/(db|elsewhere)\/secrets$/);
      expect(r.query.fieldSelector, r.path).toMatch(
        /^metadata\.name=(tributary-admin|tributary-repl|other-admin)$/,
      );
    }
    w.enqueued.length = 0;
    await api.create(SECRETS, secretManifest('db', 'unrelated-2', { token: 'x' }));
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await waitFor(() => w.enqueued.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(w.enqueued).toEqual(['db/a']);
    await api.create(SECRETS, secretManifest('db', 'other-admin', { username: 'u', password: 'p' }));
    await waitFor(() => w.enqueued.includes('db/b'));
    expect(w.enqueued).not.toContain('elsewhere/c');
    // Served from the watch: no request for it.
    const before = api.requests.length;
    expect(await store.readSecret('db', 'tributary-admin')).toEqual({ username: 'u', password: 'p' });
    expect(await store.readSecret('db', 'tributary-repl')).toBeUndefined();
    expect(api.requests.length).toBe(before);
    // A topology that stops naming a Secret: its watch stops.
    await api.edit(
      TOPOLOGIES,
      'db',
      'b',
      (o) => ((o.spec as Record<string, unknown>).adminSecretRef = { name: 'tributary-admin' }),
    );
    await waitFor(() => api.watchesOf(SECRETS) === 4);
  });

  it('serves get(), list() and readSecret() from its caches: no request at rest', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await api.create(SECRETS, secretManifest('db', 'tributary-repl', { username: 'r', password: 'q' }));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    await waitFor(() => api.watchesOf(SECRETS) === 2 && api.watchesOf(TOPOLOGIES) === 1);
    await waitFor(async () => (await store.readSecret('db', 'tributary-repl'))?.username === 'r');
    const before = api.requests.length;
    for (let i = 0; i < 20; i++) {
      expect((await store.get({ namespace: 'db', name: 'a' }))?.generation).toBe(1);
      expect(await store.list()).toEqual([{ namespace: 'db', name: 'a' }]);
      expect(await store.readSecret('db', 'tributary-admin')).toEqual({ username: 'u', password: 'p' });
    }
    expect(api.requests.slice(before)).toEqual([]);
    // What it writes is what it reads next, at once.
    const { resourceVersion } = await store.writeStatus({ namespace: 'db', name: 'a' }, status(), 1);
    expect((await store.get({ namespace: 'db', name: 'a' }))?.resourceVersion).toBe(resourceVersion);
  });

  it.each(['event', 'http'] as const)(
    'relists after 410 Gone (%s) and catches up on what changed',
    async (mode) => {
      api.goneMode = mode;
      await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
      const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
      const w = startWatch(store);
      await w.handle.whenSynced;
      await waitFor(() => api.watchesOf(TOPOLOGIES) === 1);
      // Changes the watch will not see (its streams are cut, new ones held), then history is compacted.
      api.pauseWatches();
      api.closeWatches();
      await api.create(TOPOLOGIES, topologyManifest('db', 'b'));
      await api.compact();
      api.resumeWatches();
      await waitFor(() => w.enqueued.includes('db/b'));
      expect(w.handle.stats().relistsOnGone).toBeGreaterThanOrEqual(1);
      expect(w.handle.stats().lists).toBeGreaterThanOrEqual(3);
      expect(w.handle.stats().errors).toBe(0);
      await waitFor(() => api.watchesOf(TOPOLOGIES) === 1);
    },
  );

  it('re-watches from the last resourceVersion when the server ends the stream, without relisting', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    await waitFor(() => api.watchesOf(TOPOLOGIES) === 1);
    const lists = w.handle.stats().lists;
    api.closeWatches();
    await api.create(TOPOLOGIES, topologyManifest('db', 'b'));
    await waitFor(() => w.enqueued.includes('db/b'));
    expect(w.handle.stats().lists).toBe(lists);
    const watches = api.requestsMatching('GET', '/mysqltopologies').filter((r) => r.query.watch);
    expect(watches.at(-1)!.query.resourceVersion).not.toBe('');
    expect(watches.at(-1)!.query.allowWatchBookmarks).toBe('true');
  });

  it('restarts with backoff after a watch error, and after a list error', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    api.injectFailure({ method: 'GET', pathIncludes: '/mysqltopologies', watch: false, status: 500 });
    api.injectFailure({
      method: 'GET',
      pathIncludes: '/mysqltopologies',
      watch: true,
      status: 500,
      times: 2,
    });
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    await waitFor(() => api.watchesOf(TOPOLOGIES) === 1);
    expect(w.handle.stats().errors).toBe(3);
    await api.create(TOPOLOGIES, topologyManifest('db', 'b'));
    await waitFor(() => w.enqueued.includes('db/b'));
  });

  it('restarts a stream that went silent (no events, no bookmarks)', async () => {
    const quiet = await KubeApiServer.start({ bookmarkIntervalMs: 60_000 });
    try {
      await quiet.applyYaml(renderCrdYaml());
      const store = new KubernetesStore({ kubeConfig: quiet.kubeConfig() });
      const w = startWatch(store, { stallTimeoutMs: 150 });
      await w.handle.whenSynced;
      await waitFor(
        () => quiet.requestsMatching('GET', '/mysqltopologies').filter((r) => r.query.watch).length >= 3,
      );
      w.ac.abort();
      await w.handle.done;
    } finally {
      await quiet.close();
    }
  });

  it('stops on abort and closes its streams', async () => {
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const w = startWatch(store);
    await w.handle.whenSynced;
    await waitFor(() => api.activeWatches === 1);
    await api.create(TOPOLOGIES, topologyManifest('db', 'a'));
    await waitFor(() => api.activeWatches === 3);
    w.ac.abort();
    await w.handle.done;
    await waitFor(() => api.activeWatches === 0);
  });
});

describe('controller loop with the Kubernetes store', () => {
  /** A stub pass: reads what a real pass reads and returns a fixed status. */
  function stubReconciler(fixed: TopologyStatus, calls: string[]): Reconciler {
    return async (store, ref): Promise<PassResult | undefined> => {
      calls.push(refKey(ref));
      const t = await store.get(ref);
      if (!t) return undefined;
      const secret = await store.readSecret(ref.namespace, 'tributary-admin');
      const next = {
        ...fixed,
        phase: secret ? fixed.phase : ('Invalid' as const),
        observedGeneration: t.generation,
      };
      const changed =
        mergePatchDiff(JSON.parse(JSON.stringify(t.status ?? {})), JSON.parse(JSON.stringify(next))) !==
        undefined;
      return {
        status: next,
        statusChanged: changed,
        events: changed ? [{ type: 'Normal', reason: 'StatusChanged', message: `phase ${next.phase}` }] : [],
        actionsExecuted: 0,
        requeueAfterMs: 100,
      };
    };
  }

  it('adds the finalizer, writes the status once, emits one event, and lets deletion go through', async () => {
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const ac = abortable();
    const calls: string[] = [];
    const outcomes: PassOutcome[] = [];
    const ctl = runController({
      store,
      reconcile: stubReconciler(status(), calls),
      log: silentLog,
      signal: ac.signal,
      onPass: (o) => outcomes.push(o),
    });
    const w = store.watch({ enqueue: (r) => ctl.enqueue(r), signal: ac.signal });
    await w.whenSynced;
    await waitFor(() => calls.length >= 5);
    const o = api.get(TOPOLOGIES, 'db', 'warehouse')!;
    expect(o.metadata.finalizers).toEqual([FINALIZER]);
    expect(o.status).toMatchObject({ phase: 'Ready', observedGeneration: 1 });
    expect(api.requestsMatching('PATCH', '/status')).toHaveLength(1);
    expect(api.list(EVENTS, 'db')).toHaveLength(1);
    expect(outcomes.filter((x) => x.statusWritten)).toHaveLength(1);
    expect(outcomes.every((x) => !x.error)).toBe(true);
    // Once the watch has seen the finalizer, admitting a pass costs no request: one GET per pass (the stub's).
    const gets = () => api.requestsMatching('GET', '/namespaces/db/mysqltopologies/warehouse').length;
    const [g0, c0] = [gets(), calls.length];
    await waitFor(() => calls.length >= c0 + 5);
    await waitFor(() => ctl.stats().running === 0);
    expect(gets() - g0).toBeLessThanOrEqual(calls.length - c0 + 1);
    // A spec change: generation 2 reaches observedGeneration.
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (x) => ((x.spec as { paused?: boolean }).paused = true));
    await waitFor(
      () =>
        (api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { observedGeneration?: number } | undefined)
          ?.observedGeneration === 2,
    );
    // Deletion: the finalizer goes, the object goes, no more passes.
    await api.delete(TOPOLOGIES, 'db', 'warehouse');
    await waitFor(() => api.get(TOPOLOGIES, 'db', 'warehouse') === undefined);
    await waitFor(() => ctl.stats().timers === 0 && ctl.stats().running === 0);
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.length).toBe(n);
    ac.abort();
    await ctl.done;
    await w.done;
  });

  it('reports Invalid when the admin Secret is missing and recovers when it appears (Secret watch)', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const ac = abortable();
    const calls: string[] = [];
    const fixed = status();
    const reconcile = stubReconciler(fixed, calls);
    // Slow polling: only the Secret watch can bring the next pass quickly.
    const slow: Reconciler = async (s, r, o) => {
      const res = await reconcile(s, r, o);
      return res && { ...res, requeueAfterMs: 60_000 };
    };
    const ctl = runController({ store, reconcile: slow, log: silentLog, signal: ac.signal });
    const w = store.watch({ enqueue: (r) => ctl.enqueue(r), signal: ac.signal });
    await waitFor(
      () =>
        (api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase?: string } | undefined)?.phase ===
        'Invalid',
    );
    await waitFor(() => api.watchesOf(SECRETS) === 2);
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await waitFor(
      () =>
        (api.get(TOPOLOGIES, 'db', 'warehouse')!.status as { phase?: string } | undefined)?.phase === 'Ready',
    );
    ac.abort();
    await Promise.all([ctl.done, w.done]);
  });

  it('writes nothing while mayWrite() is false', async () => {
    await api.create(SECRETS, secretManifest('db', 'tributary-admin', { username: 'u', password: 'p' }));
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const ac = abortable();
    const calls: string[] = [];
    const ctl = runController({
      store,
      reconcile: stubReconciler(status(), calls),
      log: silentLog,
      signal: ac.signal,
      mayWrite: () => false,
    });
    await waitFor(() => calls.length >= 3);
    const writes = api.requests.filter((r) => r.method !== 'GET');
    expect(writes).toEqual([]);
    ac.abort();
    await ctl.done;
  });

  it('removes an annotation only as of the version decided on: one set again in between stays (409)', async () => {
    const ack = 'tributary.dev/ack-failover';
    await api.create(TOPOLOGIES, topologyManifest('db', 'warehouse'));
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => {
      o.metadata.annotations = { [ack]: 'shard-a' };
    });
    const store = new KubernetesStore({ kubeConfig: api.kubeConfig() });
    const ref = { namespace: 'db', name: 'warehouse' };
    const decided = (await store.get(ref))!;
    expect(decided.annotations[ack]).toBe('shard-a');
    // Someone acknowledges again (another value) after the decision read the object.
    await api.edit(TOPOLOGIES, 'db', 'warehouse', (o) => {
      o.metadata.annotations = { [ack]: 'shard-b' };
    });
    await expect(
      store.removeAnnotation(ref, ack, { resourceVersion: decided.resourceVersion! }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await api.get(TOPOLOGIES, 'db', 'warehouse'))!.metadata.annotations?.[ack]).toBe('shard-b');
    const patch = (await api.requestsMatching('PATCH', '/mysqltopologies/warehouse')).at(-1)!;
    expect(patch.body).toEqual({
      metadata: { annotations: { [ack]: null }, resourceVersion: decided.resourceVersion },
    });
    // The next pass decides on the new value and removes it as of that version.
    const next = (await store.get(ref))!;
    expect(next.annotations[ack]).toBe('shard-b');
    await store.removeAnnotation(ref, ack, { resourceVersion: next.resourceVersion! });
    expect((await api.get(TOPOLOGIES, 'db', 'warehouse'))!.metadata.annotations?.[ack]).toBeUndefined();
  });
});

export type { TopologyRef };
