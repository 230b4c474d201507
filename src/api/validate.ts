// Validation of a MySQLTopology resource into one-line errors that name the field and the culprit:
//   spec.groups[2].channels[0].from: group "shard-z" does not exist
//   spec.groups[0].members[1].port: must be 1–65535 (got 70000)
// Values from the resource are quoted, escaped and truncated: a hostile value cannot add a line.
import { z } from 'zod';
import {
  API_GROUP,
  API_VERSION,
  KIND,
  ObjectMeta,
  TopologySpec,
  formatIssuePath,
  quote,
  type TlsMode,
  type TlsSpec,
} from './spec.js';
import { oneLine } from '../util/errors.js';

export type TopologyMeta = z.infer<typeof ObjectMeta>;

export interface ValidTopology {
  metadata: TopologyMeta;
  spec: TopologySpec;
}

export type ValidationResult = { ok: true; topology: ValidTopology } | { ok: false; errors: string[] };

export const TOPOLOGY_API_VERSION = `${API_GROUP}/${API_VERSION}`;

const Resource = z.strictObject({
  apiVersion: z.literal(TOPOLOGY_API_VERSION),
  kind: z.literal(KIND),
  metadata: ObjectMeta,
  spec: TopologySpec,
  /** Status is the operator's; it is not validated here. */
  status: z.unknown().optional(),
});

/** Validates a whole resource (apiVersion, kind, metadata, spec). */
export function validateTopology(resource: unknown): ValidationResult {
  if (!isPlainObject(resource)) {
    return { ok: false, errors: [`resource: must be an object (got ${describe(resource)})`] };
  }
  const result = Resource.safeParse(resource, { reportInput: true, error: messageFor });
  if (result.success)
    return { ok: true, topology: { metadata: result.data.metadata, spec: result.data.spec } };
  return { ok: false, errors: formatIssues(result.error.issues) };
}

/** Validates a spec alone (as the store hands it to the pass); paths still start with `spec.`. */
export function validateSpec(
  spec: unknown,
): { ok: true; spec: TopologySpec } | { ok: false; errors: string[] } {
  const result = TopologySpec.safeParse(spec, { reportInput: true, error: messageFor });
  if (result.success) return { ok: true, spec: result.data };
  return { ok: false, errors: formatIssues(result.error.issues, ['spec']) };
}

/** Zod issues → one line each, `path: message (got value)`, in the order zod found them, without repeats. */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(line([...path, key], 'unknown field'));
      continue;
    }
    let message = issue.message;
    const got = gotFor(issue);
    if (got) message += ` (got ${got})`;
    lines.push(line(path, message));
  }
  return [...new Set(lines)];
}

function line(path: readonly PropertyKey[], message: string): string {
  const where = formatIssuePath(path) || 'resource';
  return oneLine(`${where}: ${message}`);
}

/** The offending value, when it helps: primitives, and the length of a list that is too long or short. */
function gotFor(issue: z.core.$ZodIssue): string | undefined {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return undefined;
  if ((issue.code === 'too_big' || issue.code === 'too_small') && Array.isArray(input)) {
    return `${input.length} ${input.length === 1 ? 'item' : 'items'}`;
  }
  if (issue.code === 'invalid_type' || issue.code === 'invalid_value') return describe(input);
  if (input === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof input))
    return describe(input);
  return undefined;
}

/** A short, safe description of any value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Date) return `a timestamp (quote it to make it a string)`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
};

/**
 * The error map of this module, for other parses that report through formatIssues
 * (`schema.safeParse(value, { reportInput: true, error: messageFor })`).
 * Messages for issues whose schema sets none. Schema-level messages (spec.ts) win over this map.
 * A missing value reads `is required`; the value itself is appended by formatIssues.
 */
export function messageFor(issue: z.core.$ZodRawIssue): string | undefined {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      if (input === undefined) return 'is required';
      if (issue.values.length === 1) return `must be ${String(issue.values[0])}`;
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array')
        return `must have at least ${String(issue.minimum)} ${Number(issue.minimum) === 1 ? 'item' : 'items'}`;
      if (issue.origin === 'string') return `must be at least ${String(issue.minimum)} characters`;
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} items`;
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters`;
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue
        ? `must match ${String(issue.pattern)}`
        : `must be a valid ${issue.format}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_union':
      return 'matches none of the allowed shapes';
    default:
      return undefined;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------
// Secrets

export interface Credentials {
  username: string;
  password: string;
}

/**
 * What the operator's own connections use for TLS, read from the spec and its Secrets (PEM text). Key
 * material: never logged, never in status or messages.
 */
export interface TlsMaterial {
  mode: TlsMode;
  ca?: string;
  cert?: string;
  key?: string;
}

type SecretRefs = Pick<TopologySpec, 'adminSecretRef' | 'replicationSecretRef'> & {
  tls?: Pick<TlsSpec, 'caSecretRef' | 'clientCertSecretRef'> & { mode?: TlsMode };
};

/** One key a Secret must hold, and how to tell its value is what it should be. */
interface SecretKey {
  key: string;
  /** An empty string counts as missing. */
  nonEmpty?: boolean;
  /** PEM block label the value must contain (checked, never echoed). */
  pem?: RegExp;
  pemWord?: string;
}

interface SecretUse {
  field: string;
  name: string;
  keys: SecretKey[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN ([A-Z ]+ )?PRIVATE KEY-----[\s\S]+?-----END ([A-Z ]+ )?PRIVATE KEY-----/;

/** Every Secret the spec names, with the keys each must hold. */
function secretUses(spec: SecretRefs): SecretUse[] {
  const login = [{ key: 'username', nonEmpty: true }, { key: 'password' }];
  const uses: SecretUse[] = [
    { field: 'spec.adminSecretRef.name', name: spec.adminSecretRef.name, keys: login },
    { field: 'spec.replicationSecretRef.name', name: spec.replicationSecretRef.name, keys: login },
  ];
  const tls = spec.tls;
  if (tls?.caSecretRef)
    uses.push({
      field: 'spec.tls.caSecretRef.name',
      name: tls.caSecretRef.name,
      keys: [{ key: 'ca.crt', pem: PEM_CERT, pemWord: 'a PEM certificate' }],
    });
  if (tls?.clientCertSecretRef)
    uses.push({
      field: 'spec.tls.clientCertSecretRef.name',
      name: tls.clientCertSecretRef.name,
      keys: [
        { key: 'tls.crt', pem: PEM_CERT, pemWord: 'a PEM certificate' },
        { key: 'tls.key', pem: PEM_KEY, pemWord: 'a PEM private key' },
      ],
    });
  return uses;
}

/**
 * Checks the Secrets the spec names: one line for a Secret the store lacks, one for a Secret without
 * the keys it needs (`username` and `password`; `ca.crt`; `tls.crt` and `tls.key`), one for a value that
 * is not the PEM it should be. An empty username counts as missing; an empty password is allowed. Values
 * are never shown.
 */
export function checkSecrets(
  spec: SecretRefs,
  lookup: (name: string) => Record<string, string> | undefined,
  options: { namespace?: string } = {},
): string[] {
  const errors: string[] = [];
  for (const use of secretUses(spec)) {
    const error = secretProblem(use, lookup(use.name), options.namespace);
    if (error) errors.push(error);
  }
  return errors;
}

export type LoadedCredentials = {
  ok: true;
  admin: Credentials;
  replication: Credentials;
  /** Absent when the spec has no TLS (or mode disabled). */
  tls?: TlsMaterial;
};

/**
 * Reads the Secrets through an async reader (the store's readSecret) and checks them: the credentials
 * (and TLS material) when all are usable, the error lines otherwise.
 */
export async function loadCredentials(
  spec: SecretRefs,
  read: (name: string) => Promise<Record<string, string> | undefined>,
  options: { namespace?: string } = {},
): Promise<LoadedCredentials | { ok: false; errors: string[] }> {
  const names = [...new Set(secretUses(spec).map((u) => u.name))];
  const data = new Map<string, Record<string, string> | undefined>();
  await Promise.all(names.map(async (n) => data.set(n, await read(n))));
  const errors = checkSecrets(spec, (n) => data.get(n), options);
  if (errors.length > 0) return { ok: false, errors };
  const creds = (name: string): Credentials => {
    const d = data.get(name)!;
    return { username: d['username']!, password: d['password']! };
  };
  const mode = spec.tls?.mode ?? 'disabled';
  const ca = spec.tls?.caSecretRef ? data.get(spec.tls.caSecretRef.name)!['ca.crt'] : undefined;
  const client = spec.tls?.clientCertSecretRef ? data.get(spec.tls.clientCertSecretRef.name)! : undefined;
  const tls: TlsMaterial | undefined =
    mode === 'disabled'
      ? undefined
      : {
          mode,
          ...(ca !== undefined ? { ca } : {}),
          ...(client ? { cert: client['tls.crt']!, key: client['tls.key']! } : {}),
        };
  return {
    ok: true,
    admin: creds(spec.adminSecretRef.name),
    replication: creds(spec.replicationSecretRef.name),
    ...(tls ? { tls } : {}),
  };
}

function secretProblem(
  use: SecretUse,
  data: Record<string, string> | undefined,
  namespace?: string,
): string | undefined {
  const shown = quote(namespace ? `${namespace}/${use.name}` : use.name);
  if (data === undefined) return oneLine(`${use.field}: Secret ${shown} does not exist`);
  const missing = use.keys.filter(
    (k) => typeof data[k.key] !== 'string' || (k.nonEmpty === true && data[k.key] === ''),
  );
  if (missing.length > 0) {
    const keys = missing.map((k) => `"${k.key}"`).join(' and ');
    return oneLine(
      `${use.field}: Secret ${shown} lacks the ${missing.length === 1 ? 'key' : 'keys'} ${keys}`,
    );
  }
  const malformed = use.keys.filter((k) => k.pem && !k.pem.test(data[k.key]!));
  if (malformed.length > 0)
    return oneLine(
      `${use.field}: Secret ${shown}: ${malformed.map((k) => `key "${k.key}" is not ${k.pemWord}`).join('; ')}`,
    );
  return undefined;
}
