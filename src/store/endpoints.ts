// The operator's routing target: per group, a Service `<topology>-<group>-primary` (the writer) and
// `<topology>-<group>-replicas` (the readers), without selector, and the EndpointSlices behind them,
// following the routing steps the pass plans (src/plan/routing.ts).
//
// - Services: type ClusterIP, one port named `mysql`. Its number is set when the Service is created: the
//   writer's port (route, drain), the first reader's (readers), else the group's first member's as last
//   given to observe(), else 3306. It is never changed afterwards: clients dial it, and a failover to a
//   member listening elsewhere must not move it. The slices carry each member's own port (kube-proxy
//   forwards to the endpoint's port of the same name). A Service of that name without our labels is not
//   ours: the step fails, the Service is left alone.
// - EndpointSlices: one per address family and port (a slice's ports apply to all of its endpoints), named
//   `<service>-<ipv4|ipv6>-<port>`; slices of the Service no longer wanted are deleted. One endpoint per
//   address, `conditions: {ready, serving: ready, terminating: false}`. Endpoints carry no member name:
//   observe() maps them back by address and port against the spec's members.
// - Labels app.kubernetes.io/managed-by, tributary.dev/{topology,group,role}, and on slices
//   kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by=tributary.dev; an ownerReference
//   to the MySQLTopology (controller, blockOwnerDeletion) so they are deleted with it. Its uid comes from
//   the stored topology (uidOf); while unknown no ownerReference is written and existing ones are kept.
// - Hosts: an IP literal is itself; a DNS name is resolved (every address, each family its own slice) and
//   the answer kept resolveTtlMs (30 s). observe() is synchronous and sends nothing: it maps with the last
//   answer and re-resolves a stale one in the background; a changed answer asks for a pass (enqueue), whose
//   observe() then no longer finds the member at the old address and so differs from status: the step is
//   planned and applied again with the new addresses. A host that does not resolve fails the step, one line
//   naming the member and host, before anything is written.
// - Reads come from two informers (slices and Services, by label selector, in the watched namespace(s));
//   writes are compared with them first, so a repeated step sends nothing. The objects this process wrote
//   are kept until the informer delivers them, so a step repeated at once sees its own writes.
import {
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { isIP } from 'node:net';
import { API_GROUP, API_VERSION } from '../api/spec.js';
import type { GroupRouting } from '../api/status.js';
import type { RoutedTopology, RoutingTarget } from '../execute/routing.js';
import { endpointNames, type RoutedMember, type RoutingStep } from '../plan/routing.js';
import { systemClock, type Clock } from '../util/clock.js';
import { oneLine } from '../util/errors.js';
import { silentLog, type Log } from '../util/log-sink.js';
import { RESOLVE_TTL_MS, resolveHost } from '../util/resolve.js';
import {
  Informer,
  isNewer,
  objectKey,
  type InformerCounters,
  type KubeList,
  type KubeObject,
} from './informer.js';
import { describeError, statusCodeOf } from './kube-errors.js';
import { refKey, type TopologyRef } from './store.js';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tributary';
export const LABEL_TOPOLOGY = 'tributary.dev/topology';
export const LABEL_GROUP = 'tributary.dev/group';
export const LABEL_ROLE = 'tributary.dev/role';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_SLICE_MANAGER = 'endpointslice.kubernetes.io/managed-by';
export const SLICE_MANAGER = 'tributary.dev';
/** What the slice informer lists and watches. */
export const SLICE_SELECTOR = `${LABEL_SLICE_MANAGER}=${SLICE_MANAGER}`;
/** What the Service informer lists and watches. */
export const SERVICE_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_ROLE}`;
export const PORT_NAME = 'mysql';
/** The Service port when no member says one (a reader Service created while nobody reads). */
const DEFAULT_PORT = 3306;

export type EndpointsRole = 'primary' | 'replicas';

export const serviceName = (topology: string, group: string, role: EndpointsRole) =>
  endpointNames(topology, group)[role === 'primary' ? 'writer' : 'readers'];

/** A group as observe() needs it: the spec's members, where applications reach them. */
export interface EndpointsGroup {
  name: string;
  members: { name: string; host: string; port: number }[];
}

interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
}
interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}
interface Slice {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  addressType?: string;
  ports?: { name?: string; port?: number; protocol?: string }[];
  endpoints?: Endpoint[];
}
interface Service {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  spec?: {
    type?: string;
    ports?: { name?: string; port?: number; targetPort?: number; protocol?: string }[];
  };
}

export interface KubernetesEndpointsOptions {
  /** The watched namespace; all namespaces when unset (as the store's). */
  namespace?: string;
  log?: Log;
  clock?: Clock;
  /** The topology's uid, for ownerReferences (the store's cached copy; see watch()). */
  uidOf?: (ref: TopologyRef) => Promise<string | undefined>;
  /** Host → addresses (default: util/resolve.ts, i.e. dns.lookup with all answers). */
  resolve?: (host: string) => Promise<string[]>;
  /** How long a DNS answer is used before it is resolved again (default 30 s). */
  resolveTtlMs?: number;
}

export interface EndpointsWatchOptions {
  signal: AbortSignal;
  /** Asks for a pass: a managed slice or Service changed by someone else, or a member's DNS answer changed. */
  enqueue?: (ref: TopologyRef) => void;
  /** Replaces the constructor's uidOf (the operator passes its store's). */
  uidOf?: (ref: TopologyRef) => Promise<string | undefined>;
  watchTimeoutSeconds?: number;
  stallTimeoutMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface EndpointsWatchHandle {
  /** True once both informers listed: observe() answers from then on. */
  synced(): boolean;
  readonly whenSynced: Promise<void>;
  readonly done: Promise<void>;
  stats(): InformerCounters;
}

const mergePatchOptions = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Kubernetes Service names: DNS-1035 labels. */
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const familyOf = (address: string) => (isIP(address) === 6 ? 'IPv6' : 'IPv4');

const topologyOf = (o: { metadata?: Meta }): TopologyRef | undefined => {
  const ns = o.metadata?.namespace;
  const name = o.metadata?.labels?.[LABEL_TOPOLOGY];
  return ns && name ? { namespace: ns, name } : undefined;
};

/** The parts of a slice this module owns, normalized: equal projections need no write. */
const sliceProjection = (s: Slice, ownerKnown: boolean) =>
  JSON.stringify([
    Object.entries(s.metadata?.labels ?? {})
      .filter(([k]) => OWN_LABELS.includes(k))
      .sort(([a], [b]) => a.localeCompare(b)),
    ownerKnown ? ownerProjection(s.metadata?.ownerReferences) : null,
    s.addressType,
    (s.ports ?? []).map((p) => [p.name, p.port, p.protocol ?? 'TCP']),
    (s.endpoints ?? [])
      .map((e) => [
        e.addresses ?? [],
        e.conditions?.ready ?? null,
        e.conditions?.serving ?? null,
        e.conditions?.terminating ?? null,
      ])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  ]);
const OWN_LABELS = [
  LABEL_MANAGED_BY,
  LABEL_TOPOLOGY,
  LABEL_GROUP,
  LABEL_ROLE,
  LABEL_SERVICE_NAME,
  LABEL_SLICE_MANAGER,
];
const ownerProjection = (refs: OwnerReference[] | undefined) =>
  (refs ?? [])
    .filter((r) => r.kind === 'MySQLTopology')
    .map((r) => [r.apiVersion, r.kind, r.name, r.uid, r.controller ?? false, r.blockOwnerDeletion ?? false]);

interface Written {
  /** The resourceVersion this process's write returned (or, for a deletion, the version it deleted). */
  rv: string | undefined;
  /** The object as written; undefined when this process deleted it. */
  obj?: Slice;
}

export class KubernetesEndpoints implements RoutingTarget {
  readonly name = 'services';
  readonly namespace: string | undefined;
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly log: Log;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly resolver: (host: string) => Promise<string[]>;
  private uidOf: ((ref: TopologyRef) => Promise<string | undefined>) | undefined;
  private enqueue: ((ref: TopologyRef) => void) | undefined;
  private slices: Informer | undefined;
  private services: Informer | undefined;
  /** Slices this process wrote or deleted, until the informer has caught up with them. */
  private readonly written = new Map<string, Written>();
  /** Services this process created or patched (the last version), for the same reason. */
  private readonly ownServices = new Map<string, Service>();
  /** Writes in flight (`slice:ns/name`, `service:ns/name`): their watch event may come before the answer. */
  private readonly inflight = new Map<string, number>();
  /** Last DNS answer per host name, when it was had, and the topologies that asked. */
  private readonly answers = new Map<string, { addresses?: string[]; at: number; refs: Set<string> }>();
  private readonly resolving = new Set<string>();
  /** The port of each group's first member (`ns/topology/group`), from observe(): a reader Service's port. */
  private readonly firstPorts = new Map<string, number>();

  constructor(kubeConfig: KubeConfig, options: KubernetesEndpointsOptions = {}) {
    this.kc = kubeConfig;
    this.namespace = options.namespace;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.resolveTtlMs ?? RESOLVE_TTL_MS;
    this.resolver = options.resolve ?? ((host) => resolveHost(host, this.clock.now()));
    this.uidOf = options.uidOf;
  }

  // ---- observe ------------------------------------------------------------------------------------

  /**
   * What the slices hold now, per group, from the informer cache (no request). undefined while the
   * informers have not listed. A group one of whose members' addresses are not known yet (a DNS name
   * never resolved by this process, or not resolving) is left out: the caller keeps status for it, and
   * the resolution started here asks for a pass when it completes.
   *
   * writer: the first member (spec order) with an endpoint in the writer slices; writerReady only when the
   * slices hold exactly that member's addresses at its port, all ready, and its Service exists. Endpoints
   * that map to no member are reported as `?<address>:<port>` (the writer when no member is there; an
   * extra reader otherwise), a missing reader Service as `?no-service`: never a member name, so such a
   * state always differs from status and the next step rewrites it.
   */
  observe(ref: TopologyRef, groups: readonly EndpointsGroup[]): Map<string, GroupRouting> | undefined {
    if (!this.slices?.synced || !this.services?.synced) return undefined;
    const out = new Map<string, GroupRouting>();
    for (const g of groups) {
      if (g.members[0]) this.firstPorts.set(groupKey(ref, g.name), g.members[0].port);
      const addresses = new Map<string, string[]>();
      for (const m of g.members) {
        const a = this.known(ref, m.host);
        if (a) addresses.set(m.name, a);
      }
      if (addresses.size < g.members.length) continue;
      const memberAt = (address: string, port: number) =>
        g.members.find((m) => m.port === port && addresses.get(m.name)!.includes(address))?.name;
      const read = (role: EndpointsRole) => {
        const service = serviceName(ref.name, g.name, role);
        const eps: { address: string; port: number; ready: boolean; member?: string }[] = [];
        for (const s of this.slicesOf(ref.namespace, service)) {
          const port = s.ports?.find((p) => p.name === PORT_NAME)?.port ?? s.ports?.[0]?.port;
          for (const e of s.endpoints ?? [])
            for (const address of e.addresses ?? []) {
              if (port === undefined) continue;
              const member = memberAt(address, port);
              eps.push({
                address,
                port,
                ready: e.conditions?.ready !== false,
                ...(member ? { member } : {}),
              });
            }
        }
        const exists = this.serviceOf(ref.namespace, service) !== undefined;
        return { eps, exists };
      };
      const exactly = (member: string, eps: { address: string; port: number; member?: string }[]) => {
        const want = addresses.get(member)!;
        const got = eps.filter((e) => e.member === member).map((e) => e.address);
        return got.length === want.length && want.every((a) => got.includes(a));
      };
      const stray = (e: { address: string; port: number }) =>
        `?${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;

      const w = read('primary');
      const present = g.members.filter((m) => w.eps.some((e) => e.member === m.name)).map((m) => m.name);
      const strays = w.eps.filter((e) => !e.member);
      const writer: string | null = present[0] ?? (strays[0] ? stray(strays[0]) : null);
      let writerReady = false;
      if (present.length === 1 && strays.length === 0 && exactly(present[0]!, w.eps)) {
        const flags = new Set(w.eps.map((e) => e.ready));
        writerReady = flags.size === 1 && flags.has(true) && w.exists;
      }
      if (writer === null) writerReady = false;

      const r = read('replicas');
      const readers = g.members
        .filter((m) => exactly(m.name, r.eps) && r.eps.every((e) => e.member !== m.name || e.ready))
        .map((m) => m.name);
      // A member partly there (some addresses, not ready) is left out: the set differs, the step rewrites.
      readers.push(...r.eps.filter((e) => !e.member).map(stray));
      if (!r.exists && r.eps.length > 0) readers.push('?no-service');
      out.set(g.name, { writer, writerReady, readers });
    }
    return out;
  }

  /** A host's addresses as last resolved (an IP literal is itself); re-resolves a stale answer meanwhile. */
  private known(ref: TopologyRef, host: string): string[] | undefined {
    if (isIP(host)) return [host];
    let entry = this.answers.get(host);
    if (!entry) {
      entry = { at: 0, refs: new Set() };
      this.answers.set(host, entry);
    }
    entry.refs.add(refKey(ref));
    if (this.clock.now() - entry.at >= this.ttlMs && !this.resolving.has(host)) {
      this.resolving.add(host);
      void this.resolveAnswer(host)
        .catch((e: unknown) =>
          this.log.warn({ host, err: oneLine(describeError(e)) }, 'routing: member host does not resolve'),
        )
        .finally(() => this.resolving.delete(host));
    }
    return entry.addresses;
  }

  /** Resolves a host now; a changed answer asks for a pass of every topology that observed it. */
  private async resolveAnswer(host: string): Promise<string[]> {
    const entry = this.answers.get(host) ?? { at: 0, refs: new Set<string>() };
    this.answers.set(host, entry);
    try {
      const addresses = [...new Set(await this.resolver(host))].sort();
      const before = entry.addresses;
      entry.addresses = addresses;
      entry.at = this.clock.now();
      const changed = before !== undefined && JSON.stringify(before) !== JSON.stringify(addresses);
      if (changed)
        this.log.info({ host, before, after: addresses }, 'routing: member host resolves to new addresses');
      // A first answer, too: observe() left the groups waiting for it out.
      if (changed || !before) for (const k of entry.refs) this.enqueueKey(k);
      return addresses;
    } catch (e) {
      // Tried again after the TTL, not at every observe().
      entry.at = this.clock.now();
      throw e;
    }
  }

  private enqueueKey(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    this.enqueue?.({ namespace, name });
  }

  // ---- apply --------------------------------------------------------------------------------------

  /** Applies one routing step; idempotent; throws one line when the step was not taken. */
  async apply(ref: RoutedTopology, step: RoutingStep): Promise<void> {
    const role: EndpointsRole = step.op === 'readers' ? 'replicas' : 'primary';
    const service = serviceName(ref.name, step.group, role);
    if (service.length > 63 || !DNS_1035.test(service))
      throw new Error(
        `Service name ${service} (topology ${ref.name}, group ${step.group}) is not a valid Service name (a DNS-1035 label of at most 63 characters): no endpoints kept`,
      );
    // Every host is resolved before anything is written: a member that does not resolve changes nothing.
    const members: RoutedMember[] = step.op === 'drain' ? [] : step.members;
    const endpoints: { address: string; port: number; ready: boolean }[] = [];
    for (const m of members) {
      for (const address of await this.addressesOf(ref, m))
        endpoints.push({ address, port: m.port, ready: m.ready });
    }
    const uid = await this.uidOf?.(ref);
    const owner: OwnerReference | undefined = uid
      ? {
          apiVersion: `${API_GROUP}/${API_VERSION}`,
          kind: 'MySQLTopology',
          name: ref.name,
          uid,
          controller: true,
          blockOwnerDeletion: true,
        }
      : undefined;
    const labels = {
      [LABEL_MANAGED_BY]: MANAGED_BY,
      [LABEL_TOPOLOGY]: ref.name,
      [LABEL_GROUP]: step.group,
      [LABEL_ROLE]: role,
    };
    const port = step.members[0]?.port ?? this.firstPorts.get(groupKey(ref, step.group)) ?? DEFAULT_PORT;
    await this.ensureService(ref.namespace, service, labels, owner, port);
    await this.syncSlices(ref.namespace, service, labels, owner, endpoints);
  }

  private async addressesOf(ref: RoutedTopology, m: RoutedMember): Promise<string[]> {
    if (isIP(m.host)) return [m.host];
    try {
      const entry = this.answers.get(m.host);
      if (entry?.addresses && this.clock.now() - entry.at < this.ttlMs) return entry.addresses;
      const got = await this.resolveAnswer(m.host);
      this.answers.get(m.host)!.refs.add(refKey(ref));
      if (got.length === 0) throw new Error('(no address)');
      return got;
    } catch (e) {
      const why = oneLine((e as Error).message ?? String(e)).replace(`${m.host}: does not resolve `, '');
      throw new Error(`member ${m.name}: host ${m.host} does not resolve ${why}: endpoints not changed`);
    }
  }

  private async ensureService(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    owner: OwnerReference | undefined,
    port: number,
  ): Promise<void> {
    const where = `Service ${namespace}/${name}`;
    let current = this.services?.synced
      ? this.serviceOf(namespace, name)
      : await this.readService(namespace, name);
    if (!current) {
      const body: Service = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace, labels, ...(owner ? { ownerReferences: [owner] } : {}) },
        // No selector: the slices below are its endpoints. targetPort is unused without a selector.
        spec: { type: 'ClusterIP', ports: [{ name: PORT_NAME, port, targetPort: port, protocol: 'TCP' }] },
      };
      try {
        const created = (await this.writing(`service:${namespace}/${name}`, () =>
          this.core.createNamespacedService({
            namespace,
            body: body as never,
          }),
        )) as Service;
        this.ownServices.set(`${namespace}/${name}`, created);
        this.log.info({ service: `${namespace}/${name}`, port }, 'routing: Service created');
        return;
      } catch (e) {
        if (statusCodeOf(e) !== 409) throw new Error(`creating ${where}: ${oneLine(describeError(e))}`);
        // Created meanwhile (another replica, or not in the cache yet): check it is ours.
        current = await this.readService(namespace, name);
        if (!current) throw new Error(`creating ${where}: it exists and then does not; try again`);
      }
    }
    if (current.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY)
      throw new Error(
        `${where} exists and is not managed by Tributary (no label ${LABEL_MANAGED_BY}=${MANAGED_BY}): left alone, no endpoints kept`,
      );
    const labelsDiffer = Object.entries(labels).some(([k, v]) => current.metadata?.labels?.[k] !== v);
    const ownerDiffers =
      owner !== undefined &&
      JSON.stringify(ownerProjection(current.metadata?.ownerReferences)) !==
        JSON.stringify(ownerProjection([owner]));
    if (!labelsDiffer && !ownerDiffers) return;
    const others = (current.metadata?.ownerReferences ?? []).filter((r) => r.kind !== 'MySQLTopology');
    try {
      const updated = (await this.writing(`service:${namespace}/${name}`, () =>
        this.core.patchNamespacedService(
          {
            namespace,
            name,
            body: {
              metadata: {
                labels,
                ...(owner ? { ownerReferences: [...others, owner] } : {}),
                resourceVersion: current.metadata?.resourceVersion,
              },
            },
          },
          mergePatchOptions(),
        ),
      )) as Service;
      this.ownServices.set(`${namespace}/${name}`, updated);
      this.services?.offer(updated as KubeObject);
    } catch (e) {
      throw new Error(`updating labels of ${where}: ${oneLine(describeError(e))}`);
    }
  }

  /** Our Service from the informer, or as this process last wrote it while the informer has not seen it. */
  private serviceOf(namespace: string, name: string): Service | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.services?.get(key) as Service | undefined;
    const own = this.ownServices.get(key);
    if (!own) return cached;
    const rv = cached?.metadata?.resourceVersion;
    if (cached && (rv === own.metadata?.resourceVersion || isNewer(rv, own.metadata?.resourceVersion))) {
      this.ownServices.delete(key);
      return cached;
    }
    return own;
  }

  /** Runs one write; the watch events of the object meanwhile are taken as its own. */
  private async writing<T>(key: string, write: () => Promise<T>): Promise<T> {
    this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
    try {
      return await write();
    } finally {
      const n = (this.inflight.get(key) ?? 1) - 1;
      if (n > 0) this.inflight.set(key, n);
      else this.inflight.delete(key);
    }
  }

  private async readService(namespace: string, name: string): Promise<Service | undefined> {
    try {
      return (await this.core.readNamespacedService({ namespace, name })) as Service;
    } catch (e) {
      if (statusCodeOf(e) === 404) return undefined;
      throw new Error(`reading Service ${namespace}/${name}: ${oneLine(describeError(e))}`);
    }
  }

  private async syncSlices(
    namespace: string,
    service: string,
    labels: Record<string, string>,
    owner: OwnerReference | undefined,
    endpoints: { address: string; port: number; ready: boolean }[],
  ): Promise<void> {
    const wanted = new Map<string, Slice>();
    for (const e of endpoints) {
      const family = familyOf(e.address);
      const name = `${service}-${family.toLowerCase()}-${e.port}`;
      const slice = wanted.get(name) ?? {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name,
          namespace,
          labels: { ...labels, [LABEL_SERVICE_NAME]: service, [LABEL_SLICE_MANAGER]: SLICE_MANAGER },
          ...(owner ? { ownerReferences: [owner] } : {}),
        },
        addressType: family,
        ports: [{ name: PORT_NAME, port: e.port, protocol: 'TCP' }],
        endpoints: [],
      };
      if (!slice.endpoints!.some((x) => x.addresses[0] === e.address))
        slice.endpoints!.push({
          addresses: [e.address],
          conditions: { ready: e.ready, serving: e.ready, terminating: false },
        });
      wanted.set(name, slice);
    }
    for (const s of wanted.values())
      s.endpoints!.sort((a, b) => a.addresses[0]!.localeCompare(b.addresses[0]!));

    const existing = this.slices?.synced
      ? this.slicesOf(namespace, service)
      : await this.listSlices(namespace, service);
    for (const [name, slice] of wanted) {
      const current = existing.find((s) => s.metadata?.name === name);
      await this.writeSlice(namespace, slice, current, owner !== undefined);
    }
    for (const s of existing) {
      const name = s.metadata?.name;
      if (name && !wanted.has(name)) await this.deleteSlice(namespace, name, s.metadata?.resourceVersion);
    }
  }

  private async writeSlice(
    namespace: string,
    desired: Slice,
    current: Slice | undefined,
    ownerKnown: boolean,
  ): Promise<void> {
    const name = desired.metadata!.name!;
    const key = `${namespace}/${name}`;
    for (let attempt = 1; ; attempt++) {
      if (current && sliceProjection(current, ownerKnown) === sliceProjection(desired, ownerKnown)) return;
      try {
        let written: Slice;
        if (!current) {
          written = (await this.writing(`slice:${key}`, () =>
            this.discovery.createNamespacedEndpointSlice({
              namespace,
              body: desired as never,
            }),
          )) as Slice;
        } else {
          // A replacement of the parts we own, conditional on the version compared against.
          const body: Slice = {
            ...current,
            metadata: {
              ...current.metadata,
              labels: { ...current.metadata?.labels, ...desired.metadata?.labels },
              ...(ownerKnown
                ? {
                    ownerReferences: [
                      ...(current.metadata?.ownerReferences ?? []).filter((r) => r.kind !== 'MySQLTopology'),
                      ...desired.metadata!.ownerReferences!,
                    ],
                  }
                : {}),
            },
            ports: desired.ports,
            endpoints: desired.endpoints,
          };
          written = (await this.writing(`slice:${key}`, () =>
            this.discovery.replaceNamespacedEndpointSlice({
              namespace,
              name,
              body: body as never,
            }),
          )) as Slice;
        }
        this.written.set(key, { rv: written.metadata?.resourceVersion, obj: written });
        this.slices?.offer(written as KubeObject);
        return;
      } catch (e) {
        const code = statusCodeOf(e);
        // Someone else wrote it meanwhile (409), or it went away (404): read it again and compare again.
        if ((code === 409 || code === 404) && attempt < 3) {
          current = await this.readSlice(namespace, name);
          continue;
        }
        throw new Error(`writing EndpointSlice ${key}: ${oneLine(describeError(e))}`);
      }
    }
  }

  private async deleteSlice(namespace: string, name: string, rv: string | undefined): Promise<void> {
    try {
      await this.writing(`slice:${namespace}/${name}`, () =>
        this.discovery.deleteNamespacedEndpointSlice({ namespace, name }),
      );
    } catch (e) {
      if (statusCodeOf(e) !== 404)
        throw new Error(`deleting EndpointSlice ${namespace}/${name}: ${oneLine(describeError(e))}`);
    }
    this.written.set(`${namespace}/${name}`, { rv });
  }

  private async readSlice(namespace: string, name: string): Promise<Slice | undefined> {
    try {
      return (await this.discovery.readNamespacedEndpointSlice({ namespace, name })) as Slice;
    } catch (e) {
      if (statusCodeOf(e) === 404) return undefined;
      throw new Error(`reading EndpointSlice ${namespace}/${name}: ${oneLine(describeError(e))}`);
    }
  }

  private async listSlices(namespace: string, service: string): Promise<Slice[]> {
    try {
      const list = await this.discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `${SLICE_SELECTOR},${LABEL_SERVICE_NAME}=${service}`,
      });
      return (list.items as Slice[]).filter((s) => isOurs(s, service));
    } catch (e) {
      throw new Error(`listing EndpointSlices of ${namespace}/${service}: ${oneLine(describeError(e))}`);
    }
  }

  /** The managed slices of a Service: the informer's, with this process's own writes it has not seen yet. */
  private slicesOf(namespace: string, service: string): Slice[] {
    const out = new Map<string, Slice>();
    for (const o of this.slices?.values() ?? []) {
      const s = o as Slice;
      if (s.metadata?.namespace === namespace && isOurs(s, service)) out.set(objectKey(o)!, s);
    }
    for (const [key, w] of [...this.written]) {
      const cached = this.slices?.get(key) as Slice | undefined;
      const rv = cached?.metadata?.resourceVersion;
      if (w.obj) {
        // The informer has it (this version or a later one): it is the truth again.
        if (cached && (rv === w.rv || isNewer(rv, w.rv))) this.written.delete(key);
        else if (w.obj.metadata?.namespace === namespace && isOurs(w.obj, service)) out.set(key, w.obj);
      } else if (!cached || rv !== w.rv) {
        // Deleted by this process: gone from the cache, or there again in another version (re-created).
        this.written.delete(key);
      } else out.delete(key);
    }
    return [...out.values()];
  }

  // ---- watch --------------------------------------------------------------------------------------

  /**
   * Runs the informers (EndpointSlices with label endpointslice.kubernetes.io/managed-by=tributary.dev,
   * and our Services) until the signal aborts. A change this process did not make (a slice edited or
   * deleted by hand) asks for a pass of its topology, which puts it back.
   */
  watch(options: EndpointsWatchOptions): EndpointsWatchHandle {
    if (options.enqueue) this.enqueue = options.enqueue;
    if (options.uidOf) this.uidOf = options.uidOf;
    const counters: InformerCounters = { lists: 0, watches: 0, errors: 0, relistsOnGone: 0 };
    const base = this.namespace ? `/namespaces/${encodeURIComponent(this.namespace)}` : '';
    const common = {
      kubeConfig: this.kc,
      clock: this.clock,
      log: this.log,
      signal: options.signal,
      counters,
      ...(options.watchTimeoutSeconds !== undefined
        ? { watchTimeoutSeconds: options.watchTimeoutSeconds }
        : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    };
    let listed = 0;
    let resolveSynced!: () => void;
    const whenSynced = new Promise<void>((r) => (resolveSynced = r));
    const onSync = (initial: boolean) => {
      if (initial && ++listed === 2) resolveSynced();
    };
    // Our own writes come back through the watch: no pass for them; anyone else's asks for one.
    const ours = (o: KubeObject, deleted: boolean, slice: boolean) => {
      const key = objectKey(o) ?? '';
      const rv = o.metadata?.resourceVersion;
      if (this.inflight.has(`${slice ? 'slice' : 'service'}:${key}`)) return true;
      if (!slice) return !deleted && this.ownServices.get(key)?.metadata?.resourceVersion === rv;
      const w = this.written.get(key);
      // A version up to our last write's is ours, or one our write replaced (it was conditional on it).
      return w !== undefined && (deleted ? !w.obj : w.obj !== undefined && !isNewer(rv, w.rv));
    };
    const handlers = (slice: boolean) => {
      const changed = (o: KubeObject, deleted: boolean) => {
        const ref = topologyOf(o as Slice);
        if (ref && !ours(o, deleted, slice)) this.enqueue?.(ref);
      };
      return {
        onAdd: (o: KubeObject, initial: boolean) => {
          if (!initial) changed(o, false);
        },
        onUpdate: (_before: KubeObject, o: KubeObject) => changed(o, false),
        onDelete: (o: KubeObject) => changed(o, true),
        onSync,
      };
    };
    const slices = new Informer({
      ...common,
      ...handlers(true),
      name: 'endpointslices',
      path: `/apis/discovery.k8s.io/v1${base}/endpointslices`,
      query: { labelSelector: SLICE_SELECTOR },
      list: () => this.listAll('slices'),
    });
    const services = new Informer({
      ...common,
      ...handlers(false),
      name: 'services',
      path: `/api/v1${base}/services`,
      query: { labelSelector: SERVICE_SELECTOR },
      list: () => this.listAll('services'),
    });
    this.slices = slices;
    this.services = services;
    const done = Promise.all([slices.run(), services.run()]).then(() => {
      if (this.slices === slices) this.slices = undefined;
      if (this.services === services) this.services = undefined;
    });
    return {
      synced: () => slices.synced && services.synced,
      whenSynced,
      done,
      stats: () => ({ ...counters }),
    };
  }

  private async listAll(what: 'slices' | 'services'): Promise<KubeList> {
    const ns = this.namespace;
    try {
      const list =
        what === 'slices'
          ? ns
            ? await this.discovery.listNamespacedEndpointSlice({
                namespace: ns,
                labelSelector: SLICE_SELECTOR,
              })
            : await this.discovery.listEndpointSliceForAllNamespaces({ labelSelector: SLICE_SELECTOR })
          : ns
            ? await this.core.listNamespacedService({ namespace: ns, labelSelector: SERVICE_SELECTOR })
            : await this.core.listServiceForAllNamespaces({ labelSelector: SERVICE_SELECTOR });
      // The selector is applied here too: what the cache holds is only ever ours.
      const items = (list.items as unknown as (Slice & Service)[]).filter((o) =>
        what === 'slices'
          ? o.metadata?.labels?.[LABEL_SLICE_MANAGER] === SLICE_MANAGER
          : o.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY && LABEL_ROLE in (o.metadata?.labels ?? {}),
      );
      return { metadata: { resourceVersion: list.metadata?.resourceVersion }, items: items as KubeObject[] };
    } catch (e) {
      throw Object.assign(
        new Error(`listing ${what === 'slices' ? 'EndpointSlices' : 'Services'}: ${describeError(e)}`),
        {
          code: statusCodeOf(e),
        },
      );
    }
  }
}

const groupKey = (ref: TopologyRef, group: string) => `${ref.namespace}/${ref.name}/${group}`;

/** A slice this module manages for that Service. */
const isOurs = (s: Slice, service: string) =>
  s.metadata?.labels?.[LABEL_SLICE_MANAGER] === SLICE_MANAGER &&
  s.metadata?.labels?.[LABEL_SERVICE_NAME] === service;

/**
 * The operator's EndpointSlice routing target. Start its informers with watch() (runOperator does, given
 * it as `endpoints`); observe() answers once they have listed.
 */
export function createKubernetesEndpoints(
  kubeConfig: KubeConfig,
  options: KubernetesEndpointsOptions = {},
): KubernetesEndpoints {
  return new KubernetesEndpoints(kubeConfig, options);
}
