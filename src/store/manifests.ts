// Manifest files as `kubectl apply -f` takes them: YAML or JSON, several documents separated by `---`,
// `kind: List` with items. Local mode keeps the MySQLTopology and the Secrets; other kinds are ignored.
// Every problem is one line naming the file and the document (1-based, as an editor counts).
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { KIND, quote } from '../api/spec.js';
import { TOPOLOGY_API_VERSION, describe } from '../api/validate.js';
import { oneLine } from '../util/errors.js';
import { UserError } from '../util/errors.js';

export interface ManifestSource {
  file: string;
  /** 1-based document number within the file. */
  document: number;
  /** Index within a `kind: List`'s items, when the object came from one. */
  item?: number;
}

export interface TopologyManifest {
  source: ManifestSource;
  name: string;
  namespace?: string;
  annotations: Record<string, string>;
  /** The whole object as written (apiVersion, kind, metadata, spec, …). */
  object: Record<string, unknown>;
}

export interface SecretManifest {
  source: ManifestSource;
  name: string;
  /** Absent: the Secret belongs to the namespace it is applied to (local mode: the topology's). */
  namespace?: string;
  /** `data` (base64-decoded) merged with `stringData` (which wins, as on the API server). */
  data: Record<string, string>;
}

export interface Manifests {
  topologies: TopologyManifest[];
  secrets: SecretManifest[];
  /** Objects of other kinds, skipped. */
  ignored: { source: ManifestSource; kind: string; name?: string }[];
}

/** A problem the user must fix in the files: the CLI prints its message (one line) and exits 1. */
export class ManifestError extends UserError {
  constructor(readonly problems: string[]) {
    super(
      problems.length > 1
        ? `${problems[0]} (and ${problems.length - 1} more)`
        : (problems[0] ?? 'invalid manifests'),
    );
    this.name = 'ManifestError';
  }
}

/** `a.yaml: document 2` / `a.yaml: document 1, items[3]`. */
export function sourceLabel(s: ManifestSource): string {
  return oneLine(`${s.file}: document ${s.document}${s.item === undefined ? '' : `, items[${s.item}]`}`);
}

/** Parses one file's text. Problems are collected in `problems`; what parsed cleanly is returned. */
export function parseManifestText(text: string, file: string, problems: string[] = []): Manifests {
  const out: Manifests = { topologies: [], secrets: [], ignored: [] };
  // YAML 1.1, as kubectl reads manifests (yes/no/on/off are booleans, 0123 is octal).
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const source: ManifestSource = { file, document: i + 1 };
    const error = doc.errors[0];
    if (error) {
      problems.push(oneLine(`${sourceLabel(source)}: ${error.message.split('\n')[0]!.replace(/:$/, '')}`));
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push(oneLine(`${sourceLabel(source)}: ${(e as Error).message.split('\n')[0]}`));
      return;
    }
    if (value === null || value === undefined) return; // an empty document (e.g. after a trailing ---)
    collect(value, source, out, problems);
  });
  return out;
}

function collect(value: unknown, source: ManifestSource, out: Manifests, problems: string[]): void {
  const where = sourceLabel(source);
  if (!isObject(value)) {
    problems.push(`${where}: not a Kubernetes object (got ${describe(value)})`);
    return;
  }
  const kind = value['kind'];
  const apiVersion = value['apiVersion'];
  if (typeof kind !== 'string' || kind === '') {
    problems.push(`${where}: kind is missing`);
    return;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    problems.push(`${where}: apiVersion is missing`);
    return;
  }
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(value['items']))) {
    if (source.item !== undefined) {
      problems.push(`${where}: a List inside a List`);
      return;
    }
    const items = value['items'];
    if (!Array.isArray(items)) {
      problems.push(`${where}: items must be an array (got ${describe(items)})`);
      return;
    }
    items.forEach((item, j) => collect(item, { ...source, item: j }, out, problems));
    return;
  }
  const metadata = value['metadata'];
  if (!isObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    problems.push(`${where}: ${kind} without metadata.name`);
    return;
  }
  const name = metadata['name'];
  const namespace = metadata['namespace'];
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) {
    problems.push(
      `${where}: ${kind} ${quote(name)}: metadata.namespace must be a non-empty string (got ${describe(namespace)})`,
    );
    return;
  }
  const label = `${where}: ${kind} ${quote(name)}`;

  if (kind === KIND) {
    if (apiVersion !== TOPOLOGY_API_VERSION) {
      problems.push(`${label}: apiVersion must be ${TOPOLOGY_API_VERSION} (got ${describe(apiVersion)})`);
      return;
    }
    const annotations = stringMap(metadata['annotations'], `${label}: metadata.annotations`, problems);
    if (!annotations) return;
    out.topologies.push({ source, name, ...(namespace ? { namespace } : {}), annotations, object: value });
    return;
  }
  if (kind === 'Secret') {
    if (apiVersion !== 'v1') {
      problems.push(`${label}: apiVersion must be v1 (got ${describe(apiVersion)})`);
      return;
    }
    const data = secretData(value, label, problems);
    if (!data) return;
    out.secrets.push({ source, name, ...(namespace ? { namespace } : {}), data });
    return;
  }
  out.ignored.push({ source, kind, name });
}

/** A map of strings (annotations, stringData), or undefined after pushing a problem. */
function stringMap(value: unknown, label: string, problems: string[]): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    problems.push(`${label} must be a map (got ${describe(value)})`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      problems.push(`${label}[${quote(k)}] must be a string: quote it (got ${describe(v)})`);
      return undefined;
    }
    out[k] = v;
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes standard base64 (with padding; line breaks ignored, as Go's decoder does) into UTF-8 text. */
export function decodeBase64(text: string): string | undefined {
  const compact = text.replace(/[\r\n]/g, '');
  if (!BASE64.test(compact)) return undefined;
  try {
    return utf8.decode(Buffer.from(compact, 'base64'));
  } catch {
    return undefined;
  }
}

function secretData(
  secret: Record<string, unknown>,
  label: string,
  problems: string[],
): Record<string, string> | undefined {
  const data = secret['data'];
  const out: Record<string, string> = {};
  if (data !== undefined && data !== null) {
    if (!isObject(data)) {
      problems.push(`${label}: data must be a map (got ${describe(data)})`);
      return undefined;
    }
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string') {
        problems.push(`${label}: data[${quote(k)}] must be a base64 string (got ${describe(v)})`);
        return undefined;
      }
      const decoded = decodeBase64(v);
      if (decoded === undefined) {
        problems.push(
          `${label}: data[${quote(k)}] is not valid base64 of UTF-8 text (use stringData for plain text)`,
        );
        return undefined;
      }
      out[k] = decoded;
    }
  }
  const plain = stringMap(secret['stringData'], `${label}: stringData`, problems);
  if (!plain) return undefined;
  return { ...out, ...plain };
}

/** Reads and parses the files; throws a ManifestError listing every problem (its message: the first). */
export async function readManifests(files: readonly string[]): Promise<Manifests> {
  if (files.length === 0) throw new ManifestError(['no manifest file given (-f FILE)']);
  const problems: string[] = [];
  const all: Manifests = { topologies: [], secrets: [], ignored: [] };
  const texts = await Promise.all(
    files.map(async (f) => {
      try {
        return await readFile(f, 'utf8');
      } catch (e) {
        problems.push(
          oneLine(`${f}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`),
        );
        return undefined;
      }
    }),
  );
  files.forEach((f, i) => {
    const text = texts[i];
    if (text === undefined) return;
    const m = parseManifestText(text, f, problems);
    all.topologies.push(...m.topologies);
    all.secrets.push(...m.secrets);
    all.ignored.push(...m.ignored);
  });
  if (problems.length > 0) throw new ManifestError(problems);
  return all;
}

/**
 * Local mode's view of the manifests: exactly one MySQLTopology, and the Secrets of its namespace
 * (a Secret without namespace counts as the topology's). A Secret defined twice is an error.
 */
export function localSelection(
  m: Manifests,
  files: readonly string[],
): { topology: TopologyManifest; namespace: string; secrets: Map<string, SecretManifest> } {
  if (m.topologies.length === 0) {
    throw new ManifestError([oneLine(`no ${KIND} in ${files.join(', ')}: local mode needs exactly one`)]);
  }
  if (m.topologies.length > 1) {
    const where = m.topologies.map((t) => `${quote(t.name)} (${sourceLabel(t.source)})`).join(', ');
    throw new ManifestError([
      oneLine(`${m.topologies.length} ${KIND}s found, local mode needs exactly one: ${where}`),
    ]);
  }
  const topology = m.topologies[0]!;
  const namespace = topology.namespace ?? 'default';
  const secrets = new Map<string, SecretManifest>();
  for (const s of m.secrets) {
    if ((s.namespace ?? namespace) !== namespace) continue;
    const first = secrets.get(s.name);
    if (first) {
      throw new ManifestError([
        oneLine(
          `Secret ${quote(s.name)} is defined twice: ${sourceLabel(first.source)} and ${sourceLabel(s.source)}`,
        ),
      ]);
    }
    secrets.set(s.name, s);
  }
  return { topology, namespace, secrets };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
