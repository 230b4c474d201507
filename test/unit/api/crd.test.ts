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
import {
  STATIC_ESTIMATED_COST_LIMIT,
  STATIC_ESTIMATED_CRD_COST_LIMIT,
  estimateRule,
  estimateSchemaRules,
} from './cel-cost.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

type Any = Record<string, any>;
const crd = topologyCrd() as Any;
const version = crd.spec.versions[0] as Any;
const root = version.schema.openAPIV3Schema as SchemaNode;

const JUNCTORS = ['anyOf', 'oneOf', 'allOf', 'not'] as const;

interface Visit {
  node: SchemaNode;
  path: string;
  /** Inside anyOf/oneOf/allOf/not: only value validations are allowed there. */
  inJunctor: boolean;
  /** Enclosing arrays without maxItems (CEL cost estimates need every one bounded). */
  unboundedAncestors: string[];
}

/** Every schema node, with where it is. */
function walk(node: SchemaNode, path = '$', inJunctor = false, unbounded: string[] = []): Visit[] {
  const visits: Visit[] = [{ node, path, inJunctor, unboundedAncestors: unbounded }];
  const props = node['properties'] as Record<string, SchemaNode> | undefined;
  for (const [k, v] of Object.entries(props ?? {}))
    visits.push(...walk(v, `${path}.${k}`, inJunctor, unbounded));
  const extra = node['additionalProperties'];
  if (extra && typeof extra === 'object')
    visits.push(...walk(extra as SchemaNode, `${path}.*`, inJunctor, unbounded));
  const items = node['items'];
  if (items && typeof items === 'object' && !Array.isArray(items)) {
    const nowUnbounded = node['maxItems'] === undefined ? [...unbounded, path] : unbounded;
    visits.push(...walk(items as SchemaNode, `${path}[]`, inJunctor, nowUnbounded));
  }
  for (const j of JUNCTORS) {
    const branches = node[j];
    if (Array.isArray(branches))
      branches.forEach((b, i) =>
        visits.push(...walk(b as SchemaNode, `${path}.${j}[${i}]`, true, unbounded)),
      );
    else if (branches && typeof branches === 'object')
      visits.push(...walk(branches as SchemaNode, `${path}.${j}`, true, unbounded));
  }
  return visits;
}

/** Like walk, but only into properties whose names are in `reached`. */
function walkReached(node: SchemaNode, path: string, reached: Set<string>): Visit[] {
  const visits: Visit[] = [{ node, path, inJunctor: false, unboundedAncestors: [] }];
  for (const [k, v] of Object.entries((node['properties'] as Record<string, SchemaNode> | undefined) ?? {})) {
    if (reached.has(k)) visits.push(...walkReached(v, `${path}.${k}`, reached));
  }
  if (node['items']) visits.push(...walkReached(node['items'] as SchemaNode, `${path}[]`, reached));
  return visits;
}

/** The structural-schema rules of apiextensions.k8s.io/v1, as far as they can be checked without a server. */
function structuralProblems(schema: SchemaNode): string[] {
  const problems: string[] = [];
  for (const { node, path, inJunctor } of walk(schema)) {
    for (const k of [
      '$ref',
      '$schema',
      'definitions',
      '$defs',
      'propertyNames',
      'uniqueItems',
      'patternProperties',
      'dependencies',
      'const',
    ]) {
      if (k in node) problems.push(`${path}: ${k}`);
    }
    if (Array.isArray(node['items'])) problems.push(`${path}: array-valued items`);
    if (Array.isArray(node['type'])) problems.push(`${path}: type list`);
    if ('properties' in node && 'additionalProperties' in node)
      problems.push(`${path}: additionalProperties beside properties`);
    if (node['additionalProperties'] === false || node['additionalProperties'] === true)
      problems.push(`${path}: boolean additionalProperties`);
    if (inJunctor) {
      for (const k of [
        'type',
        'default',
        'nullable',
        'description',
        'additionalProperties',
        'x-kubernetes-preserve-unknown-fields',
      ]) {
        if (k in node) problems.push(`${path}: ${k} inside a junctor`);
      }
    } else if (
      node['type'] === undefined &&
      node['x-kubernetes-preserve-unknown-fields'] !== true &&
      node['x-kubernetes-int-or-string'] !== true
    ) {
      problems.push(`${path}: no type`);
    }
    if (node['type'] === 'array' && !node['items']) problems.push(`${path}: array without items`);
    if (typeof node['pattern'] === 'string') {
      if (!isRe2Safe(node['pattern'])) problems.push(`${path}: pattern not RE2-safe`);
      expect(() => new RegExp(node['pattern'] as string)).not.toThrow();
    }
    if (node['x-kubernetes-list-type'] === 'map') {
      const keys = node['x-kubernetes-list-map-keys'] as string[];
      const item = node['items'] as SchemaNode;
      for (const key of keys ?? []) {
        const required = (item['required'] as string[] | undefined) ?? [];
        const keySchema = (item['properties'] as Record<string, SchemaNode>)[key];
        if (!required.includes(key) && keySchema?.['default'] === undefined)
          problems.push(`${path}: map key ${key} neither required nor defaulted`);
      }
    }
    if (Array.isArray(node['required'])) {
      for (const k of node['required'] as string[]) {
        if (!(node['properties'] as Record<string, unknown> | undefined)?.[k])
          problems.push(`${path}: required ${k} is not a property`);
      }
    }
  }
  return problems;
}

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

  it('is a structural schema', () => {
    expect(structuralProblems(root)).toEqual([]);
  });

  it('does not constrain metadata, requires spec, types status', () => {
    const props = root['properties'] as Record<string, SchemaNode>;
    expect(props['metadata']).toEqual({ type: 'object', description: expect.any(String) });
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

  it('bounds every list and string a CEL rule can reach, and every list enclosing one', () => {
    const problems: string[] = [];
    for (const { node, path, unboundedAncestors } of walk(root)) {
      if (!node['x-kubernetes-validations']) continue;
      if (unboundedAncestors.length > 0)
        problems.push(`${path}: enclosed by unbounded ${unboundedAncestors.join(', ')}`);
      // The estimator only costs what a rule reaches: descend into the fields its text names.
      const named = (rule: { rule: string }) =>
        [...rule.rule.matchAll(/\.([A-Za-z_]\w*)/g)].map((m) => m[1]!);
      const reached = new Set((node['x-kubernetes-validations'] as { rule: string }[]).flatMap(named));
      for (const inner of walkReached(node, path, reached)) {
        if (inner.node['type'] === 'array' && inner.node['maxItems'] === undefined)
          problems.push(`${inner.path}: no maxItems`);
        if (inner.node['type'] === 'string' && inner.node['maxLength'] === undefined && !inner.node['enum']) {
          problems.push(`${inner.path}: no maxLength`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('nests no list macro in another: every rule is linear in one list', () => {
    const rules = estimateSchemaRules(root);
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => r.nestedMacros.length > 0).map((r) => `${r.path}: ${r.rule}`)).toEqual([]);
  });

  it('keeps every rule and all of them within the API server cost budget (a conservative estimate)', () => {
    const rules = estimateSchemaRules(root);
    const over = rules.filter((r) => !(r.total <= STATIC_ESTIMATED_COST_LIMIT));
    expect(over.map((r) => `${r.path}: ${r.rule}: ${r.total}`)).toEqual([]);
    const sum = rules.reduce((s, r) => s + r.total, 0);
    expect(sum).toBeLessThanOrEqual(STATIC_ESTIMATED_CRD_COST_LIMIT);
  });

  it('the estimate refuses the rules a real API server refused (nested macros over 256 channels)', () => {
    const spec = specSchema() as Any;
    const channels = structuredClone(spec.properties.groups.items.properties.channels) as Any;
    channels.maxItems = 256;
    for (const rule of [
      'self.all(c, self.exists_one(d, d.name.lowerAscii() == c.name.lowerAscii()))',
      'self.all(c, self.exists_one(d, d.from == c.from))',
    ]) {
      const e = estimateRule(rule, channels);
      expect(e.nestedMacros, rule).toEqual(['exists_one']);
      // The server's figure was 2.1 × 10^7 for the whole rule (times the groups); ours is never lower.
      expect(e.cost * MAX_GROUPS, rule).toBeGreaterThan(STATIC_ESTIMATED_COST_LIMIT);
    }
    expect(() => estimateRule('self.matches("x")', channels)).toThrow(/not in the estimated subset/);
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
    expect(structuralProblems(union)).toEqual([]);
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
