// The whole operator as shipped: `tributary operator` (the built command) against an API server that
// speaks the Kubernetes REST protocol (in-process, see test/harness/kube-api-server.ts), with real MariaDB
// and MySQL servers as members. Converges, fails over after a kill -9, and writes no status at steady state.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import type { TopologyStatus } from '../../src/api/status.js';
import { demoManifests } from '../../src/cli/commands/demo.js';
import {
  ENDPOINT_SLICES,
  EVENTS,
  KubeApiServer,
  SERVICES,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../harness/kube-api-server.js';
import { FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';
import { startOperatorProcess } from '../harness/operator-process.js';

const NS = 'db';
describe.each(FLAVORS)('tributary operator against an API server, with real $label members', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'] });
  let api: KubeApiServer;
  let op: ChildProcess | undefined;
  let exited: Promise<number | null>;
  let passes: () => Promise<number>;
  const status = () => api.get(TOPOLOGIES, NS, 'warehouse')?.status as TopologyStatus | undefined;
  /** The addresses:ports a Service's EndpointSlices hold, with `!` for an endpoint not ready. */
  const endpointsOf = (service: string) =>
    api
      .list(ENDPOINT_SLICES, NS)
      .filter((x) => x.metadata.labels?.['kubernetes.io/service-name'] === service)
      .flatMap((x) => {
        const slice = x as unknown as {
          ports?: { port: number }[];
          endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
        };
        return (slice.endpoints ?? []).map(
          (e) => `${e.addresses[0]}:${slice.ports?.[0]?.port}${e.conditions?.ready ? '' : '!'}`,
        );
      })
      .sort();
  const at = (member: string) => `127.0.0.1:${sb().server(member).port}`;
  const until = async (pred: () => boolean | Promise<boolean>, ms = 20_000) => {
    const end = Date.now() + ms;
    while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return pred();
  };

  beforeAll(async () => {
    api = await KubeApiServer.start({ bookmarkIntervalMs: 500 });
    // The CRD as kubectl installs it (YAML 1.1): every status write is validated against it.
    await api.applyYaml(renderCrdYaml());
    const [topology, admin, repl] = demoManifests(sb()) as Record<string, any>[];
    for (const s of [admin!, repl!])
      await api.create(SECRETS, secretManifest(NS, s.metadata.name, s.stringData));
    await api.create(TOPOLOGIES, topology as KObject);
    const kubeconfig = join(sb().dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, api.kubeConfig(NS).exportConfig());
    const started = await startOperatorProcess({ kubeconfig });
    ({ proc: op, exited, passes } = started);
  });
  afterAll(async () => {
    if (op && op.exitCode === null) op.kill('SIGKILL');
    await api?.close();
  });

  it('converges the topology and reports per-channel status through the status subresource', async () => {
    expect(await until(() => status()?.phase === 'Ready')).toBe(true);
    const s = status()!;
    expect(s.channels.filter((c) => c.replica === 'dw-0').map((c) => [c.name, c.source, c.state])).toEqual([
      ['shard_a', 'a-0', 'Running'],
      ['shard_b', 'b-0', 'Running'],
    ]);
    expect(api.get(TOPOLOGIES, NS, 'warehouse')?.metadata.finalizers).toContain('tributary.dev/finalizer');
    const patches = api.requestsMatching('PATCH', '/mysqltopologies/warehouse/status');
    expect(patches.length).toBeGreaterThan(0);
    expect(patches.every((p) => p.contentType === 'application/merge-patch+json')).toBe(true);
    // Traffic: a writer and a reader Service per group, their EndpointSlices following the roles.
    expect(await until(() => endpointsOf('warehouse-shard-a-replicas').length === 1)).toBe(true);
    expect(endpointsOf('warehouse-shard-a-primary')).toEqual([at('a-0')]);
    expect(endpointsOf('warehouse-shard-a-replicas')).toEqual([at('a-1')]);
    expect(endpointsOf('warehouse-dw-primary')).toEqual([at('dw-0')]);
    const svc = api.get(SERVICES, NS, 'warehouse-shard-a-primary')!;
    const owners = (svc.metadata as { ownerReferences?: Record<string, unknown>[] }).ownerReferences;
    expect(owners?.[0]).toMatchObject({
      kind: 'MySQLTopology',
      name: 'warehouse',
      uid: api.get(TOPOLOGIES, NS, 'warehouse')!.metadata.uid,
    });
    expect((svc as unknown as { spec: { selector?: unknown } }).spec.selector).toBeUndefined();
    // The status the pass writes after it says the same.
    await until(() => status()?.groups.find((g) => g.name === 'shard-a')?.routing?.readers.length === 1);
    expect(status()!.groups.find((g) => g.name === 'shard-a')?.routing).toMatchObject({
      writer: 'a-0',
      writerReady: true,
      readers: ['a-1'],
    });
  });

  it('at steady state writes no status and sends no request at all (informer caches)', async () => {
    // Once passes run without writing (Ready, settled), three more passes send nothing to the API server.
    expect(await until(() => status()?.phase === 'Ready')).toBe(true);
    let from = api.requests.length;
    let before = await passes();
    for (let quiet = 0; quiet < 3;) {
      const now = await passes();
      if (now === before) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (api.requests.length === from) quiet += now - before;
      else [quiet, from] = [0, api.requests.length];
      before = now;
    }
    // The operator was alive and passing meanwhile: the passes counted above are its own.
    expect(op!.exitCode).toBeNull();
    const start = api.requests.length;
    const target = (await passes()) + 3;
    expect(await until(async () => (await passes()) >= target)).toBe(true);
    expect(api.counts(start)).toEqual({});
    // What it wrote reads back valid: the status is complete, with nothing the schema had to drop.
    expect(api.requests.filter((r) => r.status === 422)).toEqual([]);
  });

  it('fails over when shard-a’s primary is killed: visible in status and events', async () => {
    await sb().server('a-0').kill9();
    expect(await until(() => status()?.failovers.at(-1)?.phase === 'Done')).toBe(true);
    expect(status()!.failovers.at(-1)).toMatchObject({
      group: 'shard-a',
      from: 'a-0',
      to: 'a-1',
      repointed: ['dw-0/shard_a'],
    });
    expect(
      await until(
        () => status()?.channels.find((c) => c.replica === 'dw-0' && c.name === 'shard_a')?.source === 'a-1',
      ),
    ).toBe(true);
    // The loop writes a pass's status, then its events: they may trail the status by a moment.
    const reasons = () => api.list(EVENTS, NS).map((e) => (e as { reason?: string }).reason);
    await until(() => reasons().includes('FailoverFinished'));
    expect(reasons()).toEqual(
      expect.arrayContaining(['ChannelCreated', 'FailoverStarted', 'FailoverFinished']),
    );
    expect(JSON.stringify(api.list(EVENTS, NS))).not.toMatch(/replpass|adminpass/);
    // The writer endpoints followed: a-0 drained before a-1 was promoted, a-1 routed once writable.
    expect(await until(() => endpointsOf('warehouse-shard-a-primary').join() === at('a-1'))).toBe(true);
    const r = status()!.failovers.at(-1)!;
    expect(Date.parse(r.drainedAt!)).toBeLessThanOrEqual(Date.parse(r.phaseTimes['Promoting']!));
    expect(r.routedAt).toBeDefined();
    expect(reasons()).toEqual(expect.arrayContaining(['WriterDrained', 'WriterRouted']));
  });

  it('stops cleanly on SIGTERM', async () => {
    op!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
