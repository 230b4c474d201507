// Makes the folder of real Kubernetes API code the tests run: etcd, an apiextensions-apiserver and kubectl,
// all from Debian sid's packages. No Debian package holds a kube-apiserver, and no Go module proxy is
// reachable here, but sid packages the Kubernetes libraries as source (/usr/share/gocode): the
// apiextensions-apiserver is built from them with sid's Go, from a main of this project's own
// (scripts/kube-api/main.go) that turns on discovery and publishes CRD schemas to OpenAPI, which the stock
// main does not. The build happens in a sid root made with debootstrap (nothing of sid touches the host);
// Go programs are linked statically, so the binaries run on the host.
//
//   node scripts/ensure-kube-api-root.mjs           build when missing, incomplete or out of date (as root)
//   node scripts/ensure-kube-api-root.mjs --check   exit 0 when complete, 1 when not (builds nothing)
//
// Where: $TRIBUTARY_KUBE_API_ROOT, else /var/cache/tributary/kube-api (the binaries, ~200 MB). The build
// root stays in /var/cache/tributary/kube-build (~2.5 GB, with Go's build cache) so that a change of
// main.go rebuilds in seconds; it can be deleted at any time. About 7 minutes the first time (441 s
// measured on a quiet 2-core machine).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MARKER, makeSidRoot, say } from './debian-root.mjs';

export const DEFAULT_KUBE_API_ROOT = '/var/cache/tributary/kube-api';
// The build root (Go, the libraries, Go's build cache); $TRIBUTARY_KUBE_BUILD_ROOT moves it.
const BUILD_ROOT = process.env.TRIBUTARY_KUBE_BUILD_ROOT || '/var/cache/tributary/kube-build';
const PACKAGES = ['golang-go', 'etcd-server', 'kubectl', 'golang-k8s-apiextensions-apiserver-dev'];
const MAIN = join(import.meta.dirname, 'kube-api', 'main.go');
export const BINARIES = ['etcd', 'apiextensions-apiserver', 'kubectl'];
export const INSTALL_COMMAND = 'sudo node scripts/ensure-kube-api-root.mjs';

export const kubeApiRootDir = () => process.env.TRIBUTARY_KUBE_API_ROOT || DEFAULT_KUBE_API_ROOT;
const sourceHash = () => createHash('sha256').update(readFileSync(MAIN)).digest('hex').slice(0, 16);

/** The marker of a complete root built from today's main.go, or null. */
export function readMarker(root) {
  try {
    const m = JSON.parse(readFileSync(join(root, MARKER), 'utf8'));
    const complete = BINARIES.every((b) => existsSync(join(root, 'bin', b)));
    return complete && m.source === sourceHash() ? m : null;
  } catch {
    return null;
  }
}

/** The root, complete, or an error that names the command that builds it (for the tests). */
export function kubeApiRoot() {
  const root = kubeApiRootDir();
  if (readMarker(root)) return root;
  throw new Error(
    `the Kubernetes API root is missing or out of date at ${root}; build it with: ${INSTALL_COMMAND}`,
  );
}

function run(file, args, opts = {}) {
  execFileSync(file, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    ...opts,
  });
}

const mounted = (dir) => readFileSync('/proc/mounts', 'utf8').includes(` ${dir} `);

/** The sid root with Go and the packaged Kubernetes libraries: made once, reused while its marker holds. */
function ensureBuildRoot(log) {
  const marker = join(BUILD_ROOT, MARKER);
  if (existsSync(marker)) return;
  mkdirSync(dirname(BUILD_ROOT), { recursive: true });
  if (existsSync(BUILD_ROOT)) {
    if (mounted(join(BUILD_ROOT, 'proc'))) run('umount', ['-l', join(BUILD_ROOT, 'proc')]);
    rmSync(BUILD_ROOT, { recursive: true, force: true });
  }
  const work = mkdtempSync(join(dirname(BUILD_ROOT), `.${basename(BUILD_ROOT)}.build-`));
  try {
    makeSidRoot(work, PACKAGES, log);
    writeFileSync(
      join(work, MARKER),
      JSON.stringify({ packages: PACKAGES, builtAt: new Date().toISOString() }),
    );
    renameSync(work, BUILD_ROOT);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Go inside the root needs /proc (it reads /proc/self/exe). */
function inBuildRoot(args) {
  const proc = join(BUILD_ROOT, 'proc');
  const mine = !mounted(proc);
  if (mine) run('mount', ['-t', 'proc', 'proc', proc]);
  try {
    return execFileSync('chroot', [BUILD_ROOT, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
        HOME: '/root',
        GO111MODULE: 'off',
        GOPATH: '/usr/share/gocode',
        GOCACHE: '/root/.cache/go-build',
        GOFLAGS: '-mod=mod',
        CGO_ENABLED: '0',
        LC_ALL: 'C',
      },
    });
  } finally {
    if (mine) run('umount', ['-l', proc]);
  }
}

export function buildKubeApiRoot(root = kubeApiRootDir(), log = say) {
  if (process.getuid?.() !== 0)
    throw new Error('building the Kubernetes API root needs root (debootstrap, chroot)');
  if (process.arch !== 'x64')
    throw new Error(`the Kubernetes API root is built for x86_64 only, not ${process.arch}`);
  const t0 = Date.now();
  ensureBuildRoot(log);
  log(
    'building apiextensions-apiserver from Debian’s Kubernetes libraries (about 3 minutes the first time)…',
  );
  const src = join(BUILD_ROOT, 'src/tributary-kube-api');
  mkdirSync(src, { recursive: true });
  copyFileSync(MAIN, join(src, 'main.go'));
  const t1 = Date.now();
  inBuildRoot([
    'sh',
    '-c',
    'cd /src/tributary-kube-api && GOFLAGS= go build -trimpath -o /src/apiextensions-apiserver main.go',
  ]);
  const goBuildMs = Date.now() - t1;
  mkdirSync(dirname(root), { recursive: true });
  const work = mkdtempSync(join(dirname(root), `.${basename(root)}.build-`));
  try {
    mkdirSync(join(work, 'bin'));
    copyFileSync(join(BUILD_ROOT, 'src/apiextensions-apiserver'), join(work, 'bin/apiextensions-apiserver'));
    copyFileSync(join(BUILD_ROOT, 'usr/bin/etcd'), join(work, 'bin/etcd'));
    copyFileSync(join(BUILD_ROOT, 'usr/bin/kubectl'), join(work, 'bin/kubectl'));
    for (const b of BINARIES) run('chmod', ['0755', join(work, 'bin', b)]);
    const versions = {
      etcd: execFileSync(join(work, 'bin/etcd'), ['--version'], { encoding: 'utf8' }).split('\n')[0].trim(),
      kubectl: execFileSync(join(work, 'bin/kubectl'), ['version', '--client'], { encoding: 'utf8' })
        .split('\n')[0]
        .trim(),
      libraries: inBuildRoot([
        'dpkg-query',
        '-W',
        '-f=${Version}',
        'golang-k8s-apiextensions-apiserver-dev',
      ]).trim(),
      go: inBuildRoot(['go', 'version']).trim(),
    };
    const marker = {
      source: sourceHash(),
      versions,
      builtAt: new Date().toISOString(),
      goBuildMs,
      buildMs: Date.now() - t0,
    };
    writeFileSync(join(work, MARKER), JSON.stringify(marker, null, 2) + '\n');
    if (existsSync(root)) rmSync(root, { recursive: true, force: true });
    renameSync(work, root);
    log(
      `Kubernetes API root ready in ${root} (${Math.round(marker.buildMs / 1000)} s): ${JSON.stringify(versions)}`,
    );
    return marker;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Returns the root when complete; builds it when missing (as root); otherwise fails with the command. */
export function ensureKubeApiRoot(log = say) {
  const root = kubeApiRootDir();
  if (readMarker(root)) return root;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new Error(`the Kubernetes API root is missing at ${root}; build it with: ${INSTALL_COMMAND}`);
  buildKubeApiRoot(root, log);
  return root;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = kubeApiRootDir();
  if (process.argv.includes('--check')) {
    const m = readMarker(root);
    console.log(m ? `${root}: ${JSON.stringify(m.versions)}` : `${root}: missing, incomplete or out of date`);
    process.exit(m ? 0 : 1);
  }
  try {
    ensureKubeApiRoot();
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
