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
  flavor?: Flavor;
  vars?: ServerVariables;
  channels: ChannelStatus[];
  /** Whether the replication account exists (checked on every member; created on primaries only). */
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
