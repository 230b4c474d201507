// The MySQLTopology CustomResourceDefinition, generated from the zod schemas of spec.ts and status.ts.
//
// zod's JSON Schema is close to, but not, a Kubernetes structural schema: toStructural() converts it and
// refuses (throws on) what it cannot convert, so that a new schema feature fails here and not in the API
// server. Kubernetes-only parts (list types, CEL rules, printer columns) are added on top.
import { z } from 'zod';
import {
  API_GROUP,
  API_VERSION,
  KIND,
  MAX_GROUPS,
  RESERVED_CHANNEL_NAMES,
  TopologySpec,
  VERIFYING_TLS_MODES,
} from './spec.js';
import { TopologyStatus } from './status.js';
import { stringifyPortable } from './yaml.js';

export const CRD_PLURAL = 'mysqltopologies';
export const CRD_SINGULAR = 'mysqltopology';
export const CRD_NAME = `${CRD_PLURAL}.${API_GROUP}`;
/** Where the rendered CRD is checked in (relative to the repository root). */
export const CRD_FILE = `crds/${API_GROUP}_${CRD_PLURAL}.yaml`;

/** A JSON Schema / OpenAPI v3 node. */
export type SchemaNode = { [key: string]: unknown };

export interface CelRule {
  rule: string;
  message: string;
}

/** Keywords a structural schema node may carry (besides x-kubernetes-*), in the order the YAML shows them. */
const KEY_ORDER = [
  'type',
  'format',
  'description',
  'nullable',
  'default',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
];

const ALLOWED = new Set([...KEY_ORDER, 'title', 'allOf']);

/** Keywords that only describe how a value is validated: what may stay inside anyOf/oneOf/allOf. */
const VALUE_VALIDATIONS = new Set([
  'format',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'required',
]);

/** Regex features Go's RE2 lacks: lookaround, backreferences, possessive/atomic groups. */
const NON_RE2 = /\(\?[=!]|\(\?<[=!]|\\[1-9]|\\k<|\(\?>|[*+?}]\+/;

export function isRe2Safe(pattern: string): boolean {
  return !NON_RE2.test(pattern);
}

export interface StructuralOptions {
  /** Keep `default` values (spec: yes, the API server applies them; status: no, the operator writes all). */
  defaults: boolean;
  /**
   * Keep nullable properties in `required`. Off for status: a JSON merge patch deletes keys whose value is
   * null, and a required key the patch deleted would make the API server refuse the status update.
   */
  requireNullable?: boolean;
}

/** zod → JSON Schema, as the toolchain notes prescribe. */
export function jsonSchemaOf(schema: z.ZodType): SchemaNode {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    reused: 'inline',
    cycles: 'throw',
  }) as SchemaNode;
}

/**
 * Converts zod's JSON Schema into a Kubernetes structural schema: no $ref/definitions/$schema, no
 * additionalProperties beside properties, records as `additionalProperties: {type: string}` without
 * propertyNames, no type/default/nullable inside anyOf/oneOf/allOf, untyped nodes preserve unknown fields,
 * no uniqueItems, RE2-safe patterns, no ±2^53 bounds zod adds to integers.
 */
export function toStructural(node: SchemaNode, options: StructuralOptions, path = '$'): SchemaNode {
  const fail = (why: string): never => {
    throw new Error(`CRD schema at ${path}: ${why}`);
  };
  let n: SchemaNode = { ...node };
  delete n['$schema'];
  delete n['$id'];
  delete n['id'];
  for (const k of ['$defs', 'definitions']) {
    if (k in n) {
      if (Object.keys(n[k] as object).length > 0)
        fail(`${k} cannot appear in a structural schema; inline them`);
      delete n[k];
    }
  }
  if ('$ref' in n)
    fail('$ref cannot appear in a structural schema; inline it (reused: "inline") or break the cycle');
  delete n['uniqueItems'];
  delete n['propertyNames'];
  delete n['examples'];
  delete n['readOnly'];
  delete n['writeOnly'];
  delete n['deprecated'];
  if ('const' in n) {
    n['enum'] = [n['const']];
    delete n['const'];
  }
  if (!options.defaults) delete n['default'];
  if (n['minimum'] === Number.MIN_SAFE_INTEGER) delete n['minimum'];
  if (n['maximum'] === Number.MAX_SAFE_INTEGER) delete n['maximum'];

  if ('anyOf' in n || 'oneOf' in n) n = flattenUnion(n, path, fail);
  if ('allOf' in n) {
    const branches = n['allOf'] as SchemaNode[];
    delete n['allOf'];
    // zod emits allOf for intersections; merge branches that only add value validations.
    for (const b of branches) {
      for (const [k, v] of Object.entries(b)) {
        if (k === 'type' && n['type'] !== undefined && n['type'] !== v)
          fail('allOf branches of different types');
        if (k in n && k !== 'type') fail(`allOf branches both set ${k}`);
        n[k] = v;
      }
    }
  }

  for (const k of Object.keys(n)) {
    if (!ALLOWED.has(k) && !k.startsWith('x-kubernetes-'))
      fail(`keyword ${k} is not supported in a CRD schema`);
  }
  if (Array.isArray(n['type'])) fail('a list of types is not structural; use nullable or one type');
  if (typeof n['pattern'] === 'string' && !isRe2Safe(n['pattern']))
    fail(`pattern ${n['pattern']} uses features RE2 lacks`);

  const out: SchemaNode = {};
  for (const [k, v] of Object.entries(n)) {
    if (k === 'properties' || k === 'additionalProperties' || k === 'items' || k === 'anyOf' || k === 'oneOf')
      continue;
    out[k] = v;
  }

  if (n['type'] === undefined && n['x-kubernetes-int-or-string'] !== true) {
    // z.unknown()/z.any(): anything goes, and the API server must not prune it.
    if ('properties' in n || 'items' in n) fail('a node with properties or items needs a type');
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  }

  if (n['type'] === 'object') {
    const props = n['properties'] as Record<string, SchemaNode> | undefined;
    const extra = n['additionalProperties'];
    if (props && Object.keys(props).length > 0) {
      out['properties'] = Object.fromEntries(
        Object.entries(props).map(([k, v]) => [k, toStructural(v, options, `${path}.${k}`)]),
      );
      // Strict objects (false) are what a structural schema does anyway (unknown fields are pruned, or
      // refused under strict field validation). Loose objects keep their unknown fields.
      if (extra === true || (isNode(extra) && Object.keys(extra).length === 0))
        out['x-kubernetes-preserve-unknown-fields'] = true;
      else if (isNode(extra)) fail('additionalProperties with a schema beside properties is not structural');
    } else if (isNode(extra) && Object.keys(extra).length > 0) {
      out['additionalProperties'] = toStructural(extra, options, `${path}.*`); // a record: its values' schema
    } else if (extra === true || isNode(extra)) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  } else if (n['type'] === 'array') {
    const items = n['items'];
    if (Array.isArray(items)) fail('tuples (array-valued items) are not structural');
    if (!isNode(items)) fail('an array needs an items schema');
    out['items'] = toStructural(items as SchemaNode, options, `${path}[]`);
  } else if ('properties' in n || 'items' in n || 'additionalProperties' in n) {
    fail(`a ${String(n['type'])} cannot have properties or items`);
  }
  if ('anyOf' in n) out['anyOf'] = n['anyOf'];
  if ('oneOf' in n) out['oneOf'] = n['oneOf'];
  if (!options.requireNullable && Array.isArray(out['required']) && isNode(out['properties'])) {
    const props = out['properties'] as Record<string, SchemaNode>;
    const required = (out['required'] as string[]).filter((k) => props[k]?.['nullable'] !== true);
    if (required.length > 0) out['required'] = required;
    else delete out['required'];
  }
  return ordered(out);
}

/** Keys in a reading order: type and description first, children next, x-kubernetes-* last. */
function ordered(node: SchemaNode): SchemaNode {
  const rank = (k: string) => (KEY_ORDER.includes(k) ? KEY_ORDER.indexOf(k) : KEY_ORDER.length);
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b)));
}

/**
 * anyOf/oneOf: null branches become `nullable`; one branch left is merged into the node; several branches
 * of one scalar type keep only their value validations, the type moving up; integer|string becomes
 * x-kubernetes-int-or-string. Anything else is refused.
 */
function flattenUnion(n: SchemaNode, path: string, fail: (why: string) => never): SchemaNode {
  const key = 'anyOf' in n ? 'anyOf' : 'oneOf';
  const rest: SchemaNode = { ...n };
  delete rest[key];
  let branches = (n[key] as SchemaNode[]).filter((b) => {
    if (
      b['type'] === 'null' ||
      (b['enum'] && (b['enum'] as unknown[]).length === 1 && (b['enum'] as unknown[])[0] === null)
    ) {
      rest['nullable'] = true;
      return false;
    }
    return true;
  });
  branches = branches.map((b) => {
    if (b['nullable'] === true) {
      rest['nullable'] = true;
      const { nullable: _nullable, ...others } = b;
      return others;
    }
    return b;
  });
  if (branches.length === 1) {
    const only = branches[0]!;
    for (const [k, v] of Object.entries(only)) {
      if (k in rest && k !== 'description') fail(`union branch and node both set ${k}`);
      if (!(k in rest)) rest[k] = v;
    }
    return rest;
  }
  const types = new Set(branches.map((b) => b['type']));
  if (types.size === 1 && ['string', 'number', 'integer', 'boolean'].includes(String([...types][0]))) {
    rest['type'] = [...types][0];
    rest[key] = branches.map((b) => {
      const kept = Object.fromEntries(Object.entries(b).filter(([k]) => VALUE_VALIDATIONS.has(k)));
      if (
        Object.keys(kept).length !==
        Object.keys(b).length - ('type' in b ? 1 : 0) - ('description' in b ? 1 : 0)
      ) {
        fail('union branches may only differ by value validations');
      }
      return kept;
    });
    return rest;
  }
  if (types.size === 2 && types.has('integer') && types.has('string')) {
    rest['x-kubernetes-int-or-string'] = true;
    rest[key] = [{ type: 'integer' }, { type: 'string' }];
    return rest;
  }
  return fail(`a union of ${[...types].map(String).join(', ')} is not structural`);
}

function isNode(v: unknown): v is SchemaNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function child(node: SchemaNode, ...path: string[]): SchemaNode {
  let n = node;
  for (const p of path) {
    const next = p === '[]' ? n['items'] : (n['properties'] as Record<string, SchemaNode> | undefined)?.[p];
    if (!isNode(next)) throw new Error(`CRD schema: no ${path.join('.')}`);
    n = next;
  }
  return n;
}

function addRules(node: SchemaNode, ...rules: CelRule[]): void {
  node['x-kubernetes-validations'] = [
    ...((node['x-kubernetes-validations'] as CelRule[] | undefined) ?? []),
    ...rules,
  ];
}

function mapList(node: SchemaNode, key = 'name'): void {
  node['x-kubernetes-list-type'] = 'map';
  node['x-kubernetes-list-map-keys'] = [key];
}

/**
 * The spec's structural schema, with what only the API server can add: list-map keys (exact uniqueness
 * of group, member and channel names within their list, enforced by the server at no CEL cost) and CEL
 * rules that are linear in one list. Everything the server cannot afford stays with the operator's own
 * validation (spec.ts; phase Invalid, one line per problem): case-insensitive channel names, one channel
 * per source group, channels from groups that exist, cycles, members and addresses unique across groups.
 *
 * Cost: the API server estimates each rule's worst case from maxItems/maxLength, multiplies it by the
 * number of times the rule can run (the product of the enclosing lists' maxItems) and refuses a CRD
 * whose rules exceed 10^7 each or 10^8 together (StaticEstimatedCostLimit, StaticEstimatedCRDCostLimit).
 * A list macro nested in another is quadratic and was refused by a real server: none is allowed here
 * (test/unit/api/crd.test.ts checks both, with a conservative estimate of the server's).
 */
export function specSchema(): SchemaNode {
  const spec = toStructural(jsonSchemaOf(TopologySpec), { defaults: true, requireNullable: true }, 'spec');
  spec['description'] ??= 'The servers, grouped, and the named replication channels between the groups.';
  const groups = child(spec, 'groups');
  const group = child(groups, '[]');
  const members = child(group, 'members');
  const channels = child(group, 'channels');
  const channelName = child(channels, '[]', 'name');
  mapList(groups);
  mapList(members);
  mapList(channels);
  channels['maxItems'] = Math.min(Number(channels['maxItems'] ?? Infinity), MAX_GROUPS - 1);

  const reserved = RESERVED_CHANNEL_NAMES.map((n) => `'${n}'`).join(', ');
  addRules(channelName, {
    rule: `!(self.lowerAscii() in [${reserved}])`,
    message:
      "is a reserved channel name (MySQL Group Replication's, or Tributary's failover catch-up channel)",
  });
  addRules(group, {
    rule: '!has(self.channels) || self.channels.all(c, c.from != self.name)',
    message: 'a channel cannot come from its own group',
  });
  // Defaults apply before validation: mode and channels are always there.
  addRules(child(spec, 'tls'), {
    rule: `!(self.mode in [${VERIFYING_TLS_MODES.map((m) => `'${m}'`).join(', ')}]) || (has(self.caSecretRef) && has(self.channels.caPath))`,
    message:
      'verify-ca and verify-identity need caSecretRef (the CA the operator verifies with) and channels.caPath (the CA file on the servers)',
  });
  return spec;
}

/** The status's structural schema: typed, without defaults (the operator always writes all of it). */
export function statusSchema(): SchemaNode {
  const status = toStructural(jsonSchemaOf(TopologyStatus), { defaults: false }, 'status');
  status['description'] ??= 'What the operator last observed and did (written by the operator only).';
  return status;
}

export function topologyCrd(): SchemaNode {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'tributary', 'app.kubernetes.io/part-of': 'tributary' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: CRD_PLURAL,
        singular: CRD_SINGULAR,
        shortNames: ['mytopo'],
        // Not `all`: `kubectl delete all` should not sweep replication topologies away.
        categories: ['tributary'],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Groups', type: 'integer', jsonPath: '.status.summary.groups' },
            {
              name: 'Channels',
              type: 'string',
              jsonPath: '.status.summary.channels',
              description: 'Managed channels running/total',
            },
            { name: 'Last failover', type: 'string', jsonPath: '.status.summary.lastFailover' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'MySQLTopology: groups of MySQL/MariaDB servers and the named replication channels between them.',
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'The versioned schema of this object: tributary.dev/v1alpha1.',
                },
                kind: { type: 'string', description: 'MySQLTopology.' },
                // A real API server allows nothing on the root metadata but `type: object` and restrictions
                // of name/generateName (a description is refused).
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

export function renderCrdYaml(): string {
  const header =
    '# Generated from src/api/spec.ts and src/api/status.ts by `tributary crd` (src/api/crd.ts).\n' +
    '# Do not edit: run `npm run crd` after changing the schemas.\n';
  return header + stringifyPortable(topologyCrd());
}
