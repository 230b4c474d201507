// A failover record's steps, decided from observations: tables of (record, servers) → (phase, statements).
import { describe, expect, it } from 'vitest';
import type { FailoverRecord, TopologyStatus } from '../../../src/api/status.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Observation } from '../../../src/observe/types.js';
import { describeAction } from '../../../src/plan/actions.js';
import { journalFirst, stepFailover } from '../../../src/plan/failover-step.js';
import {
  channel,
  converged,
  instance,
  warehouse,
  warehouseStatus,
  failoverRecord,
} from '../../fixtures/topology.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const record = (over: Partial<FailoverRecord> = {}): FailoverRecord =>
  failoverRecord({
    phaseTimes: { Decided: '2026-11-21T11:59:59.000Z' },
    deadline: '2026-11-21T12:05:00.000Z',
    waitSeconds: 30,
    ...over,
  });

const previous = warehouseStatus;

type Over = Parameters<typeof converged>[0];
/** a-0 dead; a-1 and dw-0 still see their receivers reconnecting unless told otherwise. */
function deadA0(over: Over = {}): Observation {
  const a1 = '1-1-10';
  return converged({
    'a-0': { reachable: false },
    'a-1': {
      vars: { readOnly: true, gtidExecuted: a1, gtidSlavePos: a1, gtidCurrentPos: a1, gtidBinlogPos: a1 },
      channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: a1 })],
    },
    'dw-0': {
      vars: { gtidExecuted: '1-1-10,4-4-3', gtidCurrentPos: '1-1-10,4-4-3' },
      channels: [channel('shard_a', 'a-0', { ioRunning: 'No' }), channel('shard_b', 'b-0')],
    },
    ...over,
  });
}

/** dw-0 received from a-0 up to 1-1-12 before it died: more of shard-a than a-1 holds. */
const dw0Ahead = () => ({
  vars: { gtidExecuted: '1-1-12,4-4-3', gtidCurrentPos: '1-1-12,4-4-3' },
  channels: [
    channel('shard_a', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-12' }),
    channel('shard_b', 'b-0'),
  ],
});

function step(r: FailoverRecord, obs: Observation, spec = warehouse(), prev = previous()) {
  const view = buildView(spec, obs, { ...prev, failovers: [r] });
  const out = stepFailover(r, { spec, view, previous: prev, nowMs: NOW });
  return { ...out, brief: out.actions.map(describeAction) };
}

describe('a dead primary: Decided → CatchingUp → Promoting', () => {
  it('first stops every managed receiver from the dead primary, and chooses nothing yet', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'Connecting', retrievedGtidSet: '1-1-10' })],
      },
      'dw-0': {
        channels: [
          channel('shard_a', 'a-0', { ioRunning: 'Connecting' }),
          channel('shard_b', 'b-0'),
          channel('handmade', 'a-0', { ioRunning: 'Connecting' }),
        ],
      },
    });
    const s = step(record(), obs);
    expect(s.record.phase).toBe('Decided');
    expect(s.brief).toEqual([
      "a-1/'': stop the receiver (failover: freeze what it received from a-0)",
      'dw-0/shard_a: stop the receiver (failover: freeze what it received from a-0)',
    ]);
  });

  it('receivers stopped and nothing left to apply or fetch: promotes in the same pass', () => {
    const s = step(record(), deadA0());
    expect(s.record.phase).toBe('Promoting');
    expect(Object.keys(s.record.phaseTimes)).toEqual(['Decided', 'CatchingUp', 'Promoting']);
    expect(s.brief).toEqual([
      "a-1/'': stop and remove (it pointed at a-0)",
      'a-1: make writable (promoted in place of a-0)',
    ]);
  });

  it('the old primary answers again before promotion: aborted, nothing promoted', () => {
    const obs = deadA0({ 'a-0': {} });
    const s = step(record({ phase: 'CatchingUp' }), obs);
    expect(s.record.phase).toBe('Aborted');
    expect(s.record.message).toMatch(/came back before promotion/);
    expect(s.actions).toEqual([]);
  });

  it('the candidate first applies what it received, bounded', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidSlavePos: '1-1-10', gtidCurrentPos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-14' })],
      },
    });
    const s = step(record({ phase: 'CatchingUp' }), obs);
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.brief).toEqual(['a-1: wait up to 30s for 1-1-14 (failover: apply the relay log)']);
  });

  it('Decided starts an applier stopped without an error before it stops the receiver', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10' },
        channels: [
          channel('', 'a-0', { ioRunning: 'Connecting', sqlRunning: 'No', retrievedGtidSet: '1-1-14' }),
        ],
      },
    });
    expect(step(record(), obs).brief.slice(0, 2)).toEqual([
      "a-1/'': start the applier (failover: apply what it received before the receiver stops)",
      "a-1/'': stop the receiver (failover: freeze what it received from a-0)",
    ]);
  });

  it('MariaDB, both threads already stopped: starting one would discard the relay log; it is stranded, held', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidSlavePos: '1-1-10', gtidCurrentPos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', sqlRunning: 'No', retrievedGtidSet: '1-1-14' })],
      },
    });
    const s = step(record({ phase: 'CatchingUp' }), obs);
    expect(s.actions).toEqual([]);
    expect(s.record.stranded).toEqual([{ member: 'a-1', missing: '1-1-14' }]);
    expect(s.conditions.map((c) => c.type)).toEqual(['FailoverHeld']);
  });

  it('a survivor with errant transactions holding what the candidate lacks: never a donor, stranded, held', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const obs = deadA0();
    obs.instances.push(
      instance('a-2', {
        vars: {
          readOnly: true,
          gtidExecuted: '1-1-12,6-6-1',
          gtidCurrentPos: '1-1-12,6-6-1',
          gtidSlavePos: '1-1-12',
        },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-12' })],
      }),
    );
    const s = step(record({ phase: 'CatchingUp' }), obs, spec);
    expect(s.actions).toEqual([]);
    expect(s.record.stranded).toEqual([{ member: 'a-2', missing: '1-1-12' }]);
    expect(s.conditions.map((c) => c.type)).toEqual(['FailoverHeld']);
  });

  it('an acknowledgement is withdrawn when the candidate changes', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const obs = deadA0({ 'a-1': { reachable: false } });
    obs.instances.push(
      instance('a-2', {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidCurrentPos: '1-1-10', gtidSlavePos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-10' })],
      }),
    );
    const s = step(record({ phase: 'CatchingUp', acknowledged: true }), obs, spec);
    expect(s.record.to).toBe('a-2');
    expect(s.record.acknowledged).toBeUndefined();
  });

  it('a candidate that became unreachable while Promoting: held past the deadline; an acknowledgement ends it', () => {
    const obs = deadA0({ 'a-1': { reachable: false } });
    const late = record({ phase: 'Promoting', deadline: '2026-11-21T11:59:59.500Z' });
    const held = step(late, obs);
    expect(held.record.phase).toBe('Promoting');
    expect(held.conditions.map((c) => c.type)).toEqual(['FailoverStuck']);
    const acked = step({ ...late, acknowledged: true }, obs);
    expect(acked.record.phase).toBe('Aborted');
  });

  it('a downstream survivor that received more of the group (MariaDB): fed over a domain-filtered channel', () => {
    const obs = deadA0({
      'dw-0': dw0Ahead(),
    });
    const s = step(record({ phase: 'CatchingUp' }), obs);
    expect(s.record).toMatchObject({ phase: 'CatchingUp', donor: 'dw-0', catchUpTo: '1-1-12' });
    expect(s.brief).toEqual([
      'a-1/tributary_catchup: create from dw-0 (h:1004) and start (failover: catch up from dw-0)',
      'a-1: wait up to 30s for 1-1-12 (failover: transactions only dw-0 holds)',
      'a-1/tributary_catchup: stop and remove (failover: caught up)',
    ]);
    const configure = s.actions[0]!;
    expect(configure.kind === 'ConfigureChannel' && configure.desired.doDomainIds).toEqual([1, 2]);
  });

  it('a survivor that cannot send what the candidate lacks (1236 on the catch-up channel): stranded, held', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidCurrentPos: '1-1-10' },
        channels: [
          channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-10' }),
          channel('tributary_catchup', 'dw-0', { ioRunning: 'No', lastIOErrno: 1236, lastIOError: 'purged' }),
        ],
      },
      'dw-0': dw0Ahead(),
    });
    const first = step(record({ phase: 'CatchingUp' }), obs);
    expect(first.brief).toEqual(['a-1/tributary_catchup: stop and remove (failover: caught up)']);
    expect(first.record.phase).toBe('CatchingUp');
    // The channel is gone on the next pass; the survivor stays judged (stranded), the record waits for a human.
    const later = deadA0({
      'dw-0': dw0Ahead(),
    });
    const held = step({ ...first.record, stranded: [{ member: 'dw-0', missing: '1-1-12' }] }, later);
    expect(held.record.phase).toBe('CatchingUp');
    expect(held.actions).toEqual([]);
    expect(held.conditions.map((c) => c.type)).toEqual(['FailoverHeld']);
    expect(held.record.waitingFor).toMatch(/dw-0: 1-1-12/);
    expect(held.record.atRisk).toEqual([{ member: 'dw-0', missing: '1-1-12' }]);
    // Acknowledged (decide.ts binds the acknowledgement to atRisk): promotes with what a-1 holds; the
    // loss stays on record.
    const acked = step({ ...held.record, acknowledged: true, acknowledgedLoss: held.record.atRisk! }, later);
    expect(acked.record.phase).toBe('Promoting');
    expect(acked.record.stranded).toEqual([{ member: 'dw-0', missing: '1-1-12' }]);
    expect(acked.record.waitingFor).toBeUndefined();
    expect(acked.record.atRisk).toBeUndefined();
  });

  it('an acknowledgement covers only the loss it was shown: a larger one withdraws it and holds again', () => {
    const later = deadA0({ 'dw-0': dw0Ahead() });
    const r = record({
      phase: 'CatchingUp',
      stranded: [{ member: 'dw-0', missing: '1-1-12' }],
      acknowledged: true,
      acknowledgedLoss: [{ member: 'dw-0', missing: '1-1-11' }],
    });
    const s = step(r, later);
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.record.acknowledged).toBeUndefined();
    expect(s.record.acknowledgedLoss).toBeUndefined();
    expect(s.record.atRisk).toEqual([{ member: 'dw-0', missing: '1-1-12' }]);
    expect(s.conditions[0]?.message).toMatch(/acknowledgement of dw-0: 1-1-11 is withdrawn/);
    // Acknowledged for another holder: the same.
    const other = step({ ...r, acknowledgedLoss: [{ member: 'a-2', missing: '1-1-12' }] }, later);
    expect(other.record.phase).toBe('CatchingUp');
    expect(other.record.acknowledged).toBeUndefined();
  });

  it('acknowledged or not, the candidate applies its own relay log first, and again before its reset', () => {
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidSlavePos: '1-1-10', gtidCurrentPos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', sqlRunning: 'No', retrievedGtidSet: '1-1-14' })],
      },
    });
    // Its applier runs (blocked behind a lock, say): the relay log is awaited.
    const applying = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidSlavePos: '1-1-10', gtidCurrentPos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-14' })],
      },
    });
    const acked = step(record({ phase: 'CatchingUp', acknowledged: true, acknowledgedLoss: [] }), applying);
    expect(acked.brief).toEqual(['a-1: wait up to 30s for 1-1-14 (failover: apply the relay log)']);
    const promoting = step(
      record({ phase: 'Promoting', acknowledged: true, acknowledgedLoss: [] }),
      applying,
    );
    expect(promoting.brief).toEqual([
      'a-1: wait up to 30s for 1-1-14 (failover: apply the relay log)',
      "a-1/'': stop and remove (it pointed at a-0)",
      'a-1: make writable (promoted in place of a-0)',
    ]);
    // Both threads stopped (MariaDB): the relay log can no longer be applied; a loss shown and held.
    const lost = step(record({ phase: 'CatchingUp' }), obs);
    expect(lost.record.atRisk).toEqual([{ member: 'a-1', missing: '1-1-14' }]);
  });

  it('a relay log seen before and gone now (a restart discarded it) is a loss shown and held', () => {
    const r = record({ phase: 'CatchingUp', received: [{ member: 'a-1', channel: '', position: '1-1-14' }] });
    const s = step(r, deadA0());
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.record.atRisk).toEqual([{ member: 'a-1', missing: '1-1-14' }]);
    expect(s.conditions.map((c) => c.type)).toEqual(['FailoverHeld']);
    // What it received before is remembered, never less than what is seen now.
    expect(s.record.received).toEqual([{ member: 'a-1', channel: '', position: '1-1-14' }]);
  });

  it('a survivor unreachable now: waited for up to catchUpTimeoutSeconds, then promoted and named', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const obs = deadA0();
    obs.instances.push(instance('a-2', { reachable: false }));
    const r = record({
      phase: 'CatchingUp',
      phaseTimes: { CatchingUp: new Date(NOW - 10_000).toISOString() },
    });
    const waiting = step(r, obs, spec);
    expect(waiting.record.phase).toBe('CatchingUp');
    expect(waiting.actions).toEqual([]);
    expect(waiting.record.unreachable).toEqual(['a-2']);
    expect(waiting.record.message).toMatch(/waits up to 30s .* for a-2 \(unreachable\)/);
    const later = { ...r, phaseTimes: { CatchingUp: new Date(NOW - 30_000).toISOString() } };
    const gone = step(later, obs, spec);
    expect(gone.record.phase).toBe('Promoting');
    expect(gone.record.unreachable).toEqual(['a-2']);
  });

  it('a survivor on a newer release than the candidate never feeds it: its extra is a loss, held', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const obs = deadA0({
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidCurrentPos: '1-1-10', version: '10.6.1-MariaDB' },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-10' })],
      },
    });
    obs.instances.push(
      instance('a-2', {
        vars: {
          readOnly: true,
          gtidExecuted: '1-1-12',
          gtidCurrentPos: '1-1-12',
          version: '10.11.19-MariaDB',
        },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-12' })],
      }),
    );
    const s = step(record({ phase: 'CatchingUp' }), obs, spec);
    expect(s.actions).toEqual([]);
    expect(s.record.atRisk).toEqual([{ member: 'a-2', missing: '1-1-12' }]);
    expect(s.conditions.map((c) => c.type)).toEqual(['FailoverHeld']);
  });

  it('past its deadline while held: FailoverStuck, every pass, until someone acknowledges', () => {
    const mysql = mysqlDeadA0({ downstream: 'aaaaaaaa-0000-0000-0000-00000000000a:1-12' });
    const s = step(
      record({ phase: 'CatchingUp', deadline: '2026-11-21T11:59:59.500Z' }),
      mysql,
      warehouse(),
      mysqlPrevious(),
    );
    expect(s.conditions.map((c) => c.type)).toEqual(['FailoverHeld', 'FailoverStuck']);
  });

  it('MySQL: a downstream survivor ahead cannot feed the candidate without other sources: stranded, held', () => {
    const s = step(
      record({ phase: 'CatchingUp' }),
      mysqlDeadA0({ downstream: 'aaaaaaaa-0000-0000-0000-00000000000a:1-12' }),
      warehouse(),
      mysqlPrevious(),
    );
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.actions).toEqual([]);
    expect(s.record.stranded).toEqual([
      { member: 'dw-0', missing: 'aaaaaaaa-0000-0000-0000-00000000000a:11-12' },
    ]);
    expect(s.conditions[0]).toMatchObject({ type: 'FailoverHeld', reason: 'StrandedTransactions' });
  });

  it('no member can be promoted: held with a named condition, not a silent block', () => {
    const obs = deadA0({ 'a-1': { reachable: false } });
    const s = step(record({ phase: 'CatchingUp' }), obs);
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.conditions[0]).toMatchObject({ type: 'FailoverBlocked', reason: 'NoCandidate' });
  });

  it('an unreachable candidate is replaced by the next eligible member', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const obs = deadA0({ 'a-1': { reachable: false } });
    obs.instances.push(
      instance('a-2', {
        vars: { readOnly: true, gtidExecuted: '1-1-10', gtidCurrentPos: '1-1-10', gtidSlavePos: '1-1-10' },
        channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: '1-1-10' })],
      }),
    );
    const s = step(record({ phase: 'CatchingUp' }), obs, spec);
    expect(s.record.to).toBe('a-2');
    expect(s.record.passedOver[0]).toEqual({
      member: 'a-1',
      reason: 'chosen first, then unreachable or unable to apply its relay log',
    });
  });

  it("Promoting once the candidate is writable with no channel '': Repointing", () => {
    const obs = deadA0({ 'a-1': { vars: { readOnly: false, gtidExecuted: '1-1-10' }, channels: [] } });
    const s = step(record({ phase: 'Promoting' }), obs);
    expect(s.record.phase).toBe('Repointing');
    expect(s.actions).toEqual([]);
  });
});

describe('what the journal writes before the statements (journalFirst)', () => {
  const promoting = record({ phase: 'Promoting', to: 'a-1' });
  const obs = deadA0({ 'a-1': { vars: { readOnly: false, gtidExecuted: '1-1-10' }, channels: [] } });
  const repointing = step(promoting, obs).record;

  it('a new record, and every move up to the promotion, before anything runs', () => {
    const decided = record({ phase: 'Decided' });
    expect(journalFirst([], [decided])).toBe(true);
    expect(journalFirst([decided], [{ ...decided, phase: 'CatchingUp' }])).toBe(true);
    expect(journalFirst([decided], [promoting])).toBe(true);
    // A change of what the record holds (the candidate, an acknowledgement) is never deferred.
    expect(journalFirst([promoting], [{ ...promoting, to: 'a-2' }])).toBe(true);
    expect(journalFirst([promoting], [{ ...promoting, acknowledged: true }])).toBe(true);
  });

  it('Promoting → Repointing → Done may ride on the report: nothing a resumed pass would decide otherwise', () => {
    expect(repointing.phase).toBe('Repointing');
    expect(journalFirst([promoting], [repointing])).toBe(false);
    const done = { ...repointing, phase: 'Done' as const, finishedAt: '2026-11-21T12:00:01.000Z' };
    expect(journalFirst([repointing], [done])).toBe(false);
    expect(journalFirst([promoting], [done])).toBe(false);
    // Unchanged records, and records trimmed from the history, ask for nothing.
    expect(journalFirst([{ ...done, id: 'older' }, promoting], [promoting])).toBe(false);
    // A deferrable move beside a record that must be written first: written first.
    expect(journalFirst([promoting], [repointing, record({ id: 'other', phase: 'Decided' })])).toBe(true);
  });
});

describe('a switchover: freeze, wait (bounded), promote or abort', () => {
  const sw = (over: Partial<FailoverRecord> = {}) =>
    record({
      reason: 'Switchover',
      phase: 'CatchingUp',
      phaseTimes: { CatchingUp: '2026-11-21T11:59:50.000Z' },
      ...over,
    });
  const live = (a0: { readOnly: boolean; pos: string }, a1: string, named = 'Yes'): Observation =>
    converged({
      'a-0': {
        vars: { readOnly: a0.readOnly, gtidExecuted: a0.pos, gtidBinlogPos: a0.pos },
        channels: [channel('from_b', 'b-0', { ioRunning: named as 'Yes', sqlRunning: named as 'Yes' })],
      },
      'a-1': {
        vars: { readOnly: true, gtidExecuted: a1 },
        channels: [channel('', 'a-0', { retrievedGtidSet: a1 })],
      },
    });
  const spec = warehouse((w) => (w.groups[0]!.channels = [{ name: 'from_b', from: 'shard-b' }]));
  const stepSw = (r: FailoverRecord, obs: Observation) => {
    const view = buildView(spec, obs, { ...previous(), failovers: [r] });
    const out = stepFailover(r, { spec, view, previous: previous(), nowMs: NOW });
    return { ...out, brief: out.actions.map(describeAction) };
  };

  it('freezes the old primary: its named channels stop, then it turns read-only', () => {
    const s = stepSw(sw(), live({ readOnly: false, pos: '1-1-20' }, '1-1-18'));
    expect(s.brief).toEqual([
      'a-0/from_b: stop (switchover: freeze the old primary)',
      'a-0: make read-only (switchover: no more writes on the old primary)',
    ]);
  });
  it("frozen: the target waits for the old primary's position, within what is left of the bound", () => {
    const s = stepSw(sw(), live({ readOnly: true, pos: '1-1-20' }, '1-1-18', 'No'));
    expect(s.record.catchUpTo).toBe('1-1-20');
    expect(s.brief).toEqual(['a-1: wait up to 20s for 1-1-20 (switchover: the target must hold everything)']);
  });
  it('read_only alone is not frozen: super_read_only off (MySQL) is fenced again before any wait', () => {
    const obs = live({ readOnly: true, pos: '1-1-20' }, '1-1-18', 'No');
    obs.instances.find((i) => i.member === 'a-0')!.vars!.superReadOnly = false;
    const s = stepSw(sw(), obs);
    expect(s.brief).toEqual(['a-0: make read-only (switchover: no more writes on the old primary)']);
  });
  it('a primary that became writable again and wrote: the wait follows its new position', () => {
    const s = stepSw(sw({ catchUpTo: '1-1-20' }), live({ readOnly: true, pos: '1-1-25' }, '1-1-20', 'No'));
    expect(s.record.phase).toBe('CatchingUp');
    expect(s.record.catchUpTo).toBe('1-1-25');
    expect(s.brief).toEqual(['a-1: wait up to 20s for 1-1-25 (switchover: the target must hold everything)']);
  });
  it('caught up: promoted', () => {
    const s = stepSw(sw(), live({ readOnly: true, pos: '1-1-20' }, '1-1-20', 'No'));
    expect(s.record.phase).toBe('Promoting');
  });
  it('the bound ran out: aborted; convergence gives the old primary back its writes and channels', () => {
    const s = stepSw(sw({ waitSeconds: 5 }), live({ readOnly: true, pos: '1-1-20' }, '1-1-18', 'No'));
    expect(s.record.phase).toBe('Aborted');
    expect(s.record.message).toMatch(/did not reach 1-1-20 within 5s/);
  });
});

/** The same dead a-0 on MySQL: UUID sets, a downstream channel's retrieved set as its holdings. */
function mysqlDeadA0(o: { downstream: string }): Observation {
  const P = 'aaaaaaaa-0000-0000-0000-00000000000a';
  const obs = deadA0({
    'a-1': {
      vars: { readOnly: true, gtidExecuted: `${P}:1-10` },
      channels: [channel('', 'a-0', { ioRunning: 'No', retrievedGtidSet: `${P}:1-10` })],
    },
    'dw-0': {
      vars: { gtidExecuted: o.downstream },
      channels: [
        channel('shard_a', 'a-0', { ioRunning: 'No', retrievedGtidSet: o.downstream }),
        channel('shard_b', 'b-0'),
      ],
    },
  });
  return {
    ...obs,
    instances: obs.instances.map((i) =>
      i.reachable
        ? { ...i, flavor: 'mysql' as const, vars: { ...i.vars!, gtidDomainId: null, version: '9.7.4' } }
        : i,
    ),
  };
}

function mysqlPrevious(): TopologyStatus {
  const p = previous();
  return {
    ...p,
    instances: [
      {
        ...p.instances[0]!,
        gtidDomainId: undefined,
        gtidExecuted: 'aaaaaaaa-0000-0000-0000-00000000000a:1-10',
      },
    ],
  };
}
