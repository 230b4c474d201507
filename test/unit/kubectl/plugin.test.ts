// kubectl tributary against the in-process API server. The test plays the operator's part with the
// operator's own store: it writes the status the operator would write and removes the annotation.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../../src/api/crd.js';
import type { TopologyStatus } from '../../../src/api/status.js';
import { ackCommand, statusCommand, switchoverCommand, type Io } from '../../../src/kubectl/commands.js';
import { renderTree } from '../../../src/report/tree.js';
import { KubernetesStore } from '../../../src/store/kubernetes.js';
import { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER } from '../../../src/store/store.js';
import { KubeApiServer, TOPOLOGIES, topologyManifest } from '../../harness/kube-api-server.js';
import { diamond, record } from '../ui/statuses.js';

const NS = 'db';
const ref = { namespace: NS, name: 'diamond' };
let api: KubeApiServer;
let dir: string;
let kubeconfig: string;
let store: KubernetesStore;
let stopOperator: (() => void) | undefined;

const spec = {
  groups: [
    {
      name: 'hub',
      members: [
        { name: 'h-0', host: 'h-0.db.svc' },
        { name: 'h-1', host: 'h-1.db.svc' },
      ],
    },
    {
      name: 'left',
      members: [{ name: 'l-0', host: 'l-0.db.svc' }],
      channels: [{ name: 'hub', from: 'hub' }],
    },
  ],
};

beforeAll(async () => {
  api = await KubeApiServer.start();
  await api.applyYaml(renderCrdYaml());
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubectl-tributary-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeConfig(NS).exportConfig());
  await api.create(TOPOLOGIES, topologyManifest(NS, 'diamond', spec));
  store = new KubernetesStore({ kubeConfig: api.kubeConfig(NS) });
});
afterEach(async () => {
  stopOperator?.();
  stopOperator = undefined;
  await api.reset();
  rmSync(dir, { recursive: true, force: true });
});

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

const writeStatus = async (status: TopologyStatus) => {
  await store.writeStatus(ref, status, 1);
};

/**
 * The operator's part: each time the annotation is seen, `act` runs with its value (bounded polling; it
 * stops with the test).
 */
function operator(annotation: string, act: (value: string) => Promise<void>): void {
  let on = true;
  stopOperator = () => (on = false);
  void (async () => {
    for (let i = 0; on && i < 400; i++) {
      const value = api.get(TOPOLOGIES, NS, 'diamond')?.metadata.annotations?.[annotation];
      if (value !== undefined) await act(value);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
}

const opts = () => ({ kubeconfig, namespace: NS });
const annotations = () => api.get(TOPOLOGIES, NS, 'diamond')!.metadata.annotations ?? {};

describe('kubectl tributary status', () => {
  it('draws the tree of `tributary status` from the stored status; -o json prints the status', async () => {
    await writeStatus(diamond((s) => (s.failovers = [record({})])));
    const stored = (await store.get(ref))!.status!;
    const io = capture();
    expect(await statusCommand('diamond', { ...opts(), output: 'tree' }, io)).toBe(0);
    expect(io.lines.join('\n')).toBe(renderTree('diamond', stored));
    expect(io.lines.join('\n')).toContain(
      'last failover: hub h-0 → h-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s',
    );
    const json = capture();
    await statusCommand('diamond', { ...opts(), output: 'json' }, json);
    expect(JSON.parse(json.lines.join('\n'))).toEqual(JSON.parse(JSON.stringify(stored)));
  });

  it('shows where each routed group sends traffic: the writer (not ready, or drained) and the readers', async () => {
    await writeStatus(
      diamond((s) => {
        s.groups = s.groups.map((g) =>
          g.name === 'hub'
            ? {
                ...g,
                routing: {
                  writer: null,
                  writerReady: false,
                  readers: ['h-1'],
                  changedAt: '2026-01-01T00:00:00.004Z',
                },
              }
            : g.name === 'left'
              ? { ...g, routing: { writer: 'l-0', writerReady: false, readers: [] } }
              : g,
        );
        s.failovers = [
          record({
            phase: 'Promoting',
            finishedAt: undefined,
            phaseTimes: { Decided: '2026-01-01T00:00:00.000Z' },
            drainedAt: '2026-01-01T00:00:00.004Z',
          }),
        ];
      }),
    );
    const io = capture();
    expect(await statusCommand('diamond', { ...opts(), output: 'tree' }, io)).toBe(0);
    expect(
      io.lines
        .join('\n')
        .split('\n')
        .filter((l) => l.startsWith('routing ')),
    ).toEqual([
      'routing hub: writer drained, readers h-1, changed 2026-01-01T00:00:00.004Z',
      'routing left: writer l-0 (not ready), readers none',
    ]);
    expect(io.lines.join('\n')).toContain(
      'last failover: hub h-0 → h-1 (DeadPrimary) Promoting: Decided +0.000s; drained +0.004s',
    );
  });

  it.each([
    ['a topology without status', 'diamond', {}, /^diamond: no status yet/],
    ['another namespace', 'diamond', { namespace: 'other' }, /mysqltopology other\/diamond not found/],
    ['an unknown topology', 'nope', {}, /mysqltopology db\/nope not found/],
    ['an unknown context', 'diamond', { context: 'elsewhere' }, /--context: no context "elsewhere"/],
  ])('%s: one clear line', async (_what, name, over, want) => {
    const io = capture();
    const run = statusCommand(name, { ...opts(), ...over, output: 'tree' }, io);
    if (String(want).startsWith('/^')) {
      expect(await run).toBe(0);
      expect(io.lines.join('\n')).toMatch(want);
    } else await expect(run).rejects.toThrow(want);
  });
});

describe('kubectl tributary switchover', () => {
  const sw = (io: Io, over: object = {}) =>
    switchoverCommand('diamond', { ...opts(), group: 'hub', to: 'h-1', timeout: 10, ...over }, io);

  it('sets the annotation, prints the phases the operator records, and ends with the result', async () => {
    await writeStatus(diamond());
    operator(ANNOTATION_SWITCHOVER, async (value) => {
      expect(value).toBe('hub=h-1');
      const t0 = Date.now();
      const at = (ms: number) => new Date(t0 + ms).toISOString();
      const r = {
        id: 's1',
        group: 'hub',
        from: 'h-0',
        to: 'h-1',
        reason: 'Switchover' as const,
        startedAt: at(0),
      };
      await writeStatus(
        diamond((s) => (s.failovers = [record({ ...r, phase: 'Decided', phaseTimes: { Decided: at(0) } })])),
      );
      await store.removeAnnotation(ref, ANNOTATION_SWITCHOVER);
      await new Promise((res) => setTimeout(res, 600));
      await writeStatus(
        diamond((s) => {
          s.groups.find((g) => g.name === 'hub')!.primary = 'h-1';
          s.failovers = [
            record({
              ...r,
              phase: 'Done',
              finishedAt: at(800),
              phaseTimes: { Decided: at(0), Promoting: at(300), Done: at(800) },
            }),
          ];
        }),
      );
    });
    const io = capture();
    expect(await sw(io)).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toMatch(/asked: tributary\.dev\/switchover=hub=h-1/);
    expect(text).toMatch(/the operator took the request/);
    expect(text).toMatch(/hub: Decided \(\+0\.000s/);
    expect(text).toMatch(/hub: Promoting \(\+0\.300s/);
    expect(text).toMatch(/switchover of hub done: h-0 → h-1$/);
    // One conditional merge patch set the annotation.
    const patches = api
      .requestsMatching('PATCH', '/mysqltopologies/diamond')
      .filter((q) => !q.path.endsWith('/status'));
    expect(patches[0]).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: {
        metadata: {
          annotations: { [ANNOTATION_SWITCHOVER]: 'hub=h-1' },
          resourceVersion: expect.any(String),
        },
      },
    });
  });

  it('a refused switchover ends with the reason the operator gave', async () => {
    await writeStatus(diamond());
    operator(ANNOTATION_SWITCHOVER, async () => {
      await store.emitEvent(ref, {
        type: 'Warning',
        reason: 'SwitchoverRefused',
        message: 'h-1 is 12 transactions behind',
      });
      await store.removeAnnotation(ref, ANNOTATION_SWITCHOVER);
    });
    const io = capture();
    expect(await sw(io)).toBe(1);
    expect(io.lines.at(-1)).toMatch(
      /the operator did not start the switchover: h-1 is 12 transactions behind$/,
    );
  });

  it('an aborted switchover exits 1 with its message', async () => {
    await writeStatus(diamond());
    operator(ANNOTATION_SWITCHOVER, async () => {
      await writeStatus(
        diamond(
          (s) =>
            (s.failovers = [
              record({ id: 's2', reason: 'Switchover', phase: 'Aborted', message: 'catch-up timed out' }),
            ]),
        ),
      );
      await store.removeAnnotation(ref, ANNOTATION_SWITCHOVER);
    });
    const io = capture();
    expect(await sw(io)).toBe(1);
    expect(io.lines.at(-1)).toMatch(/switchover of hub aborted: catch-up timed out$/);
  });

  it('with no operator, it times out and withdraws the request', async () => {
    await writeStatus(diamond());
    const io = capture();
    expect(await sw(io, { timeout: 1 })).toBe(1);
    expect(io.lines.at(-1)).toMatch(
      /timed out after 1s: no operator acted on the request .*; request withdrawn$/,
    );
    expect(annotations()[ANNOTATION_SWITCHOVER]).toBeUndefined();
  });

  it.each([
    [{ group: 'nope' }, /--group: diamond has no group "nope" \(groups: hub, left\)/],
    [{ to: 'l-0' }, /--to: group hub has no member "l-0" \(members: h-0, h-1\)/],
  ])('bad input %o: one line naming the flag', async (over, want) => {
    await expect(sw(capture(), over)).rejects.toThrow(want);
    expect(annotations()[ANNOTATION_SWITCHOVER]).toBeUndefined();
  });

  it('refuses to replace another pending request, and does nothing when the member already leads', async () => {
    await writeStatus(diamond());
    await api.edit(
      TOPOLOGIES,
      NS,
      'diamond',
      (o) => (o.metadata.annotations = { [ANNOTATION_SWITCHOVER]: 'hub=h-0' }),
    );
    await expect(sw(capture())).rejects.toThrow(/tributary\.dev\/switchover is already set to "hub=h-0"/);
    const io = capture();
    expect(await sw(io, { to: 'h-0' })).toBe(0);
    expect(io.lines).toEqual(['h-0 is already the primary of hub: nothing to do']);
  });
});

describe('kubectl tributary ack', () => {
  const ack = (io: Io, over: object = {}) =>
    ackCommand('diamond', { ...opts(), group: 'hub', timeout: 10, ...over }, io);

  it('acknowledges the last failover of the group and waits until status shows it', async () => {
    await writeStatus(diamond((s) => (s.failovers = [record({})])));
    operator(ANNOTATION_ACK_FAILOVER, async (value) => {
      expect(value).toBe('hub');
      await writeStatus(diamond((s) => (s.failovers = [record({ acknowledged: true })])));
      await store.removeAnnotation(ref, ANNOTATION_ACK_FAILOVER);
    });
    const io = capture();
    expect(await ack(io)).toBe(0);
    expect(io.lines[0]).toBe(
      'last failover: hub h-0 → h-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s',
    );
    expect(io.lines.at(-1)).toMatch(/failover cooldown of hub lifted \(failover f1: h-0 → h-1\)$/);
  });

  it('an acknowledged failover needs nothing; a group without failover is an error', async () => {
    await writeStatus(diamond((s) => (s.failovers = [record({ acknowledged: true })])));
    const io = capture();
    expect(await ack(io)).toBe(0);
    expect(io.lines.at(-1)).toBe('already acknowledged');
    expect(annotations()[ANNOTATION_ACK_FAILOVER]).toBeUndefined();
    await expect(ack(capture(), { group: 'left' })).rejects.toThrow(
      /nothing to acknowledge: the journal of diamond has no failover of group left/,
    );
  });
});
