// Makes the MySQL 9.7 root folder the sandbox runs `mysqld` from: Debian sid's mysql-server-core, unpacked
// into its own folder with debootstrap (Debian's archive only; nothing of sid is installed on the host,
// whose libc is too old for these binaries). Built once per machine, reused while complete.
//
//   node scripts/ensure-mysql-root.mjs            build when missing or incomplete (needs root and apt)
//   node scripts/ensure-mysql-root.mjs --check    exit 0 when complete, 1 when not (builds nothing)
//
// Where: $TRIBUTARY_MYSQL_ROOT, else /var/cache/tributary/mysql-sid. The build happens in a sibling
// temporary folder and is renamed into place only after mysqld answered `--version` and the marker file
// was written, so an interrupted build is never taken for a good one. No dependencies (Node 20+).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const DEFAULT_MYSQL_ROOT = '/var/cache/tributary/mysql-sid';
export const MARKER = '.tributary-root.json';
const MIRROR = 'http://deb.debian.org/debian';
const PACKAGES = ['mysql-server-core', 'mysql-client-core'];
// The archive served here is a snapshot whose Release file has expired; apt refuses it without this.
const APT = ['-o', 'Acquire::Check-Valid-Until=false'];

export const mysqlRootDir = () => process.env.TRIBUTARY_MYSQL_ROOT || DEFAULT_MYSQL_ROOT;

/** The marker of a complete root, or null (absent, unreadable, or the files it promises are gone). */
export function readMarker(root) {
  try {
    const m = JSON.parse(readFileSync(join(root, MARKER), 'utf8'));
    const files = ['usr/sbin/mysqld', 'lib64/ld-linux-x86-64.so.2', 'usr/share/mysql/charsets'];
    return files.every((f) => existsSync(join(root, f))) ? m : null;
  } catch {
    return null;
  }
}

const say = (msg) => process.stderr.write(`tributary: ${msg}\n`);

function run(file, args, opts = {}) {
  execFileSync(file, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    ...opts,
  });
}

/** `mysqld --version` run through the root's own loader, as the sandbox runs it. */
function mysqldVersion(root) {
  const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).join(':');
  const out = execFileSync(
    join(root, 'lib64/ld-linux-x86-64.so.2'),
    ['--library-path', libs, join(root, 'usr/sbin/mysqld'), '--version'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const m = /\bVer\s+(\S+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from mysqld --version: ${out.trim()}`);
  return m[1];
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** Builds the root at `root` (replacing an incomplete one). Returns the marker written. */
export function buildMysqlRoot(root, log = say) {
  if (process.getuid?.() !== 0) throw new Error('building the MySQL root needs root (debootstrap, chroot)');
  if (process.arch !== 'x64') throw new Error(`the MySQL root is built for x86_64 only, not ${process.arch}`);
  const t0 = Date.now();
  if (!hasCommand('debootstrap') && !existsSync('/usr/sbin/debootstrap')) {
    log('installing debootstrap from the host’s Debian archive…');
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'debootstrap']);
  }
  mkdirSync(dirname(root), { recursive: true });
  const work = mkdtempSync(join(dirname(root), `.${basename(root)}.build-`));
  try {
    log(`debootstrap --variant=minbase sid ${work} ${MIRROR} (about a minute)…`);
    const t1 = Date.now();
    run('debootstrap', ['--variant=minbase', 'sid', work, MIRROR], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const debootstrapMs = Date.now() - t1;
    log(`apt-get install ${PACKAGES.join(' ')} inside it…`);
    const t2 = Date.now();
    run('chroot', [work, 'apt-get', ...APT, 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    run('chroot', [work, 'apt-get', ...APT, 'install', '-y', '--no-install-recommends', ...PACKAGES], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    run('chroot', [work, 'apt-get', 'clean']);
    rmSync(join(work, 'var/lib/apt/lists'), { recursive: true, force: true });
    const aptMs = Date.now() - t2;
    const version = mysqldVersion(work);
    const marker = {
      version,
      packages: PACKAGES,
      mirror: MIRROR,
      builtAt: new Date().toISOString(),
      debootstrapMs,
      aptMs,
      buildMs: Date.now() - t0,
    };
    writeFileSync(join(work, MARKER), JSON.stringify(marker, null, 2) + '\n');
    if (existsSync(root)) {
      // Incomplete (no valid marker): move it aside before the rename, then drop it.
      const aside = `${root}.broken-${process.pid}`;
      renameSync(root, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    renameSync(work, root);
    log(`MySQL ${version} ready in ${root} (${Math.round(marker.buildMs / 1000)} s)`);
    return marker;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

export const INSTALL_COMMAND = 'sudo node scripts/ensure-mysql-root.mjs';

/** Returns the root when complete; builds it when missing (as root); otherwise fails with the command. */
export function ensureMysqlRoot(log = say) {
  const root = mysqlRootDir();
  if (readMarker(root)) return root;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new Error(
      `MySQL 9.7 is missing (no complete root folder at ${root}); build it with: ${INSTALL_COMMAND}`,
    );
  log(`building the MySQL 9.7 root folder in ${root} (Debian sid's mysql-server-core; 1–3 minutes)…`);
  buildMysqlRoot(root, log);
  return root;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = mysqlRootDir();
  if (process.argv.includes('--check')) {
    const m = readMarker(root);
    console.log(m ? `${root}: MySQL ${m.version}` : `${root}: missing or incomplete`);
    process.exit(m ? 0 : 1);
  }
  try {
    ensureMysqlRoot();
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
