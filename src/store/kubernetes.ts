// The Store over the Kubernetes API (@kubernetes/client-node 1.4), and the informers that feed the loop.
//
// - Reads come from informer caches while watch() runs (list + watch of the topologies; of each Secret a
//   topology names, see secret-watches.ts): at rest the operator sends no request besides re-opening a
//   watch every 5–10 minutes. Without a running watch (CLI one-shots, tests) it reads with GETs.
// - Status goes through the status subresource as a JSON merge patch (explicit content type: the client's
//   default for PATCH is JSON patch, and strategic merge is refused for custom resources) of what changed
//   against the stored object, never a null except to delete (merge-patch.ts). Every patch carries the
//   resourceVersion it was computed against, so the API server refuses it (409) if the object moved: a
//   write the caller made conditional throws ConflictError, another is recomputed against a fresh read.
// - The stored status is read with parseStoredStatus: what does not parse is named in statusProblems, and
//   what does (the failover journal above all) is kept.
// - The finalizer tributary.dev/finalizer is added on first sight; on deletion it is removed and nothing
//   else happens: deleting a topology leaves replication as it is.
// - Events are aggregated (events.ts). Secret values are never logged: only namespaces and names.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { API_GROUP, API_VERSION } from '../api/spec.js';
import { parseStoredStatus, type TopologyStatus } from '../api/status.js';
import { systemClock, type Clock } from '../util/clock.js';
import { silentLog, type Log } from '../util/log-sink.js';
import { EventRecorder } from './events.js';
import { Informer, objectKey, type InformerCounters, type KubeList, type KubeObject } from './informer.js';
import { describeError, statusCodeOf } from './kube-errors.js';
import { mergePatchDiff, stripNulls } from './merge-patch.js';
import { SecretWatches, decodeSecret, secretKey, secretNamesOf } from './secret-watches.js';
import {
  ConflictError,
  refKey,
  type LifecycleStore,
  type StatusWriteOptions,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from './store.js';

export { describeError, statusCodeOf } from './kube-errors.js';
export { mergePatchDiff } from './merge-patch.js';
export { EVENT_COMPONENT } from './events.js';

export const PLURAL = 'mysqltopologies';
export const FINALIZER = 'tributary.dev/finalizer';
export const FIELD_MANAGER = 'tributary-operator';
/** Attempts of a status write that is not conditional (each after a fresh read on 409). */
const WRITE_ATTEMPTS = 3;

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
  /** Whether writes the store makes on its own (deferred event counts) are allowed (default: always). */
  mayWrite?: () => boolean;
}

export interface WatchOptions {
  /** Called for every topology that may need a pass. */
  enqueue: (ref: TopologyRef) => void;
  signal: AbortSignal;
  /** Called for topologies that disappeared (metrics cleanup). */
  onDeleted?: (ref: TopologyRef) => void;
  /** Minimum server-side timeout of one watch request (default 300 s; a watch lasts 1–2× this). */
  watchTimeoutSeconds?: number;
  /** A stream silent for this long is restarted (default its timeout + 30 s). */
  stallTimeoutMs?: number;
  /** Backoff after watch or list errors (default 200 ms → 30 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface WatchHandle {
  /** True once the first list of topologies has been delivered. */
  synced(): boolean;
  readonly whenSynced: Promise<void>;
  /** Resolves when every informer has stopped (after abort). */
  readonly done: Promise<void>;
  /** Counters for tests and diagnostics; `secrets` is the number of Secrets watched. */
  stats(): InformerCounters & { secrets: number };
}

const refOf = (o: KubeObject): TopologyRef | undefined =>
  o.metadata?.name && o.metadata.namespace
    ? { namespace: o.metadata.namespace, name: o.metadata.name }
    : undefined;

/** What about a topology makes a pass worthwhile (status is our own output and does not). */
const passInputs = (o: KubeObject) =>
  JSON.stringify([
    o.metadata?.generation,
    o.metadata?.annotations ?? {},
    o.metadata?.finalizers ?? [],
    Boolean(o.metadata?.deletionTimestamp),
  ]);

export class KubernetesStore implements Store, LifecycleStore {
  readonly namespace: string | undefined;
  private readonly kc: KubeConfig;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly log: Log;
  private readonly clock: Clock;
  private readonly events: EventRecorder;
  /** The last copy read or written per topology, while no informer serves reads. */
  private readonly seen = new Map<string, KubeObject>();
  /** The last status problems logged per topology (logged again only when they change). */
  private readonly reported = new Map<string, string>();
  private topologies: Informer | undefined;
  private secrets: SecretWatches | undefined;

  constructor(options: KubernetesStoreOptions) {
    this.kc = options.kubeConfig;
    this.namespace = options.namespace;
    this.custom = this.kc.makeApiClient(CustomObjectsApi);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? systemClock;
    this.events = new EventRecorder({
      kubeConfig: this.kc,
      clock: this.clock,
      log: this.log,
      instance: options.instance ?? process.env.POD_NAME ?? hostname(),
      mayWrite: options.mayWrite ?? (() => true),
    });
  }

  async list(): Promise<TopologyRef[]> {
    const objects = this.topologies?.synced
      ? this.topologies.values()
      : ((await this.listTopologies()).items ?? []);
    return objects.flatMap((o) => refOf(o) ?? []);
  }

  async get(ref: TopologyRef): Promise<StoredTopology | undefined> {
    const obj = this.topologies?.synced ? this.topologies.get(refKey(ref)) : await this.fetch(ref);
    if (!obj) return undefined;
    const { status, problems } = parseStoredStatus(obj.status === undefined ? undefined : plain(obj.status));
    const said = problems.join('\n');
    if (said !== (this.reported.get(refKey(ref)) ?? '')) {
      if (problems.length)
        this.log.warn(
          { topology: refKey(ref), problems },
          'parts of the stored status do not parse; left out',
        );
      this.reported.set(refKey(ref), said);
    }
    return {
      ref: { namespace: ref.namespace, name: ref.name },
      ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
      generation: obj.metadata?.generation ?? 0,
      ...(obj.metadata?.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      annotations: { ...(obj.metadata?.annotations ?? {}) },
      spec: plain(obj.spec),
      ...(status ? { status } : {}),
      ...(problems.length ? { statusProblems: problems } : {}),
      ...(obj.metadata?.deletionTimestamp ? { deleting: true } : {}),
    };
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const cached = this.secrets?.read(namespace, name);
    if (cached?.known) return cached.data;
    try {
      return decodeSecret((await this.core.readNamespacedSecret({ namespace, name })) as KubeObject);
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
    const desired = stripNulls(plain({ ...status, observedGeneration }));
    for (let attempt = 1; ; attempt++) {
      const base = this.known(ref) ?? (await this.fetch(ref));
      if (!base) return {};
      const rv = base.metadata?.resourceVersion;
      // The copy the caller decided on is no longer the latest we know: the server would refuse it too.
      if (options.resourceVersion !== undefined && options.resourceVersion !== rv)
        throw new ConflictError(`writing status of ${key}`);
      const diff = mergePatchDiff(base.status ?? {}, desired);
      if (diff === undefined) {
        this.log.debug({ topology: key }, 'status unchanged; no write');
        return rv ? { resourceVersion: rv } : {};
      }
      try {
        const updated = (await this.custom.patchNamespacedCustomObjectStatus(
          {
            group: API_GROUP,
            version: API_VERSION,
            namespace: ref.namespace,
            plural: PLURAL,
            name: ref.name,
            // The resourceVersion makes the patch conditional: the diff holds only against that version.
            body: { metadata: { resourceVersion: rv }, status: diff },
            fieldManager: FIELD_MANAGER,
          },
          mergePatchOptions(),
        )) as KubeObject;
        this.remember(updated);
        return updated.metadata?.resourceVersion ? { resourceVersion: updated.metadata.resourceVersion } : {};
      } catch (e) {
        const code = statusCodeOf(e);
        if (code === 404) {
          this.forget(key);
          this.log.debug({ topology: key }, 'topology gone; status not written');
          return {};
        }
        if (code === 409) {
          if (options.resourceVersion !== undefined) throw new ConflictError(`writing status of ${key}`);
          if (attempt < WRITE_ATTEMPTS) {
            await this.fetch(ref);
            continue;
          }
        }
        throw new Error(`writing status of ${key}: ${describeError(e)}`);
      }
    }
  }

  async emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void> {
    const uid = (this.known(ref) ?? (await this.fetch(ref)))?.metadata?.uid;
    await this.events.emit(ref, event, uid);
  }

  async removeAnnotation(
    ref: TopologyRef,
    key: string,
    options: { resourceVersion?: string } = {},
  ): Promise<{ resourceVersion?: string }> {
    // With the version the decision read, the removal is conditional (the API server answers 409 when the
    // object changed): an annotation set again in between is never removed unseen.
    const precondition = options.resourceVersion ? { resourceVersion: options.resourceVersion } : {};
    try {
      const updated = await this.patchTopology(ref, {
        metadata: { annotations: { [key]: null }, ...precondition },
      });
      this.remember(updated);
      return updated.metadata?.resourceVersion ? { resourceVersion: updated.metadata.resourceVersion } : {};
    } catch (e) {
      if (statusCodeOf(e) === 404) return {};
      if (statusCodeOf(e) === 409) throw new ConflictError(`removing annotation ${key} from ${refKey(ref)}`);
      throw new Error(`removing annotation ${key} from ${refKey(ref)}: ${describeError(e)}`);
    }
  }

  /**
   * The finalizer lifecycle, run before a pass that may write. Adds the finalizer to a topology seen for
   * the first time; for a topology being deleted, removes it and answers false (no pass: replication is
   * left as it is). False as well when the topology does not exist.
   */
  async admit(ref: TopologyRef): Promise<boolean> {
    // The common case, without a request: the cache has the finalizer in place and no deletion. (A
    // deletion the watch has not delivered yet is caught by the admit its event triggers.)
    const cached = this.topologies?.synced ? this.topologies.get(refKey(ref)) : undefined;
    if (
      cached &&
      !cached.metadata?.deletionTimestamp &&
      (cached.metadata?.finalizers ?? []).includes(FINALIZER)
    )
      return true;
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
          this.forget(refKey(ref));
          this.log.info(
            { topology: refKey(ref) },
            'topology deleted: finalizer removed, replication left as it is',
          );
          return false;
        }
        this.remember(updated);
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

  /** Stops deferred event writes (call when the process stops or stops leading). */
  close(): void {
    this.events.close();
  }

  /**
   * Runs the informers until the signal aborts: the topologies, and the Secrets they name. Topology
   * changes that matter to a pass (spec, annotations, finalizers, deletion; not status, i.e. our own
   * writes) enqueue the topology; a named Secret's change enqueues the topologies of its namespace that
   * name it. While it runs, get(), list(), readSecret() and admit() are served from the caches.
   */
  watch(options: WatchOptions): WatchHandle {
    let resolveSynced!: () => void;
    const whenSynced = new Promise<void>((r) => (resolveSynced = r));
    const counters: InformerCounters = { lists: 0, watches: 0, errors: 0, relistsOnGone: 0 };
    const base = this.namespace ? `/namespaces/${encodeURIComponent(this.namespace)}` : '';
    const informerOptions = {
      ...(options.watchTimeoutSeconds !== undefined
        ? { watchTimeoutSeconds: options.watchTimeoutSeconds }
        : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    };

    const topologies = new Informer({
      name: PLURAL,
      kubeConfig: this.kc,
      path: `/apis/${API_GROUP}/${API_VERSION}${base}/${PLURAL}`,
      list: () => this.listTopologies(),
      clock: this.clock,
      log: this.log,
      signal: options.signal,
      counters,
      onAdd: (o) => {
        const ref = refOf(o);
        if (ref) options.enqueue(ref);
        syncSecrets();
      },
      onUpdate: (before, o) => {
        const ref = refOf(o);
        if (ref && passInputs(before) !== passInputs(o)) options.enqueue(ref);
        if (JSON.stringify(secretNamesOf(before.spec)) !== JSON.stringify(secretNamesOf(o.spec)))
          syncSecrets();
      },
      onDelete: (o) => {
        const ref = refOf(o);
        if (!ref) return;
        this.forget(refKey(ref));
        options.onDeleted?.(ref);
        options.enqueue(ref);
        syncSecrets();
      },
      onSync: (initial) => {
        if (initial) resolveSynced();
      },
      ...informerOptions,
    });
    const secrets = new SecretWatches({
      kubeConfig: this.kc,
      core: this.core,
      clock: this.clock,
      log: this.log,
      signal: options.signal,
      counters,
      onChange: (namespace, name) => {
        for (const o of topologies.values()) {
          const ref = refOf(o);
          if (ref?.namespace === namespace && secretNamesOf(o.spec).includes(name)) options.enqueue(ref);
        }
      },
      informer: informerOptions,
    });
    const syncSecrets = () =>
      secrets.sync(
        new Set(
          topologies
            .values()
            .flatMap((o) =>
              o.metadata?.namespace
                ? secretNamesOf(o.spec).map((n) => secretKey(o.metadata!.namespace!, n))
                : [],
            ),
        ),
      );

    this.topologies = topologies;
    this.secrets = secrets;
    const done = topologies.run().then(async () => {
      await secrets.done();
      if (this.topologies === topologies) this.topologies = undefined;
      if (this.secrets === secrets) this.secrets = undefined;
    });
    return {
      synced: () => topologies.synced,
      whenSynced,
      done,
      stats: () => ({ ...counters, secrets: secrets.size }),
    };
  }

  private known(ref: TopologyRef): KubeObject | undefined {
    return this.topologies?.synced ? this.topologies.get(refKey(ref)) : this.seen.get(refKey(ref));
  }

  private remember(obj: KubeObject): void {
    const key = objectKey(obj);
    if (!key) return;
    this.topologies?.offer(obj);
    this.seen.set(key, obj);
  }

  private forget(key: string): void {
    this.seen.delete(key);
    this.reported.delete(key);
    this.topologies?.forget(key);
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

  private async listTopologies(): Promise<KubeList> {
    try {
      return (
        this.namespace
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
            })
      ) as KubeList;
    } catch (e) {
      throw Object.assign(new Error(`listing ${PLURAL}: ${describeError(e)}`), { code: statusCodeOf(e) });
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
      this.remember(obj);
      return obj;
    } catch (e) {
      if (statusCodeOf(e) === 404) {
        this.forget(refKey(ref));
        return undefined;
      }
      throw new Error(`reading ${refKey(ref)}: ${describeError(e)}`);
    }
  }
}
