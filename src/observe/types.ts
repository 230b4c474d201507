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
  /**
   * Whether the replication account accepts the replication Secret's password, tried by logging in as it
   * (observe/credentials-check.ts): true, false (access denied, and known to hold another password),
   * null (could not tell, or access denied that a host mismatch could explain as well). Absent: not tried
   * (only while the credentials record of status leaves this member's account open).
   */
  replicationLogin?: boolean | null;
  /**
   * Per channel name: whether the user and password the channel stores equal the replication Secret's
   * (MySQL's connection metadata repository: a salted digest of the stored password is read back and
   * compared, no password is sent in the statement);
   * null where the server does not let the operator read it (MariaDB keeps it in a file). Absent: not read.
   */
  channelCredentials?: Record<string, boolean | null>;
  /** ISO time the probe finished. */
  observedAt: string;
  /** Milliseconds the probe took. */
  durationMs: number;
}

export interface Observation {
  instances: InstanceObservation[];
  observedAt: string;
}
