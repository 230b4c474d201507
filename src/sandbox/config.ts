// The per-instance option file, for each flavor: small memory, binlog + GTIDs on, loopback only, and
// read-only from the first start (the operator makes the chosen primary writable at run time, so a server
// that restarts never comes back writable). MariaDB: facts/mariadb-10.11.md §1 (11.8 takes the same file,
// with its root folder's own files; docs/mysql.md §8); MySQL: facts/mysql-9.7.md.
import { join } from 'node:path';
import { operatorGrants, replicationGrants } from '../sql/grants.js';

export type CnfValue = string | number | boolean | null;

/**
 * The servers a sandbox can run: mariadb (10.11, the host's package), mariadb11 (11.8, Debian sid's in its
 * own root folder), mysql (9.7, likewise).
 */
export type SandboxFlavor = 'mariadb' | 'mariadb11' | 'mysql';
export const SANDBOX_FLAVORS: readonly SandboxFlavor[] = ['mariadb', 'mariadb11', 'mysql'];

/** The SQL a server speaks (src/sql's flavor): both MariaDB versions speak MariaDB's. */
export type SandboxFamily = 'mariadb' | 'mysql';
export const sandboxFamily = (flavor: SandboxFlavor): SandboxFamily =>
  flavor === 'mysql' ? 'mysql' : 'mariadb';

/** MariaDB memory and thread settings that keep an idle instance near 53 MB RSS. */
const MARIADB_SMALL: Readonly<Record<string, CnfValue>> = {
  innodb_buffer_pool_size: '8M',
  innodb_log_file_size: '4M',
  innodb_log_buffer_size: '2M',
  key_buffer_size: '64K',
  aria_pagecache_buffer_size: '1M',
  query_cache_size: 0,
  query_cache_type: 0,
  max_connections: 30,
  table_open_cache: 64,
  table_definition_cache: 400,
  thread_cache_size: 4,
  innodb_read_io_threads: 1,
  innodb_write_io_threads: 2,
  innodb_purge_threads: 1,
  innodb_ft_cache_size: 1600000,
  innodb_ft_total_cache_size: 32000000,
  host_cache_size: 0,
  performance_schema: 'OFF',
};

/**
 * MySQL 9.7 settings for an idle instance of about 150 MB RSS (206 MB with the doublewrite buffer, 454 MB
 * with performance_schema ON as well). The doublewrite buffer guards against pages torn by a power loss;
 * a kill -9 tears none (the kernel finishes every write it was given), and a sandbox does not outlive its
 * machine. The redo log's minimum is 8M; the X plugin is off (nothing here speaks X protocol).
 */
const MYSQL_SMALL: Readonly<Record<string, CnfValue>> = {
  innodb_buffer_pool_size: '8M',
  innodb_doublewrite: 'OFF',
  innodb_redo_log_capacity: '8M',
  innodb_log_buffer_size: '2M',
  key_buffer_size: '64K',
  max_connections: 60,
  table_open_cache: 64,
  table_definition_cache: 400,
  thread_cache_size: 4,
  innodb_read_io_threads: 1,
  innodb_write_io_threads: 1,
  innodb_purge_threads: 1,
  innodb_page_cleaners: 1,
  host_cache_size: 0,
  performance_schema: 'OFF',
  mysqlx: 'OFF',
};

/** Where an instance keeps its files, all under one directory. */
export interface InstancePaths {
  dir: string;
  dataDir: string;
  cnf: string;
  errorLog: string;
  pidFile: string;
  socket: string;
  /**
   * Its own tmpdir: a starting mariadbd/mysqld deletes every `#sql*` file in its tmpdir, so servers sharing
   * /tmp delete each other's in-use temporary tables (seen: "Error on delete of '/tmp/#sql-temptable-…'",
   * and a segfault in ha_maria::drop_table, while another sandbox server started).
   */
  tmpDir: string;
}

export function instancePaths(dir: string): InstancePaths {
  return {
    dir,
    dataDir: join(dir, 'data'),
    cnf: join(dir, 'my.cnf'),
    errorLog: join(dir, 'err.log'),
    pidFile: join(dir, 'server.pid'),
    socket: join(dir, 'sock'),
    tmpDir: join(dir, 'tmp'),
  };
}

/** What the option file of one flavor needs besides the instance itself. */
export interface FlavorFiles {
  flavor: SandboxFlavor;
  /** MariaDB: whether this mariadbd knows innodb_buffer_pool_size_max (caps VSZ at ~0.9 GB instead of 8.6 TB). */
  bufferPoolSizeMax: boolean;
  /**
   * MySQL and MariaDB 11.8: the root folder its binaries, plugins, messages and character sets come from;
   * null for the host's MariaDB.
   */
  root: string | null;
}

export interface ServerCnf {
  files: FlavorFiles;
  paths: InstancePaths;
  port: number;
  serverId: number;
  /** MariaDB only. */
  gtidDomainId: number | null;
  /** replica_net_timeout (MySQL) / slave_net_timeout (MariaDB), seconds. */
  slaveNetTimeout: number;
  /** Extra or overriding settings; null removes a setting. */
  extra?: Record<string, CnfValue>;
}

function quote(v: string): string {
  return /^[A-Za-z0-9_./+:@%,=-]*$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function line(key: string, value: CnfValue): string | null {
  if (value === null || value === false) return null;
  if (value === true) return key;
  return `${key}=${quote(String(value))}`;
}

function render(flavor: SandboxFlavor, settings: Record<string, CnfValue>): string {
  const lines = [flavor === 'mysql' ? '[mysqld]' : '[mariadbd]'];
  for (const [k, v] of Object.entries(settings)) {
    const l = line(k, v);
    if (l !== null) lines.push(l);
  }
  return lines.join('\n') + '\n';
}

/** MariaDB 11.8's own files inside its root folder (built for /usr; the host's 10.11 files would not do). */
function mariadbRootFiles(root: string): Record<string, CnfValue> {
  return {
    basedir: join(root, 'usr'),
    plugin_dir: join(root, 'usr/lib/mysql/plugin'),
    lc_messages_dir: join(root, 'usr/share/mariadb'),
    character_sets_dir: join(root, 'usr/share/mariadb/charsets'),
  };
}

/** MySQL's own files inside its root folder (the binaries were built for /usr). */
function mysqlFiles(root: string): Record<string, CnfValue> {
  return {
    basedir: join(root, 'usr'),
    plugin_dir: join(root, 'usr/lib/mysql/plugin'),
    lc_messages_dir: join(root, 'usr/share/mysql'),
    character_sets_dir: join(root, 'usr/share/mysql/charsets'),
    // The Debian build aborts when its default /var/lib/mysql-files is missing; NULL turns file I/O off.
    secure_file_priv: 'NULL',
  };
}

function baseSettings(paths: InstancePaths, files: FlavorFiles): Record<string, CnfValue> {
  const s: Record<string, CnfValue> = {};
  if (process.getuid?.() === 0) s.user = 'root';
  if (files.flavor === 'mysql') Object.assign(s, mysqlFiles(files.root ?? '/'));
  if (files.flavor === 'mariadb11') Object.assign(s, mariadbRootFiles(files.root ?? '/'));
  s.datadir = paths.dataDir;
  s.socket = paths.socket;
  s['pid-file'] = paths.pidFile;
  s['log-error'] = paths.errorLog;
  s.tmpdir = paths.tmpDir;
  Object.assign(s, files.flavor === 'mysql' ? MYSQL_SMALL : MARIADB_SMALL);
  if (files.flavor !== 'mysql' && files.bufferPoolSizeMax) s.innodb_buffer_pool_size_max = '8M';
  return s;
}

/** Replication settings: GTIDs on, binlog with replicated transactions, no channel starts by itself. */
function replicationSettings(c: ServerCnf): Record<string, CnfValue> {
  const common = {
    port: c.port,
    'bind-address': '127.0.0.1',
    server_id: c.serverId,
    log_bin: join(c.paths.dataDir, 'binlog'),
    binlog_format: 'ROW',
    relay_log: join(c.paths.dataDir, 'relay'),
    'skip-name-resolve': true,
  };
  if (c.files.flavor === 'mysql') {
    return {
      ...common,
      gtid_mode: 'ON',
      enforce_gtid_consistency: 'ON',
      log_replica_updates: 'ON',
      'skip-replica-start': true,
      replica_net_timeout: c.slaveNetTimeout,
      // Implies read_only; keeps administrators (and the operator's account) out too.
      super_read_only: 'ON',
    };
  }
  return {
    ...common,
    gtid_domain_id: c.gtidDomainId ?? c.serverId,
    log_slave_updates: 'ON',
    'skip-slave-start': true,
    slave_net_timeout: c.slaveNetTimeout,
    // MariaDB has no super_read_only: accounts with READ ONLY ADMIN (ALL) still write (facts §8).
    read_only: 'ON',
  };
}

/** The option file of a sandbox instance (read with --defaults-file, so no other option file counts). */
export function renderServerCnf(c: ServerCnf): string {
  const s = baseSettings(c.paths, c.files);
  Object.assign(s, replicationSettings(c));
  for (const [k, v] of Object.entries(c.extra ?? {})) {
    // Accept both dashed and underscored spellings when overriding.
    const existing = Object.keys(s).find((key) => key.replace(/-/g, '_') === k.replace(/-/g, '_'));
    if (existing !== undefined && existing !== k) delete s[existing];
    s[k] = v;
  }
  return render(c.files.flavor, s);
}

/** The option file the template datadir is built with: no port, no binlog, never served. */
export function renderTemplateCnf(paths: InstancePaths, files: FlavorFiles): string {
  const s = baseSettings(paths, files);
  s['skip-networking'] = true;
  return render(files.flavor, s);
}

/**
 * The accounts every sandbox server has, as SQL run while the template is built (mariadb-install-db
 * --extra-file, mysqld --initialize --init-file): no binlog is written then, so the template holds no GTID.
 * MariaDB: FLUSH PRIVILEGES must come first, or CREATE USER fails under --skip-grant-tables.
 */
export function renderUsersSql(
  flavor: SandboxFlavor,
  admin: { user: string; password: string },
  repl: { user: string; password: string },
  operator?: { user: string; password: string },
): string {
  const lit = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const to = (u: string) => `${lit(u)}@'%'`;
  return [
    ...(flavor !== 'mysql' ? ['FLUSH PRIVILEGES;'] : []),
    `CREATE USER ${to(repl.user)} IDENTIFIED BY ${lit(repl.password)};`,
    ...replicationGrants(to(repl.user)).map((g) => `${g.sql};`),
    `CREATE USER ${to(admin.user)} IDENTIFIED BY ${lit(admin.password)};`,
    `GRANT ALL PRIVILEGES ON *.* TO ${to(admin.user)} WITH GRANT OPTION;`,
    ...(operator
      ? [
          `CREATE USER ${to(operator.user)} IDENTIFIED BY ${lit(operator.password)};`,
          ...operatorGrants(sandboxFamily(flavor), to(operator.user)).map((g) => `${g.sql};`),
        ]
      : []),
    '',
  ].join('\n');
}

/** Option-file settings of a server that speaks TLS with the given files (and, optionally, only TLS). */
export function tlsSettings(tls: SandboxTls): Record<string, CnfValue> {
  return {
    ssl_ca: tls.ca,
    ssl_cert: tls.cert,
    ssl_key: tls.key,
    require_secure_transport: tls.requireSecureTransport === false ? null : 'ON',
  };
}

/**
 * Option-file settings of a server that cannot do TLS at all. Without certificate files MariaDB 10.11 offers
 * none, but MariaDB 11.8 (since 11.4) and MySQL make a self-signed certificate at start and offer TLS.
 */
export function noTlsSettings(flavor: SandboxFlavor): Record<string, CnfValue> {
  if (flavor === 'mysql') return { tls_version: '' };
  return flavor === 'mariadb11' ? { 'skip-ssl': true } : {};
}

/** Certificate files (PEM paths) a TLS sandbox server uses; the CA also verifies its sources. */
export interface SandboxTls {
  ca: string;
  cert: string;
  key: string;
  /** Refuse plaintext logins (require_secure_transport=ON). Default true. */
  requireSecureTransport?: boolean;
}
