// MySQL replication channels, both word sets: `mysql` (8.0.23+: SOURCE/REPLICA) and `mysql-legacy`
// (5.7 – 8.0.22: MASTER/SLAVE). The statements are the same shapes; a word table tells them apart.
// Every channel statement ends in FOR CHANNEL '<name>', the default channel '' included: without it
// START/STOP act on every channel and RESET … ALL deletes them all (facts/mysql.md).
import type { ChannelFilter, Flavor } from '../../api/spec.js';
import type { ChannelStatus } from '../../api/status.js';
import type { ChannelSource, Dialect, ServerVariables, Statement, Threads } from '../dialect.js';
import { FilterUnsupportedError } from '../errors.js';
import {
  empty,
  ident,
  int,
  join,
  kw,
  lit,
  opt,
  passwordFragment,
  sourceFragments,
  sql,
  type SourceFragments,
  validateChannelName,
  validateDatabaseName,
  validateGtidSet,
  type SqlFragment,
} from '../escape.js';
import type { ServerVersion } from '../flavor.js';
import { accountExistsColumn } from '../grants.js';
import {
  COL,
  bool,
  boolOrNull,
  commonChannelFields,
  exactlyOn,
  gtidText,
  int as intCol,
  numOrNull,
  pick,
  str,
  strOrNull,
  waitReached,
  type Row,
} from '../rows.js';

type MysqlFlavor = Extract<Flavor, 'mysql' | 'mysql-legacy'>;

interface Words {
  /** START/STOP/RESET <replica>, SHOW <replica> STATUS. */
  replica: 'REPLICA' | 'SLAVE';
  change: 'CHANGE REPLICATION SOURCE TO' | 'CHANGE MASTER TO';
  /** Prefix of every CHANGE option: SOURCE_HOST / MASTER_HOST, SOURCE_DELAY / MASTER_DELAY… */
  option: 'SOURCE' | 'MASTER';
  logReplicaUpdates: 'log_replica_updates' | 'log_slave_updates';
  /** caching_sha2_password (8.0.4+) over a non-TLS link needs the source's RSA key: ask for it. */
  publicKey: boolean;
  /** CHANGE REPLICATION FILTER … FOR CHANNEL exists from 8.0.2; 5.7 only has server-wide filters. */
  channelFilters: boolean;
  /** SET PERSIST_ONLY and performance_schema.persisted_variables: 8.0.11+ (5.7 persists nothing). */
  persist: boolean;
}

const before = (
  v: ServerVersion | undefined,
  major: number,
  minor: number,
  patch: number,
  unknown: boolean,
): boolean =>
  v === undefined
    ? unknown
    : v.major !== major
      ? v.major < major
      : v.minor !== minor
        ? v.minor < minor
        : v.patch < patch;

function wordsFor(flavor: MysqlFlavor, v: ServerVersion | undefined): Words {
  if (flavor === 'mysql') {
    return {
      replica: 'REPLICA',
      change: 'CHANGE REPLICATION SOURCE TO',
      option: 'SOURCE',
      // Renamed in 8.0.26; without a version assume the current name (8.0.26 – 9.x).
      logReplicaUpdates: before(v, 8, 0, 26, false) ? 'log_slave_updates' : 'log_replica_updates',
      publicKey: true,
      channelFilters: true,
      persist: true,
    };
  }
  // Without a version, legacy means 5.7: no caching_sha2_password, no per-channel filters.
  return {
    replica: 'SLAVE',
    change: 'CHANGE MASTER TO',
    option: 'MASTER',
    logReplicaUpdates: 'log_slave_updates',
    publicKey: !before(v, 8, 0, 4, true),
    channelFilters: !before(v, 8, 0, 2, true),
    persist: !before(v, 8, 0, 11, true),
  };
}

const ONE = int(1, 'flag', 1, 1);
const ZERO = int(0, 'flag', 0, 0);
const EMPTY = lit('');
/** MySQL 5.7.8+ user names and replication passwords: at most 32 characters each. */
const LIMITS = { maxUser: 32, maxPassword: 32 } as const;

/** A nonce for channelCredentialDigests: 32 hex digits (16 random bytes). */
function validateNonce(nonce: string): string {
  if (typeof nonce !== 'string' || !/^[0-9a-f]{32}$/.test(nonce))
    throw new Error('internal: a credentials nonce must be 32 lowercase hex digits');
  return nonce;
}

const forChannel = (channel: string): SqlFragment =>
  lit(validateChannelName(channel, { allowDefault: true }), 'channel name');

/** No thread option means both threads. The thread words are the same in every version. */
const THREAD_WORDS: Record<Threads, string> = { both: '', receiver: ' IO_THREAD', applier: ' SQL_THREAD' };

/** Database names as identifiers in ( ) — an empty list clears that filter. */
const dbList = (names: readonly string[]): SqlFragment =>
  join(names.map((n) => ident(validateDatabaseName(n), 'database name')));

/** Dialects are stateless; one per word set is built on demand (cheap) so versions can refine words. */
export function mysqlDialect(flavor: MysqlFlavor, version?: ServerVersion): Dialect {
  const w = wordsFor(flavor, version);
  const p = (name: string): string => `${w.option}_${name}`;
  /**
   * The connection options of a channel, everything but where it is (host, port) and how it applies
   * (auto-position, delay): what a CHANGE may restate while the applier runs.
   */
  const connectionOptions = (f: SourceFragments, source: ChannelSource): SqlFragment[] => [
    opt(p('USER'), f.user),
    opt(p('PASSWORD'), f.password),
    opt(p('CONNECT_RETRY'), f.connectRetry),
    opt(p('RETRY_COUNT'), f.retryCount),
    opt(p('HEARTBEAT_PERIOD'), f.heartbeatPeriod),
    opt(p('SSL'), f.ssl),
    // A CA makes MySQL verify the source's certificate (VERIFY_CA); '' clears one set before.
    opt(p('SSL_CA'), f.sslCa),
    opt(p('SSL_CAPATH'), EMPTY),
    opt(p('SSL_VERIFY_SERVER_CERT'), f.sslVerifyServerCert),
    // The source's RSA key is only needed to send a caching_sha2_password over plaintext, where a man in
    // the middle could send his own: never asked for over TLS.
    ...(w.publicKey ? [opt(`GET_${w.option}_PUBLIC_KEY`, source.tls?.enabled ? ZERO : ONE)] : []),
  ];

  return {
    flavor,

    // Without FOR CHANNEL: one row per channel, name in Channel_Name ('' for the default).
    showChannels: () => sql`SHOW ${kw(w.replica)} STATUS`,

    // SHOW REPLICA STATUS has no heartbeat period (8.0.23+ dropped it; 5.7 never had it): the
    // configuration table has it, filled from the channel repository even with performance_schema OFF
    // (checked on 9.7.4).
    showChannelConfig: () =>
      sql`SELECT CHANNEL_NAME, HEARTBEAT_INTERVAL FROM performance_schema.replication_connection_configuration`,

    parseChannels(rows: Row[], _vars?: unknown, config?: Row[]): ChannelStatus[] {
      const heartbeat = new Map(
        (config ?? []).map((c) => [str(c, ['CHANNEL_NAME']), numOrNull(c, ['HEARTBEAT_INTERVAL'])]),
      );
      return rows.map((row) => {
        const common = commonChannelFields(row);
        const autoPosition = bool(row, COL.autoPosition);
        return {
          ...common,
          heartbeatPeriod: heartbeat.get(common.name) ?? null,
          retrievedGtidSet: gtidText(row, COL.retrievedGtidSet),
          // The server's whole gtid_executed, the same on every row: what a channel resumes from.
          executedGtidSet: gtidText(row, COL.executedGtidSet),
          autoPosition,
          gtidMode: autoPosition ? 'Auto' : 'No',
        };
      });
    },

    // One round trip. persisted_variables answers with performance_schema OFF too (checked on 9.7.4): the
    // server fills it from mysqld-auto.cnf, not from instrumentation.
    showVariables: (account) => {
      const persisted = w.persist
        ? sql`(SELECT VARIABLE_VALUE FROM performance_schema.persisted_variables WHERE VARIABLE_NAME = 'super_read_only')`
        : sql`NULL`;
      return sql`SELECT VERSION() AS version, @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, ${persisted} AS super_read_only_persisted, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.${kw(w.logReplicaUpdates)} AS log_replica_updates, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.enforce_gtid_consistency AS enforce_gtid_consistency, @@GLOBAL.gtid_executed AS gtid_executed, @@GLOBAL.gtid_purged AS gtid_purged${account ? accountExistsColumn(account) : empty}`;
    },

    parseVariables(row: Row): ServerVariables {
      const persisted = pick(row, ['super_read_only_persisted']);
      return {
        version: str(row, ['version']),
        serverId: intCol(row, ['server_id']),
        serverUuid: strOrNull(row, ['server_uuid']),
        readOnly: bool(row, ['read_only']),
        superReadOnly: boolOrNull(row, ['super_read_only']) ?? false,
        logBin: bool(row, ['log_bin']),
        logReplicaUpdates: bool(row, ['log_replica_updates']),
        binlogFormat: str(row, ['binlog_format']),
        gtidExecuted: gtidText(row, ['gtid_executed']),
        gtidPurged: gtidText(row, ['gtid_purged']),
        gtidBinlogPos: null,
        gtidSlavePos: null,
        gtidCurrentPos: null,
        gtidDomainId: null,
        gtidStrictMode: null,
        gtidMode: str(row, ['gtid_mode']).toUpperCase() || null,
        // ON | WARN | OFF (older servers: 1/0). WARN only logs: not enforced.
        enforceGtidConsistency: exactlyOn(pick(row, ['enforce_gtid_consistency'])),
        // Absent from the table: nothing persisted, so the option file decides (not visible from SQL).
        superReadOnlyPersisted: w.persist ? exactlyOn(persisted) === true : null,
      };
    },

    changeSource(channel: string, source: ChannelSource): Statement {
      const f = sourceFragments(source, LIMITS);
      const options = [
        opt(p('HOST'), f.host),
        opt(p('PORT'), f.port),
        ...connectionOptions(f, source),
        opt(p('AUTO_POSITION'), ONE),
        opt(p('DELAY'), f.delaySeconds),
      ];
      return sql`${kw(w.change)} ${join(options)} FOR CHANNEL ${forChannel(channel)}`;
    },

    // Only the receiver stops: checked on 9.7.4, the password of a channel whose applier runs can change
    // (MySQL 5.7.4+ allows connection options with the receiver stopped); nothing is lost, the receiver
    // resumes by GTID auto-position.
    setSourcePassword(channel: string, source: ChannelSource): Statement[] {
      const password = passwordFragment(source.password, LIMITS);
      return [
        this.stop(channel, 'receiver'),
        sql`${kw(w.change)} ${kw(p('PASSWORD'))} = ${password} FOR CHANNEL ${forChannel(channel)}`,
        this.start(channel, 'receiver'),
      ];
    },

    // Connection options only: with the applier running the server refuses SOURCE_DELAY (3085) and
    // SOURCE_AUTO_POSITION (3081) and accepts these (checked on 9.7.4); host and port are not restated.
    reconfigureConnection(channel: string, source: ChannelSource): Statement[] {
      const options = connectionOptions(sourceFragments(source, LIMITS), source);
      return [
        this.stop(channel, 'receiver'),
        sql`${kw(w.change)} ${join(options)} FOR CHANNEL ${forChannel(channel)}`,
        this.start(channel, 'receiver'),
      ];
    },

    // The connection metadata repository (a table since 8.0; empty on a 5.7 with FILE repositories, so
    // those channels read as unknown). Filled with performance_schema OFF too (checked on 9.7.4). Needs
    // SELECT on it (docs/security.md: optional). Only a salted digest of the stored password leaves the
    // server, and the statement holds no password: MySQL keeps statement texts in performance_schema, the
    // general and slow logs and SHOW PROCESSLIST. All text in utf8mb4 (CONCAT of binary and utf8mb4 is
    // refused, 3854): the nonce's hex digits, then User_password (utf8mb3; checked on 9.7.4: a character
    // outside the BMP is stored as '?') whose utf8mb4 bytes are the password's UTF-8.
    channelCredentialDigests: (nonce: string) =>
      sql`SELECT Channel_name AS name, User_name AS user, SHA2(CONCAT(${lit(validateNonce(nonce), 'nonce')}, CONVERT(User_password USING utf8mb4)), 256) AS digest FROM mysql.slave_master_info`,

    start: (channel: string, threads: Threads = 'both') =>
      sql`START ${kw(w.replica + THREAD_WORDS[threads])} FOR CHANNEL ${forChannel(channel)}`,
    stop: (channel: string, threads: Threads = 'both') =>
      sql`STOP ${kw(w.replica + THREAD_WORDS[threads])} FOR CHANNEL ${forChannel(channel)}`,
    resetAll: (channel: string) => sql`RESET ${kw(w.replica)} ALL FOR CHANNEL ${forChannel(channel)}`,

    setFilter(channel: string, filter: ChannelFilter): Statement[] {
      const name = forChannel(channel);
      if (!w.channelFilters) {
        throw new FilterUnsupportedError(
          flavor,
          channel,
          'MySQL 5.7 has no per-channel replication filters (CHANGE REPLICATION FILTER … FOR CHANNEL needs 8.0.2+)',
        );
      }
      // Both lists every time: `()` clears a list, so the result never depends on what was set before.
      // Not persisted by the server: after a restart the channel has no filter until this runs again.
      return [
        sql`CHANGE REPLICATION FILTER REPLICATE_DO_DB = (${dbList(filter.doDatabases)}), REPLICATE_IGNORE_DB = (${dbList(filter.ignoreDatabases)}) FOR CHANNEL ${name}`,
      ];
    },

    // 0: reached; 1: timed out. A timeout of 0 would mean "wait forever" on MySQL: it is never sent.
    waitForGtid(gtidSet: string, timeoutSeconds: number): Statement {
      const seconds = Math.ceil(timeoutSeconds);
      const stmt = sql`SELECT WAIT_FOR_EXECUTED_GTID_SET(${lit(validateGtidSet(gtidSet), 'GTID set')}, ${int(seconds, 'wait timeout', 1, 31_536_000)}) AS reached`;
      return { ...stmt, timeoutSeconds: seconds };
    },
    waitReached,

    // Auto-position resumes from gtid_executed, which already holds everything the server applied or wrote.
    setReplicaPosition: () => [],

    // super_read_only=ON sets read_only=ON itself; the way back needs both, super first. Only the running
    // value: a persisted super_read_only=ON (persistReadOnly) still applies at the next start.
    setReadOnly: (readOnly: boolean) =>
      readOnly
        ? [sql`SET GLOBAL super_read_only = ON`]
        : [sql`SET GLOBAL super_read_only = OFF`, sql`SET GLOBAL read_only = OFF`],

    // mysqld-auto.cnf, read at every start after the option files: the server comes back read-only after a
    // clean restart and after kill -9 (checked on 9.7.4), whatever the running value was.
    persistReadOnly: () => (w.persist ? [sql`SET PERSIST_ONLY super_read_only = ON`] : []),
  };
}
