// What one probe of one member saw. An unreachable member is an observation, not an exception.
import type { Address, Flavor } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';
import type { ServerVariables } from '../sql/dialect.js';

export interface InstanceObservation {
  member: string;
  group: string;
  /** The address replicas use (spec host/port). */
  address: Address;
  reachable: boolean;
  error?: string;
  errno?: number;
  /**
   * The server answered but could not be used: auth (login refused), privilege (the operator's account
   * lacks one), tls (no TLS where the spec requires it, or a certificate that does not verify). It is not
   * down: a refusal never counts toward a dead primary.
   */
  refused?: 'auth' | 'privilege' | 'tls';
  /** The operator's connection to it is encrypted. */
  tls?: boolean;
  flavor?: Flavor;
  vars?: ServerVariables;
  channels: ChannelStatus[];
  /**
   * Whether the replication account exists, matched by user and host (checked on every member; created on
   * primaries only).
   */
  replicationUserExists?: boolean;
  /** ISO time the probe finished. */
  observedAt: string;
  /** Milliseconds the probe took. */
  durationMs: number;
}

export interface Observation {
  instances: InstanceObservation[];
  observedAt: string;
}
