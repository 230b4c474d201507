// Routing decided from observations: (servers, journal, what the targets hold) → steps, in run order.
import { describe, expect, it } from 'vitest';
import type { FailoverRecord, GroupRouting, TopologyStatus } from '../../../src/api/status.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Observation } from '../../../src/observe/types.js';
import type { Action } from '../../../src/plan/actions.js';
import { decidePass } from '../../../src/plan/decide.js';
import { stepFailover } from '../../../src/plan/failover-step.js';
import { previewPasses } from '../../../src/plan/preview.js';
import {
  desiredRouting,
  describeRoutingStep,
  drained,
  routingAfter,
  routingSteps,
} from '../../../src/plan/routing.js';
import { formatPlan } from '../../../src/report/plan-text.js';
import {
  channel,
  converged,
  deadA0,
  failoverRecord,
  warehouse,
  warehouseStatus,
} from '../../fixtures/topology.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const AT = '2026-11-21T11:00:00.000Z';

/** What the targets hold when every group is routed as the converged warehouse wants. */
const routedAsConverged = (): Map<string, GroupRouting> =>
  new Map([
    ['shard-a', { writer: 'a-0', writerReady: true, readers: ['a-1'], changedAt: AT }],
    ['shard-b', { writer: 'b-0', writerReady: true, readers: [], changedAt: AT }],
    ['dw', { writer: 'dw-0', writerReady: true, readers: ['dw-1'], changedAt: AT }],
  ]);

function plan(
  obs: Observation,
  current: Map<string, GroupRouting>,
  journal: FailoverRecord[] = [],
  actions: Action[] = [],
  spec = warehouse(),
) {
  const view = buildView(spec, obs, { ...warehouseStatus(journal) });
  const input = { view, journal, spec: spec.routing, current, actions };
  const steps = routingSteps(input, desiredRouting(input));
  return {
    steps,
    brief: steps.map(
      (s) => `${s.group} ${s.op} ${s.members.map((m) => `${m.name}${m.ready ? '' : '!'}`).join(',')}`,
    ),
  };
}

/** A status whose groups hold the given routing. */
const statusWith = (routing: Map<string, GroupRouting>, journal: FailoverRecord[] = []): TopologyStatus => {
  const s = warehouseStatus(journal);
  return { ...s, groups: s.groups.map((g) => ({ ...g, routing: routing.get(g.name)! })) };
};

describe('routing: the writer and readers each group should have', () => {
  it('first contact: every group gets its writer and its readers', () => {
    expect(plan(converged(), new Map()).brief).toEqual([
      'shard-a route a-0',
      'shard-a readers a-1',
      'shard-b route b-0',
      'shard-b readers ',
      'dw route dw-0',
      'dw readers dw-1',
    ]);
  });

  it('at rest, routed as wanted: no step', () => {
    expect(plan(converged(), routedAsConverged()).steps).toEqual([]);
  });

  it('drift a target reads back (a slice edited by hand) is put back; status alone decides what is drained', () => {
    const view = buildView(warehouse(), converged(), warehouseStatus());
    const observed = new Map(routedAsConverged())
      .set('shard-a', { writer: 'a-1', writerReady: true, readers: [] })
      .set('dw', { writer: null, writerReady: false, readers: ['dw-1'] });
    const input = {
      view,
      journal: [],
      spec: warehouse().routing,
      current: routedAsConverged(),
      actions: [],
      observed,
    };
    const steps = routingSteps(input, desiredRouting(input));
    expect(steps.map((s) => `${s.group} ${s.op} ${s.members.map((m) => m.name).join(',')}`)).toEqual([
      'shard-a route a-0',
      'shard-a readers a-1',
      'dw route dw-0',
    ]);
    // What status remembers still holds a-0 as the writer: not drained, whatever the slices say.
    expect(drained(routedAsConverged(), 'shard-a', 'a-0')).toBe(false);
  });

  it('a replica lagging past maxReplicaLagSeconds leaves the readers, and returns within the bound', () => {
    const lagging = converged({
      'a-1': { vars: { readOnly: true }, channels: [channel('', 'a-0', { secondsBehindSource: 31 })] },
    });
    const out = plan(lagging, routedAsConverged());
    expect(out.brief).toEqual(['shard-a readers ']);
    expect(describeRoutingStep(out.steps[0]!)).toMatch(/a-1 leaves/);
    const back = routingAfter(routedAsConverged(), out.steps, AT);
    expect(plan(converged(), back).brief).toEqual(['shard-a readers a-1']);
    // A replica whose applier stopped does not serve reads either.
    const stopped = converged({
      'dw-1': { vars: { readOnly: true }, channels: [channel('', 'dw-0', { sqlRunning: 'No' })] },
    });
    expect(plan(stopped, routedAsConverged()).brief).toEqual(['dw readers ']);
  });

  it('an unreachable primary stays the writer, not ready; its replicas keep serving reads', () => {
    const down = converged({
      'a-0': { reachable: false },
      'a-1': {
        vars: { readOnly: true },
        channels: [
          channel('', 'a-0', { ioRunning: 'Connecting', lastIOErrno: 2003, secondsBehindSource: null }),
        ],
      },
    });
    expect(plan(down, routedAsConverged()).brief).toEqual(['shard-a route a-0!']);
  });

  it('a failover before promotion drains the old primary (with the record id); readers hold their place', () => {
    const down = converged({ 'a-0': { reachable: false } });
    const r = failoverRecord({ phase: 'CatchingUp' });
    const out = plan(down, routedAsConverged(), [r]);
    expect(out.brief).toEqual(['shard-a drain a-0!']);
    expect(out.steps[0]).toMatchObject({ failover: r.id });
    expect(drained(routedAsConverged(), 'shard-a', 'a-0')).toBe(false);
    expect(drained(routingAfter(routedAsConverged(), out.steps, AT), 'shard-a', 'a-0')).toBe(true);
  });

  it('the pass that makes the candidate writable routes it after that statement; not before', () => {
    const down = converged({ 'a-0': { reachable: false } });
    const drainedNow = routingAfter(
      routedAsConverged(),
      [
        {
          group: 'shard-a',
          op: 'drain',
          members: [{ name: 'a-0', host: 'h', port: 1001, ready: false }],
          reason: '',
        },
      ],
      AT,
    );
    const r = failoverRecord({ phase: 'Promoting' });
    // Nobody takes writes yet; the candidate serves reads until it does.
    expect(plan(down, drainedNow, [r]).brief).toEqual([]);
    const promote: Action = { kind: 'SetReadOnly', member: 'a-1', readOnly: false, reason: 'promoted' };
    expect(plan(down, drainedNow, [r], [promote]).brief).toEqual(['shard-a route a-1', 'shard-a readers ']);
  });
});

describe('routing: a failover drains before it promotes', () => {
  const down = deadA0;
  const step = (r: FailoverRecord, current: Map<string, GroupRouting> | undefined) => {
    const spec = warehouse();
    const view = buildView(spec, down(), { ...warehouseStatus([r]) });
    return stepFailover(r, {
      spec,
      view,
      previous: warehouseStatus([r]),
      nowMs: NOW,
      ...(current ? { drained: (g: string, m: string) => drained(current, g, m) } : {}),
    });
  };

  it('Promoting waits while the old primary is still in the writer endpoints', () => {
    const r = failoverRecord({ phase: 'Promoting' });
    const held = step(r, routedAsConverged());
    expect(held.actions).toEqual([]);
    expect(held.record.waitingFor).toMatch(/a-0 to leave the writer endpoints/);
    const drainedNow = new Map(routedAsConverged()).set('shard-a', {
      writer: null,
      writerReady: false,
      readers: ['a-1'],
    });
    expect(step(r, drainedNow).actions.map((a) => a.kind)).toEqual(['RemoveChannel', 'SetReadOnly']);
    // A drain that failed without requireDrain was said on the record: the promotion goes on.
    expect(
      step({ ...r, drainProblem: 'hook: exit 1' }, routedAsConverged()).actions.map((a) => a.kind),
    ).toEqual(['RemoveChannel', 'SetReadOnly']);
    // Not routed at all: nothing to wait for.
    expect(step(r, undefined).actions.map((a) => a.kind)).toEqual(['RemoveChannel', 'SetReadOnly']);
  });

  it('`tributary plan` shows drain, statements, route in the order they run', () => {
    const previous = statusWith(routedAsConverged());
    const passes = previewPasses({
      spec: warehouse(),
      observation: down(),
      previous,
      streaks: new Map([['a-0', { since: Number.NEGATIVE_INFINITY, failures: Number.POSITIVE_INFINITY }]]),
      nowMs: NOW,
      annotations: {},
      routed: true,
    });
    const text = formatPlan('warehouse', passes, { username: 'repl', password: 'secret' });
    const lines = text.split('\n').filter((l) => /^\s+\d+\. /.test(l));
    const drain = lines.findIndex((l) => /shard-a: drain a-0/.test(l));
    const writable = lines.findIndex((l) => /a-1: make writable/.test(l));
    const route = lines.findIndex((l) => /shard-a: route writes to a-1/.test(l));
    expect(drain).toBeGreaterThanOrEqual(0);
    expect(writable).toBeGreaterThan(drain);
    expect(route).toBeGreaterThan(writable);
    expect(text).not.toContain('secret');
  });

  it('decide: a routed failover asks for the next pass at once while it drains', () => {
    const r = failoverRecord({ phase: 'CatchingUp' });
    const p = decidePass({
      spec: warehouse(),
      observation: down(),
      previous: statusWith(routedAsConverged(), [r]),
      streaks: new Map(),
      nowMs: NOW,
      annotations: {},
      routed: true,
    });
    expect(p.routing.map((s) => `${s.group} ${s.op}`)).toEqual(['shard-a drain']);
    expect(p.requeueAfterMs).toBe(0);
    const off = decidePass({
      spec: warehouse((s) => (s.routing = { enabled: false })),
      observation: down(),
      previous: statusWith(routedAsConverged(), [r]),
      streaks: new Map(),
      nowMs: NOW,
      annotations: {},
      routed: true,
    });
    expect(off.routing).toEqual([]);
  });
});
