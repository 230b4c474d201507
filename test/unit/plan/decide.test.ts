// One pass's decision as a table: (spec, observation, stored status, probe streaks) → journal and statements.
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../../src/observe/types.js';
import { describeAction } from '../../../src/plan/actions.js';
import { decidePass, type DecideInput } from '../../../src/plan/decide.js';
import { previewPasses } from '../../../src/plan/preview.js';
import {
  channel,
  converged,
  deadA0,
  warehouse,
  warehouseStatus,
  failoverRecord,
} from '../../fixtures/topology.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const previous = warehouseStatus;

const input = (over: Partial<DecideInput> = {}): DecideInput => ({
  spec: warehouse(),
  observation: converged(),
  previous: previous(),
  streaks: new Map(),
  nowMs: NOW,
  annotations: {},
  ...over,
});
const brief = (d: ReturnType<typeof decidePass>) => d.actions.map(describeAction);
const downFor = (ms: number, failures = 20) => new Map([['a-0', { since: NOW - ms, failures }]]);

describe('decidePass', () => {
  it('a converged topology: nothing to write, next pass at the poll interval', () => {
    const d = decidePass(input());
    expect(d).toMatchObject({ actions: [], journalChanged: false, requeueAfterMs: 1000, problems: [] });
  });

  it('a primary down for less than the window: no failover, re-probed at the window end at the latest', () => {
    const d = decidePass(input({ observation: deadA0(), streaks: downFor(9_900) }));
    expect(d.journalChanged).toBe(false);
    expect(d.actions).toEqual([]);
    expect(d.requeueAfterMs).toBe(100);
    expect(d.conditions).toContainEqual(
      expect.objectContaining({ type: 'PrimaryUnreachable', reason: 'WithinWindow' }),
    );
  });

  it('down for the whole window: the record is journaled and the first step planned, next pass at once', () => {
    const d = decidePass(input({ observation: deadA0(), streaks: downFor(10_000) }));
    expect(d.journalChanged).toBe(true);
    expect(d.journal).toHaveLength(1);
    expect(d.journal[0]).toMatchObject({ group: 'shard-a', from: 'a-0', phase: 'Decided' });
    expect(brief(d)).toEqual([
      "a-1/'': stop the receiver (failover: freeze what it received from a-0)",
      'dw-0/shard_a: stop the receiver (failover: freeze what it received from a-0)',
    ]);
    expect(d.requeueAfterMs).toBe(0);
    expect(d.events.map((e) => e.reason)).toEqual(['FailoverStarted']);
  });

  it('while the group fails over, convergence does not restart the receivers the failover stopped', () => {
    const stopped = deadA0();
    for (const i of stopped.instances)
      for (const c of i.channels) if (c.sourcePort === 1001) c.ioRunning = 'No';
    const open = failoverRecord({ id: 'x' });

    const d = decidePass(
      input({ observation: stopped, previous: previous([open]), streaks: downFor(11_000) }),
    );
    expect(brief(d)).not.toContainEqual(expect.stringMatching(/: start/));
    expect(d.journal[0]!.phase).toBe('Promoting');
  });

  it('paused: reported, nothing journaled, nothing written', () => {
    const d = decidePass(
      input({ spec: warehouse((w) => (w.paused = true)), observation: deadA0(), streaks: downFor(60_000) }),
    );
    expect(d.journalChanged).toBe(false);
    expect(d.actions).toEqual([]);
    expect(d.conditions).toContainEqual(
      expect.objectContaining({ type: 'FailoverBlocked', reason: 'Paused' }),
    );
  });

  it('a hand-made channel from the same source: the managed one is never created; both are named', () => {
    const obs = converged({
      'dw-0': { channels: [channel('shard_a', 'a-0'), channel('manual', 'b-0')] },
    });
    const d = decidePass(input({ observation: obs }));
    expect(brief(d)).toEqual([]);
    expect(d.findings).toContainEqual(
      expect.objectContaining({
        kind: 'ChannelSourceConflict',
        member: 'dw-0',
        channel: 'shard_b',
        otherChannel: 'manual',
      }),
    );
    expect(d.channelProblems.get('dw-0/shard_b')).toMatch(/already feeds dw-0\/manual/);
    expect(d.channelProblems.get('dw-0/manual')).toMatch(/dw-0\/shard_b should receive from/);
  });

  it('a receiver stopped while its source was unreachable (a failover that aborted) is started again', () => {
    const obs = converged({
      'a-1': {
        vars: { readOnly: true },
        channels: [channel('', 'a-0', { ioRunning: 'No', lastIOErrno: 2003, lastIOError: "Can't connect" })],
      },
    });
    expect(brief(decidePass(input({ observation: obs })))).toEqual([
      "a-1/'': start (stopped (receiver No, applier Yes))",
    ]);
  });

  it('one conflicting channel does not stop the repair of the others', () => {
    const obs = converged({
      'a-1': {
        vars: { readOnly: true },
        channels: [channel('', 'a-0', { ioRunning: 'No', sqlRunning: 'No' })],
      },
      'dw-0': { channels: [channel('shard_a', 'a-0'), channel('manual', 'b-0')] },
    });
    expect(brief(decidePass(input({ observation: obs })))).toEqual([
      "a-1/'': start (stopped (receiver No, applier No))",
    ]);
  });

  it('errant transactions on a running replica: reported, it keeps replicating', () => {
    const obs = converged({
      'a-0': { vars: { gtidExecuted: '1-1-10', gtidCurrentPos: '1-1-10' } },
      'a-1': {
        vars: { readOnly: true, gtidExecuted: '1-1-10,2-2-1', gtidCurrentPos: '1-1-10,2-2-1' },
        channels: [channel('', 'a-0', { retrievedGtidSet: '1-1-10' })],
      },
    });
    const d = decidePass(input({ observation: obs }));
    expect(d.findings).toContainEqual({ kind: 'ErrantTransactions', member: 'a-1', errant: '2-2-1' });
    expect(d.channelProblems.get("a-1/''")).toMatch(/errant transactions on a-1: 2-2-1/);
    expect(brief(d)).toEqual([]);
  });

  it('MySQL: a writable-by-SUPER replica is fenced with super_read_only; a read-only that is not persisted is persisted', () => {
    const obs = converged();
    const mysql: Observation = {
      ...obs,
      instances: obs.instances.map((i) => ({
        ...i,
        flavor: 'mysql' as const,
        vars: {
          ...i.vars!,
          version: '9.7.4',
          gtidExecuted: '',
          gtidDomainId: null,
          gtidMode: 'ON',
          enforceGtidConsistency: true,
          superReadOnly: i.member === 'a-1' ? false : i.vars!.readOnly,
          superReadOnlyPersisted: i.member !== 'b-0',
        },
      })),
    };
    expect(brief(decidePass(input({ observation: mysql })))).toEqual([
      'a-1: make read-only (a replica must be read-only)',
      'b-0: persist read-only for every restart (a restarted member must come back read-only)',
    ]);
  });
});

describe('tributary plan: the passes of a whole failover, statement by statement', () => {
  it('stop the receivers, promote, repoint — then nothing', () => {
    const passes = previewPasses(
      input({ observation: deadA0(), streaks: downFor(Number.POSITIVE_INFINITY) }),
    );
    expect(passes.map((p) => [p.journal[0]?.phase, ...brief(p)])).toEqual([
      [
        'Decided',
        "a-1/'': stop the receiver (failover: freeze what it received from a-0)",
        'dw-0/shard_a: stop the receiver (failover: freeze what it received from a-0)',
      ],
      [
        'Promoting',
        "a-1/'': stop and remove (it pointed at a-0)",
        'a-1: make writable (promoted in place of a-0)',
      ],
      ['Repointing', 'dw-0/shard_a: repoint from a-1 (h:1002) and start (points at h:1001)'],
      ['Done'],
    ]);
  });

  it('an acknowledgement binds to the loss shown; one given while nothing is shown is not taken', () => {
    const ACK = { 'tributary.dev/ack-failover': 'shard-a' };
    const deadline = '2026-11-21T12:05:00.000Z';
    const waitingForCandidate = failoverRecord({
      phase: 'CatchingUp',
      deadline,
      waitingFor: 'a member that can be promoted (a-1: unreachable)',
    });
    const noLoss = decidePass(
      input({
        observation: deadA0(),
        previous: { ...previous(), failovers: [waitingForCandidate] },
        annotations: ACK,
      }),
    );
    expect(noLoss.journal[0]?.acknowledged).toBeUndefined();
    expect(noLoss.consume).toEqual(['tributary.dev/ack-failover']);
    expect(noLoss.events.find((e) => e.reason === 'FailoverAcknowledged')?.message).toMatch(
      /shows no loss to accept/,
    );

    const atRisk = [{ member: 'dw-0', missing: '1-1-12' }];
    const held = failoverRecord({ phase: 'CatchingUp', deadline, waitingFor: 'an acknowledgement', atRisk });
    const acked = decidePass(
      input({ observation: deadA0(), previous: { ...previous(), failovers: [held] }, annotations: ACK }),
    );
    expect(acked.events.find((e) => e.reason === 'FailoverAcknowledged')?.message).toMatch(
      /losing dw-0: 1-1-12/,
    );
    // The step of the same pass sees the acknowledgement: here nothing is lost after all, it promotes.
    expect(acked.journal[0]).toMatchObject({
      acknowledged: true,
      acknowledgedLoss: atRisk,
      phase: 'Promoting',
    });
  });

  it('the preview shows the wait for an unreachable survivor, then the promotion once its bound passed', () => {
    const spec = warehouse((w) => w.groups[0]!.members.push({ name: 'a-2', host: 'h', port: 1006 }));
    const observation = deadA0();
    observation.instances.push({ ...observation.instances[0]!, member: 'a-2', reachable: false });
    const passes = previewPasses(input({ spec, observation, streaks: downFor(Number.POSITIVE_INFINITY) }));
    const phases = passes.map((p) => p.journal[0]?.phase);
    expect(phases.slice(0, 3)).toEqual(['Decided', 'CatchingUp', 'Promoting']);
    expect(passes[1]!.actions).toEqual([]);
    expect(passes[1]!.journal[0]!.unreachable).toEqual(['a-2']);
    expect(passes[2]!.journal[0]!.unreachable).toEqual(['a-2']);
    expect(passes[2]!.events.map((e) => e.reason)).toContain('FailoverPossibleLoss');
  });
});
