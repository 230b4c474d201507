// The test API server (test/harness/kube-api-server.ts): CRDs and custom resources are judged by the real
// apiextensions-apiserver behind it, so what a real server refuses is refused here with its own message
// (compare ../shared/facts/kubernetes-api.md); the core it keeps in process answers as the real one did,
// each behaviour stated with the real server's message.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import { emptyChannelStatus } from '../../src/api/status.js';
import {
  CRDS,
  KubeApiServer,
  LEASES,
  SECRETS,
  TOPOLOGIES,
  applyMergePatch,
  secretManifest,
  topologyManifest,
} from '../harness/kube-api-server.js';

let api: KubeApiServer;
beforeAll(async () => {
  api = await KubeApiServer.start({ bookmarkIntervalMs: 100 });
});
beforeEach(async () => {
  // A test may have replaced the CRD with another; each starts from the generated one.
  await api.applyYaml(renderCrdYaml());
  await api.reset();
});
afterAll(async () => {
  await api.close();
});

const base = '/apis/tributary.dev/v1alpha1/namespaces/db/mysqltopologies/acc';
const send = async (
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/merge-patch+json',
) => {
  const r = await fetch(api.url + path, {
    method,
    headers: { 'content-type': contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

/** A channel as the operator reports it, running. */
const channel = {
  ...emptyChannelStatus('shard_a'),
  ioRunning: 'Yes',
  sqlRunning: 'Yes',
  replica: 'dw-0',
  from: 'shard-a',
  source: 'a-0',
  managed: true,
  state: 'Running',
};

/** Reads a watch stream until `count` events arrived or the time is up. */
async function watchEvents(path: string, count: number, ms = 2000): Promise<{ type: string; object: any }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const events: { type: string; object: any }[] = [];
  try {
    const r = await fetch(api.url + path, { signal: ac.signal });
    const reader = r.body!.getReader();
    let buffer = '';
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe('JSON merge patch (RFC 7386, as the API server applies it)', () => {
  it('a null deletes its key at any depth of objects; arrays are replaced whole, their objects without nulls', () => {
    const stored = { a: 1, b: { c: 2, d: { e: 3 } }, list: [{ x: 1 }] };
    expect(applyMergePatch(stored, { a: null, b: { d: { e: null } } })).toEqual({
      b: { c: 2, d: {} },
      list: [{ x: 1 }],
    });
    expect(applyMergePatch(stored, { list: [{ x: 2, y: null }, { z: { w: null } }] })).toEqual({
      a: 1,
      b: { c: 2, d: { e: 3 } },
      list: [{ x: 2 }, { z: {} }],
    });
    expect(applyMergePatch(stored, { fresh: { k: null, v: 1 } })).toMatchObject({ fresh: { v: 1 } });
  });

  it('facts §3: the status a merge patch with nulls leaves has no such keys', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'acc'));
    const r = await send('PATCH', `${base}/status`, {
      status: {
        phase: 'Ready',
        channels: [channel],
        groups: [{ name: 'g', primary: null, members: 1, ready: 0 }],
      },
    });
    expect(r.status).toBe(200);
    const stored = api.get(TOPOLOGIES, 'db', 'acc')!.status as { channels: object[]; groups: object[] };
    expect(stored.channels[0]).not.toHaveProperty('sourceUuid');
    expect(stored.channels[0]).not.toHaveProperty('lastIOErrorTimestamp');
    expect(stored.channels[0]).not.toHaveProperty('lastSQLErrorTimestamp');
    expect(stored.groups[0]).toEqual({ name: 'g', members: 1, ready: 0 });
    expect(JSON.stringify(stored)).not.toContain('null');
  });
});

describe('the real API code judges the CRD', () => {
  const crd = () =>
    JSON.parse(JSON.stringify(api.get(CRDS, '', 'mysqltopologies.tributary.dev'))) as {
      metadata: Record<string, unknown>;
      spec: { versions: { schema: { openAPIV3Schema: Record<string, any> } }[] };
    };
  const post = (body: unknown) =>
    send('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body, 'application/json');
  const renamed = (c: ReturnType<typeof crd>) => {
    // Another name, so that the POST is judged on its schema rather than refused as existing.
    const spec = c.spec as unknown as { names: Record<string, string>; group: string };
    spec.names = { plural: 'others', singular: 'other', kind: 'Other', listKind: 'OtherList' };
    c.metadata = { name: `others.${spec.group}` };
    return c;
  };

  it('`tributary crd` is accepted and Established', () => {
    const stored = api.get(CRDS, '', 'mysqltopologies.tributary.dev')!;
    const conditions = (stored.status as { conditions: { type: string; status: string }[] }).conditions;
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
  });

  it('facts §5: a description on the root metadata schema is refused', async () => {
    const c = renamed(crd());
    c.spec.versions[0]!.schema.openAPIV3Schema.properties.metadata.description = 'The object name.';
    const r = await post(c);
    expect(r.status).toBe(422);
    expect(r.body.message).toContain(
      'spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified',
    );
  });

  it('facts §1: a CEL rule nesting list macros over 256 channels is over the cost budget', async () => {
    const c = renamed(crd());
    const channels =
      c.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.groups.items.properties.channels;
    channels['x-kubernetes-validations'] = [
      {
        rule: 'self.all(c, self.exists_one(d, d.name.lowerAscii() == c.name.lowerAscii()))',
        message: 'channel names must be unique',
      },
    ];
    const r = await post(c);
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(
      /x-kubernetes-validations\[0\]\.rule: Forbidden: estimated rule cost exceeds budget by factor of/,
    );
  });
});

describe('CRDs applied as kubectl applies them (YAML 1.1), and custom resources validated against them', () => {
  it('facts §2: an unquoted Yes/No enum is stored as booleans and every status write is refused (422)', async () => {
    // The CRD as the old generator wrote it: Yes and No unquoted.
    const old = renderCrdYaml().replace(/"(Yes|No)"/g, '$1');
    await api.applyYaml(old);
    const crd = api.list(CRDS)[0]!;
    const schemaText = JSON.stringify(crd);
    expect(schemaText).toContain('"enum":[true,false,"Connecting"]');
    await api.create(TOPOLOGIES, topologyManifest('db', 'acc'));
    const r = await send('PATCH', `${base}/status`, { status: { phase: 'Ready', channels: [channel] } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Invalid', code: 422 });
    // The real server's words (the enum printed as Go prints it; the errors in no fixed order).
    expect(r.body.message).toMatch(/^MySQLTopology\.tributary\.dev "acc" is invalid: \[/);
    expect(r.body.message).toContain(
      'status.channels[0].ioRunning: Unsupported value: "Yes": supported values: "true", "false", "Connecting"',
    );
    expect(r.body.message).toContain(
      'status.channels[0].sqlRunning: Unsupported value: "Yes": supported values: "true", "false"',
    );
  });

  it('the generated CRD reads the same in YAML 1.1: the same status write is accepted', async () => {
    await api.applyYaml(renderCrdYaml());
    await api.create(TOPOLOGIES, topologyManifest('db', 'acc'));
    const r = await send('PATCH', `${base}/status`, { status: { phase: 'Ready', channels: [channel] } });
    expect(r.status).toBe(200);
    expect(
      (api.get(TOPOLOGIES, 'db', 'acc')!.status as { channels: { ioRunning: string }[] }).channels[0]!
        .ioRunning,
    ).toBe('Yes');
  });

  it('type errors; unknown fields are pruned; names must be unique (list-map keys)', async () => {
    await api.applyYaml(renderCrdYaml());
    await api.create(TOPOLOGIES, topologyManifest('db', 'acc'));
    const r = await send('PATCH', `${base}/status`, {
      status: { phase: 'Ready', observedGeneration: 'one' },
    });
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'MySQLTopology.tributary.dev "acc" is invalid: [status.observedGeneration: Invalid value: "string": ' +
        'observedGeneration in body must be of type integer: "string", <nil>: Invalid value: null: some ' +
        'validation rules were not checked because the object was invalid; correct the existing errors to ' +
        'complete validation]',
    );
    expect((await send('PATCH', `${base}/status`, { status: { phase: 'Ready', invented: 1 } })).status).toBe(
      200,
    );
    expect(api.get(TOPOLOGIES, 'db', 'acc')!.status).toEqual({ phase: 'Ready' });
    const dup = await send('PATCH', base, {
      spec: {
        groups: [
          { name: 'g', members: [{ name: 'm-0', host: 'h' }] },
          { name: 'g', members: [{ name: 'm-1', host: 'i' }] },
        ],
      },
    });
    expect(dup.status).toBe(422);
    expect(dup.body.message).toBe(
      'MySQLTopology.tributary.dev "acc" is invalid: spec.groups[1]: Duplicate value: {"name":"g"}',
    );
  });

  it('applies deploy/examples as kubectl would: Secrets stringData becomes data, the topology validates', async () => {
    await api.applyYaml(renderCrdYaml());
    const objs = await api.applyYaml(
      readFileSync(new URL('../../deploy/examples/warehouse.yaml', import.meta.url), 'utf8'),
    );
    expect(objs.map((o) => o.kind)).toEqual(['Namespace', 'Secret', 'Secret', 'MySQLTopology']);
    const admin = api.get(SECRETS, 'db', 'tributary-admin')!;
    expect(admin).not.toHaveProperty('stringData');
    expect(Buffer.from((admin.data as { username: string }).username, 'base64').toString()).toBe('tributary');
    expect(api.get(TOPOLOGIES, 'db', 'warehouse')!.metadata.generation).toBe(1);
  });
});

describe('concurrency, watches, Leases', () => {
  it('409 on a stale resourceVersion in a merge patch, status included', async () => {
    await api.create(TOPOLOGIES, topologyManifest('db', 'acc'));
    const rv = api.get(TOPOLOGIES, 'db', 'acc')!.metadata.resourceVersion;
    await api.edit(TOPOLOGIES, 'db', 'acc', (o) => (o.metadata.labels = { moved: 'on' }));
    const r = await send('PATCH', `${base}/status`, {
      metadata: { resourceVersion: rv },
      status: { phase: 'Ready' },
    });
    expect(r.status).toBe(409);
    expect(r.body.message).toBe(
      'Operation cannot be fulfilled on mysqltopologies.tributary.dev "acc": the object has been modified; please apply your changes to the latest version and try again',
    );
    const fresh = api.get(TOPOLOGIES, 'db', 'acc')!.metadata.resourceVersion;
    expect(
      (
        await send('PATCH', `${base}/status`, {
          metadata: { resourceVersion: fresh },
          status: { phase: 'Ready' },
        })
      ).status,
    ).toBe(200);
  });

  it('410 Gone for a watch from a compacted resourceVersion, custom resources and core alike', async () => {
    const old = (await api.create(TOPOLOGIES, topologyManifest('db', 'acc'))).metadata.resourceVersion!;
    const fresh = (await api.create(TOPOLOGIES, topologyManifest('db', 'b'))).metadata.resourceVersion!;
    const oldSecret = (await api.create(SECRETS, secretManifest('db', 's', { k: 'v' }))).metadata
      .resourceVersion!;
    await api.create(SECRETS, secretManifest('db', 't', { k: 'v' }));
    await api.compact();
    for (const path of [
      `/apis/tributary.dev/v1alpha1/mysqltopologies?watch=true&resourceVersion=${old}`,
      `/api/v1/secrets?watch=true&resourceVersion=${oldSecret}`,
    ]) {
      const gone = await watchEvents(path, 1);
      expect(gone[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
      expect(gone[0]!.object.message).toMatch(/^too old resource version: /);
    }
    // From the current resourceVersion on, the real server watches as usual: the next change arrives.
    const next = watchEvents(
      `/apis/tributary.dev/v1alpha1/mysqltopologies?watch=true&resourceVersion=${fresh}`,
      1,
    );
    await new Promise((r) => setTimeout(r, 100));
    await api.edit(TOPOLOGIES, 'db', 'b', (o) => (o.metadata.labels = { x: 'y' }));
    expect((await next)[0]).toMatchObject({ type: 'MODIFIED', object: { metadata: { name: 'b' } } });
  });

  it('bookmarks carry the current resourceVersion (the core, every bookmarkIntervalMs)', async () => {
    await api.create(SECRETS, secretManifest('db', 's', { k: 'v' }));
    const events = await watchEvents(
      `/api/v1/secrets?watch=true&allowWatchBookmarks=true&resourceVersion=${api.resourceVersion}`,
      1,
    );
    expect(events[0]).toMatchObject({
      type: 'BOOKMARK',
      object: { metadata: { resourceVersion: api.resourceVersion } },
    });
  });

  it('a Lease update with a stale resourceVersion is a conflict', async () => {
    await api.create(LEASES, { metadata: { name: 'l', namespace: 'ns' }, spec: { holderIdentity: 'a' } });
    const lease = api.get(LEASES, 'ns', 'l')!;
    const put = (holder: string) =>
      send(
        'PUT',
        '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l',
        { ...lease, spec: { holderIdentity: holder } },
        'application/json',
      );
    expect((await put('b')).status).toBe(200);
    const second = await put('c');
    expect(second.status).toBe(409);
    expect(second.body.message).toMatch(
      /^Operation cannot be fulfilled on leases\.coordination\.k8s\.io "l": the object has been modified/,
    );
  });

  it('field selectors on list and watch; others are refused; requests are counted by verb and resource', async () => {
    await api.create(SECRETS, secretManifest('db', 'a', { k: 'v' }));
    await api.create(SECRETS, secretManifest('db', 'b', { k: 'w' }));
    const list = await send('GET', '/api/v1/namespaces/db/secrets?fieldSelector=metadata.name%3Da');
    expect((list.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual(['a']);
    const watched = watchEvents(
      '/api/v1/namespaces/db/secrets?watch=true&fieldSelector=metadata.name%3Db',
      2,
    );
    await new Promise((r) => setTimeout(r, 100));
    await api.edit(SECRETS, 'db', 'a', (o) => (o.metadata.labels = { x: 'y' }));
    await api.edit(SECRETS, 'db', 'b', (o) => (o.metadata.labels = { x: 'y' }));
    const events = await watched;
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'b'],
      ['MODIFIED', 'b'],
    ]);
    expect((await send('GET', '/api/v1/namespaces/db/secrets?fieldSelector=data.k%3Dv')).status).toBe(400);
    await send('GET', '/api/v1/namespaces/db/secrets/a');
    expect(api.counts()).toEqual({ 'list secrets': 2, 'watch secrets': 1, 'get secrets': 1 });
  });
});
