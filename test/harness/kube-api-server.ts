// The API server the tests run: real Kubernetes API code where this machine can have it, an in-process
// core where it cannot.
// - CustomResourceDefinitions and custom resources (`/apis/apiextensions.k8s.io`, `/apis/tributary.dev`,
//   any group the core does not serve) and OpenAPI are passed through to a real apiextensions-apiserver
//   with etcd (kube-backend.ts), as kube-apiserver's aggregator passes them to its delegates: the CRD's
//   structural schema, CEL rules and their cost budget, validation, pruning, defaulting, merge patch, the
//   status subresource, 409s and watches are the real code's.
// - The core resources stay in process, since no Debian package holds a kube-apiserver: Secrets, Leases,
//   Events, namespaces, services, EndpointSlices, RBAC objects, Deployments, ServiceAccounts, ConfigMaps,
//   and what the apiextensions-apiserver asks of its core (TokenReview, SubjectAccessReview, namespace and
//   service lists and watches). docs/operator.md lists how each of these behaviours was checked against a
//   real server. The core follows the real server where client code most often goes wrong:
//   - updates with a stale resourceVersion, and patches whose metadata.resourceVersion is stale, get 409;
//   - objects with finalizers are only marked for deletion; they go away when the last finalizer is removed;
//   - watches replay history from a resourceVersion, send BOOKMARKs when asked, end after timeoutSeconds,
//     and answer a resourceVersion older than the compaction point with an ERROR event carrying 410 Gone
//     (or with HTTP 410, see goneMode);
//   - JSON merge patches follow the server's library (evanphx/json-patch): a null deletes its key, and nulls
//     inside the values a patch brings are pruned, so a stored object never holds a null-valued key;
//   - applyYaml reads manifests with YAML 1.1 rules, as kubectl does (`Yes`/`No`/`on`/`y` are booleans);
//   - list and watch honour fieldSelector on metadata.name and metadata.namespace, and limit;
//   - Secrets' stringData is folded into data; every namespace exists (Active) once named.
// - Every request, passed through or not, is recorded with its verb and resource (counts()).
// Test helpers change objects as another client would (writes are async: custom resources live in etcd;
// reads are synchronous, from the core or from a mirror of the backend kept by list+watch), compact
// history, cut watches, inject failures, and record every request.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { BackendLink } from './kube-backend-link.js';
import { startKubeBackend } from './kube-backend.js';

export type KObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    generateName?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  custom: boolean;
  statusSubresource: boolean;
  /** Not namespaced (CustomResourceDefinitions, Namespaces). */
  clusterScoped?: boolean;
  /** Served by the real apiextensions-apiserver behind the core. */
  backend?: boolean;
}

export const TOPOLOGIES: ResourceType = {
  group: 'tributary.dev',
  version: 'v1alpha1',
  plural: 'mysqltopologies',
  kind: 'MySQLTopology',
  custom: true,
  statusSubresource: true,
  backend: true,
};
export const SECRETS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  custom: false,
  statusSubresource: false,
};
export const EVENTS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  custom: false,
  statusSubresource: false,
};
export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  custom: false,
  statusSubresource: false,
};
export const CRDS: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  custom: false,
  statusSubresource: true,
  clusterScoped: true,
  backend: true,
};
export const NAMESPACES: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  custom: false,
  statusSubresource: false,
  clusterScoped: true,
};
const core = (group: string, version: string, plural: string, kind: string, clusterScoped = false) => ({
  group,
  version,
  plural,
  kind,
  custom: false,
  statusSubresource: false,
  clusterScoped,
});
export const SERVICES: ResourceType = core('', 'v1', 'services', 'Service');
export const ENDPOINT_SLICES: ResourceType = core(
  'discovery.k8s.io',
  'v1',
  'endpointslices',
  'EndpointSlice',
);
/** The core's resources, served in process. */
const CORE_TYPES: ResourceType[] = [
  SECRETS,
  EVENTS,
  LEASES,
  NAMESPACES,
  SERVICES,
  ENDPOINT_SLICES,
  core('', 'v1', 'configmaps', 'ConfigMap'),
  core('', 'v1', 'serviceaccounts', 'ServiceAccount'),
  core('apps', 'v1', 'deployments', 'Deployment'),
  core('rbac.authorization.k8s.io', 'v1', 'roles', 'Role'),
  core('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding'),
  core('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', true),
  core('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', true),
  core('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget'),
  core('monitoring.coreos.com', 'v1', 'servicemonitors', 'ServiceMonitor'),
  core('monitoring.coreos.com', 'v1', 'prometheusrules', 'PrometheusRule'),
];
const BACKEND_TYPES = [TOPOLOGIES, CRDS];
const TYPES = [...CORE_TYPES, ...BACKEND_TYPES];
/** The groups the core serves; every other group under /apis goes to the backend. */
const CORE_GROUPS = new Set(CORE_TYPES.map((t) => t.group).filter((g) => g !== ''));
const collectionPath = (rt: ResourceType) =>
  `/${rt.group ? `apis/${rt.group}` : 'api'}/${rt.version}/${rt.plural}`;
/** The path of an object (or, without a name, of its namespace's collection). */
const objectPath = (rt: ResourceType, namespace: string, name?: string) =>
  `/${rt.group ? `apis/${rt.group}` : 'api'}/${rt.version}` +
  (rt.clusterScoped ? '' : `/namespaces/${encodeURIComponent(namespace)}`) +
  `/${rt.plural}` +
  (name === undefined ? '' : `/${encodeURIComponent(name)}`);

export interface RecordedRequest {
  method: string;
  /** The API server's verb: get, list, watch, create, update, patch, delete. */
  verb: string;
  /** The resource, with its subresource: `secrets`, `mysqltopologies/status`. */
  resource: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
  status: number;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rt: ResourceType;
  object: KObject;
}

interface ActiveWatch {
  rt: ResourceType;
  namespace: string | undefined;
  selected: (o: KObject) => boolean;
  res: ServerResponse;
  bookmarks: boolean;
  /** The backend's own (its informers of namespaces and services): not counted as clients' watches. */
  internal?: boolean;
  close: () => void;
}

interface InjectedFailure {
  method?: string;
  pathIncludes?: string;
  watch?: boolean;
  status: number;
  times: number;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const typeKey = (rt: ResourceType) => `${rt.group}/${rt.plural}`;
const apiVersionOf = (rt: ResourceType) => (rt.group ? `${rt.group}/${rt.version}` : rt.version);
const clone = <T>(v: T): T => structuredClone(v);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nulls removed from objects at every depth, and null elements from arrays (evanphx/json-patch v4). */
function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => x !== null).map(pruneNulls);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, pruneNulls(x)]),
  );
}

/**
 * RFC 7386 JSON merge patch as the API server applies it (evanphx/json-patch v4, MergePatch): a null
 * deletes its key; a value merged into an absent key, a null or a non-object has its nulls pruned; an
 * object merged into an object recurses.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return isObject(target) ? clone(patch) : pruneNulls(clone(patch));
  if (!isObject(target)) return pruneNulls(clone(patch));
  const out: Record<string, unknown> = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (out[k] === undefined || out[k] === null) out[k] = pruneNulls(clone(v));
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test), failing like the API server on missing paths. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops))
    throw new HttpError(400, 'BadRequest', 'a JSON patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops as { op: string; path: string; value?: unknown }[]) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) {
      doc = clone(op.value);
      continue;
    }
    let parent: unknown = doc;
    for (const p of parts) {
      parent = Array.isArray(parent) ? parent[Number(p)] : isObject(parent) ? parent[p] : undefined;
      if (parent === undefined) {
        throw new HttpError(
          422,
          'Invalid',
          `the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`,
        );
      }
    }
    const container = parent as Record<string, unknown> | unknown[];
    const exists = Array.isArray(container)
      ? Number(last) < container.length || last === '-'
      : last in container;
    switch (op.op) {
      case 'add':
        if (Array.isArray(container)) {
          if (last === '-') container.push(clone(op.value));
          else container.splice(Number(last), 0, clone(op.value));
        } else container[last] = clone(op.value);
        break;
      case 'replace':
      case 'remove':
        if (!exists) throw new HttpError(422, 'Invalid', `doc is missing key: "${op.path}"`);
        if (Array.isArray(container)) {
          if (op.op === 'remove') container.splice(Number(last), 1);
          else container[Number(last)] = clone(op.value);
        } else if (op.op === 'remove') delete container[last];
        else container[last] = clone(op.value);
        break;
      case 'test':
        if (JSON.stringify((container as Record<string, unknown>)[last]) !== JSON.stringify(op.value)) {
          throw new HttpError(422, 'Invalid', `test operation failed at "${op.path}"`);
        }
        break;
      default:
        throw new HttpError(400, 'BadRequest', `unsupported JSON patch operation "${op.op}"`);
    }
  }
  return doc;
}

export interface KubeApiServerOptions {
  /** How often the core's watches that asked for bookmarks receive one (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** How a watch from a compacted resourceVersion fails: an ERROR event with code 410 (the real server's way), or HTTP 410. */
  goneMode?: 'event' | 'http';
}

/** The user the backend's requests authenticate as (TokenReview): a cluster administrator. */
const ADMIN = { username: 'tributary-test-admin', groups: ['system:masters', 'system:authenticated'] };

export class KubeApiServer {
  readonly requests: RecordedRequest[] = [];
  goneMode: 'event' | 'http';
  private readonly server: Server;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watches = new Set<ActiveWatch>();
  private readonly failures: InjectedFailure[] = [];
  private rv = 1;
  private compactedBelow = 0;
  /** Watches of backend resources from a resourceVersion below this get 410 (see compact()). */
  private backendCompactedBelow = 0;
  private readonly bookmarkIntervalMs: number;
  private port = 0;
  private readonly token = randomBytes(16).toString('hex');
  private link!: BackendLink;
  private watchGate: { held: Promise<void>; open: () => void } | undefined;

  private constructor(options: KubeApiServerOptions) {
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.goneMode = options.goneMode ?? 'event';
    for (const rt of CORE_TYPES) this.objects.set(typeKey(rt), new Map());
    for (const name of ['default', 'kube-system', 'kube-public']) this.namespace(name);
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  /** Starts the core, then etcd and the apiextensions-apiserver behind it (a second or two). */
  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const s = new KubeApiServer(options);
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as AddressInfo).port;
    try {
      s.link = new BackendLink(await startKubeBackend({ coreUrl: s.url, token: s.token }));
      await Promise.all(BACKEND_TYPES.map((rt) => s.link.follow(collectionPath(rt))));
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig pointing at this server (plain HTTP, a dummy token). */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'test', token: 'test-token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test', namespace }],
      currentContext: 'test',
    });
    return kc;
  }

  /** The same as a kubeconfig file's text (for kubectl and for processes). */
  kubeConfigYaml(namespace = 'default'): string {
    return this.kubeConfig(namespace).exportConfig();
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.link?.stop();
    await this.link?.backend.stop();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test helpers -------------------------------------------------------------------------------

  /** The core's resourceVersion (the backend counts its own, in etcd). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Clients' watch streams open now. */
  get activeWatches(): number {
    return [...this.watches].filter((w) => !w.internal).length;
  }

  /** Number of clients' watch streams open on a resource type. */
  watchesOf(rt: ResourceType): number {
    return [...this.watches].filter((w) => w.rt === rt && !w.internal).length;
  }

  /** Creates an object as a client would (POST). */
  async create(rt: ResourceType, obj: KObject): Promise<KObject> {
    const namespace = obj.metadata.namespace ?? 'default';
    if (rt.backend) return (await this.link.must('POST', objectPath(rt, namespace), obj)) as KObject;
    return clone(this.doCreate(rt, namespace, clone(obj)));
  }

  get(rt: ResourceType, namespace: string, name: string): KObject | undefined {
    if (rt.backend) {
      const ns = rt.clusterScoped ? undefined : namespace;
      return this.list(rt).find((o) => o.metadata.name === name && o.metadata.namespace === ns);
    }
    const o = this.objects.get(typeKey(rt))!.get(`${namespace}/${name}`);
    return o ? clone(o) : undefined;
  }

  list(rt: ResourceType, namespace?: string): KObject[] {
    const all = rt.backend
      ? (this.link.mirrored(collectionPath(rt)) as KObject[])
      : [...this.objects.get(typeKey(rt))!.values()].map(clone);
    return all.filter((o) => !namespace || o.metadata.namespace === namespace);
  }

  /** Edits an object as a user would through the main resource (status changes are dropped). */
  async edit(
    rt: ResourceType,
    namespace: string,
    name: string,
    mutate: (o: KObject) => void,
  ): Promise<KObject> {
    if (rt.backend) {
      // Read, change, write with the resourceVersion read; a conflict reads again, as kubectl edit would.
      for (;;) {
        const current = (await this.link.must('GET', objectPath(rt, namespace, name))) as KObject;
        mutate(current);
        const r = await this.link.call('PUT', objectPath(rt, namespace, name), current);
        if (r.status === 409) continue;
        if (r.status >= 300) throw new Error(`edit ${name}: HTTP ${r.status}: ${String(r.body['message'])}`);
        return r.body as KObject;
      }
    }
    const current = this.mustGet(rt, namespace, name);
    const next = clone(current);
    mutate(next);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return clone(this.doUpdate(rt, current, next, false));
  }

  /** Deletes as a user would: objects with finalizers are only marked. */
  async delete(rt: ResourceType, namespace: string, name: string): Promise<void> {
    if (rt.backend) {
      await this.link.must('DELETE', objectPath(rt, namespace, name));
      return;
    }
    this.doDelete(rt, this.mustGet(rt, namespace, name));
  }

  /**
   * Forgets history: watches from any resourceVersion before now get 410 Gone. The backend's etcd is
   * compacted too; its watch cache would still serve a recent resourceVersion, so the core answers those
   * watches with the 410 the real server gives once its cache has moved past one (same message).
   */
  async compact(): Promise<void> {
    this.compactedBelow = this.rv;
    this.history.length = 0;
    const any = (await this.link.must('GET', collectionPath(CRDS))) as {
      metadata: { resourceVersion: string };
    };
    const revision = Number(any.metadata.resourceVersion);
    this.backendCompactedBelow = revision;
    const r = await fetch(`${this.link.backend.etcdUrl}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision) }),
    });
    if (!r.ok) throw new Error(`etcd compaction: HTTP ${r.status}: ${await r.text()}`);
  }

  /**
   * Between the tests of one file (the backend takes a second or two to start, so a file starts it once):
   * ends every watch, deletes every custom resource (finalizers cleared first) and every core object but
   * namespaces, forgets recorded requests and injected failures. CRDs stay.
   */
  async reset(): Promise<void> {
    this.closeWatches();
    this.failures.length = 0;
    for (const rt of BACKEND_TYPES.filter((t) => t !== CRDS)) {
      for (const o of this.list(rt)) {
        const path = objectPath(rt, o.metadata.namespace ?? '', o.metadata.name);
        await this.link.call(
          'PATCH',
          path,
          { metadata: { finalizers: null } },
          'application/merge-patch+json',
        );
        await this.link.call('DELETE', path);
      }
      const deadline = Date.now() + 10_000;
      while (this.list(rt).length > 0) {
        if (Date.now() > deadline) throw new Error(`reset: ${rt.plural} still listed after 10 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    for (const rt of CORE_TYPES) if (rt !== NAMESPACES) this.objects.get(typeKey(rt))!.clear();
    this.requests.length = 0;
  }

  /** Holds new watch requests (they wait, as on a slow server) until resumeWatches(). */
  pauseWatches(): void {
    let open = () => {};
    this.watchGate = { held: new Promise<void>((r) => (open = r)), open: () => open() };
  }

  resumeWatches(): void {
    this.watchGate?.open();
    this.watchGate = undefined;
  }

  /** Ends every watch stream, as a server timeout or restart would. */
  closeWatches(): void {
    for (const w of [...this.watches]) w.close();
  }

  /** The next `times` matching requests fail with the given HTTP status. */
  injectFailure(f: {
    method?: string;
    pathIncludes?: string;
    watch?: boolean;
    status: number;
    times?: number;
  }): void {
    this.failures.push({ ...f, times: f.times ?? 1 });
  }

  requestsMatching(method: string, pathIncludes: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathIncludes));
  }

  /** Requests by `verb resource` (e.g. `get secrets`, `patch mysqltopologies/status`), from index `from` on. */
  counts(from = 0): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests.slice(from)) {
      const key = `${r.verb} ${r.resource}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Creates or replaces the objects of a manifest as `kubectl apply` would, reading it with YAML 1.1 rules
   * as kubectl does (so unquoted Yes/No/on/off/y/n are booleans). Replacing keeps status and server
   * fields. A CustomResourceDefinition is waited for until Established, as `kubectl wait` would.
   */
  async applyYaml(text: string, defaultNamespace = 'default'): Promise<KObject[]> {
    const out: KObject[] = [];
    for (const doc of parseAllDocuments(text, { version: '1.1' })) {
      const o = doc.toJS() as KObject | null;
      if (!isObject(o)) continue;
      const rt = TYPES.find((t) => apiVersionOf(t) === o.apiVersion && t.kind === o.kind);
      if (!rt) throw new Error(`applyYaml: ${String(o.apiVersion)} ${String(o.kind)} is not served here`);
      const namespace = rt.clusterScoped ? '' : (o.metadata.namespace ?? defaultNamespace);
      if (rt.backend) out.push(await this.applyToBackend(rt, namespace, o));
      else {
        const current = this.objects.get(typeKey(rt))!.get(`${namespace}/${o.metadata.name}`);
        if (!current) out.push(clone(this.doCreate(rt, namespace, clone(o))));
        else {
          const next = clone(o);
          next.metadata = {
            ...clone(current.metadata),
            ...next.metadata,
            resourceVersion: current.metadata.resourceVersion,
          };
          out.push(clone(this.doUpdate(rt, current, next, false)));
        }
      }
    }
    return out;
  }

  private async applyToBackend(rt: ResourceType, namespace: string, o: KObject): Promise<KObject> {
    const current = await this.link.call('GET', objectPath(rt, namespace, o.metadata.name));
    let stored: KObject;
    if (current.status === 404)
      stored = (await this.link.must('POST', objectPath(rt, namespace), o)) as KObject;
    else {
      const next = clone(o);
      const meta = (current.body as KObject).metadata;
      next.metadata = { ...meta, ...next.metadata, resourceVersion: meta.resourceVersion };
      stored = (await this.link.must('PUT', objectPath(rt, namespace, o.metadata.name), next)) as KObject;
    }
    if (rt === CRDS) stored = await this.established(stored.metadata.name);
    return stored;
  }

  /** Waits until a CRD is Established and its resources are listed (as `kubectl wait` would). */
  private async established(name: string): Promise<KObject> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const crd = (await this.link.must('GET', objectPath(CRDS, '', name))) as KObject;
      const conditions =
        (crd['status'] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
      const spec = crd['spec'] as { group: string; names: { plural: string }; versions: { name: string }[] };
      const ready = conditions.some((c) => c.type === 'Established' && c.status === 'True');
      if (ready) {
        const collection = `/apis/${spec.group}/${spec.versions[0]!.name}/${spec.names.plural}`;
        if ((await this.link.call('GET', collection)).status === 200) return crd;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not Established within 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A namespace object, made Active the first time it is named (every namespace exists here). */
  private namespace(name: string): KObject {
    const store = this.objects.get(typeKey(NAMESPACES))!;
    const existing = store.get(`/${name}`);
    if (existing) return clone(existing);
    return this.doCreate(NAMESPACES, '', {
      metadata: { name },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const rawBytes = await readBody(req);
    if ((query.watch === 'true' || query.watch === '1') && this.watchGate) await this.watchGate.held;
    const raw = rawBytes.toString('utf8');
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const isWatch = query.watch === 'true' || query.watch === '1';
    const route = parsePath(url.pathname);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      verb: verbOf(req.method ?? 'GET', route?.name !== undefined, isWatch),
      resource: route ? route.plural + (route.subresource ? `/${route.subresource}` : '') : '',
      path: url.pathname,
      query,
      contentType,
      body: undefined,
      status: 0,
    };
    // The backend's own calls (its informers, reviews) are the server's internals, not clients' requests.
    // (client-go sends no bearer token over plain HTTP: its user agent tells them apart.)
    const internal = req.headers['user-agent']?.startsWith('apiextensions-apiserver/') ?? false;
    if (!internal) this.requests.push(record);
    try {
      if (raw.length > 0 && contentType !== 'application/vnd.kubernetes.protobuf') {
        try {
          record.body = JSON.parse(raw);
        } catch {
          if (!route?.rt?.backend) throw new HttpError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      const failure = this.failures.find(
        (f) =>
          f.times > 0 &&
          (!f.method || f.method === record.method) &&
          (!f.pathIncludes || url.pathname.includes(f.pathIncludes)) &&
          (f.watch === undefined || f.watch === isWatch),
      );
      if (failure) {
        failure.times--;
        throw new HttpError(failure.status, 'InjectedFailure', `injected failure ${failure.status}`);
      }
      const answered = this.answerCoreApi(record, url.pathname);
      if (answered !== undefined) {
        record.status = 200;
        return this.send(res, 200, await answered);
      }
      if (route?.backend || url.pathname.startsWith('/openapi/')) {
        if (isWatch && route?.rt && this.backendWatchGone(query, res)) {
          record.status = this.goneMode === 'http' ? 410 : 200;
          return;
        }
        record.status = await this.link.pass(req, res, rawBytes, req.url ?? '/', (close, done) => {
          const watch: ActiveWatch = {
            rt: route?.rt ?? TOPOLOGIES,
            namespace: route?.namespace,
            selected: () => true,
            res,
            bookmarks: false,
            close,
          };
          this.watches.add(watch);
          void done.then(() => this.watches.delete(watch));
        });
        return;
      }
      if (!route?.rt)
        throw new HttpError(
          404,
          'NotFound',
          `the server could not find the requested resource (${url.pathname})`,
        );
      if (route.rt === NAMESPACES && route.name && record.method === 'GET') this.namespace(route.name);
      else if (route.namespace && !route.rt.clusterScoped && record.method !== 'GET')
        this.namespace(route.namespace);
      const { namespace, name, subresource } = route;
      const rt = route.rt;
      if (subresource && (subresource !== 'status' || !rt.statusSubresource)) {
        throw new HttpError(
          404,
          'NotFound',
          `the server could not find the requested resource (${subresource})`,
        );
      }
      switch (record.method) {
        case 'GET':
          if (name) {
            record.status = 200;
            return this.send(res, 200, this.mustGet(rt, namespace ?? '', name));
          }
          if (isWatch) {
            record.status = 200;
            return this.startWatch(rt, namespace, query, res, internal);
          }
          record.status = 200;
          return this.send(res, 200, this.listObject(rt, namespace, query));
        case 'POST': {
          if (name || namespace === undefined)
            throw new HttpError(405, 'MethodNotAllowed', 'POST is for collections');
          if (contentType !== 'application/json')
            throw unsupportedMediaType(contentType, ['application/json']);
          const created = this.doCreate(rt, namespace, record.body as KObject);
          record.status = 201;
          return this.send(res, 201, created);
        }
        case 'PUT': {
          if (!name || namespace === undefined)
            throw new HttpError(405, 'MethodNotAllowed', 'PUT needs a name');
          if (contentType !== 'application/json')
            throw unsupportedMediaType(contentType, ['application/json']);
          const body = record.body as KObject;
          if (!isObject(body) || !isObject(body.metadata))
            throw new HttpError(400, 'BadRequest', 'object has no metadata');
          if (body.metadata.name !== name)
            throw new HttpError(
              400,
              'BadRequest',
              'the name of the object does not match the name on the URL',
            );
          const current = this.mustGet(rt, namespace, name);
          if (!body.metadata.resourceVersion) {
            if (rt.custom)
              throw new HttpError(
                422,
                'Invalid',
                'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
              );
          } else if (body.metadata.resourceVersion !== current.metadata.resourceVersion) {
            throw conflict(rt, name);
          }
          const updated = this.doUpdate(rt, current, body, subresource === 'status');
          record.status = 200;
          return this.send(res, 200, updated);
        }
        case 'PATCH': {
          if (!name || namespace === undefined)
            throw new HttpError(405, 'MethodNotAllowed', 'PATCH needs a name');
          const current = this.mustGet(rt, namespace, name);
          const accepted = rt.custom
            ? ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']
            : [
                'application/json-patch+json',
                'application/merge-patch+json',
                'application/strategic-merge-patch+json',
                'application/apply-patch+yaml',
              ];
          if (
            !contentType ||
            !accepted.includes(contentType) ||
            contentType === 'application/apply-patch+yaml'
          ) {
            throw unsupportedMediaType(contentType, accepted);
          }
          let next: KObject;
          if (contentType === 'application/json-patch+json')
            next = applyJsonPatch(current, record.body) as KObject;
          else {
            // Strategic merge on built-in types: a merge patch is close enough for the fields used here.
            if (!isObject(record.body))
              throw new HttpError(400, 'BadRequest', 'a merge patch must be a JSON object');
            const patchRv = (record.body.metadata as { resourceVersion?: unknown } | undefined)
              ?.resourceVersion;
            if (patchRv !== undefined && patchRv !== current.metadata.resourceVersion)
              throw conflict(rt, name);
            next = applyMergePatch(current, record.body) as KObject;
          }
          next.metadata.resourceVersion = current.metadata.resourceVersion;
          const updated = this.doUpdate(rt, current, next, subresource === 'status');
          record.status = 200;
          return this.send(res, 200, updated);
        }
        case 'DELETE': {
          if (!name || namespace === undefined)
            throw new HttpError(405, 'MethodNotAllowed', 'DELETE needs a name');
          const result = this.doDelete(rt, this.mustGet(rt, namespace, name));
          record.status = 200;
          return this.send(res, 200, result);
        }
        default:
          throw new HttpError(405, 'MethodNotAllowed', `method ${record.method} not allowed`);
      }
    } catch (e) {
      const err =
        e instanceof HttpError
          ? e
          : new HttpError(500, 'InternalError', e instanceof Error ? e.message : String(e));
      record.status = err.code;
      this.send(res, err.code, status(err.code, err.reason, err.message));
    }
  }

  /**
   * The core's own answers outside its resources: the reviews the backend delegates (TokenReview: the
   * backend's token is a cluster administrator, nothing else authenticates; SubjectAccessReview: denied,
   * since administrators never reach it) and discovery, merged with the backend's groups as kube-apiserver's
   * aggregator merges them (legacy format; kubectl falls back to it).
   */
  private answerCoreApi(record: RecordedRequest, path: string): Promise<unknown> | undefined {
    const p = path.replace(/\/$/, '');
    const body = (record.body ?? {}) as { spec?: { token?: string } };
    if (record.method === 'POST' && p === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const ok = body.spec?.token === this.token;
      return Promise.resolve({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        status: ok ? { authenticated: true, user: ADMIN } : { authenticated: false },
      });
    }
    if (record.method === 'POST' && p === '/apis/authorization.k8s.io/v1/subjectaccessreviews')
      return Promise.resolve({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        status: { allowed: false, reason: 'only the test administrator is authorized' },
      });
    if (record.method !== 'GET') return undefined;
    const groups = new Map<string, ResourceType[]>();
    for (const t of CORE_TYPES) {
      const gv = t.group ? `${t.group}/${t.version}` : t.version;
      groups.set(gv, [...(groups.get(gv) ?? []), t]);
    }
    if (p === '/api')
      return Promise.resolve({
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
      });
    if (p === '/api/v1') return Promise.resolve(resourceList('v1', groups.get('v1')!));
    const named = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(p);
    if (named && CORE_GROUPS.has(named[1]!)) {
      const gv = `${named[1]}/${named[2] ?? 'v1'}`;
      if (named[2]) return groups.has(gv) ? Promise.resolve(resourceList(gv, groups.get(gv)!)) : undefined;
      return Promise.resolve(groupOf(named[1]!, ['v1']));
    }
    if (p !== '/apis') return undefined;
    return (async () => {
      const coreGroups = [...CORE_GROUPS].map((g) => groupOf(g, ['v1']));
      // The backend lists custom resources' groups in the aggregated format only.
      const r = await this.link.call(
        'GET',
        '/apis',
        undefined,
        undefined,
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
      );
      const items = (r.body['items'] ?? []) as {
        metadata: { name: string };
        versions: { version: string }[];
      }[];
      const backend = items.map((g) =>
        groupOf(
          g.metadata.name,
          g.versions.map((v) => v.version),
        ),
      );
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...coreGroups, ...backend] };
    })();
  }

  /** A watch of a backend resource from a resourceVersion compact() put out of reach: 410, as the server says it. */
  private backendWatchGone(query: Record<string, string>, res: ServerResponse): boolean {
    const from = Number(query.resourceVersion ?? '');
    if (!query.resourceVersion || query.resourceVersion === '0' || from >= this.backendCompactedBelow)
      return false;
    const gone = status(410, 'Expired', `too old resource version: ${from} (${this.backendCompactedBelow})`);
    if (this.goneMode === 'http') {
      this.send(res, 410, gone);
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    writeEvent(res, 'ERROR', gone);
    res.end();
    return true;
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private listObject(
    rt: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
  ): unknown {
    const selected = fieldSelector(query.fieldSelector);
    let items = this.list(rt, namespace)
      .filter(selected)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    const limit = Number(query.limit);
    if (Number.isInteger(limit) && limit > 0) items = items.slice(0, limit);
    return {
      apiVersion: apiVersionOf(rt),
      kind: `${rt.kind}List`,
      metadata: { resourceVersion: String(this.rv) },
      items,
    };
  }

  // ---- storage semantics ---------------------------------------------------------------------------

  private mustGet(rt: ResourceType, namespace: string, name: string): KObject {
    const o = this.objects.get(typeKey(rt))!.get(`${namespace}/${name}`);
    if (!o)
      throw new HttpError(
        404,
        'NotFound',
        `${rt.plural}${rt.group ? `.${rt.group}` : ''} "${name}" not found`,
      );
    return clone(o);
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private doCreate(rt: ResourceType, namespace: string, input: KObject): KObject {
    if (!isObject(input) || !isObject(input.metadata))
      throw new HttpError(400, 'BadRequest', 'object has no metadata');
    const obj = clone(input);
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = obj.metadata.generateName + randomBytes(3).toString('hex').slice(0, 5);
    if (!obj.metadata.name)
      throw new HttpError(422, 'Invalid', 'metadata.name: Required value: name or generateName is required');
    if (!rt.clusterScoped && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
      throw new HttpError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    const store = this.objects.get(typeKey(rt))!;
    const key = `${namespace}/${obj.metadata.name}`;
    if (store.has(key))
      throw new HttpError(409, 'AlreadyExists', `${rt.plural} "${obj.metadata.name}" already exists`);
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    if (rt.clusterScoped) delete obj.metadata.namespace;
    else obj.metadata.namespace = namespace;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    delete obj.metadata.deletionTimestamp;
    if (rt.custom) obj.metadata.generation = 1;
    if (rt.statusSubresource) delete obj.status;
    this.admit(rt, obj);
    obj.metadata.resourceVersion = this.nextRv();
    store.set(key, obj);
    this.record('ADDED', rt, obj);
    return clone(obj);
  }

  /**
   * Applies an update (PUT or a patched object) with the subresource rules: the main resource keeps the
   * stored status, /status keeps everything but status.
   */
  private doUpdate(rt: ResourceType, current: KObject, incoming: KObject, toStatus: boolean): KObject {
    if (
      incoming.metadata.resourceVersion &&
      incoming.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw conflict(rt, current.metadata.name);
    }
    let next: KObject;
    if (rt.statusSubresource && toStatus) {
      next = clone(current);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
    } else {
      next = clone(incoming);
      if (rt.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      // Fields the server owns.
      next.metadata.uid = current.metadata.uid;
      next.metadata.creationTimestamp = current.metadata.creationTimestamp;
      next.metadata.namespace = current.metadata.namespace;
      next.metadata.name = current.metadata.name;
      if (current.metadata.deletionTimestamp)
        next.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
      else delete next.metadata.deletionTimestamp;
      if (current.metadata.deletionTimestamp) {
        const added = (next.metadata.finalizers ?? []).filter(
          (f) => !(current.metadata.finalizers ?? []).includes(f),
        );
        if (added.length)
          throw new HttpError(
            422,
            'Invalid',
            'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
          );
      }
      next.apiVersion = current.apiVersion;
      next.kind = current.kind;
      if (rt.custom) {
        next.metadata.generation = current.metadata.generation;
        if (JSON.stringify(next.spec ?? null) !== JSON.stringify(current.spec ?? null))
          next.metadata.generation = (current.metadata.generation ?? 0) + 1;
      }
    }
    this.admit(rt, next);
    if (
      JSON.stringify({ ...next, metadata: { ...next.metadata, resourceVersion: '' } }) ===
      JSON.stringify({ ...current, metadata: { ...current.metadata, resourceVersion: '' } })
    ) {
      // A no-op write does not move resourceVersion and emits no event, as on a real server.
      return clone(current);
    }
    const key = `${current.metadata.namespace ?? ''}/${current.metadata.name}`;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.objects.get(typeKey(rt))!.delete(key);
      next.metadata.resourceVersion = this.nextRv();
      this.record('DELETED', rt, next);
      return clone(next);
    }
    next.metadata.resourceVersion = this.nextRv();
    this.objects.get(typeKey(rt))!.set(key, next);
    this.record('MODIFIED', rt, next);
    return clone(next);
  }

  /** What the core does to an object before storing it: Secrets' stringData is folded into data. */
  private admit(rt: ResourceType, obj: KObject): void {
    if (rt === SECRETS && isObject(obj.stringData)) {
      const data = isObject(obj.data) ? obj.data : {};
      for (const [k, v] of Object.entries(obj.stringData))
        data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      obj.data = data;
      delete obj.stringData;
    }
  }

  private doDelete(rt: ResourceType, current: KObject): unknown {
    const key = `${current.metadata.namespace ?? ''}/${current.metadata.name}`;
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (current.metadata.deletionTimestamp) return clone(current);
      const next = clone(current);
      next.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      if (rt.custom) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
      next.metadata.resourceVersion = this.nextRv();
      this.objects.get(typeKey(rt))!.set(key, next);
      this.record('MODIFIED', rt, next);
      return clone(next);
    }
    this.objects.get(typeKey(rt))!.delete(key);
    const gone = clone(current);
    gone.metadata.resourceVersion = this.nextRv();
    this.record('DELETED', rt, gone);
    return status(200, '', 'deleted');
  }

  // ---- watch ---------------------------------------------------------------------------------------

  private record(type: HistoryEntry['type'], rt: ResourceType, object: KObject): void {
    const entry: HistoryEntry = {
      rv: Number(object.metadata.resourceVersion),
      type,
      rt,
      object: clone(object),
    };
    this.history.push(entry);
    for (const w of this.watches) {
      if (w.rt === rt && (!w.namespace || w.namespace === object.metadata.namespace) && w.selected(object))
        writeEvent(w.res, type, object);
    }
  }

  private startWatch(
    rt: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
    res: ServerResponse,
    internal = false,
  ): void {
    const from = query.resourceVersion ?? '';
    const fromRv = Number(from);
    if (from !== '' && from !== '0' && (!Number.isInteger(fromRv) || fromRv < this.compactedBelow)) {
      if (this.goneMode === 'http') {
        this.send(
          res,
          410,
          status(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      writeEvent(
        res,
        'ERROR',
        status(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`),
      );
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const selected = fieldSelector(query.fieldSelector);
    const matches = (o: KObject) => (!namespace || o.metadata.namespace === namespace) && selected(o);
    if (from === '' || from === '0') {
      for (const o of this.list(rt, namespace).filter(selected)) writeEvent(res, 'ADDED', o);
    } else {
      for (const h of this.history)
        if (h.rt === rt && h.rv > fromRv && matches(h.object)) writeEvent(res, h.type, h.object);
    }
    const bookmarks = query.allowWatchBookmarks === 'true';
    const timers: NodeJS.Timeout[] = [];
    const watch: ActiveWatch = {
      rt,
      namespace,
      selected,
      res,
      bookmarks,
      internal,
      close: () => {
        for (const t of timers) clearTimeout(t);
        this.watches.delete(watch);
        if (!res.writableEnded) res.end();
      },
    };
    this.watches.add(watch);
    if (bookmarks) {
      const tick = () => {
        if (!this.watches.has(watch)) return;
        writeEvent(res, 'BOOKMARK', {
          apiVersion: apiVersionOf(rt),
          kind: rt.kind,
          metadata: { name: '', resourceVersion: String(this.rv) },
        });
        timers.push(setTimeout(tick, this.bookmarkIntervalMs).unref());
      };
      timers.push(setTimeout(tick, this.bookmarkIntervalMs).unref());
    }
    const timeout = Number(query.timeoutSeconds);
    if (Number.isFinite(timeout) && timeout > 0)
      timers.push(setTimeout(() => watch.close(), timeout * 1000).unref());
    res.on('close', () => watch.close());
  }
}

/** A fieldSelector on metadata.name / metadata.namespace (=, ==, !=, comma-separated), as a predicate. */
function fieldSelector(selector: string | undefined): (o: KObject) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m)
      throw new HttpError(400, 'BadRequest', `invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (field !== 'metadata.name' && field !== 'metadata.namespace')
      throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    const get = (o: KObject) => (field === 'metadata.name' ? o.metadata.name : (o.metadata.namespace ?? ''));
    return (o: KObject) => (op === '!=' ? get(o) !== value : get(o) === value);
  });
  return (o) => terms.every((matches) => matches(o));
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  if (!res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n');
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason,
    code,
  };
}

function conflict(rt: ResourceType, name: string): HttpError {
  return new HttpError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${rt.plural}${rt.group ? `.${rt.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}

function unsupportedMediaType(got: string | undefined, accepted: string[]): HttpError {
  return new HttpError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${got ?? 'none'}) - accepted media types include: ${accepted.join(', ')}`,
  );
}

interface Route {
  /** The type when this server knows it (core types, and the backend types the helpers name). */
  rt?: ResourceType;
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** Served by the backend (every group under /apis the core does not serve). */
  backend: boolean;
}

function parsePath(path: string): Route | undefined {
  const parts = path.split('/').filter(Boolean);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    version = parts[1] ?? '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    version = parts[2] ?? '';
    rest = parts.slice(3);
  } else return undefined;
  const backend = group !== '' && !CORE_GROUPS.has(group) && !REVIEW_GROUPS.has(group);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1]!);
    rest = rest.slice(2);
  }
  if (!rest[0] || rest.length > 3) return backend ? { group, version, plural: '', backend } : undefined;
  const rt = TYPES.find((t) => t.group === group && t.version === version && t.plural === rest[0]);
  if (!rt && !backend) return undefined;
  const name = rest[1] !== undefined ? decodeURIComponent(rest[1]) : undefined;
  if (rt?.clusterScoped) namespace = '';
  if (!backend && name !== undefined && namespace === undefined) return undefined;
  return { rt, group, version, plural: rest[0], namespace, name, subresource: rest[2], backend };
}

/** The API server's verb for a request. */
function verbOf(method: string, named: boolean, watch: boolean): string {
  return (
    {
      GET: named ? 'get' : watch ? 'watch' : 'list',
      POST: 'create',
      PUT: 'update',
      PATCH: 'patch',
      DELETE: 'delete',
    }[method] ?? method.toLowerCase()
  );
}

/** Groups whose only resources are reviews the core answers (the backend's authentication, authorization). */
const REVIEW_GROUPS = new Set(['authentication.k8s.io', 'authorization.k8s.io']);

function groupOf(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: vs, preferredVersion: vs[0] };
}

/** Legacy discovery documents of the core's own resources. */
function resourceList(groupVersion: string, types: ResourceType[]): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.map((t) => ({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: !t.clusterScoped,
      kind: t.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    })),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A MySQLTopology manifest for tests (the spec is not validated here: the pass does that). */
export function topologyManifest(
  namespace: string,
  name: string,
  spec: Record<string, unknown> = {},
): KObject {
  return {
    apiVersion: 'tributary.dev/v1alpha1',
    kind: 'MySQLTopology',
    metadata: { name, namespace },
    spec: {
      adminSecretRef: { name: 'tributary-admin' },
      replicationSecretRef: { name: 'tributary-repl' },
      groups: [{ name: 'g', members: [{ name: 'm-0', host: 'm-0.db.svc', port: 3306 }] }],
      ...spec,
    },
  };
}

/** A Secret manifest with its data base64-encoded, as the API stores it. */
export function secretManifest(namespace: string, name: string, data: Record<string, string>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
    ),
  };
}
