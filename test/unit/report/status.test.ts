import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/analyze/findings.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Observation } from '../../../src/observe/types.js';
import { channelState, projectStatus, significantPart } from '../../../src/report/status.js';
import { FailoverRecord, type GroupRouting } from '../../../src/api/status.js';
import { describeFailover, renderTree } from '../../../src/report/tree.js';
import { gtidOps } from '../../../src/sql/gtid/index.js';
import { channel, converged, fresh, warehouse } from '../../fixtures/topology.js';

function project(
  obs: Observation,
  now = '2026-11-21T00:00:00.000Z',
  previous?: ReturnType<typeof projectStatus>,
) {
  const spec = warehouse();
  const view = buildView(spec, obs, previous);
  const remembered = spec.groups.flatMap((g) =>
    g.channels.map((c) => ({ group: g.name, name: c.name, from: c.from })),
  );
  const findings = analyze({ view, gtid: gtidOps, remembered });
  return projectStatus(
    { view, findings, generation: 3, now, paused: false, remembered, failovers: [] },
    previous,
  );
}

describe('status projection', () => {
  it('converged: Ready, every channel Running, roles and summary', () => {
    const s = project(converged());
    expect(s.phase).toBe('Ready');
    expect(s.summary).toMatchObject({ channelsRunning: 4, channelsTotal: 4, channels: '4/4', groups: 3 });
    expect(s.instances.map((i) => `${i.name}:${i.role}`)).toEqual([
      'a-0:primary',
      'a-1:replica',
      'b-0:primary',
      'dw-0:primary',
      'dw-1:replica',
    ]);
    expect(s.channels.find((c) => c.name === 'shard_b')).toMatchObject({
      replica: 'dw-0',
      from: 'shard-b',
      source: 'b-0',
      managed: true,
    });
    expect(s.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'AllChannelsRunning',
      observedGeneration: 3,
    });
  });

  it('the same observation later gives an identical status (no write owed)', () => {
    const first = project(converged(), '2026-11-21T00:00:00.000Z');
    expect(project(converged(), '2026-11-21T01:00:00.000Z', first)).toEqual(first);
  });

  it('an unreachable member keeps the time it was last seen while it stays unreachable', () => {
    const down = converged({ 'dw-1': { reachable: false } });
    const first = project(down, '2026-11-21T00:00:00.000Z');
    const later = project(down, '2026-11-21T00:05:00.000Z', first);
    expect(later.instances.find((i) => i.name === 'dw-1')).toMatchObject({
      reachable: false,
      role: 'unknown',
      lastSeen: '2026-11-21T00:00:00.000Z',
    });
    expect(later).toEqual(first);
  });

  it('a condition keeps its lastTransitionTime until its status changes', () => {
    const ready = project(converged(), '2026-11-21T00:00:00.000Z');
    const degraded = project(converged({ 'dw-1': { reachable: false } }), '2026-11-21T00:01:00.000Z', ready);
    expect(degraded.phase).toBe('Degraded');
    expect(degraded.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(
      '2026-11-21T00:01:00.000Z',
    );
    const again = project(converged({ 'dw-1': { reachable: false } }), '2026-11-21T00:02:00.000Z', degraded);
    expect(again.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(
      '2026-11-21T00:01:00.000Z',
    );
  });

  it('a declared channel missing on the server is reported as Missing', () => {
    const s = project(fresh());
    expect(s.channels.filter((c) => c.state === 'Missing').map((c) => `${c.replica}/${c.name}`)).toEqual([
      'dw-0/shard_a',
      'dw-0/shard_b',
    ]);
    expect(s.phase).toBe('Degraded');
  });

  it.each([
    [{ ioRunning: 'Yes', sqlRunning: 'Yes' }, 'Running'],
    [{ ioRunning: 'Connecting', sqlRunning: 'Yes' }, 'Connecting'],
    [{ ioRunning: 'No', sqlRunning: 'No' }, 'Stopped'],
    [{ ioRunning: 'Yes', sqlRunning: 'No', lastSQLErrno: 1062 }, 'Broken'],
    [{ ioRunning: 'No', sqlRunning: 'Yes', lastIOErrno: 1236 }, 'Broken'],
  ] as const)('channel state %j → %s', (over, want) =>
    expect(channelState(channel('x', 'a-0', over))).toBe(want),
  );
});

describe('significant changes (written at once) versus volatile ones (written at most every 30 s)', () => {
  const base = project(converged());
  it('GTID positions, lag and thread-state text alone are not significant', () => {
    const moved = project(
      converged({
        'a-0': { vars: { gtidExecuted: '1-1-99' } },
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0', {
              retrievedGtidSet: '1-1-99',
              secondsBehindSource: 3,
              sqlState: 'Reading event from the relay log',
            }),
            channel('shard_b', 'b-0'),
          ],
        },
      }),
    );
    expect(moved).not.toEqual(base);
    expect(significantPart(moved)).toEqual(significantPart(base));
  });
  it('a channel that stops, or a member that goes away, is significant', () => {
    const stopped = project(
      converged({
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0', { ioRunning: 'No', sqlRunning: 'No' }),
            channel('shard_b', 'b-0'),
          ],
        },
      }),
    );
    expect(significantPart(stopped)).not.toEqual(significantPart(base));
    expect(significantPart(project(converged({ 'dw-1': { reachable: false } })))).not.toEqual(
      significantPart(base),
    );
  });
});

describe('tree', () => {
  it('draws the multi-source replica under each of its sources, its subtree once', () => {
    const text = renderTree('warehouse', project(converged()));
    const lines = text.split('\n');
    expect(lines[0]).toBe('warehouse: Ready, 4/4 channels running');
    expect(lines.filter((l) => l.includes('dw-0 [dw] primary'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('dw-1 [dw] replica'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('(see above)'))).toBe(true);
    expect(text.indexOf('a-0 [shard-a] primary')).toBeLessThan(text.indexOf('via shard_a'));
    expect(text.indexOf('b-0 [shard-b] primary')).toBeLessThan(text.indexOf('via shard_b'));
  });
});

describe('tree: routing', () => {
  const routed = (routing: Record<string, GroupRouting>) => {
    const s = project(converged());
    s.groups = s.groups.map((g) => (routing[g.name] ? { ...g, routing: routing[g.name] } : g));
    return renderTree('warehouse', s).split('\n');
  };

  it('one line per routed group: the writer (not ready, or drained), the readers, the time of the last change', () => {
    const lines = routed({
      'shard-a': {
        writer: 'a-0',
        writerReady: true,
        readers: ['a-1'],
        changedAt: '2026-11-21T00:00:01.000Z',
      },
      'shard-b': { writer: 'b-0', writerReady: false, readers: [] },
      dw: { writer: null, writerReady: false, readers: ['dw-1'], changedAt: '2026-11-21T00:00:02.000Z' },
    });
    expect(lines.filter((l) => l.startsWith('routing '))).toEqual([
      'routing shard-a: writer a-0, readers a-1, changed 2026-11-21T00:00:01.000Z',
      'routing shard-b: writer b-0 (not ready), readers none',
      'routing dw: writer drained, readers dw-1, changed 2026-11-21T00:00:02.000Z',
    ]);
    // After the members, before the journal.
    expect(lines.findIndex((l) => l.startsWith('routing '))).toBeGreaterThan(
      lines.findIndex((l) => l.includes('dw-1 [dw] replica')),
    );
  });

  it('no routing line for a group whose traffic is not routed', () => {
    const lines = routed({ 'shard-a': { writer: 'a-0', writerReady: true, readers: [] } });
    expect(lines.filter((l) => l.startsWith('routing '))).toEqual([
      'routing shard-a: writer a-0, readers none',
    ]);
    expect(renderTree('warehouse', project(converged()))).not.toContain('routing ');
  });

  const record = (over: Partial<FailoverRecord>) =>
    FailoverRecord.parse({
      id: 'f1',
      group: 'shard-a',
      from: 'a-0',
      to: 'a-1',
      reason: 'DeadPrimary',
      phase: 'Done',
      startedAt: '2026-01-01T00:00:00.000Z',
      phaseTimes: { Decided: '2026-01-01T00:00:00.000Z', Done: '2026-01-01T00:00:02.000Z' },
      ...over,
    });

  it("a failover's drain and route are told with their time since the decision, a failed drain with why", () => {
    expect(
      describeFailover(
        record({ drainedAt: '2026-01-01T00:00:00.004Z', routedAt: '2026-01-01T00:00:01.250Z' }),
      ),
    ).toBe(
      'last failover: shard-a a-0 → a-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s; drained +0.004s, routed +1.250s',
    );
    expect(
      describeFailover(
        record({ drainProblem: 'hook: routing hook failed (exit 1)', routedAt: '2026-01-01T00:00:01.000Z' }),
      ),
    ).toBe(
      'last failover: shard-a a-0 → a-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s; drain failed, went on without it (hook: routing hook failed (exit 1)), routed +1.000s',
    );
    expect(describeFailover(record({}))).toBe(
      'last failover: shard-a a-0 → a-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s',
    );
  });

  it('a record held for a human says what it waits for and the loss it shows; after, what was accepted', () => {
    const atRisk = [{ member: 'dw-0', missing: '1-1-12' }];
    const held = record({
      phase: 'CatchingUp',
      phaseTimes: { Decided: '2026-01-01T00:00:00.000Z' },
      waitingFor: 'an acknowledgement',
      atRisk,
    });
    expect(describeFailover(held)).toBe(
      'last failover: shard-a a-0 → a-1 (DeadPrimary) CatchingUp: Decided +0.000s; waiting for an acknowledgement; would lose dw-0: 1-1-12 (acknowledge with tributary.dev/ack-failover: shard-a)',
    );
    expect(
      describeFailover(record({ acknowledged: true, acknowledgedLoss: atRisk, unreachable: ['a-2'] })),
    ).toBe(
      'last failover: shard-a a-0 → a-1 (DeadPrimary) Done: Decided +0.000s, Done +2.000s; acknowledged loss dw-0: 1-1-12; unreachable when promoted (may hold transactions it lacks): a-2',
    );
    // A closed record no longer waits, nor shows a loss it would cause.
    expect(describeFailover({ ...held, phase: 'Aborted' })).not.toMatch(/waiting for|would lose/);
  });
});
