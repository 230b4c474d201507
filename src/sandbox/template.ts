// The template datadir: mariadb-install-db run once per mariadbd version (users included), never started.
// Instances are made by copying it (`cp -a`), which takes tens of milliseconds instead of half a second or more.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ADMIN_PASSWORD, ADMIN_USER, REPL_PASSWORD, REPL_USER, TEMPLATE_CACHE_ENV } from './constants.js';
import { findInstallDb, findMariadbd, mariadbdOptions, mariadbdVersion } from './binaries.js';
import { instancePaths, renderTemplateCnf, renderUsersSql } from './config.js';

export interface TemplateInfo {
  /** The template directory (holds data/ and template.json). */
  dir: string;
  /** The datadir to copy. */
  dataDir: string;
  mariadbd: string;
  installDb: string;
  version: string;
  /** Whether mariadbd accepts innodb_buffer_pool_size_max. */
  bufferPoolSizeMax: boolean;
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
  /** Parent directory of the template cache (default $TRIBUTARY_TEMPLATE_CACHE or os.tmpdir()). */
  cacheDir?: string;
  log?: (msg: string) => void;
}

const MARKER = 'template.json';
const memo = new Map<string, Promise<TemplateInfo>>();

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** The template directory name: the mariadbd version plus a hash of what goes into the datadir. */
function templateName(version: string, usersSql: string): string {
  const h = createHash('sha256').update(usersSql).update('\0v1').digest('hex').slice(0, 8);
  return `tributary-mariadb-template-${safe(version)}-${h}`;
}

function readMarker(dir: string): Marker | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
    return existsSync(join(dir, 'data', 'mysql')) ? m : null;
  } catch {
    return null;
  }
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const out = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`${basename(file)} failed (${err.message.split('\n')[0]}):\n${out}`));
      } else resolve({ stdout, stderr });
    });
  });
}

/**
 * Returns the template for the installed mariadbd, building it when missing. Safe when several processes
 * call it at once: each builds in its own temporary directory and renames it into place; a loser of the
 * rename race discards its copy and uses the winner's.
 */
export function ensureTemplate(opts: TemplateOptions = {}): Promise<TemplateInfo> {
  const cacheDir = opts.cacheDir ?? process.env[TEMPLATE_CACHE_ENV] ?? tmpdir();
  let p = memo.get(cacheDir);
  if (!p) {
    p = buildOrReuse(cacheDir, opts.log ?? (() => {}));
    memo.set(cacheDir, p);
    p.catch(() => memo.delete(cacheDir));
  }
  return p;
}

async function buildOrReuse(cacheDir: string, log: (msg: string) => void): Promise<TemplateInfo> {
  const mariadbd = findMariadbd();
  const installDb = findInstallDb(mariadbd);
  const version = await mariadbdVersion(mariadbd);
  const usersSql = renderUsersSql(
    { user: ADMIN_USER, password: ADMIN_PASSWORD },
    { user: REPL_USER, password: REPL_PASSWORD },
  );
  const finalDir = join(cacheDir, templateName(version, usersSql));
  const info = (m: Marker, buildMs: number | null): TemplateInfo => ({
    dir: finalDir,
    dataDir: join(finalDir, 'data'),
    mariadbd,
    installDb,
    version,
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
    const options = await mariadbdOptions(mariadbd);
    const bufferPoolSizeMax = options.has('innodb-buffer-pool-size-max');
    const paths = instancePaths(work);
    await writeFile(paths.cnf, renderTemplateCnf(paths, bufferPoolSizeMax));
    const usersFile = join(work, 'users.sql');
    await writeFile(usersFile, usersSql, { mode: 0o600 });
    log(`building the MariaDB template datadir in ${work}`);
    await run(
      installDb,
      [
        `--defaults-file=${paths.cnf}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        `--extra-file=${usersFile}`,
      ],
      180_000,
    ).catch(async (e: Error) => {
      const errLog = await readFile(paths.errorLog, 'utf8').catch(() => '');
      throw new Error(
        `${e.message}${errLog ? `\nerror log:\n${errLog.split('\n').slice(-30).join('\n')}` : ''}`,
      );
    });
    // The template must carry no binlog, relay log or GTID state; make sure nothing of the kind slipped in.
    const leftovers = (await readdir(paths.dataDir)).filter(
      (f) => /^(binlog|relay|master|multi-master)/.test(f) || f.endsWith('.pid'),
    );
    for (const f of leftovers) await rm(join(paths.dataDir, f), { force: true });
    const buildMs = Math.round(performance.now() - t0);
    const marker: Marker = { version, bufferPoolSizeMax, builtAt: new Date().toISOString(), buildMs };
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
