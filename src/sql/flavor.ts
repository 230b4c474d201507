// Which SQL words a server takes, from its VERSION() text (facts/mysql.md version table).
import type { Flavor } from '../api/spec.js';
import type { Dialect, Statement } from './dialect.js';
import { mariadbDialect } from './dialects/mariadb.js';
import { mysqlDialect } from './dialects/mysql.js';
import { UnsupportedServerError } from './errors.js';

export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
  mariadb: boolean;
}

/** The statement that reads what detectFlavor needs. */
export const versionQuery = (): Statement => ({
  sql: 'SELECT VERSION() AS version',
  display: 'SELECT VERSION() AS version',
});

/**
 * '10.11.19-MariaDB-0+deb12u1-log' → 10.11.19 MariaDB; '8.0.36-28' (Percona) → 8.0.36 MySQL.
 * MariaDB's replication handshake prefix '5.5.5-' is skipped should a caller pass the handshake text.
 */
export function parseVersion(version: string): ServerVersion {
  const text = String(version).trim();
  const mariadb = /mariadb/i.test(text);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(mariadb ? text.replace(/^5\.5\.5-/, '') : text);
  if (!m)
    throw new UnsupportedServerError(
      text,
      `cannot read the server version ${JSON.stringify(text.slice(0, 60))}`,
    );
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), mariadb };
}

/** True when v ≥ major.minor.patch. */
export function atLeast(
  v: Pick<ServerVersion, 'major' | 'minor' | 'patch'>,
  major: number,
  minor: number,
  patch: number,
): boolean {
  return v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch;
}

/**
 * mariadb: 10.5+ (SHOW ALL REPLICAS STATUS, REPLICA words). mysql: 8.0.23+ (CHANGE REPLICATION SOURCE TO).
 * mysql-legacy: 5.7 – 8.0.22 (CHANGE MASTER TO; 8.0.22 already has REPLICA words, but still takes the
 * SLAVE ones, so one word set covers the whole range).
 */
export function detectFlavor(version: string): Flavor {
  const v = parseVersion(version);
  const text = `${v.major}.${v.minor}.${v.patch}`;
  if (v.mariadb) {
    if (!atLeast(v, 10, 5, 0))
      throw new UnsupportedServerError(
        version,
        `MariaDB ${text} is not supported: Tributary needs MariaDB 10.5 or newer`,
      );
    return 'mariadb';
  }
  if (!atLeast(v, 5, 7, 0))
    throw new UnsupportedServerError(
      version,
      `MySQL ${text} is not supported: Tributary needs MySQL 5.7 or newer (replication channels)`,
    );
  return atLeast(v, 8, 0, 23) ? 'mysql' : 'mysql-legacy';
}

/**
 * The dialect of a flavor. `version` (VERSION() text) refines MySQL details that changed inside a flavor:
 * the log_replica_updates name (8.0.26), GET_*_PUBLIC_KEY (8.0.4) and per-channel filters (8.0.2). Without
 * it, `mysql` assumes 8.0.26+ and `mysql-legacy` assumes 5.7 (the conservative choice for each).
 */
export function dialectFor(flavor: Flavor, version?: string): Dialect {
  const v = version === undefined ? undefined : parseVersion(version);
  switch (flavor) {
    case 'mariadb':
      return mariadbDialect;
    case 'mysql':
    case 'mysql-legacy':
      return mysqlDialect(flavor, v);
  }
}
