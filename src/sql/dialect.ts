// One interface for every flavor's replication SQL. Every statement names its channel, '' included.
import type { ChannelFilter, Flavor } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';

/** A statement ready to send, and the form safe to print (password shown as `<redacted>`). */
export interface Statement {
  sql: string;
  display: string;
  /**
   * Set when the statement bounds its own run time on the server (GTID waits): the client then waits
   * that long plus a margin instead of its default query timeout.
   */
  timeoutSeconds?: number;
}

/** Where a channel receives from and how. Always GTID auto-positioned. */
export interface ChannelSource {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Seconds between reconnect attempts (fast failure detection: 1). */
  connectRetry: number;
  /** Reconnect attempts before the receiver gives up. */
  retryCount: number;
  /** Heartbeat period in seconds (≤ 2 for fast detection). */
  heartbeatPeriod: number;
  delaySeconds: number;
  /** Absent: no TLS (NO_CHANNEL_TLS). */
  tls?: ChannelTls;
  /**
   * MariaDB only (DO_DOMAIN_IDS): receive just these GTID domains. Failover uses it to take a dead
   * group's transactions from a downstream survivor without leaking its other sources' data.
   */
  doDomainIds?: number[];
}

/** TLS of a channel: every option is sent every time, so a value set by hand never lingers. */
export interface ChannelTls {
  /** SOURCE_SSL / MASTER_SSL. */
  enabled: boolean;
  /** SOURCE_SSL_CA / MASTER_SSL_CA: a CA file on the replica; '' for none (MySQL then does not verify). */
  caFile: string;
  /** SOURCE_SSL_VERIFY_SERVER_CERT / MASTER_SSL_VERIFY_SERVER_CERT: the certificate must name the host. */
  verifyServerCert: boolean;
}

/** A channel without TLS (spec.tls absent or mode disabled). */
export const NO_CHANNEL_TLS: ChannelTls = { enabled: false, caFile: '', verifyServerCert: false };

export type Threads = 'both' | 'receiver' | 'applier';

/** Server-level facts one query returns; the probe turns the row into observation fields. */
export interface ServerVariables {
  version: string;
  serverId: number;
  serverUuid: string | null;
  readOnly: boolean;
  superReadOnly: boolean | null;
  logBin: boolean;
  logReplicaUpdates: boolean;
  binlogFormat: string;
  /** MySQL @@gtid_executed, MariaDB @@gtid_binlog_pos ∪ slave pos = @@gtid_current_pos */
  gtidExecuted: string;
  gtidPurged: string | null;
  gtidBinlogPos: string | null;
  gtidSlavePos: string | null;
  gtidCurrentPos: string | null;
  gtidDomainId: number | null;
  gtidStrictMode: boolean | null;
  /** MySQL @@gtid_mode: 'ON', 'ON_PERMISSIVE', 'OFF_PERMISSIVE' or 'OFF'; null on MariaDB (always on). */
  gtidMode: string | null;
  /** MySQL @@enforce_gtid_consistency = ON ('WARN' counts as off); null on MariaDB. */
  enforceGtidConsistency: boolean | null;
  /**
   * MySQL 8.0+: super_read_only=ON is persisted (performance_schema.persisted_variables, filled whether or
   * not performance_schema is ON), so a restart, clean or kill -9, comes back read-only. A setting in the
   * option file is not visible here once the variable was changed at run time. Null on MariaDB and 5.7,
   * which persist nothing.
   */
  superReadOnlyPersisted: boolean | null;
}

export interface Dialect {
  readonly flavor: Flavor;
  /** Reads every channel of the server in one statement. */
  showChannels(): Statement;
  /**
   * Per-channel settings the status statement lacks (MySQL: the heartbeat period, from
   * performance_schema.replication_connection_configuration, filled also with performance_schema OFF);
   * null when showChannels() has everything (MariaDB). A failure here only leaves those fields null.
   */
  showChannelConfig(): Statement | null;
  /**
   * Rows of showChannels() → normalized statuses; `vars` fills what rows lack (MariaDB executed pos),
   * `config` the rows of showChannelConfig() (absent: those fields are null).
   */
  parseChannels(
    rows: Record<string, unknown>[],
    vars?: Pick<ServerVariables, 'gtidSlavePos' | 'gtidExecuted'>,
    config?: Record<string, unknown>[],
  ): ChannelStatus[];
  /**
   * One query returning the server-level facts; parseVariables reads its first row. With `account`, the
   * row also says whether that replication account exists (column `replication_account`, read by
   * replicationAccountExists): one round trip fewer per probe than asking apart.
   */
  showVariables(account?: { user: string; host: string }): Statement;
  parseVariables(row: Record<string, unknown>): ServerVariables;
  /** Creates or repoints a channel (must be stopped). */
  changeSource(channel: string, source: ChannelSource): Statement;
  /**
   * Gives a running channel a new source password with as little stopped as the server allows: MySQL
   * stops only the receiver (the applier keeps applying its relay log); MariaDB refuses CHANGE MASTER
   * while the applier runs (1198, checked on 10.11), so the whole connection stops for the change.
   */
  setSourcePassword(channel: string, source: ChannelSource): Statement[];
  /**
   * Gives an existing channel new connection settings (user, password, connect retry, retry count,
   * heartbeat, TLS) with as little stopped as the server allows; where, from which position and what it
   * applies stay as they are. MySQL: the receiver alone (CHANGE … with the applier running accepts every
   * connection option, not SOURCE_DELAY (3085) nor SOURCE_AUTO_POSITION (3081), checked on 9.7.4);
   * MariaDB 10.11 refuses CHANGE MASTER unless both threads are stopped (1198, checked): the whole channel.
   */
  reconfigureConnection(channel: string, source: ChannelSource): Statement[];
  /**
   * One query returning, per channel, the user it stores and a digest of the password it stores: rows
   * `name`, `user`, `digest` = hex SHA-256 of the UTF-8 of the nonce (its hex digits) and the password
   * (null without a stored password). The Secret's password is never sent: the caller computes the same
   * digest and compares. `nonce`: 32 hex digits, fresh for every query. Null where the server keeps the
   * password out of SQL's reach (MariaDB: master-<name>.info files).
   */
  channelCredentialDigests(nonce: string): Statement | null;
  start(channel: string, threads?: Threads): Statement;
  stop(channel: string, threads?: Threads): Statement;
  /** Forgets the channel entirely (RESET … ALL of that channel only). */
  resetAll(channel: string): Statement;
  /** Statements that set the channel's database filter (channel stopped); throws FilterUnsupported where impossible. */
  setFilter(channel: string, filter: ChannelFilter): Statement[];
  /** A query returning one row, one column: 0 when the GTID set is applied, -1/1 on timeout (see waitResult). */
  waitForGtid(gtidSet: string, timeoutSeconds: number): Statement;
  /** Reads the value returned by waitForGtid: true when reached. */
  waitReached(value: unknown): boolean;
  setReadOnly(readOnly: boolean): Statement[];
  /**
   * Statements that make the server start read-only after any restart, leaving the running value alone
   * (MySQL 8.0.11+: SET PERSIST_ONLY super_read_only = ON); [] where nothing can be persisted (MariaDB,
   * MySQL 5.7: only the option file can).
   */
  persistReadOnly(): Statement[];
  /**
   * Statements that make the replica resume from exactly `gtid` (MariaDB: SET GLOBAL gtid_slave_pos, all
   * channels stopped); [] where GTID auto-position needs nothing (MySQL resumes from gtid_executed).
   */
  setReplicaPosition(gtid: string): Statement[];
}
