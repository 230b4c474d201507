// The Store over the Kubernetes API (@kubernetes/client-node 1.4), and the list+watch that feeds the loop.
//
// - status goes through the status subresource as a JSON merge patch (explicit content type: the client's
//   default for PATCH is JSON patch, and strategic merge is refused for custom resources), carrying only
//   what changed; nothing is sent when nothing changed;
// - the finalizer tributary.dev/finalizer is added on first sight; on deletion it is removed and nothing
//   else happens: deleting a topology leaves replication as it is;
// - events are core/v1 Events on the MySQLTopology; a repeat of the same event within 10 minutes bumps
//   count and lastTimestamp instead of creating another;
// - the watch lists, then watches from the list's resourceVersion with bookmarks; it relists on 410 Gone,
//   restarts with backoff on any other error, re-watches when the server ends the stream, and restarts a
//   stream that has been silent for too long;
// - secret values are never logged: only namespaces and names.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
} from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { API_GROUP, API_VERSION, KIND } from '../api/spec.js';
import { TopologyStatus } from '../api/status.js';
import { backoffDelay, sleep, systemClock, type Clock } from '../controller/clock.js';
import { silentLog, type LifecycleStore, type Log } from '../controller/loop.js';
import {
  ConflictError,
  refKey,
  type StatusWriteOptions,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from './store.js';

export const PLURAL = 'mysqltopologies';
export const FINALIZER = 'tributary.dev/finalizer';
export const FIELD_MANAGER = 'tributary-operator';
export const EVENT_COMPONENT = 'tributary-operator';
const EVENT_AGGREGATION_WINDOW_MS = 10 * 60_000;
const EVENT_CACHE_LIMIT = 2000;

/** The parts of a Kubernetes object this module reads. */
interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
  };
  spec?: unknown;
  status?: unknown;
}

interface KubeList {
  metadata?: { resourceVersion?: string };
  items?: KubeObject[];
}

/** HTTP status of an error thrown by the client (ApiException.code, or Watch's statusCode), if any. */
export function statusCodeOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** A short, secret-free description of a client error (ApiException messages carry whole bodies and headers). */
export function describeError(e: unknown): string {
  const code = statusCodeOf(e);
  const body = (e as { body?: unknown })?.body;
  let message: string | undefined;
  if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    message = (body as { message: string }).message;
  } else if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON
    }
  }
  if (!message) message = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
  return code !== undefined && !message.includes(String(code)) ? `HTTP ${code}: ${message}` : message;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep equality of JSON values. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The RFC 7386 merge patch that turns `from` into `to`, or undefined when they are equal. Keys missing
 * from `to` become null (removed); arrays are replaced whole. A null value inside an object of `to` means
 * "absent" (merge patch cannot store it).
 */
export function mergePatchDiff(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return jsonEqual(from, to) ? undefined : to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) {
    if (from[k] !== undefined && (to[k] === undefined || to[k] === null)) patch[k] = null;
  }
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined || v === null) continue;
    const d = mergePatchDiff(from[k], v);
    if (d !== undefined) patch[k] = isPlainObject(v) && !isPlainObject(from[k]) ? stripNulls(v) : d;
  }
  return Object.keys(patch).length ? patch : undefined;
}

function stripNulls(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    out[k] = isPlainObject(x) ? stripNulls(x) : x;
  }
  return out;
}

/** JSON round trip: drops undefined values and turns Dates into strings. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const mergePatchOptions = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface KubernetesStoreOptions {
  kubeConfig: KubeConfig;
  /** Watch and list one namespace only; all namespaces when unset. */
  namespace?: string;
  log?: Log;
  clock?: Clock;
  /** reportingInstance of events (default: the host name, i.e. the pod name). */
  instance?: string;
}

export interface WatchOptions {
  /** Called for every topology that may need a pass. */
  enqueue: (ref: TopologyRef) => void;
  signal: AbortSignal;
  /** Called for topologies that disappeared (metrics cleanup). */
  onDeleted?: (ref: TopologyRef) => void;
  /** Server-side timeout of one watch request (default 300 s, jittered down by up to 20 %). */
  watchTimeoutSeconds?: number;
  /** A stream silent for this long is restarted (default watchTimeoutSeconds + 30 s). */
  stallTimeoutMs?: number;
  /** Backoff after watch or list errors (default 200 ms → 30 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface WatchHandle {
  /** True once the first list of topologies has been delivered. */
  synced(): boolean;
  readonly whenSynced: Promise<void>;
  /** Resolves when both watches have stopped (after abort). */
  readonly done: Promise<void>;
  /** Counters for tests and diagnostics. */
  stats(): { lists: number; watches: number; errors: number; relistsOnGone: number };
}

interface TopologyIndexEntry {
  generation: number | undefined;
  annotations: string;
  finalizers: string;
  deleting: boolean;
  secrets: string[];
}

export class KubernetesStore implements Store, LifecycleStore {
  readonly namespace: string | undefined;
  private readonly kc: KubeConfig;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly log: Log;
  private readonly clock: Clock;
  private readonly instance: string;
  /** The last object seen per topology: its status is the base of the next status diff; uid for events. */
  private readonly seen = new Map<string, { uid?: string; status: unknown }>();
  private readonly recentEvents = new Map<string, { name: string; count: number; last: number }>();
  /** Finalizer state of watched topologies, while a watch runs: admit() then skips its GET when all is set. */
  private readonly lifecycle = new Map<string, { finalized: boolean; deleting: boolean }>();
  private watching = false;
  private eventSeq = 0;

  constructor(options: KubernetesStoreOptions) {
    this.kc = options.kubeConfig;
    this.namespace = options.namespace;
    this.custom = this.kc.makeApiClient(CustomObjectsApi);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? systemClock;
    this.instance = options.instance ?? process.env.POD_NAME ?? hostname();
  }

  async list(): Promise<TopologyRef[]> {
    const list = (await this.listTopologies()) as KubeList;
    return (list.items ?? []).flatMap((o) =>
      o.metadata?.name && o.metadata.namespace
        ? [{ namespace: o.metadata.namespace, name: o.metadata.name }]
        : [],
    );
  }

  async get(ref: TopologyRef): Promise<StoredTopology | undefined> {
    const obj = await this.fetch(ref);
    if (!obj) return undefined;
    let status: TopologyStatus | undefined;
    if (obj.status !== undefined) {
      const parsed = TopologyStatus.safeParse(obj.status);
      if (parsed.success) status = parsed.data;
      else
        this.log.warn(
          { topology: refKey(ref), issues: parsed.error.issues.length },
          'stored status does not parse; ignored',
        );
    }
    return {
      ref: { namespace: ref.namespace, name: ref.name },
      generation: obj.metadata?.generation ?? 0,
      ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      annotations: { ...(obj.metadata?.annotations ?? {}) },
      spec: obj.spec,
      ...(status ? { status } : {}),
      ...(obj.metadata?.deletionTimestamp ? { deleting: true } : {}),
    };
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ namespace, name });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data ?? {}))
        out[k] = Buffer.from(v, 'base64').toString('utf8');
      return out;
    } catch (e) {
      if (statusCodeOf(e) === 404) return undefined;
      throw new Error(`reading Secret ${namespace}/${name}: ${describeError(e)}`);
    }
  }

  async writeStatus(
    ref: TopologyRef,
    status: TopologyStatus,
    observedGeneration: number,
    options: StatusWriteOptions = {},
  ): Promise<{ resourceVersion?: string }> {
    const key = refKey(ref);
    let base = this.seen.get(key);
    if (!base) {
      if (!(await this.fetch(ref))) return {};
      base = this.seen.get(key);
    }
    const desired = plain({ ...status, observedGeneration });
    const diff = mergePatchDiff(base?.status ?? {}, desired);
    if (diff === undefined) {
      this.log.debug({ topology: key }, 'status unchanged; no write');
      return options.resourceVersion !== undefined ? { resourceVersion: options.resourceVersion } : {};
    }
    try {
      const updated = (await this.custom.patchNamespacedCustomObjectStatus(
        {
          group: API_GROUP,
          version: API_VERSION,
          namespace: ref.namespace,
          plural: PLURAL,
          name: ref.name,
          body: {
            ...(options.resourceVersion !== undefined
              ? { metadata: { resourceVersion: options.resourceVersion } }
              : {}),
            status: diff,
          },
          fieldManager: FIELD_MANAGER,
        },
        mergePatchOptions(),
      )) as KubeObject;
      this.remember(ref, updated);
      return { resourceVersion: updated.metadata?.resourceVersion };
    } catch (e) {
      if (statusCodeOf(e) === 404) {
        this.seen.delete(key);
        this.log.debug({ topology: key }, 'topology gone; status not written');
        return {};
      }
      if (statusCodeOf(e) === 409) throw new ConflictError(`writing status of ${key}`);
      throw new Error(`writing status of ${key}: ${describeError(e)}`);
    }
  }

  async emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void> {
    const key = refKey(ref);
    const message = event.message.length > 1024 ? `${event.message.slice(0, 1021)}...` : event.message;
    const cacheKey = `${key}\u0000${event.type}\u0000${event.reason}\u0000${message}`;
    const now = this.clock.now();
    const recent = this.recentEvents.get(cacheKey);
    if (recent && now - recent.last < EVENT_AGGREGATION_WINDOW_MS) {
      try {
        await this.core.patchNamespacedEvent(
          {
            namespace: ref.namespace,
            name: recent.name,
            body: { count: recent.count + 1, lastTimestamp: new Date(now).toISOString() },
          },
          mergePatchOptions(),
        );
        recent.count += 1;
        recent.last = now;
        return;
      } catch (e) {
        if (statusCodeOf(e) !== 404) throw new Error(`updating event ${recent.name}: ${describeError(e)}`);
        this.recentEvents.delete(cacheKey);
      }
    }
    let uid = this.seen.get(key)?.uid;
    if (!uid) uid = (await this.fetch(ref))?.metadata?.uid;
    const name = `${ref.name}.${(now * 1000 + (this.eventSeq++ % 1000)).toString(16)}`;
    const time = new Date(now);
    const body: CoreV1Event = {
      metadata: { name, namespace: ref.namespace },
      involvedObject: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: KIND,
        namespace: ref.namespace,
        name: ref.name,
        ...(uid ? { uid } : {}),
      },
      type: event.type,
      reason: event.reason,
      message,
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      source: { component: EVENT_COMPONENT },
      reportingComponent: `${API_GROUP}/operator`,
      reportingInstance: this.instance,
    };
    try {
      await this.core.createNamespacedEvent({ namespace: ref.namespace, body });
    } catch (e) {
      throw new Error(`creating event ${event.reason} on ${key}: ${describeError(e)}`);
    }
    this.recentEvents.set(cacheKey, { name, count: 1, last: now });
    if (this.recentEvents.size > EVENT_CACHE_LIMIT) {
      const oldest = this.recentEvents.keys().next().value;
      if (oldest !== undefined) this.recentEvents.delete(oldest);
    }
  }

  /** A JSON merge patch of the topology itself (not its status), as this operator's field manager. */
  private async patchTopology(ref: TopologyRef, body: object): Promise<KubeObject> {
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: API_GROUP,
        version: API_VERSION,
        namespace: ref.namespace,
        plural: PLURAL,
        name: ref.name,
        body,
        fieldManager: FIELD_MANAGER,
      },
      mergePatchOptions(),
    )) as KubeObject;
  }

  async removeAnnotation(ref: TopologyRef, key: string): Promise<{ resourceVersion?: string }> {
    try {
      const updated = await this.patchTopology(ref, { metadata: { annotations: { [key]: null } } });
      this.remember(ref, updated);
      return { resourceVersion: updated.metadata?.resourceVersion };
    } catch (e) {
      if (statusCodeOf(e) === 404) return {};
      throw new Error(`removing annotation ${key} from ${refKey(ref)}: ${describeError(e)}`);
    }
  }

  /**
   * The finalizer lifecycle, run before a pass that may write. Adds the finalizer to a topology seen for
   * the first time; for a topology being deleted, removes it and answers false (no pass: replication is
   * left as it is). False as well when the topology does not exist.
   */
  async admit(ref: TopologyRef): Promise<boolean> {
    const known = this.watching ? this.lifecycle.get(refKey(ref)) : undefined;
    // The common case, without a request: the watch saw the finalizer in place and no deletion. (A deletion
    // the watch has not delivered yet is caught by the pass, whose fresh read says `deleting`, and by the
    // admit that the deletion event then triggers.)
    if (known?.finalized && !known.deleting) return true;
    for (let attempt = 0; attempt < 3; attempt++) {
      const obj = await this.fetch(ref);
      if (!obj) return false;
      const finalizers = obj.metadata?.finalizers ?? [];
      const deleting = Boolean(obj.metadata?.deletionTimestamp);
      if (!deleting && finalizers.includes(FINALIZER)) return true;
      if (deleting && !finalizers.includes(FINALIZER)) return false;
      const next = deleting ? finalizers.filter((f) => f !== FINALIZER) : [...finalizers, FINALIZER];
      try {
        // resourceVersion makes the list replacement conditional: a concurrent finalizer change is a 409.
        const updated = await this.patchTopology(ref, {
          metadata: { finalizers: next, resourceVersion: obj.metadata?.resourceVersion },
        });
        if (deleting) {
          this.seen.delete(refKey(ref));
          this.log.info(
            { topology: refKey(ref) },
            'topology deleted: finalizer removed, replication left as it is',
          );
          return false;
        }
        this.remember(ref, updated);
        this.log.info({ topology: refKey(ref) }, 'finalizer added');
        return true;
      } catch (e) {
        const code = statusCodeOf(e);
        if (code === 409) continue;
        if (code === 404) return false;
        throw new Error(`updating finalizers of ${refKey(ref)}: ${describeError(e)}`);
      }
    }
    throw new Error(`updating finalizers of ${refKey(ref)}: conflicts on every attempt`);
  }

  /**
   * Lists and watches MySQLTopologies and Secrets until the signal aborts. Topology changes enqueue the
   * topology (status-only changes, i.e. our own writes, do not); Secret changes enqueue the topologies of
   * that namespace that name the Secret.
   */
  watch(options: WatchOptions): WatchHandle {
    const index = new Map<string, TopologyIndexEntry>();
    let resolveSynced!: () => void;
    const whenSynced = new Promise<void>((r) => (resolveSynced = r));
    let synced = false;
    let secretsListed = false;
    const counters = { lists: 0, watches: 0, errors: 0, relistsOnGone: 0 };
    const base = this.namespace ? `/namespaces/${encodeURIComponent(this.namespace)}` : '';

    const entryOf = (o: KubeObject): TopologyIndexEntry => {
      const spec = (isPlainObject(o.spec) ? o.spec : {}) as {
        adminSecretRef?: { name?: unknown };
        replicationSecretRef?: { name?: unknown };
      };
      const secrets = [spec.adminSecretRef?.name, spec.replicationSecretRef?.name].filter(
        (n): n is string => typeof n === 'string',
      );
      return {
        generation: o.metadata?.generation,
        annotations: JSON.stringify(o.metadata?.annotations ?? {}),
        finalizers: JSON.stringify(o.metadata?.finalizers ?? []),
        deleting: Boolean(o.metadata?.deletionTimestamp),
        secrets,
      };
    };
    const lifecycleOf = (o: KubeObject) => ({
      finalized: (o.metadata?.finalizers ?? []).includes(FINALIZER),
      deleting: Boolean(o.metadata?.deletionTimestamp),
    });
    const refOf = (o: KubeObject): TopologyRef | undefined =>
      o.metadata?.name && o.metadata.namespace
        ? { namespace: o.metadata.namespace, name: o.metadata.name }
        : undefined;

    const topologies = new ListWatcher({
      name: 'mysqltopologies',
      kubeConfig: this.kc,
      path: `/apis/${API_GROUP}/${API_VERSION}${base}/${PLURAL}`,
      list: async () => (await this.listTopologies()) as KubeList,
      onList: (items) => {
        const fresh = new Set<string>();
        for (const o of items) {
          const ref = refOf(o);
          if (!ref) continue;
          fresh.add(refKey(ref));
          index.set(refKey(ref), entryOf(o));
          this.lifecycle.set(refKey(ref), lifecycleOf(o));
          options.enqueue(ref);
        }
        for (const key of [...index.keys()]) {
          if (fresh.has(key)) continue;
          index.delete(key);
          this.lifecycle.delete(key);
          const [namespace = '', name = ''] = key.split('/');
          this.seen.delete(key);
          options.onDeleted?.({ namespace, name });
          options.enqueue({ namespace, name });
        }
        if (!synced) {
          synced = true;
          resolveSynced();
        }
      },
      onEvent: (type, o) => {
        const ref = refOf(o);
        if (!ref) return;
        const key = refKey(ref);
        if (type === 'DELETED') {
          index.delete(key);
          this.lifecycle.delete(key);
          this.seen.delete(key);
          options.onDeleted?.(ref);
          options.enqueue(ref);
          return;
        }
        const entry = entryOf(o);
        const before = index.get(key);
        index.set(key, entry);
        this.lifecycle.set(key, lifecycleOf(o));
        const relevant =
          !before ||
          before.generation !== entry.generation ||
          before.annotations !== entry.annotations ||
          before.finalizers !== entry.finalizers ||
          before.deleting !== entry.deleting;
        if (relevant) options.enqueue(ref);
      },
      clock: this.clock,
      log: this.log,
      counters,
      options,
    });

    const secrets = new ListWatcher({
      name: 'secrets',
      kubeConfig: this.kc,
      path: `/api/v1${base}/secrets`,
      // Only the list's resourceVersion is needed: one item keeps it cheap, and data is never kept.
      list: async () => {
        const l = this.namespace
          ? await this.core.listNamespacedSecret({ namespace: this.namespace, limit: 1 })
          : await this.core.listSecretForAllNamespaces({ limit: 1 });
        return { metadata: { resourceVersion: l.metadata?.resourceVersion }, items: [] };
      },
      onList: () => {
        // After a relist (not the first list), changes may have been missed: every topology gets a pass.
        if (!secretsListed) {
          secretsListed = true;
          return;
        }
        for (const key of index.keys()) {
          const [namespace = '', name = ''] = key.split('/');
          options.enqueue({ namespace, name });
        }
      },
      onEvent: (_type, o) => {
        const ns = o.metadata?.namespace;
        const name = o.metadata?.name;
        if (!ns || !name) return;
        for (const [key, entry] of index) {
          if (key.startsWith(`${ns}/`) && entry.secrets.includes(name)) {
            const [namespace = '', topology = ''] = key.split('/');
            options.enqueue({ namespace, name: topology });
          }
        }
      },
      clock: this.clock,
      log: this.log,
      counters,
      options,
    });

    this.watching = true;
    const done = Promise.all([topologies.run(), secrets.run()]).then(() => {
      this.watching = false;
      this.lifecycle.clear();
    });
    return { synced: () => synced, whenSynced, done, stats: () => ({ ...counters }) };
  }

  private async listTopologies(): Promise<unknown> {
    try {
      return this.namespace
        ? await this.custom.listNamespacedCustomObject({
            group: API_GROUP,
            version: API_VERSION,
            namespace: this.namespace,
            plural: PLURAL,
          })
        : await this.custom.listClusterCustomObject({
            group: API_GROUP,
            version: API_VERSION,
            plural: PLURAL,
          });
    } catch (e) {
      throw new Error(`listing ${PLURAL}: ${describeError(e)}`);
    }
  }

  private async fetch(ref: TopologyRef): Promise<KubeObject | undefined> {
    try {
      const obj = (await this.custom.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace: ref.namespace,
        plural: PLURAL,
        name: ref.name,
      })) as KubeObject;
      this.remember(ref, obj);
      return obj;
    } catch (e) {
      if (statusCodeOf(e) === 404) {
        this.seen.delete(refKey(ref));
        return undefined;
      }
      throw new Error(`reading ${refKey(ref)}: ${describeError(e)}`);
    }
  }

  private remember(ref: TopologyRef, obj: KubeObject): void {
    this.seen.set(refKey(ref), {
      uid: obj.metadata?.uid,
      status: obj.status === undefined ? undefined : plain(obj.status),
    });
  }
}

interface ListWatcherConfig {
  name: string;
  kubeConfig: KubeConfig;
  path: string;
  list: () => Promise<KubeList>;
  onList: (items: KubeObject[]) => void;
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject) => void;
  clock: Clock;
  log: Log;
  counters: { lists: number; watches: number; errors: number; relistsOnGone: number };
  options: WatchOptions;
}

type WatchEnd =
  | { kind: 'closed' }
  | { kind: 'gone' }
  | { kind: 'stalled' }
  | { kind: 'aborted' }
  | { kind: 'error'; error: unknown };

/** List, then watch from the list's resourceVersion; relist on 410; back off and relist on errors. */
class ListWatcher {
  private readonly watcher: Watch;

  constructor(private readonly c: ListWatcherConfig) {
    this.watcher = new Watch(c.kubeConfig);
  }

  async run(): Promise<void> {
    const { signal } = this.c.options;
    const baseMs = this.c.options.backoff?.baseMs ?? 200;
    const maxMs = this.c.options.backoff?.maxMs ?? 30_000;
    let rv = '';
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!rv) {
          const list = await this.c.list();
          this.c.counters.lists++;
          rv = list.metadata?.resourceVersion ?? '';
          this.c.onList(list.items ?? []);
        }
        const started = this.c.clock.now();
        let progressed = false;
        const end = await this.watchOnce(rv, (next) => {
          progressed = true;
          rv = next;
          failures = 0;
        });
        if (end.kind === 'aborted') break;
        if (end.kind === 'gone') {
          this.c.counters.relistsOnGone++;
          this.c.log.info({ watch: this.c.name }, 'watch: resourceVersion too old (410 Gone); relisting');
          rv = '';
        } else if (end.kind === 'stalled') {
          this.c.log.warn({ watch: this.c.name }, 'watch: no event or bookmark for too long; restarting');
        } else if (end.kind === 'error') {
          throw end.error;
        }
        // 'closed': the server ended the stream (timeout); watch again from the last resourceVersion,
        // after a backoff when it ended at once without any progress (a server refusing streams).
        if (end.kind === 'closed' && !progressed && this.c.clock.now() - started < 1000) {
          failures++;
          await sleep(this.c.clock, backoffDelay(failures, baseMs, maxMs), signal);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (statusCodeOf(e) === 410) {
          this.c.counters.relistsOnGone++;
          this.c.log.info({ watch: this.c.name }, 'watch: 410 Gone; relisting');
          rv = '';
          continue;
        }
        this.c.counters.errors++;
        failures++;
        const delay = backoffDelay(failures, baseMs, maxMs);
        this.c.log.warn(
          { watch: this.c.name, err: describeError(e), retryInMs: delay },
          'watch failed; restarting after backoff',
        );
        rv = '';
        await sleep(this.c.clock, delay, signal);
      }
    }
  }

  private watchOnce(rv: string, onProgress: (rv: string) => void): Promise<WatchEnd> {
    const { signal } = this.c.options;
    const timeoutSeconds = Math.max(
      1,
      Math.round((this.c.options.watchTimeoutSeconds ?? 300) * (0.8 + 0.2 * Math.random())),
    );
    const stallMs = this.c.options.stallTimeoutMs ?? timeoutSeconds * 1000 + 30_000;
    this.c.counters.watches++;
    return new Promise<WatchEnd>((resolve) => {
      let settled = false;
      let gone = false;
      let stalled = false;
      let remoteError: unknown;
      let controller: AbortController | undefined;
      let cancelStall = () => {};
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        cancelStall();
        signal.removeEventListener('abort', onAbort);
        controller?.abort();
        resolve(end);
      };
      const armStall = () => {
        cancelStall();
        cancelStall = this.c.clock.schedule(stallMs, () => {
          stalled = true;
          controller?.abort();
          finish({ kind: 'stalled' });
        });
      };
      const onAbort = () => {
        controller?.abort();
        finish({ kind: 'aborted' });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      armStall();
      this.watcher
        .watch(
          this.c.path,
          { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
          (type: string, obj: KubeObject & { code?: number; message?: string }) => {
            if (settled) return;
            armStall();
            if (type === 'ERROR') {
              if (obj?.code === 410) gone = true;
              else
                remoteError = Object.assign(new Error(`watch error: ${obj?.message ?? 'unknown'}`), {
                  code: obj?.code,
                });
              controller?.abort();
              return;
            }
            const next = obj?.metadata?.resourceVersion;
            if (next) onProgress(next);
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              try {
                this.c.onEvent(type, obj);
              } catch (e) {
                this.c.log.warn({ watch: this.c.name, err: describeError(e) }, 'watch event handler threw');
              }
            }
          },
          (err: unknown) => {
            if (signal.aborted) return finish({ kind: 'aborted' });
            if (stalled) return finish({ kind: 'stalled' });
            if (gone) return finish({ kind: 'gone' });
            if (remoteError) return finish({ kind: 'error', error: remoteError });
            if (err && statusCodeOf(err) === 410) return finish({ kind: 'gone' });
            if (err && (err as { name?: string }).name !== 'AbortError')
              return finish({ kind: 'error', error: err });
            finish({ kind: 'closed' });
          },
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((e: unknown) => finish({ kind: 'error', error: e }));
    });
  }
}
