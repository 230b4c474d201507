// Makes `npm test`, `npm run demo` and the benchmarks work on a fresh clone: installs node_modules, the
// MariaDB 10.11 server (Debian package) and the MariaDB 11.8 and MySQL 9.7 root folders (Debian sid, see
// debian-root.mjs) when it can, or stops with the one command that does. No dependencies.
//   `npm run demo` skips both root folders (the demo runs on the host's MariaDB unless told otherwise);
//   so do TRIBUTARY_SKIP_MYSQL=1 (MySQL 9.7) and TRIBUTARY_SKIP_MARIADB11=1 (MariaDB 11.8).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { ensureKubeApiRoot } from './ensure-kube-api-root.mjs';
import { ensureMariadbRoot } from './ensure-mariadb-root.mjs';
import { ensureMysqlRoot } from './ensure-mysql-root.mjs';

const fail = (msg) => {
  console.error(`tributary: ${msg}`);
  process.exit(1);
};

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19))
  fail(`Node ${process.versions.node} is too old; Node 20.19+, 22 or 24 is needed`);

const lockNewer =
  existsSync('node_modules/.package-lock.json') &&
  statSync('package-lock.json').mtimeMs > statSync('node_modules/.package-lock.json').mtimeMs + 1000;
if (!existsSync('node_modules/.package-lock.json') || lockNewer) {
  console.error('tributary: installing node_modules (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) fail('`npm ci` failed; run it by hand and retry');
}

const sbinDirs = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];
const hasMariadbd = () =>
  spawnSync('sh', ['-c', 'command -v mariadbd'], { encoding: 'utf8' }).status === 0 ||
  sbinDirs.some((d) => existsSync(`${d}/mariadbd`));
if (!hasMariadbd()) {
  const cmd = 'apt-get update && apt-get install -y mariadb-server';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    fail(`the MariaDB server is missing; install it with: sudo sh -c '${cmd}'`);
  console.error('tributary: installing the MariaDB server from Debian packages…');
  try {
    execFileSync('sh', ['-c', cmd], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    fail(`installing mariadb-server failed; run: ${cmd}`);
  }
  if (!hasMariadbd()) fail('mariadb-server installed but mariadbd was not found');
}

const demo = process.env.npm_lifecycle_event === 'demo';
const roots = [
  [ensureMariadbRoot, demo || process.env.TRIBUTARY_SKIP_MARIADB11],
  [ensureMysqlRoot, demo || process.env.TRIBUTARY_SKIP_MYSQL],
  // The real Kubernetes API code the operator's tests run against (etcd, apiextensions-apiserver, kubectl).
  [ensureKubeApiRoot, demo || process.env.TRIBUTARY_SKIP_KUBE_API],
];
for (const [ensure, skip] of roots) {
  if (skip) continue;
  try {
    ensure();
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
}
