// The operator's routing endpoints (src/store/endpoints.ts) against the test API server: Services and
// EndpointSlices live in its core, the MySQLTopology (for the owner reference's uid) in the real
// apiextensions-apiserver. Steps are applied through the class as the pass would; what is stored is read
// back from the server, and what observe() says from the class's informer cache.
import { lookup } from 'node:dns/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import type { RoutedMember, RoutingStep } from '../../src/plan/routing.js';
import {
  SERVICE_SELECTOR,
  SLICE_SELECTOR,
  createKubernetesEndpoints,
  type EndpointsGroup,
  type EndpointsWatchHandle,
  type KubernetesEndpoints,
  type KubernetesEndpointsOptions,
} from '../../src/store/endpoints.js';
import { KubernetesStore } from '../../src/store/kubernetes.js';
import type { TopologyRef } from '../../src/store/store.js';
import {
  ENDPOINT_SLICES,
  KubeApiServer,
  SERVICES,
  TOPOLOGIES,
  topologyManifest,
  type KObject,
} from '../harness/kube-api-server.js';

const NS = 'db';
const ref: TopologyRef = { namespace: NS, name: 'warehouse' };
const SHARD_A: EndpointsGroup = {
  name: 'shard-a',
  members: [
    { name: 'a-0', host: '127.0.0.1', port: 3306 },
    { name: 'a-1', host: '127.0.0.2', port: 3307 },
    { name: 'a-2', host: '::1', port: 3307 },
    { name: 'a-3', host: '127.0.0.3', port: 3308 },
  ],
};
const member = (g: EndpointsGroup, name: string, ready = true): RoutedMember => {
  const m = g.members.find((x) => x.name === name)!;
  return { name, host: m.host, port: m.port, ready };
};
const step = (group: EndpointsGroup, op: RoutingStep['op'], members: RoutedMember[]): RoutingStep => ({
  group: group.name,
  op,
  members,
  reason: 'test',
});

let api: KubeApiServer;
let uid: string;
const stops: AbortController[] = [];

beforeAll(async () => {
  api = await KubeApiServer.start({ bookmarkIntervalMs: 200 });
  await api.applyYaml(renderCrdYaml());
});
beforeEach(async () => {
  uid = (await api.create(TOPOLOGIES, topologyManifest(NS, ref.name))).metadata.uid!;
});
afterEach(async () => {
  for (const ac of stops.splice(0)) ac.abort();
  await api.reset();
});
afterAll(async () => {
  await api?.close();
});

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The class with its informers running, the topology's uid read through the store (as the operator does). */
async function started(over: KubernetesEndpointsOptions = {}) {
  const store = new KubernetesStore({ kubeConfig: api.kubeConfig(NS), namespace: NS });
  const endpoints = createKubernetesEndpoints(api.kubeConfig(NS), { namespace: NS, ...over });
  const enqueued: TopologyRef[] = [];
  const ac = new AbortController();
  stops.push(ac);
  // The store's informers serve uidOf from their cache, as in the operator.
  await store.watch({ enqueue: () => {}, signal: ac.signal }).whenSynced;
  const handle = endpoints.watch({
    signal: ac.signal,
    enqueue: (r) => enqueued.push(r),
    uidOf: async (r) => (await store.get(r))?.uid,
  });
  await handle.whenSynced;
  return { endpoints, enqueued, handle };
}

const slice = (name: string) => api.get(ENDPOINT_SLICES, NS, name);
const slicesOf = (service: string) =>
  api
    .list(ENDPOINT_SLICES, NS)
    .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === service)
    .map((s) => s.metadata.name)
    .sort();
const endpointsOf = (s: KObject | undefined) =>
  (s?.['endpoints'] as { addresses: string[]; conditions: Record<string, boolean> }[] | undefined)?.map(
    (e) => [e.addresses, e.conditions],
  );
const writes = (from: number) =>
  Object.entries(api.counts(from)).filter(([k]) => !/^(get|list|watch) /.test(k));

describe('KubernetesEndpoints', () => {
  it('observe() answers undefined until the informers have listed, which use the label selectors', async () => {
    const endpoints: KubernetesEndpoints = createKubernetesEndpoints(api.kubeConfig(NS), { namespace: NS });
    expect(endpoints.observe(ref, [SHARD_A])).toBeUndefined();
    const ac = new AbortController();
    stops.push(ac);
    const handle: EndpointsWatchHandle = endpoints.watch({ signal: ac.signal });
    await handle.whenSynced;
    await until(() => api.requests.filter((r) => r.verb === 'watch').length === 2, 'both watches open');
    expect(endpoints.observe(ref, [SHARD_A])?.get('shard-a')).toEqual({
      writer: null,
      writerReady: false,
      readers: [],
    });
    const selectors = api.requests
      .filter((r) => r.verb === 'list' || r.verb === 'watch')
      .map((r) => `${r.verb} ${r.resource} ${r.query.labelSelector}`);
    expect(selectors).toEqual(
      expect.arrayContaining([
        `list endpointslices ${SLICE_SELECTOR}`,
        `watch endpointslices ${SLICE_SELECTOR}`,
        `list services ${SERVICE_SELECTOR}`,
        `watch services ${SERVICE_SELECTOR}`,
      ]),
    );
    expect(
      api.requests.every(
        (r) =>
          r.path.startsWith(`/api/v1/namespaces/${NS}/`) ||
          r.path.startsWith(`/apis/discovery.k8s.io/v1/namespaces/${NS}/`),
      ),
    ).toBe(true);
  });

  it('route and readers: Services without selector, one slice per family and port, labels and owner', async () => {
    const { endpoints, enqueued } = await started();
    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-0')]));
    await endpoints.apply(
      ref,
      step(SHARD_A, 'readers', [member(SHARD_A, 'a-1'), member(SHARD_A, 'a-2'), member(SHARD_A, 'a-3')]),
    );

    const owner = {
      apiVersion: 'tributary.dev/v1alpha1',
      kind: 'MySQLTopology',
      name: 'warehouse',
      uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    const labels = (role: string) => ({
      'app.kubernetes.io/managed-by': 'tributary',
      'tributary.dev/topology': 'warehouse',
      'tributary.dev/group': 'shard-a',
      'tributary.dev/role': role,
    });
    const primary = api.get(SERVICES, NS, 'warehouse-shard-a-primary')!;
    expect(primary.metadata.labels).toEqual(labels('primary'));
    expect(primary.metadata['ownerReferences']).toEqual([owner]);
    expect(primary['spec']).toEqual({
      type: 'ClusterIP',
      ports: [{ name: 'mysql', port: 3306, targetPort: 3306, protocol: 'TCP' }],
    });
    const replicas = api.get(SERVICES, NS, 'warehouse-shard-a-replicas')!;
    expect(replicas.metadata.labels).toEqual(labels('replicas'));
    // The reader Service takes the first reader's port.
    expect((replicas['spec'] as { ports: { port: number }[] }).ports[0]!.port).toBe(3307);

    expect(slicesOf('warehouse-shard-a-primary')).toEqual(['warehouse-shard-a-primary-ipv4-3306']);
    const w = slice('warehouse-shard-a-primary-ipv4-3306')!;
    expect(w.metadata.labels).toEqual({
      ...labels('primary'),
      'kubernetes.io/service-name': 'warehouse-shard-a-primary',
      'endpointslice.kubernetes.io/managed-by': 'tributary.dev',
    });
    expect(w.metadata['ownerReferences']).toEqual([owner]);
    expect(w['addressType']).toBe('IPv4');
    expect(w['ports']).toEqual([{ name: 'mysql', port: 3306, protocol: 'TCP' }]);
    expect(endpointsOf(w)).toEqual([[['127.0.0.1'], { ready: true, serving: true, terminating: false }]]);

    expect(slicesOf('warehouse-shard-a-replicas')).toEqual([
      'warehouse-shard-a-replicas-ipv4-3307',
      'warehouse-shard-a-replicas-ipv4-3308',
      'warehouse-shard-a-replicas-ipv6-3307',
    ]);
    const v6 = slice('warehouse-shard-a-replicas-ipv6-3307')!;
    expect(v6['addressType']).toBe('IPv6');
    expect(endpointsOf(v6)).toEqual([[['::1'], { ready: true, serving: true, terminating: false }]]);
    expect(endpointsOf(slice('warehouse-shard-a-replicas-ipv4-3308'))).toEqual([
      [['127.0.0.3'], { ready: true, serving: true, terminating: false }],
    ]);

    await until(() => endpoints.observe(ref, [SHARD_A])?.get('shard-a')?.readers.length === 3, 'observed');
    expect(endpoints.observe(ref, [SHARD_A])!.get('shard-a')).toEqual({
      writer: 'a-0',
      writerReady: true,
      readers: ['a-1', 'a-2', 'a-3'],
    });

    // Repeated at once, and again once the informer has delivered every write: nothing is sent.
    let from = api.requests.length;
    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-0')]));
    await endpoints.apply(
      ref,
      step(SHARD_A, 'readers', [member(SHARD_A, 'a-1'), member(SHARD_A, 'a-2'), member(SHARD_A, 'a-3')]),
    );
    expect(api.counts(from)).toEqual({});

    // A reader leaves: its slice goes, the others stay unwritten.
    from = api.requests.length;
    await endpoints.apply(ref, step(SHARD_A, 'readers', [member(SHARD_A, 'a-1'), member(SHARD_A, 'a-2')]));
    expect(api.counts(from)).toEqual({ 'delete endpointslices': 1 });
    expect(slicesOf('warehouse-shard-a-replicas')).toEqual([
      'warehouse-shard-a-replicas-ipv4-3307',
      'warehouse-shard-a-replicas-ipv6-3307',
    ]);

    // A hand edit: the next event on the same stream as our writes. Only it asked for a pass.
    await api.edit(ENDPOINT_SLICES, NS, 'warehouse-shard-a-primary-ipv4-3306', (o) => {
      (o['endpoints'] as { addresses: string[] }[])[0]!.addresses = ['10.9.9.9'];
    });
    await until(() => enqueued.length > 0, 'enqueued after the hand edit');
    expect(enqueued).toEqual([ref]);
    expect(endpoints.observe(ref, [SHARD_A])!.get('shard-a')).toEqual({
      writer: '?10.9.9.9:3306',
      writerReady: false,
      readers: ['a-1', 'a-2'],
    });
    // The step planned from that difference puts it back, with one write.
    from = api.requests.length;
    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-0')]));
    expect(writes(from)).toEqual([['update endpointslices', 1]]);
    expect(endpointsOf(slice('warehouse-shard-a-primary-ipv4-3306'))).toEqual([
      [['127.0.0.1'], { ready: true, serving: true, terminating: false }],
    ]);

    // An extra endpoint beside the writer: the writer is not reported ready (the same step rewrites it).
    await api.edit(ENDPOINT_SLICES, NS, 'warehouse-shard-a-primary-ipv4-3306', (o) => {
      (o['endpoints'] as unknown[]).push({ addresses: ['127.0.0.2'], conditions: { ready: true } });
    });
    await until(() => enqueued.length === 2, 'enqueued after the second hand edit');
    expect(endpoints.observe(ref, [SHARD_A])!.get('shard-a')).toMatchObject({
      writer: 'a-0',
      writerReady: false,
    });
  });

  it('drain empties the writer endpoints; route then holds exactly the new writer, ready as the step says', async () => {
    const { endpoints } = await started();
    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-0')]));
    await endpoints.apply(ref, step(SHARD_A, 'drain', [member(SHARD_A, 'a-0', false)]));
    expect(slicesOf('warehouse-shard-a-primary')).toEqual([]);
    // The Service stays, for clients to keep dialling.
    expect(api.get(SERVICES, NS, 'warehouse-shard-a-primary')).toBeDefined();
    await until(() => endpoints.observe(ref, [SHARD_A])?.get('shard-a')?.writer === null, 'drained');

    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-1', false)]));
    expect(slicesOf('warehouse-shard-a-primary')).toEqual(['warehouse-shard-a-primary-ipv4-3307']);
    expect(endpointsOf(slice('warehouse-shard-a-primary-ipv4-3307'))).toEqual([
      [['127.0.0.2'], { ready: false, serving: false, terminating: false }],
    ]);
    // The Service's port stays what it was created with: clients dial it; the slice says where it goes.
    expect(
      (api.get(SERVICES, NS, 'warehouse-shard-a-primary')!['spec'] as { ports: { port: number }[] }).ports[0]!
        .port,
    ).toBe(3306);
    expect(endpoints.observe(ref, [SHARD_A])!.get('shard-a')).toMatchObject({
      writer: 'a-1',
      writerReady: false,
    });

    await endpoints.apply(ref, step(SHARD_A, 'route', [member(SHARD_A, 'a-1', true)]));
    expect(endpointsOf(slice('warehouse-shard-a-primary-ipv4-3307'))).toEqual([
      [['127.0.0.2'], { ready: true, serving: true, terminating: false }],
    ]);
    expect(endpoints.observe(ref, [SHARD_A])!.get('shard-a')).toMatchObject({
      writer: 'a-1',
      writerReady: true,
    });
  });

  it('a DNS name gets a slice per family it resolves to', async () => {
    const answers = [...new Set((await lookup('localhost', { all: true })).map((a) => a.address))];
    expect(answers).toContain('127.0.0.1');
    const families = [...new Set(answers.map((a) => (a.includes(':') ? 'ipv6' : 'ipv4')))].sort();
    const { endpoints } = await started();
    const g: EndpointsGroup = { name: 'shard-b', members: [{ name: 'b-0', host: 'localhost', port: 3310 }] };
    await endpoints.apply(ref, step(g, 'route', [member(g, 'b-0')]));
    expect(slicesOf('warehouse-shard-b-primary')).toEqual(
      families.map((f) => `warehouse-shard-b-primary-${f}-3310`),
    );
    expect(endpointsOf(slice('warehouse-shard-b-primary-ipv4-3310'))).toEqual([
      [['127.0.0.1'], { ready: true, serving: true, terminating: false }],
    ]);
    if (answers.includes('::1'))
      expect(endpointsOf(slice('warehouse-shard-b-primary-ipv6-3310'))).toEqual([
        [['::1'], { ready: true, serving: true, terminating: false }],
      ]);
    await until(() => endpoints.observe(ref, [g])?.get('shard-b')?.writerReady === true, 'observed');
    expect(endpoints.observe(ref, [g])!.get('shard-b')).toEqual({
      writer: 'b-0',
      writerReady: true,
      readers: [],
    });
  });

  it('a changed DNS answer makes observe() differ, asks for a pass, and the step moves the endpoints', async () => {
    // A resolver whose answer the test changes (no DNS server to edit here); everything else is real.
    const dns: Record<string, string[]> = { 'db-0.example': ['127.0.0.5'] };
    const { endpoints, enqueued } = await started({
      resolve: async (host) => {
        const a = dns[host];
        if (!a) throw new Error(`${host}: does not resolve (ENOTFOUND)`);
        return a;
      },
      resolveTtlMs: 0,
    });
    const g: EndpointsGroup = {
      name: 'shard-c',
      members: [{ name: 'c-0', host: 'db-0.example', port: 3306 }],
    };
    await endpoints.apply(ref, step(g, 'route', [member(g, 'c-0')]));
    await until(() => endpoints.observe(ref, [g])?.get('shard-c')?.writerReady === true, 'routed');
    const before = enqueued.length;
    dns['db-0.example'] = ['127.0.0.6'];
    // Passes call observe(): the first one after the TTL re-resolves in the background.
    await until(() => {
      endpoints.observe(ref, [g]);
      return enqueued.length > before;
    }, 'a pass asked for after the new answer');
    expect(enqueued.at(-1)).toEqual(ref);
    expect(endpoints.observe(ref, [g])!.get('shard-c')).toEqual({
      writer: '?127.0.0.5:3306',
      writerReady: false,
      readers: [],
    });
    await endpoints.apply(ref, step(g, 'route', [member(g, 'c-0')]));
    expect(endpointsOf(slice('warehouse-shard-c-primary-ipv4-3306'))).toEqual([
      [['127.0.0.6'], { ready: true, serving: true, terminating: false }],
    ]);
    expect(endpoints.observe(ref, [g])!.get('shard-c')).toMatchObject({ writer: 'c-0', writerReady: true });
  });

  it('bad input fails the step in one line and changes nothing', async () => {
    const { endpoints } = await started();
    const g: EndpointsGroup = {
      name: 'shard-d',
      members: [
        { name: 'd-0', host: '127.0.0.1', port: 3306 },
        { name: 'd-1', host: 'no-such-host.invalid', port: 3306 },
      ],
    };
    const from = api.requests.length;
    const err = await endpoints.apply(ref, step(g, 'readers', [member(g, 'd-0'), member(g, 'd-1')])).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /^member d-1: host no-such-host\.invalid does not resolve \(E[A-Z_]+\): endpoints not changed$/,
    );
    expect(writes(from)).toEqual([]);

    const long = { namespace: NS, name: 'w'.repeat(60) };
    await expect(endpoints.apply(long, step(g, 'route', [member(g, 'd-0')]))).rejects.toThrow(
      /^Service name w+-shard-d-primary .* is not a valid Service name/,
    );

    // A Service of that name that is not ours is left alone, and no slice points at it.
    await api.create(SERVICES, {
      metadata: { name: 'warehouse-shard-d-primary', namespace: NS },
      spec: { selector: { app: 'theirs' }, ports: [{ port: 1 }] },
    });
    await expect(endpoints.apply(ref, step(g, 'route', [member(g, 'd-0')]))).rejects.toThrow(
      'Service db/warehouse-shard-d-primary exists and is not managed by Tributary',
    );
    expect(api.get(SERVICES, NS, 'warehouse-shard-d-primary')!.metadata.labels).toBeUndefined();
    expect(slicesOf('warehouse-shard-d-primary')).toEqual([]);
    expect(writes(from).filter(([k]) => k !== 'create services')).toEqual([]);
  });
});
