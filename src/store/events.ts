// core/v1 Events on MySQLTopologies, aggregated the way client-go's event correlator dedupes them: the
// same (object, type, reason, message) repeated is one Event whose count grows. Its count and
// lastTimestamp are written at most once a minute while it repeats (the first occurrence at once, later
// ones folded into a write a minute after the previous one), so a condition that repeats every pass costs
// one request a minute, not one a pass. After 10 minutes without a repeat the next one starts a new Event.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, KIND } from '../api/spec.js';
import type { Cancel, Clock } from '../util/clock.js';
import type { Log } from '../util/log-sink.js';
import { describeError, statusCodeOf } from './kube-errors.js';
import { refKey, type TopologyEvent, type TopologyRef } from './store.js';

export const EVENT_COMPONENT = 'tributary-operator';
/** Repeats of one event are written at most this often. */
export const EVENT_WRITE_INTERVAL_MS = 60_000;
/** A repeat after this long without one starts a new Event. */
export const EVENT_SERIES_GAP_MS = 10 * 60_000;
const EVENT_CACHE_LIMIT = 2000;

interface Series {
  ref: TopologyRef;
  name: string;
  /** Occurrences so far, and how many of them the stored Event counts. */
  count: number;
  written: number;
  lastSeen: number;
  lastWritten: number;
  flush?: Cancel;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  log: Log;
  /** reportingInstance of the events (the pod name). */
  instance: string;
  /** Deferred count updates are written only while this allows writes (leadership). */
  mayWrite: () => boolean;
}

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly series = new Map<string, Series>();
  private seq = 0;

  constructor(private readonly o: EventRecorderOptions) {
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Records one occurrence; `uid` is the topology's (events name their object by uid when known). */
  async emit(ref: TopologyRef, event: TopologyEvent, uid: string | undefined): Promise<void> {
    const message = event.message.length > 1024 ? `${event.message.slice(0, 1021)}...` : event.message;
    const key = `${refKey(ref)}\u0000${event.type}\u0000${event.reason}\u0000${message}`;
    const now = this.o.clock.now();
    const s = this.series.get(key);
    if (s && now - s.lastSeen < EVENT_SERIES_GAP_MS) {
      s.count++;
      s.lastSeen = now;
      if (now - s.lastWritten >= EVENT_WRITE_INTERVAL_MS) await this.write(s);
      else this.deferWrite(s);
      return;
    }
    if (s) this.drop(key, s);
    const name = `${ref.name}.${(now * 1000 + (this.seq++ % 1000)).toString(16)}`;
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
      reportingInstance: this.o.instance,
    };
    try {
      await this.core.createNamespacedEvent({ namespace: ref.namespace, body });
    } catch (e) {
      throw new Error(`creating event ${event.reason} on ${refKey(ref)}: ${describeError(e)}`);
    }
    this.series.set(key, { ref, name, count: 1, written: 1, lastSeen: now, lastWritten: now });
    if (this.series.size > EVENT_CACHE_LIMIT) {
      const [oldestKey, oldest] = this.series.entries().next().value!;
      this.drop(oldestKey, oldest);
    }
  }

  /** Cancels deferred writes (the process is stopping or has lost leadership). */
  close(): void {
    for (const s of this.series.values()) s.flush?.();
    this.series.clear();
  }

  private deferWrite(s: Series): void {
    if (s.flush) return;
    s.flush = this.o.clock.schedule(s.lastWritten + EVENT_WRITE_INTERVAL_MS - this.o.clock.now(), () => {
      s.flush = undefined;
      if (!this.o.mayWrite()) return;
      this.write(s).catch((e: unknown) =>
        this.o.log.warn({ topology: refKey(s.ref), err: (e as Error).message }, 'updating an event failed'),
      );
    });
  }

  private async write(s: Series): Promise<void> {
    s.flush?.();
    s.flush = undefined;
    if (s.count === s.written) return;
    const count = s.count;
    s.lastWritten = this.o.clock.now();
    try {
      await this.core.patchNamespacedEvent(
        {
          namespace: s.ref.namespace,
          name: s.name,
          body: { count, lastTimestamp: new Date(s.lastSeen).toISOString() },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      s.written = Math.max(s.written, count);
    } catch (e) {
      // Gone (expired, deleted): the next occurrence starts a new Event.
      if (statusCodeOf(e) === 404) s.lastSeen = -Infinity;
      else throw new Error(`updating event ${s.name}: ${describeError(e)}`);
    }
  }

  private drop(key: string, s: Series): void {
    s.flush?.();
    this.series.delete(key);
  }
}
