// Locating the MariaDB server binaries and asking them what they are.
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { MARIADBD_ENV } from './constants.js';

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

/** `mariadbd --version` → e.g. `10.11.19-MariaDB-0+deb12u1`. */
export async function mariadbdVersion(mariadbd: string): Promise<string> {
  const { stdout } = await execFileP(mariadbd, ['--version'], { timeout: 30_000 });
  const m = /\bVer\s+(\S+)/.exec(stdout);
  if (!m?.[1]) throw new Error(`cannot read the version from \`${mariadbd} --version\`: ${stdout.trim()}`);
  return m[1];
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
