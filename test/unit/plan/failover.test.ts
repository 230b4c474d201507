import { describe, expect, it } from 'vitest';
import type { FailoverRecord, TopologyStatus } from '../../../src/api/status.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Observation } from '../../../src/observe/types.js';
import {
  cooldownUntil,
  decideFailovers,
  decideSwitchover,
  parseSwitchoverAnnotation,
} from '../../../src/plan/failover.js';
import { assessPrimaries, nextProbeInMs, nextStreaks, type ProbeStreak } from '../../../src/plan/health.js';
import { channel, converged, failoverRecord, warehouse } from '../../fixtures/topology.js';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const status = (over: Partial<TopologyStatus> = {}): TopologyStatus => ({
  phase: 'Ready',
  conditions: [],
  channels: [],
  managedChannels: [],
  failovers: [],
  groups: [
    { name: 'shard-a', primary: 'a-0', members: 2, ready: 2 },
    { name: 'shard-b', primary: 'b-0', members: 1, ready: 1 },
    { name: 'dw', primary: 'dw-0', members: 2, ready: 2 },
  ],
  instances: [{ name: 'a-0', group: 'shard-a', reachable: true, role: 'primary', gtidExecuted: '1-1-10' }],
  ...over,
});
const record = (over: Partial<FailoverRecord>): FailoverRecord =>
  failoverRecord({
    id: 'x',
    from: 'a-1',
    to: 'a-0',
    phase: 'Done',
    startedAt: '2026-11-21T11:58:00.000Z',
    finishedAt: '2026-11-21T11:58:01.000Z',
    ...over,
  });

/** a-0 dead: unreachable, a-1 and dw-0 see their receivers reconnecting. */
function deadA0(io: 'Connecting' | 'Yes' = 'Connecting'): Observation {
  return converged({
    'a-0': { reachable: false },
    'a-1': {
      vars: { readOnly: true, gtidExecuted: '1-1-10', gtidSlavePos: '1-1-10', gtidCurrentPos: '1-1-10' },
      channels: [channel('', 'a-0', { ioRunning: io, retrievedGtidSet: '1-1-10' })],
    },
    'dw-0': { channels: [channel('shard_a', 'a-0', { ioRunning: io }), channel('shard_b', 'b-0')] },
  });
}

const T0 = NOW.getTime();
/** The declared window: dead after 10 s and 3 failed probes. */
const POLICY = { downAfterMs: 10_000, failureThreshold: 3 };
const streak = (sinceMsAgo: number, failures: number): Map<string, ProbeStreak> =>
  new Map([['a-0', { since: T0 - sinceMsAgo, failures }]]);

describe('detection honours the declared window, with consensus', () => {
  const table: [string, Observation, Map<string, ProbeStreak>, string][] = [
    ['reachable primary', converged(), new Map(), 'Healthy'],
    ['one failed probe: suspect, within the window', deadA0(), streak(0, 1), 'Suspect'],
    ['many failed probes but the window is not over: suspect', deadA0(), streak(9_999, 40), 'Suspect'],
    ['the window is over but too few probes failed: suspect', deadA0(), streak(60_000, 2), 'Suspect'],
    ['window over, threshold reached, every witness reconnecting: dead', deadA0(), streak(10_000, 3), 'Dead'],
    [
      'window over but a replica still receives: only the operator is cut off',
      deadA0('Yes'),
      streak(10_000, 3),
      'Unreachable',
    ],
  ];
  it.each(table)('%s', (_n, obs, streaks, state) => {
    const view = buildView(warehouse(), obs, status());
    const h = assessPrimaries(view, streaks, POLICY, T0).find((x) => x.group === 'shard-a')!;
    expect(h.state).toBe(state);
  });

  const witnessed: [
    string,
    Partial<{ ioRunning: 'Yes' | 'No' | 'Connecting'; lastIOErrno: number }>,
    string,
  ][] = [
    ['receivers reconnecting', { ioRunning: 'Connecting', lastIOErrno: 2003 }, 'Dead'],
    ['receivers stopped on a connection error', { ioRunning: 'No', lastIOErrno: 2013 }, 'Dead'],
    ['receivers stopped by hand: they say nothing', { ioRunning: 'No', lastIOErrno: 0 }, 'NoWitness'],
    [
      'receivers broken on a wrong password: they say nothing',
      { ioRunning: 'No', lastIOErrno: 1045 },
      'NoWitness',
    ],
  ];
  it.each(witnessed)('witnesses whose %s: %s', (_n, io, state) => {
    const obs = converged({
      'a-0': { reachable: false },
      'a-1': { vars: { readOnly: true }, channels: [channel('', 'a-0', io)] },
      'dw-0': { channels: [channel('shard_a', 'a-0', io), channel('shard_b', 'b-0')] },
    });
    const view = buildView(warehouse(), obs, status());
    expect(
      assessPrimaries(view, streak(10_000, 3), POLICY, T0).find((x) => x.group === 'shard-a')!.state,
    ).toBe(state);
  });

  it('nobody replicates from it: no witness, nobody to promote', () => {
    const obs = converged({ 'b-0': { reachable: false }, 'dw-0': { channels: [channel('shard_a', 'a-0')] } });
    const view = buildView(warehouse(), obs, status());
    const streaks = new Map([['b-0', { since: T0 - 20_000, failures: 5 }]]);
    expect(assessPrimaries(view, streaks, POLICY, T0).find((x) => x.group === 'shard-b')!.state).toBe(
      'NoWitness',
    );
  });

  it('witnesses name every channel from the dead primary, on any server', () => {
    const view = buildView(warehouse(), deadA0(), status());
    const h = assessPrimaries(view, streak(10_000, 3), POLICY, T0).find((x) => x.group === 'shard-a')!;
    expect(h.state === 'Dead' && h.witnesses.map((w) => `${w.member}/${w.channel}`)).toEqual([
      'a-1/',
      'dw-0/shard_a',
    ]);
  });

  it('streaks: a reachable member starts over, an unreachable one counts on from its first failure', () => {
    const before = new Map([['a-0', { since: T0 - 500, failures: 2 }]]);
    const after = nextStreaks(
      before,
      [
        { member: 'a-0', reachable: false },
        { member: 'a-1', reachable: false },
        { member: 'b-0', reachable: true },
      ],
      T0,
    );
    expect(Object.fromEntries(after)).toEqual({
      'a-0': { since: T0 - 500, failures: 3 },
      'a-1': { since: T0, failures: 1 },
    });
    expect(nextStreaks(after, [{ member: 'a-0', reachable: true }], T0).size).toBe(0);
  });

  const probes: [string, number, number, number, number][] = [
    // [name, ms since the first failure, poll ms, window ms, next probe in]
    ['early in the window: often enough for the threshold', 0, 1000, 10_000, 1000],
    ['a short window: spaced by window / threshold', 0, 1000, 900, 300],
    ['close to the end: exactly at the end', 9_800, 1000, 10_000, 200],
    ['past the end (probes missing): at once', 12_000, 1000, 10_000, 0],
  ];
  it.each(probes)('next probe of a suspect primary: %s', (_n, ago, pollMs, windowMs, want) => {
    const view = buildView(warehouse(), deadA0(), status());
    const policy = { downAfterMs: windowMs, failureThreshold: 3 };
    const h = assessPrimaries(view, streak(ago, 1), policy, T0).find((x) => x.group === 'shard-a')!;
    expect(nextProbeInMs(h, policy, pollMs, T0)).toBe(want);
  });
});

describe('failover decisions', () => {
  const decide = (prev: TopologyStatus, mutate?: Parameters<typeof warehouse>[0]) => {
    const spec = warehouse(mutate);
    const view = buildView(spec, deadA0(), prev);
    return decideFailovers(spec, view, assessPrimaries(view, streak(10_000, 3), POLICY, T0), prev, NOW);
  };

  it('starts a failover to a-1, journaled as Decided, with its deadline and wait bound', () => {
    const [d] = decide(status());
    expect(d).toMatchObject({
      kind: 'start',
      record: {
        group: 'shard-a',
        from: 'a-0',
        to: 'a-1',
        phase: 'Decided',
        reason: 'DeadPrimary',
        deadline: '2026-11-21T12:05:00.000Z',
        waitSeconds: 30,
      },
    });
  });
  it('blocked inside the cooldown, with the time it ends', () => {
    const [d] = decide(status({ failovers: [record({})] }));
    expect(d).toMatchObject({ kind: 'blocked', condition: 'FailoverCooldown' });
    expect(d?.kind === 'blocked' && d.reason).toMatch(/cooldown until 2026-11-21T12:03:01.000Z/);
  });
  it('an acknowledged failover no longer blocks', () => {
    expect(decide(status({ failovers: [record({ acknowledged: true })] }))[0]?.kind).toBe('start');
  });
  it('after the cooldown a new failover may start', () => {
    expect(decide(status({ failovers: [record({ finishedAt: '2026-11-21T11:00:00.000Z' })] }))[0]?.kind).toBe(
      'start',
    );
  });
  it('never a second failover while one is open for the group', () => {
    expect(decide(status({ failovers: [record({ phase: 'CatchingUp' })] }))).toEqual([]);
  });
  it('disabled or paused: reported, not started', () => {
    expect(decide(status(), (s) => (s.failover = { enabled: false }))[0]).toMatchObject({
      kind: 'blocked',
      condition: 'FailoverDisabled',
    });
    expect(decide(status(), (s) => (s.paused = true))[0]).toMatchObject({
      kind: 'blocked',
      condition: 'Paused',
    });
  });
  it('must_not: no candidate, the reason names the rule', () => {
    const [d] = decide(status(), (s) => (s.groups[0]!.members[1]!.promotionRule = 'must_not'));
    expect(d).toMatchObject({ kind: 'blocked', condition: 'NoCandidate' });
    expect(d?.kind === 'blocked' && d.reason).toMatch(/must_not/);
  });
  it('cooldownUntil is undefined with no journal', () => {
    expect(cooldownUntil([], 'shard-a', 300, NOW)).toBeUndefined();
  });
});

describe('switchover requests', () => {
  const view = buildView(
    warehouse(),
    converged({ 'a-1': { vars: { readOnly: true }, channels: [channel('', 'a-0')] } }),
    status(),
  );
  it.each([
    ['shard-a=a-1', { group: 'shard-a', to: 'a-1' }],
    [' dw = dw-1 ', { group: 'dw', to: 'dw-1' }],
    ['shard-a', undefined],
    ["a=b'; DROP", undefined],
  ])('annotation %j', (text, want) => expect(parseSwitchoverAnnotation(text)).toEqual(want));

  const table: [string, { group: string; to: string }, RegExp][] = [
    ['unknown group', { group: 'nope', to: 'a-1' }, /group "nope" does not exist/],
    ['member of another group', { group: 'shard-a', to: 'b-0' }, /"b-0" is not a member of group "shard-a"/],
  ];
  it.each(table)('refused: %s', (_n, req, re) => {
    const d = decideSwitchover({ ...req, timeoutSeconds: 5 }, view, status(), NOW);
    expect('refused' in d && d.refused).toMatch(re);
  });
  it('to the current primary: nothing to do', () => {
    expect(
      decideSwitchover({ group: 'shard-a', to: 'a-0', timeoutSeconds: 5 }, view, status(), NOW),
    ).toHaveProperty('nothingToDo');
  });
  it('a healthy replica: a Switchover record', () => {
    const d = decideSwitchover({ group: 'shard-a', to: 'a-1', timeoutSeconds: 5 }, view, status(), NOW);
    expect('record' in d && d.record).toMatchObject({
      reason: 'Switchover',
      from: 'a-0',
      to: 'a-1',
      phase: 'Decided',
    });
  });
  it('refused while a failover of the group is open', () => {
    const d = decideSwitchover(
      { group: 'shard-a', to: 'a-1', timeoutSeconds: 5 },
      view,
      status({ failovers: [record({ phase: 'Promoting' })] }),
      NOW,
    );
    expect('refused' in d && d.refused).toMatch(/in progress/);
  });
});
