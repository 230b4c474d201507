import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  CRD_FILE,
  isRe2Safe,
  jsonSchemaOf,
  renderCrdYaml,
  specSchema,
  statusSchema,
  toStructural,
  topologyCrd,
  type SchemaNode,
} from '../../../src/api/crd.js';
import { FailoverSpec, MAX_GROUPS } from '../../../src/api/spec.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

type Any = Record<string, any>;
const crd = topologyCrd() as Any;
const version = crd.spec.versions[0] as Any;
const root = version.schema.openAPIV3Schema as SchemaNode;

// What only a real API server can judge (a structural schema, the CEL cost budget, the root metadata
// rule) is judged by one: test/integration/kube-api-server.test.ts applies this CRD to the real
// apiextensions-apiserver and sees it Established, and sees the rules it once refused refused.

describe('CRD', () => {
  it('names, scope, version, subresource', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.metadata.name).toBe('mysqltopologies.tributary.dev');
    expect(crd.spec.group).toBe('tributary.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toEqual({
      kind: 'MySQLTopology',
      listKind: 'MySQLTopologyList',
      plural: 'mysqltopologies',
      singular: 'mysqltopology',
      shortNames: ['mytopo'],
      categories: ['tributary'],
    });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({
      name: 'v1alpha1',
      served: true,
      storage: true,
      subresources: { status: {} },
    });
  });

  it('has the printer columns of the design, each pointing at a field the schema has', () => {
    const columns = version.additionalPrinterColumns as { name: string; type: string; jsonPath: string }[];
    expect(columns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Phase', 'string', '.status.phase'],
      ['Groups', 'integer', '.status.summary.groups'],
      ['Channels', 'string', '.status.summary.channels'],
      ['Last failover', 'string', '.status.summary.lastFailover'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
    for (const c of columns.filter((c) => c.jsonPath.startsWith('.status'))) {
      let node = root;
      for (const part of c.jsonPath.slice(1).split('.'))
        node = (node['properties'] as Record<string, SchemaNode>)[part]!;
      expect(node, c.jsonPath).toBeDefined();
      expect(node['type'], c.jsonPath).toBe(c.type);
    }
  });

  it('says nothing of the root metadata but its type (a real API server refuses anything else there)', () => {
    // kube-apiserver: "must not specify anything other than name and generateName, but metadata is
    // implicitly specified" for a description, a required list, or any other property.
    const meta = (root['properties'] as Record<string, SchemaNode>)['metadata']!;
    expect(Object.keys(meta).filter((k) => k !== 'type' && k !== 'properties')).toEqual([]);
    expect(meta['type']).toBe('object');
    const named = Object.keys((meta['properties'] as object | undefined) ?? {});
    expect(named.filter((k) => k !== 'name' && k !== 'generateName')).toEqual([]);
  });

  it('does not constrain metadata, requires spec, types status', () => {
    const props = root['properties'] as Record<string, SchemaNode>;
    expect(props['metadata']).toEqual({ type: 'object' });
    expect(root['required']).toEqual(['spec']);
    expect(props['status']!['type']).toBe('object');
    expect(props['status']!['x-kubernetes-preserve-unknown-fields']).toBeUndefined();
    expect(Object.keys(props['status']!['properties'] as object)).toEqual(
      expect.arrayContaining([
        'phase',
        'conditions',
        'groups',
        'instances',
        'channels',
        'managedChannels',
        'failovers',
        'summary',
      ]),
    );
  });

  it('leaves name uniqueness to list-map keys: groups, members and channels by name', () => {
    const spec = specSchema() as Any;
    const group = spec.properties.groups.items;
    for (const list of [spec.properties.groups, group.properties.members, group.properties.channels]) {
      expect(list['x-kubernetes-list-type']).toBe('map');
      expect(list['x-kubernetes-list-map-keys']).toEqual(['name']);
    }
    expect(spec.properties.groups.maxItems).toBe(MAX_GROUPS);
    expect(group.properties.channels.maxItems).toBe(MAX_GROUPS - 1);
  });

  it('describes every field (kubectl explain)', () => {
    const missing: string[] = [];
    const visit = (node: SchemaNode, path: string) => {
      // The root metadata may carry no description (see above); kubectl explain takes ObjectMeta's own.
      if (path === '$.metadata') return;
      if (typeof node['description'] !== 'string' || node['description'] === '') missing.push(path);
      for (const [k, v] of Object.entries((node['properties'] as Record<string, SchemaNode>) ?? {}))
        visit(v, `${path}.${k}`);
      const items = node['items'] as SchemaNode | undefined;
      if (items?.['properties'])
        for (const [k, v] of Object.entries(items['properties'] as Record<string, SchemaNode>))
          visit(v, `${path}[].${k}`);
      const extra = node['additionalProperties'] as SchemaNode | undefined;
      if (extra?.['properties'])
        for (const [k, v] of Object.entries(extra['properties'] as Record<string, SchemaNode>))
          visit(v, `${path}.*.${k}`);
    };
    visit(root, '$');
    expect(missing).toEqual([]);
  });

  it('keeps the spec defaults, which validate against the spec schema', () => {
    const spec = specSchema() as Any;
    expect(spec.properties.failover.default).toEqual(FailoverSpec.parse({}));
    expect(spec.properties.groups.items.properties.members.items.properties.port.default).toBe(3306);
    expect(statusSchema()['default']).toBeUndefined();
  });

  it('the checked-in file is what renderCrdYaml() renders, and reads the same in YAML 1.1 (kubectl) and 1.2', () => {
    const rendered = renderCrdYaml();
    expect(parse(rendered)).toEqual(crd);
    expect(parse(rendered, { version: '1.1' })).toEqual(crd);
    // The enum that a real server read as booleans: quoted.
    expect(rendered).toMatch(/- "Yes"\n/);
    const onDisk = readFileSync(`${repoRoot}${CRD_FILE}`, 'utf8');
    if (onDisk !== rendered) {
      throw new Error(
        `${CRD_FILE} is stale: run \`npm run crd\` to regenerate it from src/api/spec.ts and src/api/status.ts`,
      );
    }
  });
});

describe('toStructural', () => {
  const convert = (schema: z.ZodType, defaults = true) => toStructural(jsonSchemaOf(schema), { defaults });

  it('turns records into additionalProperties without propertyNames', () => {
    expect(convert(z.record(z.string(), z.string()))).toEqual({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
  });

  it('marks untyped values as preserving unknown fields', () => {
    expect(convert(z.object({ x: z.unknown().optional() }))).toEqual({
      type: 'object',
      properties: { x: { 'x-kubernetes-preserve-unknown-fields': true } },
    });
  });

  it('drops additionalProperties beside properties; keeps loose objects', () => {
    expect(convert(z.strictObject({ a: z.string() }))).toEqual({
      type: 'object',
      required: ['a'],
      properties: { a: { type: 'string' } },
    });
    expect(convert(z.looseObject({ a: z.string() }))).toMatchObject({
      'x-kubernetes-preserve-unknown-fields': true,
    });
  });

  it('makes nullable unions and same-type unions structural', () => {
    expect(convert(z.string().nullable())).toEqual({ type: 'string', nullable: true });
    const union = convert(z.union([z.string().regex(/^a+$/), z.string().regex(/^b+$/)]));
    expect(union).toEqual({ type: 'string', anyOf: [{ pattern: '^a+$' }, { pattern: '^b+$' }] });
    expect(convert(z.union([z.number().int(), z.string()]))).toEqual({
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    });
  });

  it('drops uniqueItems and the ±2^53 bounds of integers; drops defaults when asked', () => {
    expect(
      toStructural({ type: 'array', uniqueItems: true, items: { type: 'string' } }, { defaults: true }),
    ).toEqual({
      type: 'array',
      items: { type: 'string' },
    });
    expect(convert(z.number().int())).toEqual({ type: 'integer' });
    expect(convert(z.number().int().default(3), false)).toEqual({ type: 'integer' });
  });

  it('refuses what it cannot make structural', () => {
    expect(() => convert(z.tuple([z.string(), z.number()]))).toThrow(/not structural/);
    expect(() => toStructural({ type: 'array', items: [{ type: 'string' }] }, { defaults: true })).toThrow(
      /tuples/,
    );
    expect(() => toStructural({ $ref: '#/definitions/x' }, { defaults: true })).toThrow(/\$ref/);
    expect(() => convert(z.union([z.string(), z.object({ a: z.string() })]))).toThrow(/not structural/);
    expect(() => convert(z.string().regex(/^(?!x)/))).toThrow(/RE2/);
    const Tree: z.ZodType = z.lazy(() => z.object({ children: z.array(Tree) }));
    expect(() => convert(Tree)).toThrow();
  });

  it('recognizes patterns RE2 lacks', () => {
    expect(isRe2Safe('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')).toBe(true);
    for (const p of ['^(?=a)', '(?<!b)c', '(a)\\1', '(?<=x)y', 'a++']) expect(isRe2Safe(p), p).toBe(false);
  });
});
