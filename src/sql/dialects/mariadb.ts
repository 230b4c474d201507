// MariaDB 10.5+ named connections. Syntax checked on a 10.11.19 server (see the unit tests' header):
// the connection name goes right after the verb (`START REPLICA 'x' IO_THREAD`, `RESET REPLICA 'x' ALL`,
// `CHANGE MASTER 'x' TO`), and an explicit '' names the default connection even when the session's
// default_master_connection points elsewhere. A statement without a name acts on that session default —
// never emitted here.
import type { ChannelFilter } from '../../api/spec.js';
import type { ChannelStatus } from '../../api/status.js';
import type { ChannelSource, Dialect, ServerVariables, Statement, Threads } from '../dialect.js';
import {
  dec,
  empty,
  int as intLiteral,
  parens,
  ident,
  join,
  kw,
  lit,
  opt,
  sourceFragments,
  sql,
  validateChannelName,
  validateDatabaseName,
  validateGtidSet,
  type SqlFragment,
} from '../escape.js';
import {
  COL,
  bool,
  boolOrNull,
  commonChannelFields,
  gtidText,
  int,
  numOrNull,
  str,
  waitReached,
  type Row,
} from '../rows.js';
import { accountExistsColumn } from '../grants.js';

const connection = (channel: string): SqlFragment =>
  lit(validateChannelName(channel, { allowDefault: true }), 'channel name');

/** No thread option means both threads; the option follows the name (`STOP REPLICA 'x' IO_THREAD`). */
const THREADS: Record<Threads, SqlFragment> = {
  both: empty,
  receiver: join([empty, kw('IO_THREAD')], ' '),
  applier: join([empty, kw('SQL_THREAD')], ' '),
};

/** A filter value: MariaDB takes the databases as one comma-separated string. */
const dbCsv = (names: readonly string[]): SqlFragment =>
  lit(names.map(validateDatabaseName).join(','), 'database names');

export const mariadbDialect: Dialect = {
  flavor: 'mariadb',

  // One row per connection (62 columns), '' first. The plain SHOW REPLICA STATUS shows only one connection.
  showChannels: () => sql`SHOW ALL REPLICAS STATUS`,

  // SHOW ALL REPLICAS STATUS has every setting read (heartbeat included). performance_schema's
  // replication_connection_configuration would add nothing: it is empty while performance_schema is OFF.
  showChannelConfig: () => null,

  parseChannels(rows: Row[], vars?: Pick<ServerVariables, 'gtidSlavePos' | 'gtidExecuted'>): ChannelStatus[] {
    // Executed: the server's @@gtid_slave_pos, what every connection resumes from with MASTER_USE_GTID=slave_pos.
    // Not the row's Gtid_Slave_Pos column: despite its name it holds @@gtid_current_pos (local writes included,
    // facts §2), which would make a replica's own writes look as if they came over the channel.
    const executed = (vars?.gtidSlavePos ?? '').replace(/\s+/g, '');
    return rows.map((row) => {
      const usingGtid = str(row, COL.usingGtid) || 'No';
      return {
        ...commonChannelFields(row),
        // Gtid_IO_Pos is per connection but lists every domain, other domains frozen at connection start.
        retrievedGtidSet: gtidText(row, COL.gtidIoPos),
        executedGtidSet: executed,
        autoPosition: usingGtid !== 'No',
        gtidMode: usingGtid,
      };
    });
  },

  showVariables: (account) =>
    sql`SELECT VERSION() AS version, @@GLOBAL.server_id AS server_id, @@GLOBAL.read_only AS read_only, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos, @@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@GLOBAL.gtid_current_pos AS gtid_current_pos, @@GLOBAL.gtid_domain_id AS gtid_domain_id, @@GLOBAL.gtid_strict_mode AS gtid_strict_mode${account ? accountExistsColumn(account) : empty}`,

  parseVariables(row: Row): ServerVariables {
    return {
      version: str(row, ['version']),
      serverId: int(row, ['server_id']),
      serverUuid: null,
      readOnly: bool(row, ['read_only']),
      superReadOnly: null,
      logBin: bool(row, ['log_bin']),
      logReplicaUpdates: bool(row, ['log_replica_updates']),
      binlogFormat: str(row, ['binlog_format']),
      // "Executed" for comparing members: @@gtid_current_pos = per domain, this server's own newest write when
      // it is newer than gtid_slave_pos, else gtid_slave_pos. So it holds everything the server applied
      // (replicated, whether or not log_slave_updates wrote it to the binlog) plus its own writes — what
      // candidate choice and errant-transaction checks need. gtid_binlog_pos would miss replicated
      // transactions when log_slave_updates is OFF; such a member can apply but not serve them, which
      // logReplicaUpdates reports separately.
      gtidExecuted: gtidText(row, ['gtid_current_pos']),
      gtidPurged: null,
      gtidBinlogPos: gtidText(row, ['gtid_binlog_pos']),
      gtidSlavePos: gtidText(row, ['gtid_slave_pos']),
      gtidCurrentPos: gtidText(row, ['gtid_current_pos']),
      gtidDomainId: numOrNull(row, ['gtid_domain_id']),
      gtidStrictMode: boolOrNull(row, ['gtid_strict_mode']),
      // GTIDs are always on; there is no gtid_mode, no super_read_only and nothing persisted.
      gtidMode: null,
      enforceGtidConsistency: null,
      superReadOnlyPersisted: null,
    };
  },

  changeSource(channel: string, source: ChannelSource): Statement {
    // 10.11: MASTER_USER took 80 characters; MASTER_PASSWORD refuses more than 96 (1470, quoting it).
    const f = sourceFragments(source, { maxUser: 80, maxPassword: 96 });
    // Every option every time: a CHANGE MASTER without MASTER_HEARTBEAT_PERIOD resets the period to its
    // default (checked on 10.11). slave_pos, not current_pos: a local write in a source's domain would
    // break a current_pos channel (facts §4). retryCount has no per-connection option on MariaDB 10.11
    // (MASTER_RETRY_COUNT is a syntax error; the server-wide --master-retry-count is a startup option
    // only, default 100000), so it is not sent.
    const options = [
      opt('MASTER_HOST', f.host),
      opt('MASTER_PORT', f.port),
      opt('MASTER_USER', f.user),
      opt('MASTER_PASSWORD', f.password),
      opt('MASTER_USE_GTID', kw('slave_pos')),
      opt('MASTER_CONNECT_RETRY', f.connectRetry),
      opt('MASTER_HEARTBEAT_PERIOD', f.heartbeatPeriod),
      opt('MASTER_DELAY', f.delaySeconds),
      opt('MASTER_SSL', f.ssl),
      // With a CA, 10.11 verifies the chain even without MASTER_SSL_VERIFY_SERVER_CERT (checked: a foreign
      // CA is refused with 2026); without one, MASTER_SSL=1 does not insist on TLS: a source offering none
      // is reached in plaintext (checked on 10.11.19) — only the source's require_secure_transport stops that.
      opt('MASTER_SSL_CA', f.sslCa),
      opt('MASTER_SSL_CAPATH', lit('')),
      opt('MASTER_SSL_VERIFY_SERVER_CERT', f.sslVerifyServerCert),
      // Kept by the server across CHANGE MASTER unless given: always say it (only failover catch-up sets it).
      opt(
        'DO_DOMAIN_IDS',
        parens((source.doDomainIds ?? []).map((d) => intLiteral(d, 'GTID domain id', 0, 2 ** 32 - 1))),
      ),
    ];
    return sql`CHANGE MASTER ${connection(channel)} TO ${join(options)}`;
  },

  // A new password is a connection setting like the others: the same statements.
  setSourcePassword(channel: string, source: ChannelSource): Statement[] {
    return this.reconfigureConnection(channel, source);
  },

  // 10.11 refuses CHANGE MASTER with either thread running, for connection options too (1198, checked on
  // 10.11.19 with the receiver stopped and with the applier stopped), and one without
  // MASTER_HEARTBEAT_PERIOD resets the period: the whole connection stops and every option is restated.
  // slave_pos resumes from what was applied, so nothing is lost.
  reconfigureConnection(channel: string, source: ChannelSource): Statement[] {
    return [this.stop(channel), this.changeSource(channel, source), this.start(channel)];
  },

  // master-<name>.info (plaintext password) is a file: readable from SQL only with FILE, which the operator
  // does not get. Unknown, reported as such.
  channelCredentialDigests: () => null,

  start: (channel: string, threads: Threads = 'both') =>
    sql`START REPLICA ${connection(channel)}${THREADS[threads]}`,
  stop: (channel: string, threads: Threads = 'both') =>
    sql`STOP REPLICA ${connection(channel)}${THREADS[threads]}`,
  // `RESET REPLICA ALL` without a name removes only the session's default connection (''), but say so anyway.
  resetAll: (channel: string) => sql`RESET REPLICA ${connection(channel)} ALL`,

  setFilter(channel: string, filter: ChannelFilter): Statement[] {
    validateChannelName(channel, { allowDefault: true });
    const doDb = dbCsv(filter.doDatabases);
    const ignoreDb = dbCsv(filter.ignoreDatabases);
    // Per-connection filter variables: `<connection>.replicate_do_db`. Checked on 10.11: the channel must be
    // fully stopped (1198 otherwise); the value outlives RESET REPLICA … ALL (a recreated connection of the
    // same name inherits it) and is lost on restart (it is not in master-<name>.info) — which is why both
    // lists are always set, and why the observed Replicate_*_DB columns are compared every pass.
    if (channel !== '') {
      const c = ident(channel, 'channel name');
      return [sql`SET GLOBAL ${c}.replicate_do_db = ${doDb}, GLOBAL ${c}.replicate_ignore_db = ${ignoreDb}`];
    }
    // The default connection has no name to prefix, and an empty prefix means the *session's* default
    // connection: pin the session to '' within the same statement (assignments run left to right).
    return [
      sql`SET SESSION default_master_connection = '', GLOBAL replicate_do_db = ${doDb}, GLOBAL replicate_ignore_db = ${ignoreDb}`,
    ];
  },

  // 0: reached; -1: timed out. A negative timeout would wait forever: only positive ones are sent.
  waitForGtid(gtidSet: string, timeoutSeconds: number): Statement {
    const stmt = sql`SELECT MASTER_GTID_WAIT(${lit(validateGtidSet(gtidSet), 'GTID set')}, ${dec(timeoutSeconds, 'wait timeout', 0.001, 31_536_000)}) AS reached`;
    return { ...stmt, timeoutSeconds };
  },
  waitReached,

  // The position every connection resumes from with MASTER_USE_GTID=slave_pos. The server refuses the change
  // while any connection runs (the caller stops them); it writes no binlog event (no errant GTID).
  setReplicaPosition: (gtid: string) => [
    sql`SET GLOBAL gtid_slave_pos = ${lit(validateGtidSet(gtid), 'GTID position')}`,
  ],

  // MariaDB has no super_read_only; read_only does not stop accounts with READ ONLY ADMIN (facts §8).
  setReadOnly: (readOnly: boolean) => [
    readOnly ? sql`SET GLOBAL read_only = ON` : sql`SET GLOBAL read_only = OFF`,
  ],

  // No persisted variables (no SET PERSIST): only `read_only=ON` in the option file makes a restarted
  // server read-only.
  persistReadOnly: () => [],
};
