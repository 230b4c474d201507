// The real Kubernetes API code behind the test API server: etcd and an apiextensions-apiserver, both from
// Debian's packages (built once per machine by scripts/ensure-kube-api-root.mjs). It judges what only a
// real server can: CustomResourceDefinitions (structural schema, CEL cost budget, the root metadata rule)
// and every custom resource (validation, pruning, defaulting, merge patch, the status subresource,
// resourceVersion conflicts, watches). It delegates authentication, authorization and its namespace and
// service lookups to the in-process core (test/harness/kube-api-server.ts), as kube-apiserver's own
// aggregated servers do.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain ESM script without types (shared with .ci/run)
import { kubeApiRoot } from '../../scripts/ensure-kube-api-root.mjs';
import { freePort } from './net.js';

export interface KubeBackend {
  /** https://127.0.0.1:PORT of the apiextensions-apiserver (a self-signed certificate). */
  url: string;
  /** The bearer token the core authenticates as a cluster administrator. */
  token: string;
  /** http://127.0.0.1:PORT of etcd. */
  etcdUrl: string;
  /** The last lines each process wrote to stderr (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// A worker that ends without its afterAll must not leave etcd or the API server behind.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function launch(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const proc = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  let tail = '';
  proc.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return { proc, exited, tail: () => tail };
}

/** GET a path; resolves with the HTTP status, or 0 when nothing answered. */
function probe(url: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? request : undefined;
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    if (!get) {
      fetch(url)
        .then((r) => resolve(r.status))
        .catch(() => resolve(0));
      return;
    }
    const req = get(u, { method: 'GET', headers, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitReady(
  what: string,
  url: string,
  exited: Promise<number | null>,
  tail: () => string,
  token?: string,
) {
  let dead: number | null | undefined;
  void exited.then((c) => (dead = c));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dead !== undefined) throw new Error(`${what} exited (${dead}) before it was ready:\n${tail()}`);
    if ((await probe(url, token)) === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} was not ready within 60 s:\n${tail()}`);
}

/**
 * Starts etcd and the apiextensions-apiserver for one core. `coreUrl` is where the API server reaches the
 * core for TokenReview, SubjectAccessReview and its namespace/service informers; `coreToken` is what it
 * presents there.
 */
export async function startKubeBackend(opts: { coreUrl: string; token: string }): Promise<KubeBackend> {
  // A port picked free can be taken by another test's server before etcd or the API server binds it:
  // such a start fails at once, and the next attempt picks other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (attempt === 3) throw e;
    }
  }
}

async function startOnce(opts: { coreUrl: string; token: string }): Promise<KubeBackend> {
  const root = kubeApiRoot() as string;
  const dir = mkdtempSync(join(process.env.TRIBUTARY_SANDBOX_ROOT ?? tmpdir(), 'kube-api-'));
  const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const etcd = launch(join(root, 'bin/etcd'), [
    '--name=test',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    // A test's data lives as long as the test: no fsync, and no metrics port of its own.
    '--unsafe-no-fsync',
    '--listen-metrics-urls=',
    '--log-level=error',
  ]);
  const apiserver: { current?: ReturnType<typeof launch> } = {};
  const stop = async () => {
    for (const p of [apiserver.current, etcd]) {
      if (!p) continue;
      p.proc.kill('SIGKILL');
      await p.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady('etcd', `${etcdUrl}/health`, etcd.exited, etcd.tail);
    const kubeconfig = join(dir, 'core.kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'core', cluster: { server: opts.coreUrl } }],
        users: [{ name: 'core', user: { token: opts.token } }],
        contexts: [{ name: 'core', context: { cluster: 'core', user: 'core' } }],
        'current-context': 'core',
      }),
    );
    mkdirSync(join(dir, 'certs'));
    const url = `https://127.0.0.1:${secure}`;
    apiserver.current = launch(
      join(root, 'bin/apiextensions-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${secure}`,
        `--cert-dir=${join(dir, 'certs')}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        '--authentication-skip-lookup',
        `--authorization-kubeconfig=${kubeconfig}`,
        `--kubeconfig=${kubeconfig}`,
        // The core serves namespaces and services but no admission policies, webhooks or flow control.
        '--disable-admission-plugins=MutatingAdmissionPolicy,ValidatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
        '--enable-priority-and-fairness=false',
      ],
      // The core answers plain list+watch (no streaming lists).
      { KUBE_FEATURE_WatchListClient: 'false' },
    );
    const a = apiserver.current;
    await waitReady('apiextensions-apiserver', `${url}/readyz`, a.exited, a.tail, opts.token);
    return {
      url,
      token: opts.token,
      etcdUrl,
      logs: () => `etcd:\n${etcd.tail()}\napiextensions-apiserver:\n${a.tail()}`,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
