// An in-process HTTP server speaking enough of the Kubernetes REST protocol for the operator, strict where
// client code most often goes wrong:
// - custom resources accept PATCH only as merge patch or JSON patch (415 otherwise: strategic merge is
//   refused for them, and so is a bare application/json);
// - with the status subresource, writes to the main resource ignore status and writes to /status ignore
//   everything but status;
// - metadata.generation moves only when spec changes (and when deletion starts);
// - updates with a stale resourceVersion, and patches whose metadata.resourceVersion is stale, get 409;
//   an update of a custom resource without resourceVersion gets 422;
// - objects with finalizers are only marked for deletion; they go away when the last finalizer is removed;
// - watches replay history from a resourceVersion, send BOOKMARKs when asked, end after timeoutSeconds,
//   and answer a resourceVersion older than the compaction point with an ERROR event carrying 410 Gone
//   (or with HTTP 410, see goneMode);
// - Leases, Secrets and Events behave as ordinary namespaced objects (conflicts included).
// - JSON merge patches follow the server's library (evanphx/json-patch): a null deletes its key, and nulls
//   inside the values a patch brings (new keys, replaced arrays, objects in arrays) are pruned, so a stored
//   object never holds a null-valued key;
// - once a CustomResourceDefinition is stored (create(CRDS, …) or applyYaml), custom resources are pruned
//   and validated against its schema with the real server's 422 messages (kube-schema.ts);
// - applyYaml reads manifests with YAML 1.1 rules, as kubectl does (`Yes`/`No`/`on`/`y` are booleans);
// - list and watch honour fieldSelector on metadata.name and metadata.namespace, and limit;
// - Secrets' stringData is folded into data, as the real server does;
// - every request is recorded with its verb and resource (counts()).
// Test helpers change objects directly (as another client would), compact history, cut watches, inject
// failures, and record every request.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { invalidMessage, prune, validate, type Schema } from './kube-schema.js';

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
}

export const TOPOLOGIES: ResourceType = {
  group: 'tributary.dev',
  version: 'v1alpha1',
  plural: 'mysqltopologies',
  kind: 'MySQLTopology',
  custom: true,
  statusSubresource: true,
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
  statusSubresource: false,
  clusterScoped: true,
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
const TYPES = [TOPOLOGIES, SECRETS, EVENTS, LEASES, CRDS, NAMESPACES];

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

export interface FakeKubeApiServerOptions {
  /** How often active watches that asked for bookmarks receive one (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** How a watch from a compacted resourceVersion fails: an ERROR event with code 410 (the real server's way), or HTTP 410. */
  goneMode?: 'event' | 'http';
}

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = [];
  goneMode: 'event' | 'http';
  private readonly server: Server;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watches = new Set<ActiveWatch>();
  private readonly failures: InjectedFailure[] = [];
  private rv = 1;
  private compactedBelow = 0;
  private readonly bookmarkIntervalMs: number;
  private port = 0;

  private constructor(options: FakeKubeApiServerOptions) {
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.goneMode = options.goneMode ?? 'event';
    for (const rt of TYPES) this.objects.set(typeKey(rt), new Map());
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  static async start(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
    const s = new FakeKubeApiServer(options);
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig pointing at this server (plain HTTP, a dummy token). */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test helpers -------------------------------------------------------------------------------

  get resourceVersion(): string {
    return String(this.rv);
  }

  get activeWatches(): number {
    return this.watches.size;
  }

  /** Number of watch streams open on a resource type. */
  watchesOf(rt: ResourceType): number {
    return [...this.watches].filter((w) => w.rt === rt).length;
  }

  /** Creates an object as a client would (POST semantics, no HTTP). */
  create(rt: ResourceType, obj: KObject): KObject {
    return clone(this.doCreate(rt, obj.metadata.namespace ?? 'default', clone(obj)));
  }

  get(rt: ResourceType, namespace: string, name: string): KObject | undefined {
    const o = this.objects.get(typeKey(rt))!.get(`${namespace}/${name}`);
    return o ? clone(o) : undefined;
  }

  list(rt: ResourceType, namespace?: string): KObject[] {
    return [...this.objects.get(typeKey(rt))!.values()]
      .filter((o) => !namespace || o.metadata.namespace === namespace)
      .map(clone);
  }

  /** Edits an object as a user would through the main resource (status changes are dropped). */
  edit(rt: ResourceType, namespace: string, name: string, mutate: (o: KObject) => void): KObject {
    const current = this.mustGet(rt, namespace, name);
    const next = clone(current);
    mutate(next);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return clone(this.doUpdate(rt, current, next, false));
  }

  /** Deletes as a user would: objects with finalizers are only marked. */
  delete(rt: ResourceType, namespace: string, name: string): void {
    this.doDelete(rt, this.mustGet(rt, namespace, name));
  }

  /** Forgets history: watches from any resourceVersion before now get 410 Gone. */
  compact(): void {
    this.compactedBelow = this.rv;
    this.history.length = 0;
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
   * as kubectl does (so unquoted Yes/No/on/off/y/n are booleans). Replacing keeps status and server fields.
   */
  applyYaml(text: string, defaultNamespace = 'default'): KObject[] {
    return parseAllDocuments(text, { version: '1.1' })
      .map((d) => d.toJS() as KObject | null)
      .filter((o): o is KObject => isObject(o))
      .map((o) => {
        const rt = TYPES.find((t) => apiVersionOf(t) === o.apiVersion && t.kind === o.kind);
        if (!rt) throw new Error(`applyYaml: ${String(o.apiVersion)} ${String(o.kind)} is not served here`);
        const namespace = rt.clusterScoped ? '' : (o.metadata.namespace ?? defaultNamespace);
        const current = this.objects.get(typeKey(rt))!.get(`${namespace}/${o.metadata.name}`);
        if (!current) return clone(this.doCreate(rt, namespace, clone(o)));
        const next = clone(o);
        next.metadata = {
          ...clone(current.metadata),
          ...next.metadata,
          resourceVersion: current.metadata.resourceVersion,
        };
        return clone(this.doUpdate(rt, current, next, false));
      });
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      verb: '',
      resource: '',
      path: url.pathname,
      query,
      contentType,
      body: undefined,
      status: 0,
    };
    this.requests.push(record);
    try {
      if (raw.length > 0) {
        try {
          record.body = JSON.parse(raw);
        } catch {
          throw new HttpError(400, 'BadRequest', 'the request body is not JSON');
        }
      }
      const route = parsePath(url.pathname);
      if (!route)
        throw new HttpError(
          404,
          'NotFound',
          `the server could not find the requested resource (${url.pathname})`,
        );
      const isWatch = query.watch === 'true' || query.watch === '1';
      record.resource = route.rt.plural + (route.subresource ? `/${route.subresource}` : '');
      record.verb =
        {
          GET: route.name ? 'get' : isWatch ? 'watch' : 'list',
          POST: 'create',
          PUT: 'update',
          PATCH: 'patch',
          DELETE: 'delete',
        }[record.method] ?? record.method.toLowerCase();
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
      const { rt, namespace, name, subresource } = route;
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
            return this.startWatch(rt, namespace, query, res);
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
    this.admit(rt, obj, 'spec');
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
    this.admit(rt, next, rt.statusSubresource && toStatus ? 'status' : 'spec');
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

  /**
   * What the server does to an object before storing it: Secrets' stringData is folded into data; custom
   * resources are pruned and validated against their CRD's schema when one is stored (422 otherwise).
   */
  private admit(rt: ResourceType, obj: KObject, part: 'spec' | 'status'): void {
    if (rt === SECRETS && isObject(obj.stringData)) {
      const data = isObject(obj.data) ? obj.data : {};
      for (const [k, v] of Object.entries(obj.stringData))
        data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      obj.data = data;
      delete obj.stringData;
    }
    const schema = rt.custom ? this.schemaOf(rt) : undefined;
    if (!schema) return;
    const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const k of ['spec', 'status']) if (obj[k] !== undefined) obj[k] = prune(obj[k], props[k]);
    const errors: string[] = [];
    if (obj[part] === undefined) {
      if (((schema['required'] as string[] | undefined) ?? []).includes(part))
        errors.push(`${part}: Required value`);
    } else if (props[part]) errors.push(...validate(obj[part], props[part], part));
    if (errors.length)
      throw new HttpError(422, 'Invalid', invalidMessage(rt.kind, rt.group, obj.metadata.name, errors));
  }

  /** The stored CRD's schema of a custom resource type, if a CRD for it is stored. */
  private schemaOf(rt: ResourceType): Schema | undefined {
    for (const crd of this.objects.get(typeKey(CRDS))!.values()) {
      const spec = crd['spec'] as
        | {
            group?: string;
            names?: { plural?: string };
            versions?: { name: string; schema?: { openAPIV3Schema?: Schema } }[];
          }
        | undefined;
      if (spec?.group !== rt.group || spec.names?.plural !== rt.plural) continue;
      return spec.versions?.find((v) => v.name === rt.version)?.schema?.openAPIV3Schema;
    }
    return undefined;
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

function parsePath(
  path: string,
): { rt: ResourceType; namespace?: string; name?: string; subresource?: string } | undefined {
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
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1]!);
    rest = rest.slice(2);
  }
  const rt = TYPES.find((t) => t.group === group && t.version === version && t.plural === rest[0]);
  if (!rt || rest.length > 3) return undefined;
  const name = rest[1] !== undefined ? decodeURIComponent(rest[1]) : undefined;
  if (rt.clusterScoped) namespace = '';
  if (name !== undefined && namespace === undefined) return undefined;
  return { rt, namespace, name, subresource: rest[2] };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
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
