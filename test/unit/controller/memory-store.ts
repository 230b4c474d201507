// An in-memory Store for controller tests: topologies and secrets in maps, every write recorded.
import { emptyStatus, type TopologyStatus } from '../../../src/api/status.js';
import {
  ConflictError,
  refKey,
  type StatusWriteOptions,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from '../../../src/store/store.js';

export class MemoryStore implements Store {
  readonly topologies = new Map<string, StoredTopology>();
  readonly secrets = new Map<string, Record<string, string>>();
  readonly statusWrites: { ref: TopologyRef; status: TopologyStatus; observedGeneration: number }[] = [];
  readonly events: { ref: TopologyRef; event: TopologyEvent }[] = [];
  readonly removedAnnotations: { ref: TopologyRef; key: string }[] = [];
  listCalls = 0;
  failList = false;

  put(namespace: string, name: string, spec: unknown = {}, generation = 1): TopologyRef {
    const ref = { namespace, name };
    this.topologies.set(refKey(ref), { ref, generation, annotations: {}, spec, resourceVersion: '1' });
    return ref;
  }

  delete(ref: TopologyRef): void {
    this.topologies.delete(refKey(ref));
  }

  async list(): Promise<TopologyRef[]> {
    this.listCalls++;
    if (this.failList) throw new Error('list failed');
    return [...this.topologies.values()].map((t) => ({ ...t.ref }));
  }

  async get(ref: TopologyRef): Promise<StoredTopology | undefined> {
    const t = this.topologies.get(refKey(ref));
    return t ? structuredClone(t) : undefined;
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    return this.secrets.get(`${namespace}/${name}`);
  }

  async writeStatus(
    ref: TopologyRef,
    status: TopologyStatus,
    observedGeneration: number,
    options: StatusWriteOptions = {},
  ): Promise<{ resourceVersion?: string }> {
    const t = this.topologies.get(refKey(ref));
    if (t && options.resourceVersion !== undefined && options.resourceVersion !== t.resourceVersion)
      throw new ConflictError(`writing status of ${ref.name}`);
    this.statusWrites.push({ ref, status: structuredClone(status), observedGeneration });
    if (!t) return {};
    t.status = { ...structuredClone(status), observedGeneration };
    t.resourceVersion = String(Number(t.resourceVersion ?? '1') + 1);
    return { resourceVersion: t.resourceVersion };
  }

  async emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void> {
    this.events.push({ ref, event });
  }

  async removeAnnotation(ref: TopologyRef, key: string): Promise<{ resourceVersion?: string }> {
    this.removedAnnotations.push({ ref, key });
    const t = this.topologies.get(refKey(ref));
    if (!t) return {};
    delete t.annotations[key];
    t.resourceVersion = String(Number(t.resourceVersion ?? '1') + 1);
    return { resourceVersion: t.resourceVersion };
  }
}

export function readyStatus(extra: Partial<TopologyStatus> = {}): TopologyStatus {
  return { ...emptyStatus('Ready'), ...extra };
}

/** A promise with its resolve/reject exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
