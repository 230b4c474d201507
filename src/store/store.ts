// One interface, two stores: the Kubernetes API (operator) and manifest files (local mode).
import type { TopologyStatus } from '../api/status.js';

export interface TopologyRef {
  namespace: string;
  name: string;
}

export const refKey = (ref: TopologyRef): string => `${ref.namespace}/${ref.name}`;

/** A MySQLTopology as stored: the spec is raw (validated by the pass), status is the last written. */
export interface StoredTopology {
  ref: TopologyRef;
  generation: number;
  annotations: Record<string, string>;
  /** Raw spec, exactly as stored; the pass validates it. */
  spec: unknown;
  status?: TopologyStatus;
  /** Set when the resource is being deleted (Kubernetes); the pass then writes nothing. */
  deleting?: boolean;
}

export interface TopologyEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Store {
  list(): Promise<TopologyRef[]>;
  get(ref: TopologyRef): Promise<StoredTopology | undefined>;
  /** The Secret's data as UTF-8 strings, or undefined when it does not exist. */
  readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Persists status; callers only call it when the status changed. */
  writeStatus(ref: TopologyRef, status: TopologyStatus, observedGeneration: number): Promise<void>;
  emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void>;
  /** Removes an annotation once acted on (switchover, ack-failover). */
  removeAnnotation(ref: TopologyRef, key: string): Promise<void>;
}

export const ANNOTATION_SWITCHOVER = 'tributary.dev/switchover';
export const ANNOTATION_ACK_FAILOVER = 'tributary.dev/ack-failover';
