// Makes the MariaDB 11.8 root folder the sandbox runs `mariadbd` from: Debian sid's mariadb-server-core,
// unpacked into its own folder (debian-root.mjs). Built once per machine, reused while complete. The host's
// own MariaDB (10.11, bookworm's package) is the other MariaDB the suite runs.
//
//   node scripts/ensure-mariadb-root.mjs            build when missing or incomplete (needs root and apt)
//   node scripts/ensure-mariadb-root.mjs --check    exit 0 when complete, 1 when not (builds nothing)
//
// Where: $TRIBUTARY_MARIADB_ROOT, else /var/cache/tributary/mariadb-sid. No dependencies (Node 20+).
import { ensureRoot, rootDir, rootMain, say } from './debian-root.mjs';

export const DEFAULT_MARIADB_ROOT = '/var/cache/tributary/mariadb-sid';

/** @type {import('./debian-root.mjs').RootKind} */
export const MARIADB_ROOT = {
  label: 'MariaDB 11.8',
  envVar: 'TRIBUTARY_MARIADB_ROOT',
  defaultDir: DEFAULT_MARIADB_ROOT,
  packages: ['mariadb-server-core', 'mariadb-client-core'],
  server: 'usr/sbin/mariadbd',
  files: ['usr/share/mariadb/mariadb_system_tables.sql', 'usr/share/mariadb/charsets'],
  script: 'ensure-mariadb-root.mjs',
};

export const mariadbRootDir = () => rootDir(MARIADB_ROOT);
export const ensureMariadbRoot = (log = say) => ensureRoot(MARIADB_ROOT, log);

if (import.meta.url === `file://${process.argv[1]}`) rootMain(MARIADB_ROOT);
