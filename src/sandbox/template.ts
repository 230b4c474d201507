// The template datadir, built once per flavor and server version (accounts included) and never started.
// Instances are made by copying it (`cp -a`), which takes tens of milliseconds instead of seconds.
//   MariaDB: mariadb-install-db --extra-file=users.sql (11.8: its root folder's own installer, see
//            mariadbRootBuilder).
//   MySQL:   mysqld --initialize-insecure --init-file=users.sql (the accounts are created by the same
//            bootstrap, with no binlog: the template holds no GTID). Its auto.cnf (server_uuid) is removed
//            here and from every copy, or copies would share a UUID and could not replicate from each other.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  REPL_PASSWORD,
  REPL_USER,
  TEMPLATE_CACHE_ENV,
} from './constants.js';
import {
  findInstallDb,
  findMariadbd,
  findMariadbRoot,
  findMysqlRoot,
  mariadbdOptions,
  mysqldCommand,
  rootCommand,
  rootMariadbdCommand,
  serverVersion,
  type ServerCommand,
} from './binaries.js';
import {
  instancePaths,
  renderTemplateCnf,
  renderUsersSql,
  type FlavorFiles,
  type InstancePaths,
  type SandboxFlavor,
} from './config.js';

export interface TemplateInfo extends FlavorFiles {
  /** The template directory (holds data/ and template.json). */
  dir: string;
  /** The datadir to copy. */
  dataDir: string;
  /** How a server of this template is run (`--defaults-file=…` follows these arguments). */
  command: ServerCommand;
  /** The server program's name, for messages: mariadbd or mysqld. */
  program: string;
  version: string;
  /** Milliseconds this call spent building it; null when an existing template was reused. */
  buildMs: number | null;
}

interface Marker {
  version: string;
  bufferPoolSizeMax: boolean;
  builtAt: string;
  buildMs: number;
}

export interface TemplateOptions {
  /** Default mariadb. */
  flavor?: SandboxFlavor;
  /** Parent directory of the template cache (default $TRIBUTARY_TEMPLATE_CACHE or os.tmpdir()). */
  cacheDir?: string;
  log?: (msg: string) => void;
}

const MARKER = 'template.json';
const memo = new Map<string, Promise<TemplateInfo>>();

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** The template directory name: flavor, server version, and a hash of what goes into the datadir. */
function templateName(flavor: SandboxFlavor, version: string, usersSql: string, root: string | null): string {
  const h = createHash('sha256')
    .update(usersSql)
    .update(`\0${root ?? ''}\0v2`)
    .digest('hex')
    .slice(0, 8);
  return `tributary-${flavor}-template-${safe(version)}-${h}`;
}

function readMarker(dir: string): Marker | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
    return existsSync(join(dir, 'data', 'mysql')) ? m : null;
  } catch {
    return null;
  }
}

function run(
  cmd: ServerCommand,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd.file,
      [...cmd.args, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const out = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
          const name = basename(cmd.args.at(-1) ?? cmd.file);
          reject(new Error(`${name} failed (${err.message.split('\n')[0]}):\n${out}`));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/**
 * Returns the template of a flavor's installed server, building it when missing. Safe when several
 * processes call it at once: each builds in its own temporary directory and renames it into place; a loser
 * of the rename race discards its copy and uses the winner's.
 */
export function ensureTemplate(opts: TemplateOptions = {}): Promise<TemplateInfo> {
  const flavor = opts.flavor ?? 'mariadb';
  const cacheDir = opts.cacheDir ?? process.env[TEMPLATE_CACHE_ENV] ?? tmpdir();
  const key = `${flavor}\0${cacheDir}`;
  let p = memo.get(key);
  if (!p) {
    p = buildOrReuse(flavor, cacheDir, opts.log ?? (() => {}));
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

/** What building one flavor's template takes: how to run the server and how to initialize a datadir. */
interface Builder {
  command: ServerCommand;
  program: string;
  root: string | null;
  version: string;
  /** Fills paths.dataDir (the users file is at usersFile); paths.cnf is already written. */
  initialize(paths: InstancePaths, usersFile: string): Promise<void>;
  /** Files the template must not carry. */
  leftovers: RegExp;
}

async function mariadbBuilder(): Promise<Builder> {
  const mariadbd = findMariadbd();
  const installDb = findInstallDb(mariadbd);
  const command = { file: mariadbd, args: [] };
  return {
    command,
    program: 'mariadbd',
    root: null,
    version: await serverVersion(command),
    leftovers: /^(binlog|relay|master|multi-master)|\.pid$/,
    initialize: async (paths, usersFile) => {
      await run(
        { file: installDb, args: [] },
        [
          `--defaults-file=${paths.cnf}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          `--extra-file=${usersFile}`,
        ],
        180_000,
      );
    },
  };
}

/**
 * A stand-in basedir for a root's shell scripts: the programs they run (bin/…, sbin/…) are wrappers that
 * run the root's own through its loader (the host's loader cannot run them), and share/ and lib/ are the
 * root's.
 */
async function rootShim(root: string, dir: string, programs: string[]): Promise<string> {
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  for (const program of programs) {
    const { file, args } = rootCommand(root, join('usr', program));
    const wrapper = join(dir, program);
    await mkdir(dirname(wrapper), { recursive: true });
    await writeFile(wrapper, `#!/bin/sh\nexec ${[file, ...args].map(q).join(' ')} "$@"\n`);
    await chmod(wrapper, 0o755);
  }
  await symlink(join(root, 'usr/share'), join(dir, 'share'));
  await symlink(join(root, 'usr/lib'), join(dir, 'lib'));
  return dir;
}

/**
 * MariaDB 11.8 from its root folder: the root's mariadb-install-db (a shell script) runs with a shim basedir
 * (rootShim), and with --force: it would check the host name with resolveip, which nothing here needs
 * (skip-name-resolve; no account names a host).
 */
async function mariadbRootBuilder(): Promise<Builder> {
  const root = findMariadbRoot();
  const command = rootMariadbdCommand(root);
  return {
    command,
    program: 'mariadbd',
    root,
    version: await serverVersion(command),
    leftovers: /^(binlog|relay|master|multi-master)|\.pid$/,
    initialize: async (paths, usersFile) => {
      const shim = join(paths.dir, 'basedir');
      try {
        await rootShim(root, shim, ['bin/my_print_defaults', 'bin/resolveip', 'sbin/mariadbd']);
        await run(
          { file: '/bin/sh', args: [join(root, 'usr/bin/mariadb-install-db')] },
          [
            `--defaults-file=${paths.cnf}`,
            `--basedir=${shim}`,
            '--force',
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            `--extra-file=${usersFile}`,
          ],
          180_000,
        );
      } finally {
        await rm(shim, { recursive: true, force: true });
      }
    },
  };
}

async function mysqlBuilder(): Promise<Builder> {
  const root = findMysqlRoot();
  const command = mysqldCommand(root);
  return {
    command,
    program: 'mysqld',
    root,
    version: await serverVersion(command),
    // auto.cnf holds the server_uuid: every copy must make its own.
    leftovers: /^(binlog|relay|auto\.cnf$)|\.pid$/,
    initialize: async (paths, usersFile) => {
      await mkdir(paths.dataDir, { recursive: true });
      // --initialize wants an empty datadir it can create itself.
      await rm(paths.dataDir, { recursive: true, force: true });
      await run(
        command,
        [`--defaults-file=${paths.cnf}`, '--initialize-insecure', `--init-file=${usersFile}`],
        180_000,
      );
    },
  };
}

async function buildOrReuse(
  flavor: SandboxFlavor,
  cacheDir: string,
  log: (msg: string) => void,
): Promise<TemplateInfo> {
  const b =
    flavor === 'mysql'
      ? await mysqlBuilder()
      : flavor === 'mariadb11'
        ? await mariadbRootBuilder()
        : await mariadbBuilder();
  const usersSql = renderUsersSql(
    flavor,
    { user: ADMIN_USER, password: ADMIN_PASSWORD },
    { user: REPL_USER, password: REPL_PASSWORD },
    { user: OPERATOR_USER, password: OPERATOR_PASSWORD },
  );
  const finalDir = join(cacheDir, templateName(flavor, b.version, usersSql, b.root));
  const info = (m: Marker, buildMs: number | null): TemplateInfo => ({
    flavor,
    dir: finalDir,
    dataDir: join(finalDir, 'data'),
    command: b.command,
    program: b.program,
    root: b.root,
    version: b.version,
    bufferPoolSizeMax: m.bufferPoolSizeMax,
    buildMs,
  });

  const existing = readMarker(finalDir);
  if (existing) return info(existing, null);
  if (existsSync(finalDir)) {
    // A directory without a valid marker cannot come from a finished build (the marker is written before
    // the rename): move it aside rather than trust it.
    const aside = `${finalDir}.broken-${process.pid}-${Date.now()}`;
    await rename(finalDir, aside).catch(() => {});
    await rm(aside, { recursive: true, force: true }).catch(() => {});
  }

  const t0 = performance.now();
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(dirname(finalDir), `${basename(finalDir)}.build-`));
  try {
    const bufferPoolSizeMax =
      flavor !== 'mysql' && (await mariadbdOptions(b.command)).has('innodb-buffer-pool-size-max');
    const paths = instancePaths(work);
    await mkdir(paths.tmpDir, { recursive: true });
    await writeFile(paths.cnf, renderTemplateCnf(paths, { flavor, bufferPoolSizeMax, root: b.root }));
    const usersFile = join(work, 'users.sql');
    await writeFile(usersFile, usersSql, { mode: 0o600 });
    log(`building the ${flavor === 'mysql' ? 'MySQL' : 'MariaDB'} ${b.version} template datadir in ${work}`);
    await b.initialize(paths, usersFile).catch(async (e: Error) => {
      const errLog = await readFile(paths.errorLog, 'utf8').catch(() => '');
      throw new Error(
        `${e.message}${errLog ? `\nerror log:\n${errLog.split('\n').slice(-30).join('\n')}` : ''}`,
      );
    });
    // The template must carry no binlog, relay log, GTID state or server identity.
    for (const f of (await readdir(paths.dataDir)).filter((x) => b.leftovers.test(x)))
      await rm(join(paths.dataDir, f), { force: true });
    await rm(usersFile, { force: true });
    const buildMs = Math.round(performance.now() - t0);
    const marker: Marker = {
      version: b.version,
      bufferPoolSizeMax,
      builtAt: new Date().toISOString(),
      buildMs,
    };
    await writeFile(join(work, MARKER), JSON.stringify(marker, null, 2) + '\n');
    try {
      await rename(work, finalDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const winner = readMarker(finalDir);
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && winner) {
        log('another process built the template first; using it');
        await rm(work, { recursive: true, force: true });
        return info(winner, null);
      }
      throw e;
    }
    log(`template ready in ${buildMs} ms: ${finalDir}`);
    return info(marker, buildMs);
  } catch (e) {
    await rm(work, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}
