// The per-instance my.cnf (see /work/shared/facts/mariadb-10.11.md §1): small memory, binlog + GTID on, loopback only.
import { join } from 'node:path';

export type CnfValue = string | number | boolean | null;

/** Memory and thread settings that keep an idle instance near 53 MB RSS. */
export const SMALL_SERVER_SETTINGS: Readonly<Record<string, CnfValue>> = {
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

/** Where an instance keeps its files, all under one directory. */
export interface InstancePaths {
  dir: string;
  dataDir: string;
  cnf: string;
  errorLog: string;
  pidFile: string;
  socket: string;
}

export function instancePaths(dir: string): InstancePaths {
  return {
    dir,
    dataDir: join(dir, 'data'),
    cnf: join(dir, 'my.cnf'),
    errorLog: join(dir, 'err.log'),
    pidFile: join(dir, 'mariadbd.pid'),
    socket: join(dir, 'sock'),
  };
}

export interface ServerCnf {
  paths: InstancePaths;
  port: number;
  serverId: number;
  gtidDomainId: number;
  slaveNetTimeout: number;
  /** Whether this mariadbd knows innodb_buffer_pool_size_max (caps VSZ at ~0.9 GB instead of 8.6 TB). */
  bufferPoolSizeMax: boolean;
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

function render(settings: Record<string, CnfValue>): string {
  const lines = ['[mariadbd]'];
  for (const [k, v] of Object.entries(settings)) {
    const l = line(k, v);
    if (l !== null) lines.push(l);
  }
  return lines.join('\n') + '\n';
}

function baseSettings(paths: InstancePaths, bufferPoolSizeMax: boolean): Record<string, CnfValue> {
  const s: Record<string, CnfValue> = {};
  if (process.getuid?.() === 0) s.user = 'root';
  s.datadir = paths.dataDir;
  s.socket = paths.socket;
  s['pid-file'] = paths.pidFile;
  s['log-error'] = paths.errorLog;
  Object.assign(s, SMALL_SERVER_SETTINGS);
  if (bufferPoolSizeMax) s.innodb_buffer_pool_size_max = '8M';
  return s;
}

/** my.cnf of a sandbox instance (read with --defaults-file, so no other option file counts). */
export function renderServerCnf(c: ServerCnf): string {
  const s = baseSettings(c.paths, c.bufferPoolSizeMax);
  Object.assign(s, {
    port: c.port,
    'bind-address': '127.0.0.1',
    server_id: c.serverId,
    gtid_domain_id: c.gtidDomainId,
    log_bin: join(c.paths.dataDir, 'binlog'),
    log_slave_updates: 'ON',
    binlog_format: 'ROW',
    relay_log: join(c.paths.dataDir, 'relay'),
    'skip-name-resolve': true,
    'skip-slave-start': true,
    slave_net_timeout: c.slaveNetTimeout,
  });
  for (const [k, v] of Object.entries(c.extra ?? {})) {
    // Accept both dashed and underscored spellings when overriding.
    const existing = Object.keys(s).find((key) => key.replace(/-/g, '_') === k.replace(/-/g, '_'));
    if (existing !== undefined && existing !== k) delete s[existing];
    s[k] = v;
  }
  return render(s);
}

/** my.cnf for mariadb-install-db building the template: no port, no binlog, never started as a server. */
export function renderTemplateCnf(paths: InstancePaths, bufferPoolSizeMax: boolean): string {
  const s = baseSettings(paths, bufferPoolSizeMax);
  s['skip-networking'] = true;
  return render(s);
}

/** users.sql for --extra-file. FLUSH PRIVILEGES must come first, or CREATE USER fails under --skip-grant-tables. */
export function renderUsersSql(
  admin: { user: string; password: string },
  repl: { user: string; password: string },
): string {
  const lit = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return [
    'FLUSH PRIVILEGES;',
    `CREATE USER ${lit(repl.user)}@'%' IDENTIFIED BY ${lit(repl.password)};`,
    `GRANT REPLICATION SLAVE ON *.* TO ${lit(repl.user)}@'%';`,
    `CREATE USER ${lit(admin.user)}@'%' IDENTIFIED BY ${lit(admin.password)};`,
    `GRANT ALL PRIVILEGES ON *.* TO ${lit(admin.user)}@'%' WITH GRANT OPTION;`,
    '',
  ].join('\n');
}
