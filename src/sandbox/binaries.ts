// Locating the server binaries and asking them what they are: MariaDB from the host's packages, MySQL
// from its own Debian sid root folder (run through that root's loader, so its newer libc is used).
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_MYSQL_ROOT, MARIADBD_ENV, MYSQL_ROOT_ENV, MYSQL_ROOT_MARKER } from './constants.js';

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

export class MysqlNotFoundError extends Error {
  constructor(root: string, why: string) {
    super(
      `MySQL 9.7 not found: ${why} (root folder ${root}, set by ${MYSQL_ROOT_ENV}); build it with: ${MYSQL_INSTALL_HINT}`,
    );
    this.name = 'MysqlNotFoundError';
  }
}

/**
 * The complete MySQL root folder: $TRIBUTARY_MYSQL_ROOT, else /var/cache/tributary/mysql-sid. Complete means
 * the marker the build writes last is there and the files it promises still are.
 */
export function findMysqlRoot(): string {
  const root = process.env[MYSQL_ROOT_ENV] || DEFAULT_MYSQL_ROOT;
  try {
    JSON.parse(readFileSync(join(root, MYSQL_ROOT_MARKER), 'utf8'));
  } catch {
    throw new MysqlNotFoundError(root, existsSync(root) ? 'the root folder is incomplete' : 'no root folder');
  }
  const cmd = mysqldCommand(root);
  if (!isExecutable(cmd.file) || !existsSync(cmd.args.at(-1)!))
    throw new MysqlNotFoundError(root, 'the root folder lacks its loader or mysqld');
  return root;
}

/** mysqld of the root, through the root's own dynamic loader and libraries (the host's libc is older). */
export function mysqldCommand(root: string): ServerCommand {
  const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).join(':');
  return {
    file: join(root, 'lib64/ld-linux-x86-64.so.2'),
    args: ['--library-path', libs, join(root, 'usr/sbin/mysqld')],
  };
}

/** Option names (dashed form) that this mariadbd accepts, from `--verbose --help`. */
export async function mariadbdOptions(mariadbd: string): Promise<Set<string>> {
  const args = ['--no-defaults', '--verbose', '--help'];
  if (process.getuid?.() === 0) args.splice(1, 0, '--user=root');
  const { stdout } = await execFileP(mariadbd, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const opts = new Set<string>();
  for (const m of stdout.matchAll(/^\s+--([a-z0-9][a-z0-9-]*)/gm)) if (m[1]) opts.add(m[1]);
  return opts;
}
