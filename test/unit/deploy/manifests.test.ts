// Every manifest the project ships or generates means the same to YAML 1.1 readers (kubectl, the API
// server, Helm) as to YAML 1.2 readers: a real server read an unquoted `Yes` as a boolean and refused every
// status write (as measured on a real v1.34 API server). Also: the namespaced RBAC overlay.
//
// No helm binary is available here: the chart's values.yaml and Chart.yaml are checked whole, and its
// templates in their static parts (template actions replaced by a placeholder).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderCrdYaml, topologyCrd } from '../../../src/api/crd.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((e) => {
    const path = join(root, dir, e);
    if (statSync(path).isDirectory()) return yamlFiles(join(dir, e));
    return /\.ya?ml$/.test(e) ? [path] : [];
  });
}

const readAll = (text: string, version: '1.1' | '1.2') =>
  parseAllDocuments(text, { version }).map((d) => {
    if (d.errors.length) throw new Error(d.errors[0]!.message);
    return d.toJS() as unknown;
  });

/** Paths (and both readings) where YAML 1.1 and 1.2 read a text differently. */
function differences(text: string): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys)
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    } else if (!Object.is(a, b))
      out.push(`${path}: 1.1 reads ${JSON.stringify(a)}, 1.2 reads ${JSON.stringify(b)}`);
  };
  walk(readAll(text, '1.1'), readAll(text, '1.2'), '$');
  return out;
}

/** A Helm template with its actions replaced: what is left is the YAML around them. */
const staticPart = (template: string) =>
  template
    .split('\n')
    .filter((line) => !/^\s*\{\{-?.*-?\}\}\s*$/.test(line))
    .map((line) => line.replace(/\{\{-?.*?-?\}\}/g, 'TEMPLATED'))
    .join('\n');

describe('YAML 1.1 and 1.2 read every manifest the same', () => {
  it('`tributary crd` output, as the intended object', () => {
    const text = renderCrdYaml();
    expect(readAll(text, '1.1')).toEqual([topologyCrd()]);
    expect(readAll(text, '1.2')).toEqual([topologyCrd()]);
  });

  const files = [...yamlFiles('crds'), ...yamlFiles('deploy'), ...yamlFiles('charts/tributary')].filter(
    (f) => !f.includes('/templates/'),
  );
  it.each(files.map((f) => [relative(root, f), f]))('%s', (_name, file) => {
    expect(differences(readFileSync(file, 'utf8'))).toEqual([]);
  });

  const templates = yamlFiles('charts/tributary/templates');
  it.each(templates.map((f) => [relative(root, f), f]))('%s (static parts)', (_name, file) => {
    expect(differences(staticPart(readFileSync(file, 'utf8')))).toEqual([]);
  });

  it('the check catches what a real server misread', () => {
    expect(differences('enum: [Yes, No, Connecting]\non: true\nport: 0o17\n')).toEqual([
      '$.0.enum.0: 1.1 reads true, 1.2 reads "Yes"',
      '$.0.enum.1: 1.1 reads false, 1.2 reads "No"',
      '$.0.true: 1.1 reads true, 1.2 reads undefined',
      '$.0.port: 1.1 reads "0o17", 1.2 reads 15',
      '$.0.on: 1.1 reads undefined, 1.2 reads true',
    ]);
  });
});

/** What the routing endpoints (src/store/endpoints.ts) need on Services and EndpointSlices. */
const ROUTING_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** The rules of the ClusterRole/Role a manifest holds, as `group/resource: verbs`. */
const routingRules = (docs: unknown[]) =>
  (docs as { kind?: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }[])
    .filter((d) => d?.kind === 'ClusterRole' || d?.kind === 'Role')
    .flatMap((d) => d.rules ?? [])
    .filter((r) => r.resources.includes('services') || r.resources.includes('endpointslices'))
    .map((r) => `${r.apiGroups.join(',') || 'core'}/${r.resources.join(',')}: ${r.verbs.join(',')}`)
    .sort();

describe('RBAC for the routing endpoints', () => {
  const expected = [
    `core/services: ${ROUTING_VERBS.join(',')}`,
    `discovery.k8s.io/endpointslices: ${ROUTING_VERBS.join(',')}`,
  ];
  it.each(['deploy/operator/rbac.yaml', 'deploy/namespaced/rbac.yaml'])(
    '%s grants services and endpointslices',
    (file) => {
      expect(routingRules(readAll(readFileSync(join(root, file), 'utf8'), '1.1'))).toEqual(expected);
    },
  );
  it('the chart grants them in its ClusterRole or Role (watchNamespace)', () => {
    const text = staticPart(readFileSync(join(root, 'charts/tributary/templates/rbac.yaml'), 'utf8'));
    const docs = readAll(text, '1.1').map((d) =>
      // The kind is templated (Role or ClusterRole): the rules are what matter here.
      /^TEMPLATEDRoleTEMPLATEDClusterRoleTEMPLATED$/.test(String((d as { kind?: string })?.kind))
        ? { ...(d as object), kind: 'Role' }
        : d,
    );
    expect(routingRules(docs)).toEqual(expected);
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
describe.skipIf(kubectl.status !== 0)('deploy/namespaced (kubectl kustomize)', () => {
  it('watches one namespace with a Role there: no cluster-wide grant besides none, Lease in its own namespace', () => {
    const r = spawnSync('kubectl', ['kustomize', 'deploy/namespaced'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const objs = readAll(r.stdout, '1.1') as {
      kind: string;
      metadata: { name: string; namespace?: string };
      rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
      spec?: { template: { spec: { containers: { args: string[] }[] } } };
    }[];
    expect(objs.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    const role = objs.find((o) => o.kind === 'Role' && o.metadata.name === 'tributary-operator')!;
    expect(role.metadata.namespace).toBe('db');
    expect(role.rules!.flatMap((x) => x.resources).sort()).toEqual(
      [
        'endpointslices',
        'events',
        'mysqltopologies',
        'mysqltopologies/finalizers',
        'mysqltopologies/status',
        'secrets',
        'services',
      ].sort(),
    );
    expect(role.rules!.find((x) => x.resources.includes('secrets'))!.verbs).toEqual(['get', 'list', 'watch']);
    // The routing endpoints, in the watched namespace only (no ClusterRole above).
    for (const [group, resource] of [
      ['', 'services'],
      ['discovery.k8s.io', 'endpointslices'],
    ])
      expect(
        role.rules!.find((x) => x.resources.includes(resource!)),
        resource,
      ).toMatchObject({
        apiGroups: [group],
        verbs: ROUTING_VERBS,
      });
    const binding = objs.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'tributary-operator')!;
    expect(binding.metadata.namespace).toBe('db');
    const deployment = objs.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec!.template.spec.containers[0]!.args).toContain('--namespace=db');
    expect(
      objs.find((o) => o.kind === 'Role' && o.metadata.name === 'tributary-leader-election')?.metadata
        .namespace,
    ).toBe('tributary-system');
  });
});
