import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { TopologyStatus } from '../../../src/api/status.js';
import { LocalStore } from '../../../src/store/local.js';
import { ManifestError } from '../../../src/store/manifests.js';
import { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER } from '../../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'tributary-local-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir = '';
let seq = 0;
beforeEach(() => {
  dir = join(root, `t${seq++}`);
  mkdirSync(dir, { recursive: true });
});

let tick = 1_700_000_000;
/** Writes a file with a fresh mtime, so a change is seen even within one clock tick. */
function put(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  tick += 10;
  utimesSync(path, tick, tick);
  return path;
}

function topologyYaml(
  o: { namespace?: string; annotations?: Record<string, string>; paused?: boolean } = {},
): string {
  const meta = [`  name: warehouse`];
  if (o.namespace) meta.push(`  namespace: ${o.namespace}`);
  if (o.annotations) {
    meta.push('  annotations:');
    for (const [k, v] of Object.entries(o.annotations)) meta.push(`    ${k}: "${v}"`);
  }
  return `apiVersion: tributary.dev/v1alpha1
kind: MySQLTopology
metadata:
${meta.join('\n')}
spec:
  adminSecretRef: {name: admin}
  replicationSecretRef: {name: repl}
  paused: ${o.paused ?? false}
  groups:
    - name: g
      members: [{name: m-0, host: 127.0.0.1, port: 3306}]
---
apiVersion: v1
kind: Secret
metadata: {name: admin}
stringData: {username: root, password: pw}
---
apiVersion: v1
kind: Secret
metadata: {name: repl, namespace: other}
stringData: {username: repl, password: pw}
`;
}

function status(extra: Partial<TopologyStatus> = {}): TopologyStatus {
  return {
    phase: 'Ready',
    conditions: [],
    groups: [{ name: 'g', primary: 'm-0', members: 1, ready: 1 }],
    instances: [],
    channels: [],
    managedChannels: [{ group: 'dw', name: 'shard_a', from: 'shard-a' }],
    failovers: [],
    ...extra,
  };
}

const quiet = { log: () => undefined };
const ref = (namespace = 'default') => ({ namespace, name: 'warehouse' });

describe('LocalStore', () => {
  it('lists the one topology, in namespace "default" when the manifest names none', async () => {
    const store = new LocalStore({ files: [put('t.yaml', topologyYaml())], ...quiet });
    expect(await store.list()).toEqual([ref()]);
    const t = await store.get(ref());
    expect(t).toMatchObject({ ref: ref(), generation: 1, annotations: {} });
    expect((t!.spec as { groups: unknown[] }).groups).toHaveLength(1);
    expect(t!.status).toBeUndefined();
    expect(await store.get({ namespace: 'db', name: 'warehouse' })).toBeUndefined();
  });

  it('takes the namespace from metadata, and the positional constructor', async () => {
    const store = new LocalStore([put('t.yaml', topologyYaml({ namespace: 'db' }))]);
    expect(await store.list()).toEqual([ref('db')]);
  });

  it('reads Secrets of the topology namespace (a Secret without namespace counts as it)', async () => {
    const store = new LocalStore({ files: [put('t.yaml', topologyYaml())], ...quiet });
    expect(await store.readSecret('default', 'admin')).toEqual({ username: 'root', password: 'pw' });
    expect(await store.readSecret('default', 'repl')).toBeUndefined(); // it lives in namespace "other"
    expect(await store.readSecret('other', 'admin')).toBeUndefined();
  });

  it('fails with one line when the files hold no topology, or two', async () => {
    const none = new LocalStore({
      files: [put('s.yaml', 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n')],
      ...quiet,
    });
    await expect(none.list()).rejects.toThrow(ManifestError);
    await expect(none.list()).rejects.toThrow(
      /^no MySQLTopology in .*s\.yaml: local mode needs exactly one$/,
    );
    const a = put('a.yaml', topologyYaml());
    const b = put('b.yaml', topologyYaml());
    await expect(new LocalStore({ files: [a, b], ...quiet }).list()).rejects.toThrow(
      /^2 MySQLTopologys found/,
    );
  });

  it('picks up edits: a changed spec bumps the generation, an unchanged rewrite does not', async () => {
    const f = put('t.yaml', topologyYaml());
    const store = new LocalStore({ files: [f], ...quiet });
    expect((await store.get(ref()))!.generation).toBe(1);
    put('t.yaml', topologyYaml({ paused: true }));
    const edited = await store.get(ref());
    expect(edited!.generation).toBe(2);
    expect((edited!.spec as { paused: boolean }).paused).toBe(true);
    put('t.yaml', topologyYaml({ paused: true, annotations: { a: 'b' } }));
    const annotated = await store.get(ref());
    expect(annotated!.generation).toBe(2);
    expect(annotated!.annotations).toEqual({ a: 'b' });
  });

  it('does not re-parse files whose stat (mtime, size, ctime, inode) is unchanged', async () => {
    const f = put('t.yaml', topologyYaml());
    const store = new LocalStore({ files: [f], ...quiet });
    await store.get(ref());
    await store.get(ref());
    await store.readSecret('default', 'admin');
    await store.list();
    expect(store.parseCount).toBe(1);
    put('t.yaml', topologyYaml());
    await store.get(ref());
    expect(store.parseCount).toBe(2);
  });

  it('hands out copies: a caller mutating the spec or status does not change the store', async () => {
    const store = new LocalStore({ files: [put('t.yaml', topologyYaml())], ...quiet });
    await store.writeStatus(ref(), status(), 1);
    const t = await store.get(ref());
    (t!.spec as { paused: boolean }).paused = true;
    t!.status!.phase = 'Invalid';
    const again = await store.get(ref());
    expect((again!.spec as { paused: boolean }).paused).toBe(false);
    expect(again!.status!.phase).toBe('Ready');
  });

  it('round-trips status through a JSON file, atomically', async () => {
    const f = put('t.yaml', topologyYaml());
    const out = join(dir, 'status.json');
    const store = new LocalStore({ files: [f], statusOut: out, ...quiet });
    await store.list();
    await store.writeStatus(ref(), status({ failovers: [] }), 1);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written).toEqual({ ...status(), observedGeneration: 1 });
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect((await store.get(ref()))!.status).toEqual({ ...status(), observedGeneration: 1 });

    // A restarted process reads its memory back, and continues the generation from there.
    put('t.yaml', topologyYaml({ paused: true }));
    const restarted = new LocalStore({ files: [f], statusOut: out, ...quiet });
    await store.writeStatus(ref(), status({ phase: 'Degraded' }), 4);
    const t = await restarted.get(ref());
    expect(t!.status).toEqual({ ...status({ phase: 'Degraded' }), observedGeneration: 4 });
    expect(t!.generation).toBe(4);
  });

  it('round-trips status through a YAML file', async () => {
    const f = put('t.yaml', topologyYaml());
    const out = join(dir, 'status.yml');
    const store = new LocalStore({ files: [f], statusOut: out, ...quiet });
    const s = status({
      failovers: [
        {
          id: 'f1',
          group: 'g',
          from: 'm-0',
          to: 'm-1',
          reason: 'DeadPrimary',
          phase: 'Promoting',
          startedAt: '2026-01-01T00:00:00Z',
          phaseTimes: {},
          repointed: ["dw-0/''"],
          passedOver: [],
          stranded: [],
        },
      ],
    });
    await store.writeStatus(ref(), s, 2);
    expect(parse(readFileSync(out, 'utf8'))).toEqual({ ...s, observedGeneration: 2 });
    expect((await new LocalStore({ files: [f], statusOut: out, ...quiet }).get(ref()))!.status).toEqual({
      ...s,
      observedGeneration: 2,
    });
  });

  it('keeps what it can read of a status file that partly does not parse, and names what it left out', async () => {
    const f = put('t.yaml', topologyYaml());
    const record = {
      id: 'g-1',
      group: 'g',
      from: 'm-0',
      to: 'm-1',
      reason: 'DeadPrimary',
      phase: 'Promoting',
      startedAt: '2026-11-29T10:00:00Z',
    };
    const out = put(
      'status.json',
      JSON.stringify({
        phase: 'Sleeping',
        failovers: [record, { ...record, id: 'g-2', phase: 'Napping' }],
        managedChannels: [{ group: 'g', name: 'a', from: 'h' }, { group: 'g' }],
      }),
    );
    const store = new LocalStore({ files: [f], statusOut: out, ...quiet });
    const t = (await store.get(ref()))!;
    expect(t.status?.failovers.map((r) => [r.id, r.phase])).toEqual([['g-1', 'Promoting']]);
    expect(t.status?.managedChannels).toEqual([{ group: 'g', name: 'a', from: 'h' }]);
    expect(t.status?.phase).toBe('Degraded');
    expect(t.statusProblems).toEqual([
      expect.stringMatching(/status\.json: status\.failovers\[1\] \("g-2"\): phase: .*; left out$/),
      expect.stringMatching(/status\.json: status\.managedChannels\[1\]: name: .*; left out$/),
      expect.stringMatching(/status\.json: status\.phase: .*; left out$/),
    ]);
    // The next status write replaces the file: no problem left.
    await store.writeStatus(ref(), status(), 1);
    expect((await store.get(ref()))!.statusProblems).toBeUndefined();
  });

  it('refuses a status file that is not a status at all, in one line', async () => {
    const f = put('t.yaml', topologyYaml());
    const out = put('status.json', '[1, 2]');
    await expect(new LocalStore({ files: [f], statusOut: out, ...quiet }).list()).rejects.toThrow(
      `${out}: not a status file (not an object); move it away to start afresh`,
    );
    put('status.json', '{ not json');
    await expect(new LocalStore({ files: [f], statusOut: out, ...quiet }).list()).rejects.toThrow(
      /^.*status\.json: not a status file \(.*\); move it away to start afresh$/,
    );
  });

  it('hides a removed annotation, remembers it in the status file, and across a restart', async () => {
    const f = put('t.yaml', topologyYaml({ annotations: { [ANNOTATION_SWITCHOVER]: 'g=m-1', other: 'x' } }));
    const out = join(dir, 'status.json');
    const store = new LocalStore({ files: [f], statusOut: out, ...quiet });
    expect((await store.get(ref()))!.annotations).toEqual({ [ANNOTATION_SWITCHOVER]: 'g=m-1', other: 'x' });
    await store.removeAnnotation(ref(), ANNOTATION_SWITCHOVER);
    expect((await store.get(ref()))!.annotations).toEqual({ other: 'x' });
    // No status was written yet: the file holds only what was handled.
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      handledAnnotations: { [ANNOTATION_SWITCHOVER]: 'g=m-1' },
    });
    expect(readFileSync(f, 'utf8')).toContain(ANNOTATION_SWITCHOVER); // the manifests are never rewritten

    await store.writeStatus(ref(), status(), 1);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({
      phase: 'Ready',
      handledAnnotations: { [ANNOTATION_SWITCHOVER]: 'g=m-1' },
    });
    // The status handed to the pass does not carry the store's bookkeeping.
    expect((await store.get(ref()))!.status!.handledAnnotations).toBeUndefined();

    const restarted = new LocalStore({ files: [f], statusOut: out, ...quiet });
    expect((await restarted.get(ref()))!.annotations).toEqual({ other: 'x' });

    // Another value is another request: visible again.
    put('t.yaml', topologyYaml({ annotations: { [ANNOTATION_SWITCHOVER]: 'g=m-0', other: 'x' } }));
    expect((await restarted.get(ref()))!.annotations).toEqual({
      [ANNOTATION_SWITCHOVER]: 'g=m-0',
      other: 'x',
    });
    // Taken out of the file and written again: a new request too.
    put('t.yaml', topologyYaml({ annotations: { other: 'x' } }));
    await restarted.get(ref());
    put('t.yaml', topologyYaml({ annotations: { [ANNOTATION_SWITCHOVER]: 'g=m-1', other: 'x' } }));
    expect((await restarted.get(ref()))!.annotations).toEqual({
      [ANNOTATION_SWITCHOVER]: 'g=m-1',
      other: 'x',
    });
  });

  it('hides removed annotations without a status file too, and consumes command-line annotations', async () => {
    const store = new LocalStore({
      files: [put('t.yaml', topologyYaml({ annotations: { k: 'v' } }))],
      ...quiet,
    });
    store.setAnnotation(ANNOTATION_ACK_FAILOVER, 'g');
    expect((await store.get(ref()))!.annotations).toEqual({ k: 'v', [ANNOTATION_ACK_FAILOVER]: 'g' });
    await store.removeAnnotation(ref(), ANNOTATION_ACK_FAILOVER);
    await store.removeAnnotation(ref(), 'k');
    await store.removeAnnotation(ref(), 'absent');
    expect((await store.get(ref()))!.annotations).toEqual({});
  });

  it('logs events as one line each and keeps the last N', async () => {
    const lines: string[] = [];
    const store = new LocalStore({
      files: [put('t.yaml', topologyYaml())],
      log: (l) => lines.push(l),
      eventLimit: 2,
    });
    await store.emitEvent(ref(), {
      type: 'Normal',
      reason: 'ChannelCreated',
      message: 'dw-0/shard_a from a-1',
    });
    await store.emitEvent(ref(), {
      type: 'Warning',
      reason: 'ChannelBroken',
      message: 'error 1236\nfrom server',
    });
    await store.emitEvent(ref(), { type: 'Normal', reason: 'FailoverDone', message: 'g: m-0 -> m-1' });
    expect(lines).toEqual([
      'Normal ChannelCreated: dw-0/shard_a from a-1',
      'Warning ChannelBroken: error 1236 from server',
      'Normal FailoverDone: g: m-0 -> m-1',
    ]);
    expect(store.events().map((e) => e.reason)).toEqual(['ChannelBroken', 'FailoverDone']);
    expect(store.events()[0]!.ref).toEqual(ref());
  });

  it('serializes concurrent status writes: the last call wins', async () => {
    const out = join(dir, 'status.json');
    const store = new LocalStore({ files: [put('t.yaml', topologyYaml())], statusOut: out, ...quiet });
    await Promise.all([1, 2, 3, 4, 5].map((g) => store.writeStatus(ref(), status(), g)));
    await store.flush();
    expect(JSON.parse(readFileSync(out, 'utf8')).observedGeneration).toBe(5);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
