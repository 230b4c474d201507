// Makes the MySQL 9.7 root folder the sandbox runs `mysqld` from: Debian sid's mysql-server-core, unpacked
// into its own folder (debian-root.mjs). Built once per machine, reused while complete.
//
//   node scripts/ensure-mysql-root.mjs            build when missing or incomplete (needs root and apt)
//   node scripts/ensure-mysql-root.mjs --check    exit 0 when complete, 1 when not (builds nothing)
//
// Where: $TRIBUTARY_MYSQL_ROOT, else /var/cache/tributary/mysql-sid. No dependencies (Node 20+).
import {
  buildRoot,
  ensureRoot,
  installCommand,
  readMarker as readRootMarker,
  rootDir,
  rootMain,
  say,
} from './debian-root.mjs';

export { MARKER } from './debian-root.mjs';
export const DEFAULT_MYSQL_ROOT = '/var/cache/tributary/mysql-sid';

/** @type {import('./debian-root.mjs').RootKind} */
export const MYSQL_ROOT = {
  label: 'MySQL 9.7',
  envVar: 'TRIBUTARY_MYSQL_ROOT',
  defaultDir: DEFAULT_MYSQL_ROOT,
  packages: ['mysql-server-core', 'mysql-client-core'],
  server: 'usr/sbin/mysqld',
  files: ['usr/share/mysql/charsets'],
  script: 'ensure-mysql-root.mjs',
};

export const mysqlRootDir = () => rootDir(MYSQL_ROOT);
export const readMarker = (root) => readRootMarker(MYSQL_ROOT, root);
export const buildMysqlRoot = (root, log = say) => buildRoot(MYSQL_ROOT, root, log);
export const INSTALL_COMMAND = installCommand(MYSQL_ROOT);
export const ensureMysqlRoot = (log = say) => ensureRoot(MYSQL_ROOT, log);

if (import.meta.url === `file://${process.argv[1]}`) rootMain(MYSQL_ROOT);
