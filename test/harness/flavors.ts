// The server flavors every integration scenario runs on, and what a test needs to know about each: the
// raw SQL words a test uses to look at or break a server by hand (the code under test uses src/sql), and
// the behaviour that genuinely differs. One suite per file, parameterized:
//   describe.each(FLAVORS)('… on $label', (f) => { const sb = useSandbox({ flavor: f.flavor, … }); … });
// TRIBUTARY_TEST_FLAVORS=mariadb, mariadb11 or mysql (or a comma-separated list of them) narrows a local run;
// the default is all three servers: MariaDB 10.11, MariaDB 11.8 and MySQL 9.7.
import type { SandboxFamily, SandboxFlavor, SandboxServer } from '../../src/sandbox/index.js';
import { REPL_PASSWORD, REPL_USER, SANDBOX_FLAVORS } from '../../src/sandbox/index.js';

export interface FlavorFacts {
  /** The server the sandbox runs (useSandbox({ flavor: f.flavor })). */
  flavor: SandboxFlavor;
  /**
   * The SQL it speaks, as the operator names it (spec.flavor, status, src/sql's dialectFor and gtidOps):
   * mariadb for both MariaDB versions.
   */
  family: SandboxFamily;
  /** For test names: `MariaDB 10.11` / `MariaDB 11.8` / `MySQL 9.7`. */
  label: string;
  /** The server program, as the sandbox's messages name it. */
  program: 'mariadbd' | 'mysqld';
  /** VERSION() of the servers the tests run. */
  version: RegExp;

  // ---- raw SQL for looking at and breaking servers by hand --------------------------------------------
  /** Every channel, one row each. */
  showAll: string;
  /** One channel's status row. */
  showChannel(name: string): string;
  stopChannel(name: string): string;
  startChannel(name: string): string;
  resetChannel(name: string): string;
  /** CHANGE … TO for a hand-made channel (not through the code under test). */
  changeSource(
    name: string,
    o: { port: number; user?: string; password?: string; connectRetry?: number },
  ): string;
  /** Repoints a stopped channel's port only. */
  repoint(name: string, port: number): string;
  /** Status columns by meaning. */
  col: {
    name: string;
    io: string;
    sql: string;
    port: string;
    host: string;
    user: string;
    connectRetry: string;
    sslAllowed: string;
    sslVerify: string;
  };
  /** The server's own executed GTIDs (what a replica waits for). */
  executedQuery: string;
  /** SELECT returning 0 once `gtid` is applied, within `seconds`. */
  waitQuery(gtid: string, seconds: number): string;
  /** Turns read_only off by hand (drift), as a careless administrator would. */
  clearReadOnly: string;

  // ---- behaviour that differs (the tests state it, they do not skip) -----------------------------------
  /** The server refuses a second channel from a source another channel already uses (MariaDB 1934). */
  refusesDuplicateSource: boolean;
  /** read_only stops the admin account too (MySQL super_read_only; MariaDB's ALL includes READ ONLY ADMIN). */
  readOnlyStopsAdmin: boolean;
  /** GTID domains per source (MariaDB); MySQL tells sources apart by server_uuid. */
  gtidDomains: boolean;
  /** errno of a plaintext login that require_secure_transport=ON refuses (MariaDB 10.11: access denied). */
  plaintextRefusedErrno: number;
  /** Server defaults that differ between the versions (docs/mysql.md §8; server-defaults.test.ts). */
  defaults: ServerDefaults;
}

export interface ServerDefaults {
  /** Offers TLS with no certificate configured: a self-signed one made at start (MariaDB 11.4+, MySQL). */
  tlsWithoutCertificates: boolean;
  /** A channel made with no TLS option connects over TLS ... */
  channelTls: boolean;
  /** ... and verifies the source's certificate (MariaDB 11.4+: MASTER_SSL_VERIFY_SERVER_CERT=1). */
  channelVerifiesServerCert: boolean;
  characterSetServer: string;
  collationServer: string;
  /** innodb_snapshot_isolation (11.6+ ON: a repeatable-read write conflict fails with 1020); null: none. */
  snapshotIsolation: boolean | null;
  /** Columns of the statement that lists every channel (showAll), one row per channel. */
  showAllColumns: number;
}

const MARIADB: FlavorFacts = {
  flavor: 'mariadb',
  family: 'mariadb',
  label: 'MariaDB 10.11',
  program: 'mariadbd',
  version: /^10\.11\.\d+-MariaDB/,
  showAll: 'SHOW ALL REPLICAS STATUS',
  showChannel: (n) => `SHOW REPLICA '${n}' STATUS`,
  stopChannel: (n) => `STOP REPLICA '${n}'`,
  startChannel: (n) => `START REPLICA '${n}'`,
  resetChannel: (n) => `RESET REPLICA '${n}' ALL`,
  changeSource: (n, o) =>
    `CHANGE MASTER '${n}' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${o.port}, MASTER_USER='${o.user ?? REPL_USER}', MASTER_PASSWORD='${o.password ?? REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=${o.connectRetry ?? 1}`,
  repoint: (n, port) => `CHANGE MASTER '${n}' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}`,
  col: {
    name: 'Connection_name',
    io: 'Slave_IO_Running',
    sql: 'Slave_SQL_Running',
    port: 'Master_Port',
    host: 'Master_Host',
    user: 'Master_User',
    connectRetry: 'Connect_Retry',
    sslAllowed: 'Master_SSL_Allowed',
    sslVerify: 'Master_SSL_Verify_Server_Cert',
  },
  executedQuery: 'SELECT @@gtid_binlog_pos',
  waitQuery: (gtid, s) => `SELECT MASTER_GTID_WAIT('${gtid}', ${s})`,
  clearReadOnly: 'SET GLOBAL read_only = 0',
  refusesDuplicateSource: true,
  readOnlyStopsAdmin: false,
  gtidDomains: true,
  plaintextRefusedErrno: 1045,
  defaults: {
    tlsWithoutCertificates: false,
    channelTls: false,
    channelVerifiesServerCert: false,
    characterSetServer: 'latin1',
    collationServer: 'latin1_swedish_ci',
    snapshotIsolation: false,
    showAllColumns: 62,
  },
};

/**
 * MariaDB 11.8 (the current LTS, Debian 13's): the same SQL, status columns and behaviour as 10.11 for
 * everything a test does by hand; what differs (TLS defaults, new status columns, other defaults) is in
 * docs/mysql.md's table.
 */
const MARIADB_11_8: FlavorFacts = {
  ...MARIADB,
  flavor: 'mariadb11',
  label: 'MariaDB 11.8',
  version: /^11\.8\.\d+-MariaDB/,
  plaintextRefusedErrno: 3159,
  defaults: {
    tlsWithoutCertificates: true,
    channelTls: true,
    channelVerifiesServerCert: true,
    characterSetServer: 'utf8mb4',
    collationServer: 'utf8mb4_uca1400_ai_ci',
    snapshotIsolation: true,
    // + Master_last_event_time, Slave_last_event_time, Master_Slave_time_diff
    showAllColumns: 65,
  },
};

const MYSQL: FlavorFacts = {
  flavor: 'mysql',
  family: 'mysql',
  label: 'MySQL 9.7',
  program: 'mysqld',
  version: /^9\.7\.\d+/,
  showAll: 'SHOW REPLICA STATUS',
  showChannel: (n) => `SHOW REPLICA STATUS FOR CHANNEL '${n}'`,
  stopChannel: (n) => `STOP REPLICA FOR CHANNEL '${n}'`,
  startChannel: (n) => `START REPLICA FOR CHANNEL '${n}'`,
  resetChannel: (n) => `RESET REPLICA ALL FOR CHANNEL '${n}'`,
  changeSource: (n, o) =>
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${o.port}, SOURCE_USER='${o.user ?? REPL_USER}', SOURCE_PASSWORD='${o.password ?? REPL_PASSWORD}', SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=${o.connectRetry ?? 1}, GET_SOURCE_PUBLIC_KEY=1 FOR CHANNEL '${n}'`,
  repoint: (n, port) =>
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${port} FOR CHANNEL '${n}'`,
  col: {
    name: 'Channel_Name',
    io: 'Replica_IO_Running',
    sql: 'Replica_SQL_Running',
    port: 'Source_Port',
    host: 'Source_Host',
    user: 'Source_User',
    connectRetry: 'Connect_Retry',
    sslAllowed: 'Source_SSL_Allowed',
    sslVerify: 'Source_SSL_Verify_Server_Cert',
  },
  executedQuery: 'SELECT @@gtid_executed',
  waitQuery: (gtid, s) => `SELECT WAIT_FOR_EXECUTED_GTID_SET('${gtid}', ${s})`,
  clearReadOnly: 'SET GLOBAL super_read_only = 0, GLOBAL read_only = 0',
  refusesDuplicateSource: false,
  readOnlyStopsAdmin: true,
  gtidDomains: false,
  plaintextRefusedErrno: 3159,
  defaults: {
    tlsWithoutCertificates: true,
    channelTls: true,
    channelVerifiesServerCert: false,
    characterSetServer: 'utf8mb4',
    collationServer: 'utf8mb4_0900_ai_ci',
    snapshotIsolation: null,
    showAllColumns: 60,
  },
};

const ALL: Record<SandboxFlavor, FlavorFacts> = { mariadb: MARIADB, mariadb11: MARIADB_11_8, mysql: MYSQL };

function chosen(): SandboxFlavor[] {
  const raw = process.env.TRIBUTARY_TEST_FLAVORS?.trim();
  if (!raw) return [...SANDBOX_FLAVORS];
  const list = raw.split(',').map((s) => s.trim());
  for (const f of list)
    if (!(f in ALL)) throw new Error(`TRIBUTARY_TEST_FLAVORS: unknown flavor ${JSON.stringify(f)}`);
  return list as SandboxFlavor[];
}

/** The flavors this run covers (all three unless TRIBUTARY_TEST_FLAVORS narrows it). */
export const FLAVORS: FlavorFacts[] = chosen().map((f) => ALL[f]);

export const facts = (flavor: SandboxFlavor): FlavorFacts => ALL[flavor];

/** A server's executed GTIDs, newlines removed (MySQL breaks long sets after commas). */
export async function executed(f: FlavorFacts, server: SandboxServer): Promise<string> {
  return String(await server.scalar(f.executedQuery)).replace(/\s+/g, '');
}

/** The state of one channel as a test reads it by hand: `Yes/Yes/<port>`, or undefined when absent. */
export async function channelRow(
  f: FlavorFacts,
  server: SandboxServer,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  return (await server.sql(f.showChannel(name)).catch(() => []))[0];
}

/** Channel names on a server, in the server's order. */
export async function channelNames(f: FlavorFacts, server: SandboxServer): Promise<string[]> {
  return (await server.sql(f.showAll)).map((r) => String(r[f.col.name]));
}
