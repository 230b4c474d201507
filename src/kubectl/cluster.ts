// The plugin's view of the cluster: the kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster, like the
// operator; --kubeconfig and --context on top), the namespace, and the few requests it makes on a
// MySQLTopology: read it (status parsed as the operator's store parses it), set or withdraw an annotation
// (merge patches conditional on the version read), and read its recent events.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND } from '../api/spec.js';
import { loadKubeConfig } from '../cli/operator.js';
import { describeError, KubernetesStore, PLURAL, statusCodeOf } from '../store/kubernetes.js';
import { refKey, type StoredTopology, type TopologyRef } from '../store/store.js';
import { UserError } from '../util/errors.js';

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** An event on the topology, as `kubectl describe` lists them. */
export interface TopologyEventSeen {
  type: string;
  reason: string;
  message: string;
  at: number;
}

export class Cluster {
  readonly namespace: string;
  private readonly store: KubernetesStore;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    readonly kc: KubeConfig,
    namespace?: string,
  ) {
    this.namespace = namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    this.store = new KubernetesStore({ kubeConfig: kc });
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  static open(o: ClusterOptions): Cluster {
    let kc: KubeConfig;
    if (o.kubeconfig) {
      kc = new KubeConfig();
      try {
        kc.loadFromFile(o.kubeconfig);
      } catch (e) {
        throw new UserError(`--kubeconfig ${o.kubeconfig}: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else kc = loadKubeConfig();
    if (o.context) {
      if (!kc.getContextObject(o.context))
        throw new UserError(`--context: no context "${o.context}" in the kubeconfig`);
      kc.setCurrentContext(o.context);
    }
    return new Cluster(kc, o.namespace);
  }

  ref(name: string): TopologyRef {
    return { namespace: this.namespace, name };
  }

  /** The topology, or a one-line error when it does not exist or cannot be read. */
  async get(ref: TopologyRef): Promise<StoredTopology> {
    let t: StoredTopology | undefined;
    try {
      t = await this.store.get(ref);
    } catch (e) {
      throw new UserError(`reading mysqltopology ${refKey(ref)}: ${describeError(e)}`);
    }
    if (!t) throw new UserError(`mysqltopology ${refKey(ref)} not found`);
    return t;
  }

  /**
   * Sets (value) or removes (null) an annotation, only while the object is at `resourceVersion`.
   * False when someone else changed the object in between (409): re-read and decide again.
   */
  async annotate(
    ref: TopologyRef,
    key: string,
    value: string | null,
    resourceVersion?: string,
  ): Promise<boolean> {
    try {
      await this.custom.patchNamespacedCustomObject(
        {
          group: API_GROUP,
          version: API_VERSION,
          namespace: ref.namespace,
          plural: PLURAL,
          name: ref.name,
          body: {
            metadata: { annotations: { [key]: value }, ...(resourceVersion ? { resourceVersion } : {}) },
          },
          fieldManager: 'kubectl-tributary',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return true;
    } catch (e) {
      if (statusCodeOf(e) === 409) return false;
      throw new UserError(`annotating mysqltopology ${refKey(ref)}: ${describeError(e)}`);
    }
  }

  /** Events on the topology, newest first; [] when they cannot be read (they only add detail). */
  async events(ref: TopologyRef): Promise<TopologyEventSeen[]> {
    try {
      // Listed by namespace and filtered here: field selectors on involvedObject are not served everywhere.
      const list = await this.core.listNamespacedEvent({ namespace: ref.namespace });
      return list.items
        .filter((e) => e.involvedObject?.kind === KIND && e.involvedObject?.name === ref.name)
        .map((e) => ({
          type: e.type ?? '',
          reason: e.reason ?? '',
          message: e.message ?? '',
          at: new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime(),
        }))
        .sort((a, b) => b.at - a.at);
    } catch {
      return [];
    }
  }
}
