// Locating the server binaries and asking them what they are: MariaDB 10.11 from the host's packages,
// MariaDB 11.8 and MySQL 9.7 each from its own Debian sid root folder (run through that root's loader, so
// its newer libc is used; scripts/debian-root.mjs builds them).
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  DEFAULT_MARIADB_ROOT,
  DEFAULT_MYSQL_ROOT,
  MARIADB_ROOT_ENV,
  MARIADBD_ENV,
  MYSQL_ROOT_ENV,
  ROOT_MARKER,
} from './constants.js';

const execFileP = promisify(execFile);

export const INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y mariadb-server';

export class MariadbNotFoundError extends Error {
  constructor(what: string, searched: string[]) {
    super(
      `${what} not found (searched ${searched.join(', ')}); install the MariaDB server with: ${INSTALL_HINT}`,
    );
    this.name = 'MariadbNotFoundError';
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function searchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const dirs = [...fromPath, '/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];
  return [...new Set(dirs)];
}

function findIn(names: string[], dirs: string[]): string | null {
  for (const dir of dirs) {
    for (const name of names) {
      const p = join(dir, name);
      if (isExecutable(p)) return p;
    }
  }
  return null;
}

/** The mariadbd binary: $TRIBUTARY_MARIADBD, else PATH, /usr/sbin, /usr/local/sbin. */
export function findMariadbd(): string {
  const override = process.env[MARIADBD_ENV];
  if (override) {
    if (!isExecutable(override))
      throw new MariadbNotFoundError(`mariadbd (${MARIADBD_ENV}=${override})`, [override]);
    return override;
  }
  const dirs = searchDirs();
  const found = findIn(['mariadbd'], dirs);
  if (!found) throw new MariadbNotFoundError('mariadbd (the MariaDB server)', dirs);
  return found;
}

/** mariadb-install-db, looked for beside mariadbd first (…/sbin → …/bin), then in the usual places. */
export function findInstallDb(mariadbd: string): string {
  const sbin = dirname(mariadbd);
  const dirs = [...new Set([join(sbin, '..', 'bin'), sbin, ...searchDirs()])];
  const found = findIn(['mariadb-install-db', 'mysql_install_db'], dirs);
  if (!found) throw new MariadbNotFoundError('mariadb-install-db', dirs);
  return found;
}

/** How to run a server program: the file to execute and the arguments before the server's own options. */
export interface ServerCommand {
  file: string;
  args: string[];
}

/** `<server> --version` → e.g. `10.11.19-MariaDB-0+deb12u1`, `9.7.4-2`. */
export async function serverVersion(cmd: ServerCommand): Promise<string> {
  const { stdout } = await execFileP(cmd.file, [...cmd.args, '--version'], { timeout: 60_000 });
  const m = /\bVer\s+(\S+)/.exec(stdout);
  if (!m?.[1]) throw new Error(`cannot read the version from \`${cmd.file} --version\`: ${stdout.trim()}`);
  return m[1];
}

export const MYSQL_INSTALL_HINT = 'sudo node scripts/ensure-mysql-root.mjs (from a Tributary checkout)';
export const MARIADB_ROOT_INSTALL_HINT =
  'sudo node scripts/ensure-mariadb-root.mjs (from a Tributary checkout)';

export class MysqlNotFoundError extends Error {
  constructor(root: string, why: string) {
    super(
      `MySQL 9.7 not found: ${why} (root folder ${root}, set by ${MYSQL_ROOT_ENV}); build it with: ${MYSQL_INSTALL_HINT}`,
    );
    this.name = 'MysqlNotFoundError';
  }
}

/** MariaDB 11.8's root folder is missing: a MariadbNotFoundError, with the command that builds it. */
export class MariadbRootNotFoundError extends MariadbNotFoundError {
  constructor(root: string, why: string) {
    super('mariadbd 11.8', [root]);
    this.message = `MariaDB 11.8 not found: ${why} (root folder ${root}, set by ${MARIADB_ROOT_ENV}); build it with: ${MARIADB_ROOT_INSTALL_HINT}`;
    this.name = 'MariadbRootNotFoundError';
  }
}

/** A Debian sid root folder and the server program inside it. */
interface RootKind {
  env: string;
  defaultDir: string;
  /** The server binary, relative to the root. */
  server: string;
  notFound: (root: string, why: string) => Error;
}

const MYSQL_ROOT: RootKind = {
  env: MYSQL_ROOT_ENV,
  defaultDir: DEFAULT_MYSQL_ROOT,
  server: 'usr/sbin/mysqld',
  notFound: (root, why) => new MysqlNotFoundError(root, why),
};

const MARIADB_ROOT: RootKind = {
  env: MARIADB_ROOT_ENV,
  defaultDir: DEFAULT_MARIADB_ROOT,
  server: 'usr/sbin/mariadbd',
  notFound: (root, why) => new MariadbRootNotFoundError(root, why),
};

/**
 * A complete root folder: its variable, else its default place. Complete means the marker the build writes
 * last is there and the loader and the server still are.
 */
function findRoot(kind: RootKind): string {
  const root = process.env[kind.env] || kind.defaultDir;
  try {
    JSON.parse(readFileSync(join(root, ROOT_MARKER), 'utf8'));
  } catch {
    throw kind.notFound(root, existsSync(root) ? 'the root folder is incomplete' : 'no root folder');
  }
  const cmd = rootCommand(root, kind.server);
  if (!isExecutable(cmd.file) || !existsSync(cmd.args.at(-1)!))
    throw kind.notFound(root, `the root folder lacks its loader or ${kind.server}`);
  return root;
}

/** MySQL 9.7's root folder: $TRIBUTARY_MYSQL_ROOT, else /var/cache/tributary/mysql-sid. */
export const findMysqlRoot = (): string => findRoot(MYSQL_ROOT);

/** MariaDB 11.8's root folder: $TRIBUTARY_MARIADB_ROOT, else /var/cache/tributary/mariadb-sid. */
export const findMariadbRoot = (): string => findRoot(MARIADB_ROOT);

/** A program of a root, run through the root's own loader and libraries (the host's libc is older). */
export function rootCommand(root: string, program: string): ServerCommand {
  const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).join(':');
  return {
    file: join(root, 'lib64/ld-linux-x86-64.so.2'),
    args: ['--library-path', libs, join(root, program)],
  };
}

/** mysqld of the MySQL root. */
export const mysqldCommand = (root: string): ServerCommand => rootCommand(root, MYSQL_ROOT.server);

/** mariadbd of the MariaDB 11.8 root. */
export const rootMariadbdCommand = (root: string): ServerCommand => rootCommand(root, MARIADB_ROOT.server);

/** Option names (dashed form) that this mariadbd accepts, from `--verbose --help`. */
export async function mariadbdOptions(mariadbd: ServerCommand): Promise<Set<string>> {
  const args = ['--no-defaults', '--verbose', '--help'];
  if (process.getuid?.() === 0) args.splice(1, 0, '--user=root');
  const { stdout } = await execFileP(mariadbd.file, [...mariadbd.args, ...args], {
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const opts = new Set<string>();
  for (const m of stdout.matchAll(/^\s+--([a-z0-9][a-z0-9-]*)/gm)) if (m[1]) opts.add(m[1]);
  return opts;
}
