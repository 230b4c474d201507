// The built `kubectl-tributary` against the in-process API server, with the built `tributary operator`
// running real MariaDB members: status drawn from the resource, a switchover asked and waited for, a
// failover after kill -9 acknowledged.
import { execFile, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import { FailoverSpec } from '../../src/api/spec.js';
import { renderTree } from '../../src/report/tree.js';
import { ADMIN_PASSWORD, ADMIN_USER, REPL_PASSWORD, REPL_USER } from '../../src/sandbox/index.js';
import { KubernetesStore } from '../../src/store/kubernetes.js';
import { ANNOTATION_SWITCHOVER } from '../../src/store/store.js';
import {
  KubeApiServer,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  topologyManifest,
} from '../harness/kube-api-server.js';
import { freePort } from '../harness/net.js';
import { useSandbox } from '../harness/sandbox.js';
import { startOperatorProcess } from '../harness/operator-process.js';

const NS = 'db';
const PLUGIN = join(import.meta.dirname, '../../bin/kubectl-tributary.js');
const run = promisify(execFile);

describe('kubectl tributary with a running operator and real members', () => {
  const sb = useSandbox({ names: ['a-0', 'a-1'] });
  let api: KubeApiServer;
  let op: ChildProcess | undefined;
  let kubeconfig = '';
  let uiPort = 0;
  const ref = { namespace: NS, name: 'pair' };
  const stored = async () => (await new KubernetesStore({ kubeConfig: api.kubeConfig(NS) }).get(ref))!;
  const until = async (pred: () => boolean | Promise<boolean>, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    return pred();
  };
  const plugin = async (args: string[]) => {
    try {
      const r = await run(process.execPath, [PLUGIN, ...args, '-n', NS], {
        env: { ...process.env, KUBECONFIG: kubeconfig },
        timeout: 120_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  };

  beforeAll(async () => {
    api = await KubeApiServer.start({ bookmarkIntervalMs: 500 });
    await api.applyYaml(renderCrdYaml());
    await api.create(
      SECRETS,
      secretManifest(NS, 'tributary-admin', { username: ADMIN_USER, password: ADMIN_PASSWORD }),
    );
    await api.create(
      SECRETS,
      secretManifest(NS, 'tributary-repl', { username: REPL_USER, password: REPL_PASSWORD }),
    );
    const member = (name: string, extra: object = {}) => ({
      name,
      host: '127.0.0.1',
      port: sb().server(name).port,
      ...extra,
    });
    const detection =
      'downAfterSeconds' in FailoverSpec.shape
        ? { downAfterSeconds: 1, failureThreshold: 3 }
        : { failureThreshold: 10 };
    await api.create(
      TOPOLOGIES,
      topologyManifest(NS, 'pair', {
        failover: { enabled: true, pollIntervalSeconds: 1, cooldownSeconds: 300, ...detection },
        groups: [{ name: 'shard-a', members: [member('a-0', { promotionRule: 'prefer' }), member('a-1')] }],
      }),
    );
    kubeconfig = join(sb().dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, api.kubeConfig(NS).exportConfig());
    uiPort = await freePort();
    op = (await startOperatorProcess({ kubeconfig, args: ['--ui-port', String(uiPort)] })).proc;
    // Ready, and routed: a-1 in the readers once its channel runs (the status then stays as it is).
    expect(
      await until(async () => {
        const s = (await stored()).status;
        return s?.phase === 'Ready' && s.groups[0]?.routing?.readers.length === 1;
      }),
    ).toBe(true);
  });
  afterAll(async () => {
    if (op && op.exitCode === null) op.kill('SIGKILL');
    await api?.close();
  });

  it('status draws the same tree as `tributary status`, from the resource alone', async () => {
    const r = await plugin(['status', 'pair']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd()).toBe(renderTree('pair', (await stored()).status!));
    expect(r.stdout).toMatch(/^pair: Ready, 1\/1 channels running/);
    const json = await plugin(['status', 'pair', '-o', 'json']);
    expect(JSON.parse(json.stdout).groups).toEqual([
      {
        name: 'shard-a',
        primary: 'a-0',
        members: 2,
        ready: 2,
        routing: { writer: 'a-0', writerReady: true, readers: ['a-1'], changedAt: expect.any(String) },
      },
    ]);
    expect(r.stdout).toMatch(/routing shard-a: writer a-0, readers a-1/);
    const missing = await plugin(['status', 'nope']);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      'kubectl-tributary: mysqltopology db/nope not found\n',
    ]);
  });

  it("the operator's --ui-port serves the web view of the topologies it reconciles", async () => {
    const api = (await (await fetch(`http://127.0.0.1:${uiPort}/api/topologies`)).json()) as {
      namespace: string;
      name: string;
      status: { phase: string };
    }[];
    expect(api.map((t) => [t.namespace, t.name, t.status.phase])).toEqual([[NS, 'pair', 'Ready']]);
    const page = await (await fetch(`http://127.0.0.1:${uiPort}/`)).text();
    expect(page).toContain('data-channel="a-1/&#39;&#39;" data-from="a-0" data-state="Running"');
  });

  it('switchover asks the operator through the annotation and waits for the journal to say Done', async () => {
    const r = await plugin(['switchover', 'pair', '--group', 'shard-a', '--to', 'a-1', '--timeout', '60']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the operator took the request/);
    expect(r.stdout).toMatch(/shard-a: Promoting/);
    expect(r.stdout).toMatch(/switchover of shard-a done: a-0 → a-1\n$/);
    const t = await stored();
    expect(t.status!.groups[0]!.primary).toBe('a-1');
    expect(t.annotations[ANNOTATION_SWITCHOVER]).toBeUndefined();
    expect(t.status!.failovers.at(-1)).toMatchObject({ reason: 'Switchover', phase: 'Done', to: 'a-1' });
  }, 90_000);

  it('ack lifts the cooldown of the failover that follows a kill -9, once status shows it', async () => {
    await sb().server('a-1').kill9();
    expect(
      await until(async () => {
        const last = (await stored()).status?.failovers.at(-1);
        return last?.reason === 'DeadPrimary' && last.phase === 'Done';
      }, 60_000),
    ).toBe(true);
    const r = await plugin(['ack', 'pair', '--group', 'shard-a', '--timeout', '30']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^last failover: shard-a a-1 → a-0 \(DeadPrimary\) Done/);
    expect(r.stdout).toMatch(/failover cooldown of shard-a lifted \(failover .*: a-1 → a-0\)\n$/);
    expect((await stored()).status!.failovers.at(-1)?.acknowledged).toBe(true);
  }, 90_000);
});
