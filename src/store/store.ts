// One interface, two stores: the Kubernetes API (operator) and manifest files (local mode).
import type { TopologyEvent } from '../api/events.js';
import type { TopologyStatus } from '../api/status.js';

// The stores and their callers take these parts of the resource's contract from here.
export type { TopologyEvent };
export { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER } from '../api/annotations.js';

export interface TopologyRef {
  namespace: string;
  name: string;
}

export const refKey = (ref: TopologyRef): string => `${ref.namespace}/${ref.name}`;

/** A MySQLTopology as stored: the spec is raw (validated by the pass), status is the last written. */
export interface StoredTopology {
  ref: TopologyRef;
  /** The object's uid (Kubernetes), for owner references; unset in local mode. */
  uid?: string;
  generation: number;
  annotations: Record<string, string>;
  /** Raw spec, exactly as stored; the pass validates it. */
  spec: unknown;
  status?: TopologyStatus;
  /** Set when the resource is being deleted (Kubernetes); the pass then writes nothing. */
  deleting?: boolean;
  /**
   * The version of the stored object this copy was read at (Kubernetes resourceVersion; the local store
   * counts its own writes). A status write that opens or advances a failover passes it back, so that a
   * write decided on a stale copy fails with ConflictError instead of overwriting the journal.
   */
  resourceVersion?: string;
  /**
   * Parts of the stored status that did not parse and were left out of `status`, one line each. What
   * could be read (the failover journal above all) is kept in `status`.
   */
  statusProblems?: string[];
}

export interface StatusWriteOptions {
  /** Write only while the stored object is still at this version; otherwise throw ConflictError. */
  resourceVersion?: string;
}

/** A conditional write lost the race: someone else wrote since the copy it was decided on was read. */
export class ConflictError extends Error {
  constructor(what: string) {
    super(`${what}: the stored object changed since it was read (conflict); re-read and decide again`);
    this.name = 'ConflictError';
  }
}

export interface Store {
  list(): Promise<TopologyRef[]>;
  get(ref: TopologyRef): Promise<StoredTopology | undefined>;
  /** The Secret's data as UTF-8 strings, or undefined when it does not exist. */
  readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /**
   * Persists status; callers only call it when the status changed. Resolves to the stored object's new
   * version (when the store has versions). With options.resourceVersion the write is conditional.
   */
  writeStatus(
    ref: TopologyRef,
    status: TopologyStatus,
    observedGeneration: number,
    options?: StatusWriteOptions,
  ): Promise<{ resourceVersion?: string }>;
  emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void>;
  /**
   * Removes an annotation once acted on (switchover, ack-failover); resolves to the new version. With
   * options.resourceVersion the removal is conditional: ConflictError when the object changed since.
   */
  removeAnnotation(
    ref: TopologyRef,
    key: string,
    options?: { resourceVersion?: string },
  ): Promise<{ resourceVersion?: string }>;
}

/**
 * A store that owns a resource lifecycle (Kubernetes finalizers). The loop calls admit() before a pass
 * that may write: false means the topology is gone or being deleted (the store has released it) and no
 * pass runs.
 */
export interface LifecycleStore {
  admit(ref: TopologyRef): Promise<boolean>;
}
