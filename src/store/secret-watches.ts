// The Secrets the topologies name, and only those: one informer per named Secret, listing and watching
// it with the field selector metadata.name=<name> in its namespace. The operator therefore never receives
// another Secret's contents (a metadata-only watch would still stream annotations, and kubectl apply keeps
// a Secret's whole data in its last-applied-configuration annotation), and RBAC can be narrowed to the
// named Secrets with resourceNames, which the API server authorizes for list and watch requests that carry
// exactly that field selector. An informer starts when a topology first names the Secret and stops when
// none does any more.
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../util/clock.js';
import type { Log } from '../util/log-sink.js';
import { describeError } from './kube-errors.js';
import { Informer, type InformerCounters, type KubeObject } from './informer.js';

/** `namespace/name` of a Secret. */
export const secretKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** Every `…SecretRef: { name }` in a spec, at any depth (admin, replication, and any later reference). */
export function secretNamesOf(spec: unknown): string[] {
  const names = new Set<string>();
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k.endsWith('SecretRef') && typeof (x as { name?: unknown })?.name === 'string')
          names.add((x as { name: string }).name);
        else visit(x);
      }
    }
  };
  visit(spec);
  return [...names];
}

/** A Secret's data decoded as UTF-8 strings. */
export function decodeSecret(secret: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

export interface SecretWatchesOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  clock: Clock;
  log: Log;
  signal: AbortSignal;
  counters: InformerCounters;
  /** A watched Secret appeared, changed or disappeared (not on its informer's first list). */
  onChange: (namespace: string, name: string) => void;
  informer?: {
    watchTimeoutSeconds?: number;
    stallTimeoutMs?: number;
    backoff?: { baseMs?: number; maxMs?: number };
  };
}

interface Running {
  informer: Informer;
  stop: AbortController;
  done: Promise<void>;
}

export class SecretWatches {
  private readonly running = new Map<string, Running>();
  private readonly stopping = new Set<Promise<void>>();

  constructor(private readonly o: SecretWatchesOptions) {}

  /** Watches exactly these Secrets (keys from secretKey). */
  sync(wanted: ReadonlySet<string>): void {
    if (this.o.signal.aborted) return;
    for (const [key, r] of this.running) {
      if (wanted.has(key)) continue;
      r.stop.abort();
      this.running.delete(key);
      this.stopping.add(r.done);
      void r.done.then(() => this.stopping.delete(r.done));
    }
    for (const key of wanted) if (!this.running.has(key)) this.start(key);
  }

  /** The Secret's data from its informer: `known` is false while it has not listed yet (read it directly). */
  read(namespace: string, name: string): { known: boolean; data?: Record<string, string> } {
    const r = this.running.get(secretKey(namespace, name));
    if (!r?.informer.synced) return { known: false };
    const secret = r.informer.get(secretKey(namespace, name));
    return { known: true, ...(secret ? { data: decodeSecret(secret) } : {}) };
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once every informer has stopped (after the parent signal aborted). */
  async done(): Promise<void> {
    await Promise.all([...[...this.running.values()].map((r) => r.done), ...this.stopping]);
  }

  private start(key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const stop = new AbortController();
    const signal = AbortSignal.any([this.o.signal, stop.signal]);
    const fieldSelector = `metadata.name=${name}`;
    const informer = new Informer({
      name: `secret ${key}`,
      kubeConfig: this.o.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
      query: { fieldSelector },
      list: async () => {
        try {
          return (await this.o.core.listNamespacedSecret({ namespace, fieldSelector })) as {
            metadata?: { resourceVersion?: string };
            items?: KubeObject[];
          };
        } catch (e) {
          throw Object.assign(new Error(`listing Secret ${key}: ${describeError(e)}`), {
            code: (e as { code?: unknown }).code,
          });
        }
      },
      clock: this.o.clock,
      log: this.o.log,
      signal,
      counters: this.o.counters,
      onAdd: (_o, initial) => {
        if (!initial) this.o.onChange(namespace, name);
      },
      onUpdate: () => this.o.onChange(namespace, name),
      onDelete: () => this.o.onChange(namespace, name),
      ...this.o.informer,
    });
    this.running.set(key, { informer, stop, done: informer.run() });
  }
}
