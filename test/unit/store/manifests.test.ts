import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ManifestError,
  decodeBase64,
  localSelection,
  parseManifestText,
  readManifests,
} from '../../../src/store/manifests.js';
import { UserError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tributary-manifests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `m${n++}.${ext}`);
  writeFileSync(path, text);
  return path;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

const topology = `apiVersion: tributary.dev/v1alpha1
kind: MySQLTopology
metadata:
  name: warehouse
  namespace: db
  annotations:
    tributary.dev/switchover: shard-a=a-1
spec:
  adminSecretRef: {name: tributary-admin}
  replicationSecretRef: {name: tributary-repl}
  paused: yes
  groups:
    - name: shard-a
      members: [{name: a-0, host: a-0, port: 3306}]
`;

async function problemsOf(files: string[]): Promise<string[]> {
  try {
    await readManifests(files);
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain('\n');
    return (e as ManifestError).problems;
  }
  throw new Error('expected a ManifestError');
}

describe('parsing manifests', () => {
  it('reads several documents: the topology, Secrets with stringData and base64 data, other kinds ignored', async () => {
    const f = file(`${topology}---
apiVersion: v1
kind: Secret
metadata: {name: tributary-admin, namespace: db}
stringData: {username: root, password: "s3cret: with colon"}
---
# a comment-only document and an empty one follow
---
---
apiVersion: v1
kind: Secret
metadata: {name: tributary-repl}
type: Opaque
data:
  username: ${b64('repl')}
  password: ${b64('pässwörd')}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
data: {a: b}
`);
    const m = await readManifests([f]);
    expect(m.topologies).toHaveLength(1);
    const t = m.topologies[0]!;
    expect(t).toMatchObject({ name: 'warehouse', namespace: 'db', source: { file: f, document: 1 } });
    expect(t.annotations).toEqual({ 'tributary.dev/switchover': 'shard-a=a-1' });
    expect((t.object['spec'] as { paused: unknown }).paused).toBe(true); // YAML 1.1, as kubectl reads it
    expect(m.secrets.map((s) => [s.name, s.namespace, s.data, s.source.document])).toEqual([
      ['tributary-admin', 'db', { username: 'root', password: 's3cret: with colon' }, 2],
      ['tributary-repl', undefined, { username: 'repl', password: 'pässwörd' }, 5],
    ]);
    expect(m.ignored).toEqual([{ source: { file: f, document: 6 }, kind: 'ConfigMap', name: 'unrelated' }]);
  });

  it('reads a kind: List, and JSON', async () => {
    const list = file(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: a}
    stringData: {username: u, password: p}
  - apiVersion: v1
    kind: Secret
    metadata: {name: b}
    data: {username: ${b64('u')}}
    stringData: {username: overrides}
`);
    const json = file(
      JSON.stringify({
        apiVersion: 'tributary.dev/v1alpha1',
        kind: 'MySQLTopology',
        metadata: { name: 'j' },
        spec: {},
      }),
      'json',
    );
    const m = await readManifests([list, json]);
    expect(m.secrets.map((s) => [s.name, s.data, s.source])).toEqual([
      ['a', { username: 'u', password: 'p' }, { file: list, document: 1, item: 0 }],
      ['b', { username: 'overrides' }, { file: list, document: 1, item: 1 }],
    ]);
    expect(m.topologies.map((t) => [t.name, t.namespace])).toEqual([['j', undefined]]);
  });

  it('refuses invalid base64, naming the file, the document and the Secret', async () => {
    const f = file(`${topology}---
apiVersion: v1
kind: Secret
metadata: {name: tributary-admin}
data: {username: ${b64('root')}, password: "not base64!"}
`);
    expect(await problemsOf([f])).toEqual([
      `${f}: document 2: Secret "tributary-admin": data["password"] is not valid base64 of UTF-8 text (use stringData for plain text)`,
    ]);
  });

  it('refuses base64 of bytes that are not UTF-8, and unpadded base64', () => {
    expect(decodeBase64(Buffer.from([0xff, 0xfe]).toString('base64'))).toBeUndefined();
    expect(decodeBase64('cm9vdA')).toBeUndefined();
    expect(decodeBase64('cm9v\ndA==')).toBe('root');
    expect(decodeBase64('')).toBe('');
  });

  it('refuses stringData that YAML made a number', async () => {
    const f = file(`apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {username: u, password: 0123}
`);
    expect(await problemsOf([f])).toEqual([
      `${f}: document 1: Secret "s": stringData["password"] must be a string: quote it (got 83)`,
    ]);
  });

  it('names YAML syntax errors with file, document and line', async () => {
    const f = file(`${topology}---
kind: Secret
metadata: {name: [unclosed
`);
    const [problem] = await problemsOf([f]);
    expect(problem).toMatch(
      new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: document 2: .* at line 18, column \\d+$`),
    );
  });

  it('names documents that are not objects, without kind, or without a name', async () => {
    const f = file(`- just a list
---
apiVersion: v1
metadata: {name: x}
---
apiVersion: v1
kind: Secret
metadata: {namespace: db}
---
apiVersion: tributary.dev/v1
kind: MySQLTopology
metadata: {name: old}
---
apiVersion: tributary.dev/v1alpha1
kind: MySQLTopology
metadata: {name: t, annotations: {a: 1}}
`);
    expect(await problemsOf([f])).toEqual([
      `${f}: document 1: not a Kubernetes object (got an array of 1)`,
      `${f}: document 2: kind is missing`,
      `${f}: document 3: Secret without metadata.name`,
      `${f}: document 4: MySQLTopology "old": apiVersion must be tributary.dev/v1alpha1 (got "tributary.dev/v1")`,
      `${f}: document 5: MySQLTopology "t": metadata.annotations["a"] must be a string: quote it (got 1)`,
    ]);
  });

  it('names a file that cannot be read, and needs at least one file', async () => {
    const missing = join(dir, 'nope.yaml');
    expect(await problemsOf([missing])).toEqual([`${missing}: cannot read: ENOENT`]);
    expect(await problemsOf([])).toEqual(['no manifest file given (-f FILE)']);
  });

  it('escapes hostile names in problems', () => {
    const problems: string[] = [];
    parseManifestText(
      `apiVersion: v1\nkind: Secret\nmetadata: {name: "x\\ny"}\ndata: {k: "!"}\n`,
      'f.yaml',
      problems,
    );
    expect(problems).toEqual([
      'f.yaml: document 1: Secret "x\\ny": data["k"] is not valid base64 of UTF-8 text (use stringData for plain text)',
    ]);
  });
});

describe('local selection', () => {
  it('needs exactly one MySQLTopology', async () => {
    const secretOnly = file('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n');
    expect(() => localSelection({ topologies: [], secrets: [], ignored: [] }, [secretOnly])).toThrow(
      `no MySQLTopology in ${secretOnly}: local mode needs exactly one`,
    );
    const a = file(topology);
    const b = file(topology.replace('name: warehouse', 'name: other'));
    const m = await readManifests([a, b]);
    expect(() => localSelection(m, [a, b])).toThrow(
      `2 MySQLTopologys found, local mode needs exactly one: "warehouse" (${a}: document 1), "other" (${b}: document 1)`,
    );
  });

  it('keeps the Secrets of the topology namespace; a Secret without namespace counts as that namespace', async () => {
    const f = file(`${topology}---
apiVersion: v1
kind: Secret
metadata: {name: a, namespace: elsewhere}
stringData: {username: ux}
---
apiVersion: v1
kind: Secret
metadata: {name: b}
stringData: {username: uy}
`);
    const sel = localSelection(await readManifests([f]), [f]);
    expect(sel.namespace).toBe('db');
    expect([...sel.secrets.keys()]).toEqual(['b']);
  });

  it('refuses a Secret defined twice', async () => {
    const a = file(
      `${topology}---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {username: ux}\n`,
    );
    const b = file(
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: db}\nstringData: {username: uy}\n',
    );
    const m = await readManifests([a, b]);
    expect(() => localSelection(m, [a, b])).toThrow(
      `Secret "s" is defined twice: ${a}: document 2 and ${b}: document 1`,
    );
  });
});
