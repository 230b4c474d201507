// An informer: list, then watch from the list's resourceVersion, keeping a cache of the objects (what
// client-go's reflector and store do), so that reads at rest cost no request.
//
// - relists on 410 Gone (history compacted), and reports what changed meanwhile as add/update/delete;
// - restarts with backoff on any other error (client-node's watch stops on errors: the caller restarts it);
// - re-watches from the last resourceVersion when the server ends a stream (its timeout), without a list;
// - restarts a stream silent for longer than its timeout (watches can stall without closing);
// - a watch asks for bookmarks and lasts 5–10 minutes (client-go's minWatchTimeout × [1, 2)): at rest an
//   informer costs one request every 7.5 minutes on average.
// The cache also takes the objects this process's own writes return (offer), so a read right after a
// write sees it; a copy older than the cached one (by resourceVersion) never replaces it.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelay, sleep, type Clock } from '../util/clock.js';
import type { Log } from '../util/log-sink.js';
import { describeError, statusCodeOf } from './kube-errors.js';

/** The parts of a Kubernetes object the store reads. */
export interface KubeObject {
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
  data?: Record<string, string>;
}

export interface KubeList {
  metadata?: { resourceVersion?: string };
  items?: KubeObject[];
}

export const objectKey = (o: KubeObject): string | undefined =>
  o.metadata?.name ? `${o.metadata.namespace ?? ''}/${o.metadata.name}` : undefined;

/**
 * True when `a` is a later version than `b`. resourceVersions are opaque to clients, but etcd's are
 * integers that grow; when either is not one, the copy that arrived last wins.
 */
export function isNewer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}

export interface InformerCounters {
  lists: number;
  watches: number;
  errors: number;
  relistsOnGone: number;
}

export interface InformerOptions {
  name: string;
  kubeConfig: KubeConfig;
  /** The collection's path (`/api/v1/namespaces/db/secrets`), watched with `query` added. */
  path: string;
  /** Extra query parameters of the watch (a fieldSelector; the list must apply the same). */
  query?: Record<string, string>;
  list: () => Promise<KubeList>;
  clock: Clock;
  log: Log;
  signal: AbortSignal;
  counters: InformerCounters;
  /** Called after each (re)list and each watch event that changed the cache. */
  onAdd?: (obj: KubeObject, initial: boolean) => void;
  onUpdate?: (before: KubeObject, obj: KubeObject) => void;
  onDelete?: (obj: KubeObject) => void;
  /** After every list (initial: the first). */
  onSync?: (initial: boolean) => void;
  /** Minimum server-side timeout of one watch request (default 300 s; each watch lasts 1–2× this). */
  watchTimeoutSeconds?: number;
  /** A stream silent for this long is restarted (default its timeout + 30 s). */
  stallTimeoutMs?: number;
  /** Backoff after errors (default 200 ms → 30 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

type WatchEnd =
  | { kind: 'closed' }
  | { kind: 'gone' }
  | { kind: 'stalled' }
  | { kind: 'aborted' }
  | { kind: 'error'; error: unknown };

export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  private readonly watcher: Watch;
  private listed = false;
  private stopped = false;

  constructor(private readonly o: InformerOptions) {
    this.watcher = new Watch(o.kubeConfig);
  }

  /** True once a list has filled the cache and until the informer stops: reads may use the cache. */
  get synced(): boolean {
    return this.listed && !this.stopped && !this.o.signal.aborted;
  }

  get(key: string): KubeObject | undefined {
    return this.cache.get(key);
  }

  values(): KubeObject[] {
    return [...this.cache.values()];
  }

  /**
   * Takes a later copy of a cached object that this process got from a write or a read. Objects the
   * informer has not delivered yet are left to it (their ADDED event must still reach the handlers).
   */
  offer(obj: KubeObject): void {
    const key = objectKey(obj);
    const cached = key ? this.cache.get(key) : undefined;
    if (key && cached && isNewer(obj.metadata?.resourceVersion, cached.metadata?.resourceVersion))
      this.cache.set(key, obj);
  }

  /** Forgets an object this process found gone (404). */
  forget(key: string): void {
    this.cache.delete(key);
  }

  async run(): Promise<void> {
    const { signal } = this.o;
    const baseMs = this.o.backoff?.baseMs ?? 200;
    const maxMs = this.o.backoff?.maxMs ?? 30_000;
    let rv = '';
    let failures = 0;
    try {
      while (!signal.aborted) {
        try {
          if (!rv) {
            const list = await this.o.list();
            this.o.counters.lists++;
            rv = list.metadata?.resourceVersion ?? '';
            this.replace(list.items ?? []);
          }
          const started = this.o.clock.now();
          let progressed = false;
          const end = await this.watchOnce(rv, (next) => {
            progressed = true;
            rv = next;
            failures = 0;
          });
          if (end.kind === 'aborted') break;
          if (end.kind === 'gone') {
            this.o.counters.relistsOnGone++;
            this.o.log.info({ watch: this.o.name }, 'watch: resourceVersion too old (410 Gone); relisting');
            rv = '';
          } else if (end.kind === 'stalled') {
            this.o.log.warn({ watch: this.o.name }, 'watch: no event or bookmark for too long; restarting');
          } else if (end.kind === 'error') {
            throw end.error;
          }
          // 'closed': the server ended the stream (its timeout); watch again from the last resourceVersion,
          // after a backoff when it ended at once without any progress (a server refusing streams).
          if (end.kind === 'closed' && !progressed && this.o.clock.now() - started < 1000) {
            failures++;
            await sleep(this.o.clock, backoffDelay(failures, baseMs, maxMs), signal);
          }
        } catch (e) {
          if (signal.aborted) break;
          if (statusCodeOf(e) === 410) {
            this.o.counters.relistsOnGone++;
            this.o.log.info({ watch: this.o.name }, 'watch: 410 Gone; relisting');
            rv = '';
            continue;
          }
          this.o.counters.errors++;
          failures++;
          const delay = backoffDelay(failures, baseMs, maxMs);
          this.o.log.warn(
            { watch: this.o.name, err: describeError(e), retryInMs: delay },
            'watch failed; restarting after backoff',
          );
          rv = '';
          await sleep(this.o.clock, delay, signal);
        }
      }
    } finally {
      this.stopped = true;
    }
  }

  /** A list's items replace the cache; what changed is reported as after a watch. */
  private replace(items: KubeObject[]): void {
    const initial = !this.listed;
    const fresh = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      if (!key) continue;
      fresh.add(key);
      this.apply('ADDED', key, obj, initial);
    }
    for (const [key, obj] of [...this.cache]) {
      if (fresh.has(key)) continue;
      this.cache.delete(key);
      this.call(() => this.o.onDelete?.(obj));
    }
    this.listed = true;
    this.call(() => this.o.onSync?.(initial));
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', key: string, obj: KubeObject, initial = false): void {
    const cached = this.cache.get(key);
    if (type === 'DELETED') {
      if (!cached) return;
      this.cache.delete(key);
      this.call(() => this.o.onDelete?.(obj));
      return;
    }
    if (!cached) {
      this.cache.set(key, obj);
      this.call(() => this.o.onAdd?.(obj, initial));
      return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv === cached.metadata?.resourceVersion || !isNewer(rv, cached.metadata?.resourceVersion)) return;
    this.cache.set(key, obj);
    this.call(() => this.o.onUpdate?.(cached, obj));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.o.log.warn({ watch: this.o.name, err: describeError(e) }, 'watch event handler threw');
    }
  }

  private watchOnce(rv: string, onProgress: (rv: string) => void): Promise<WatchEnd> {
    const { signal } = this.o;
    const minTimeout = this.o.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.max(1, Math.round(minTimeout * (1 + Math.random())));
    const stallMs = this.o.stallTimeoutMs ?? timeoutSeconds * 1000 + 30_000;
    this.o.counters.watches++;
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
        cancelStall = this.o.clock.schedule(stallMs, () => {
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
          this.o.path,
          { ...this.o.query, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
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
            const key = objectKey(obj);
            if (key && (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED'))
              this.apply(type, key, obj);
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
