// A server from Debian sid in a root folder of its own, for the sandbox: the packages are unpacked with
// debootstrap and apt inside it (Debian's archive only; nothing of sid is installed on the host, whose libc
// is too old for these binaries), and the server is run through that root's own loader. Built once per
// machine, reused while complete. Used by ensure-mysql-root.mjs and ensure-mariadb-root.mjs.
//
// The build happens in a sibling temporary folder and is renamed into place only after the server answered
// `--version` and the marker file was written, so an interrupted build is never taken for a good one.
// No dependencies (Node 20+).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The file a finished build writes last: its absence means incomplete. */
export const MARKER = '.tributary-root.json';
const MIRROR = 'http://deb.debian.org/debian';
const LOADER = 'lib64/ld-linux-x86-64.so.2';
// The archive served here is a snapshot whose Release file has expired; apt refuses it without this.
const APT = ['-o', 'Acquire::Check-Valid-Until=false'];

/**
 * What one root holds.
 * @typedef {object} RootKind
 * @property {string} label      for messages, e.g. `MySQL 9.7`
 * @property {string} envVar     the variable that moves the root, e.g. TRIBUTARY_MYSQL_ROOT
 * @property {string} defaultDir where it lives otherwise
 * @property {string[]} packages Debian sid packages installed in it
 * @property {string} server     the server binary, relative to the root (e.g. usr/sbin/mysqld)
 * @property {string[]} files    further files a complete root has (relative)
 * @property {string} script     the script that builds it, for the hint
 */

export const say = (msg) => process.stderr.write(`tributary: ${msg}\n`);

export const rootDir = (kind) => process.env[kind.envVar] || kind.defaultDir;

/** The marker of a complete root, or null (absent, unreadable, or the files it promises are gone). */
export function readMarker(kind, root) {
  try {
    const m = JSON.parse(readFileSync(join(root, MARKER), 'utf8'));
    return [kind.server, LOADER, ...kind.files].every((f) => existsSync(join(root, f))) ? m : null;
  } catch {
    return null;
  }
}

function run(file, args, opts = {}) {
  execFileSync(file, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    ...opts,
  });
}

/** `<server> --version` run through the root's own loader, as the sandbox runs it. */
function serverVersion(kind, root) {
  const libs = ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((d) => join(root, d)).join(':');
  const out = execFileSync(
    join(root, LOADER),
    ['--library-path', libs, join(root, kind.server), '--version'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const m = /\bVer\s+(\S+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from ${basename(kind.server)} --version: ${out.trim()}`);
  return m[1];
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** Builds the root at `root` (replacing an incomplete one). Returns the marker written. */
/**
 * Debian sid in `work` (an empty folder): debootstrap, then `packages` installed with apt inside it.
 * Installs debootstrap on the host first when it is missing. Shared with ensure-kube-api-root.mjs.
 */
/** apt-get inside a root, its output kept back unless it fails (then its last lines say why). */
function aptQuiet(work, args) {
  try {
    execFileSync('chroot', [work, 'apt-get', ...APT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    });
  } catch (e) {
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`apt-get ${args[0]} inside ${work} failed:\n${out}`);
  }
}

export function makeSidRoot(work, packages, log = say) {
  if (!hasCommand('debootstrap') && !existsSync('/usr/sbin/debootstrap')) {
    log('installing debootstrap from the host’s Debian archive…');
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'debootstrap']);
  }
  log(`debootstrap --variant=minbase sid ${work} ${MIRROR} (about a minute)…`);
  const t1 = Date.now();
  run('debootstrap', ['--variant=minbase', 'sid', work, MIRROR], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const debootstrapMs = Date.now() - t1;
  log(`apt-get install ${packages.join(' ')} inside it…`);
  const t2 = Date.now();
  // Some packages' maintainer scripts read /proc (golang's and etcd's among them): mounted for apt's run.
  const proc = join(work, 'proc');
  run('mount', ['-t', 'proc', 'proc', proc]);
  try {
    aptQuiet(work, ['update']);
    aptQuiet(work, ['install', '-y', '--no-install-recommends', ...packages]);
    aptQuiet(work, ['clean']);
  } finally {
    run('umount', ['-l', proc]);
  }
  rmSync(join(work, 'var/lib/apt/lists'), { recursive: true, force: true });
  return { debootstrapMs, aptMs: Date.now() - t2 };
}

export function buildRoot(kind, root, log = say) {
  if (process.getuid?.() !== 0)
    throw new Error(`building the ${kind.label} root needs root (debootstrap, chroot)`);
  if (process.arch !== 'x64')
    throw new Error(`the ${kind.label} root is built for x86_64 only, not ${process.arch}`);
  const t0 = Date.now();
  mkdirSync(dirname(root), { recursive: true });
  const work = mkdtempSync(join(dirname(root), `.${basename(root)}.build-`));
  try {
    const { debootstrapMs, aptMs } = makeSidRoot(work, kind.packages, log);
    const version = serverVersion(kind, work);
    const marker = {
      version,
      packages: kind.packages,
      mirror: MIRROR,
      builtAt: new Date().toISOString(),
      debootstrapMs,
      aptMs,
      buildMs: Date.now() - t0,
    };
    writeFileSync(join(work, MARKER), JSON.stringify(marker, null, 2) + '\n');
    const missing = [kind.server, LOADER, ...kind.files].filter((f) => !existsSync(join(work, f)));
    if (missing.length > 0) throw new Error(`the ${kind.label} root lacks ${missing.join(', ')}`);
    if (existsSync(root)) {
      // Incomplete (no valid marker): move it aside before the rename, then drop it.
      const aside = `${root}.broken-${process.pid}`;
      renameSync(root, aside);
      rmSync(aside, { recursive: true, force: true });
    }
    renameSync(work, root);
    log(`${kind.label} (${version}) ready in ${root} (${Math.round(marker.buildMs / 1000)} s)`);
    return marker;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

export const installCommand = (kind) => `sudo node scripts/${kind.script}`;

/** Returns the root when complete; builds it when missing (as root); otherwise fails with the command. */
export function ensureRoot(kind, log = say) {
  const root = rootDir(kind);
  if (readMarker(kind, root)) return root;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new Error(
      `${kind.label} is missing (no complete root folder at ${root}); build it with: ${installCommand(kind)}`,
    );
  log(`building the ${kind.label} root folder in ${root} (Debian sid's ${kind.packages[0]}; 1–3 minutes)…`);
  buildRoot(kind, root, log);
  return root;
}

/** The command line of a root script: build when missing, or `--check` (exit 0 when complete, 1 when not). */
export function rootMain(kind, argv = process.argv.slice(2)) {
  const root = rootDir(kind);
  if (argv.includes('--check')) {
    const m = readMarker(kind, root);
    console.log(m ? `${root}: ${kind.label} (${m.version})` : `${root}: missing or incomplete`);
    process.exit(m ? 0 : 1);
  }
  try {
    ensureRoot(kind);
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
