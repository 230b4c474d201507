import { describe, expect, it } from 'vitest';
import type { Flavor, Member, PromotionRule } from '../../../src/api/spec.js';
import { emptyChannelStatus, type ChannelStatus } from '../../../src/api/status.js';
import type { InstanceObservation } from '../../../src/observe/types.js';
import {
  checkSwitchoverTarget,
  chooseCandidate,
  compareDonors,
  donorBlockers,
  holds,
  type CandidateChoice,
  type CandidateInput,
} from '../../../src/plan/candidate.js';

// P: the old primary's server_uuid; R1, R2: replicas' own (local writes).
const P = 'aaaaaaaa-0000-0000-0000-000000000001';
const P2 = 'aaaaaaaa-0000-0000-0000-000000000002';
const R1 = 'aaaaaaaa-0000-0000-0000-0000000000b1';
const R2 = 'aaaaaaaa-0000-0000-0000-0000000000b2';

function member(name: string, promotionRule: PromotionRule = 'neutral'): Member {
  return { name, host: `${name}.db`, port: 3306, promotionRule };
}

interface Facts {
  executed?: string;
  retrieved?: string;
  reachable?: boolean;
  error?: string;
  lag?: number | null;
  sql?: 'Yes' | 'No';
  sqlErrno?: number;
  sqlError?: string;
  io?: 'Yes' | 'No' | 'Connecting';
  logBin?: boolean;
  logReplicaUpdates?: boolean;
  version?: string;
  noVars?: boolean;
  noChannel?: boolean;
}

function channel(f: Facts): ChannelStatus {
  return {
    ...emptyChannelStatus(''),
    name: '',
    sourceHost: 'a-0.db',
    sourcePort: 3306,
    sourceUser: 'repl',
    sourceServerId: 1,
    sourceUuid: null,
    ioRunning: f.io ?? 'Connecting',
    sqlRunning: f.sql ?? 'Yes',
    ioState: '',
    sqlState: '',
    secondsBehindSource: f.lag === undefined ? 0 : f.lag,
    lastIOErrno: 2003,
    lastIOError: '',
    lastIOErrorTimestamp: null,
    lastSQLErrno: f.sqlErrno ?? 0,
    lastSQLError: f.sqlError ?? '',
    lastSQLErrorTimestamp: null,
    retrievedGtidSet: f.retrieved ?? '',
    executedGtidSet: f.executed ?? '',
    autoPosition: true,
    gtidMode: 'Auto',
    delaySeconds: 0,
    connectRetry: 1,
    heartbeatPeriod: 1,
    retryCount: 86400,
    sslAllowed: false,
    filter: { doDatabases: [], ignoreDatabases: [] },
  };
}

function obs(name: string, f: Facts, flavor: Flavor = 'mysql'): InstanceObservation {
  const reachable = f.reachable ?? true;
  return {
    member: name,
    group: 'a',
    address: { host: `${name}.db`, port: 3306 },
    reachable,
    ...(f.error ? { error: f.error } : {}),
    ...(reachable ? { flavor } : {}),
    ...(reachable && !f.noVars
      ? {
          vars: {
            version: f.version ?? (flavor === 'mariadb' ? '10.11.19-MariaDB-0+deb12u1' : '8.0.36'),
            serverId: 1,
            serverUuid: null,
            readOnly: true,
            superReadOnly: null,
            logBin: f.logBin ?? true,
            logReplicaUpdates: f.logReplicaUpdates ?? true,
            binlogFormat: 'ROW',
            gtidExecuted: f.executed ?? '',
            gtidPurged: null,
            gtidBinlogPos: null,
            gtidSlavePos: null,
            gtidCurrentPos: null,
            gtidDomainId: null,
            gtidStrictMode: null,
            gtidMode: flavor === 'mariadb' ? null : 'ON',
            enforceGtidConsistency: flavor === 'mariadb' ? null : true,
            superReadOnlyPersisted: flavor === 'mariadb' ? null : true,
          },
        }
      : {}),
    channels: reachable && !f.noChannel ? [channel(f)] : [],
    observedAt: '2026-01-01T00:00:00Z',
    durationMs: 3,
  };
}

const DEAD: Facts = { reachable: false, error: 'connect ECONNREFUSED' };

/** A group a-0 (dead primary), then the listed members with their facts. */
function scenario(
  members: [string, PromotionRule, Facts][],
  opts: { flavor?: Flavor; last?: string; primary?: Facts } = {},
): CandidateInput {
  const flavor = opts.flavor ?? 'mysql';
  return {
    flavor,
    primary: 'a-0',
    members: [member('a-0'), ...members.map(([n, r]) => member(n, r))],
    observations: [obs('a-0', opts.primary ?? DEAD, flavor), ...members.map(([n, , f]) => obs(n, f, flavor))],
    ...(opts.last !== undefined ? { lastPrimaryExecuted: opts.last } : {}),
  };
}

const reasons = (c: CandidateChoice) => Object.fromEntries(c.passedOver.map((p) => [p.member, p.reason]));

describe('chooseCandidate (MySQL)', () => {
  it('takes the most advanced executed set', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer', { executed: `${P}:1-90`, retrieved: `${P}:75-90` }],
          ['a-2', 'neutral', { executed: `${P}:1-100`, retrieved: `${P}:75-100` }],
        ],
        { last: `${P}:1-80` },
      ),
    );
    expect(c.candidate).toBe('a-2');
    expect(reasons(c)).toEqual({
      'a-0': 'the primary being replaced',
      'a-1': `behind a-2: lacks ${P}:91-100`,
    });
    expect(c.reason).toBe(
      'a-2 holds the most advanced GTID set (executed and received) of the members that may be promoted',
    );
  });

  it('ranks by what a member received, not only what it applied: a blocked applier still wins', () => {
    // a-1 received up to 100 but its applier is stuck at 90 (a table lock); a-2 applied all it got, 95.
    // Choosing a-2 would discard a-1's relay log when a-1 is repointed: 96-100 would be lost.
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-90`, retrieved: `${P}:80-100` }],
          ['a-2', 'prefer', { executed: `${P}:1-95`, retrieved: `${P}:80-95` }],
        ],
        { last: `${P}:1-80` },
      ),
    );
    expect(c.candidate).toBe('a-1');
    expect(reasons(c)['a-2']).toBe(`behind a-1: lacks ${P}:96-100`);
  });

  it('received sets that are incomparable: the one that holds more wins', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-90`, retrieved: `${P}:80-100` }],
          ['a-2', 'neutral', { executed: `${P}:1-90,${P2}:1-3`, retrieved: `${P}:80-90,${P2}:1-3` }],
        ],
        { last: `${P}:1-80,${P2}:1-3` },
      ),
    );
    expect(c.candidate).toBe('a-1');
  });

  it('all members unreachable: no candidate', () => {
    const c = chooseCandidate(
      scenario([
        ['a-1', 'neutral', DEAD],
        ['a-2', 'prefer', { reachable: false }],
      ]),
    );
    expect(c.candidate).toBeUndefined();
    expect(reasons(c)).toEqual({
      'a-0': 'the primary being replaced',
      'a-1': 'unreachable (connect ECONNREFUSED)',
      'a-2': 'unreachable',
    });
    expect(c.reason).toBe(
      'no member may be promoted: none can be read (a-1: unreachable (connect ECONNREFUSED); a-2: unreachable)',
    );
  });

  it('a group with no other member: no candidate', () => {
    const c = chooseCandidate({
      flavor: 'mysql',
      primary: 'a-0',
      members: [member('a-0')],
      observations: [obs('a-0', DEAD)],
    });
    expect(c).toEqual({
      passedOver: [{ member: 'a-0', reason: 'the primary being replaced' }],
      errant: {},
      reason: 'no member may be promoted: the group has no other member',
    });
  });

  it('members not observed, or observed without variables or with unreadable GTID text, are passed over', () => {
    const input = scenario([
      ['a-1', 'neutral', { noVars: true }],
      ['a-2', 'neutral', { executed: 'garbage' }],
      ['a-3', 'neutral', { executed: `${P}:1-5` }],
    ]);
    input.members = [...input.members, member('a-4')];
    const c = chooseCandidate({ ...input, lastPrimaryExecuted: `${P}:1-5` });
    expect(c.candidate).toBe('a-3');
    expect(reasons(c)['a-1']).toBe('reachable, but its server variables were not read');
    expect(reasons(c)['a-2']).toMatch(
      /^unreadable GTID text: invalid GTID text "garbage": "garbage" is not a UUID/,
    );
    expect(reasons(c)['a-4']).toBe('not observed');
  });

  it('the ahead member is must_not: passed over', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'must_not', { executed: `${P}:1-100`, retrieved: `${P}:90-100` }],
          ['a-2', 'neutral', { executed: `${P}:1-97`, retrieved: `${P}:90-97` }],
          ['a-3', 'neutral', { executed: `${P}:1-90` }],
        ],
        { last: `${P}:1-95` },
      ),
    );
    expect(c.candidate).toBe('a-2');
    expect(reasons(c)).toMatchObject({
      'a-1': 'promotionRule must_not',
      'a-3': `behind a-2: lacks ${P}:91-97`,
    });
    expect(c.reason).toBe(
      'a-2 holds the most advanced GTID set (executed and received) of the members that may be promoted',
    );
  });

  it('errant transactions: never promoted', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer', { executed: `${P}:1-100,${R1}:1-2` }],
          ['a-2', 'neutral', { executed: `${P}:1-95` }],
        ],
        { last: `${P}:1-100` },
      ),
    );
    expect(c.candidate).toBe('a-2');
    expect(reasons(c)['a-1']).toBe(`errant transactions ${R1}:1-2`);
  });

  it('errant: what any member received from the old primary is legitimate', () => {
    // The last known primary set is older than what the replicas hold; a-2 received less than it
    // executed (its relay log was reset), but a-1 received 96-99 too.
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-100,${R2}:1-3`, retrieved: `${P}:81-100` }],
          ['a-2', 'neutral', { executed: `${P}:1-99,${R1}:1`, retrieved: `${P}:81-95` }],
        ],
        { last: `${P}:1-80,${R2}:1-3` },
      ),
    );
    expect(c.candidate).toBe('a-1');
    expect(reasons(c)['a-2']).toBe(`errant transactions ${R1}:1`);
  });

  it('with no record of the old primary, the other members stand in for it', () => {
    const c = chooseCandidate(
      scenario([
        ['a-1', 'neutral', { executed: `${P}:1-100`, retrieved: `${P}:90-100` }],
        ['a-2', 'neutral', { executed: `${P}:1-95,${R1}:1`, retrieved: `${P}:90-95` }],
      ]),
    );
    expect(c.candidate).toBe('a-1');
    expect(reasons(c)['a-2']).toBe(`errant transactions ${R1}:1`);
    // A lone replica cannot be judged: its history counts as errant.
    const alone = chooseCandidate(
      scenario([['a-1', 'neutral', { executed: `${P}:1-100`, retrieved: `${P}:90-100` }]]),
    );
    expect(alone.candidate).toBeUndefined();
    expect(alone.reason).toBe(`no member may be promoted (a-1: errant transactions ${P}:1-89)`);
  });

  it('with a record, a stale last known set and received sets decide; peers do not vouch', () => {
    // Both hold R1:1 (a-2 was cloned from a-1 after a local write): errant on both.
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-100,${R1}:1`, retrieved: `${P}:90-100` }],
          ['a-2', 'neutral', { executed: `${P}:1-95,${R1}:1`, retrieved: `${P}:90-95` }],
        ],
        { last: `${P}:1-92` },
      ),
    );
    expect(c.candidate).toBeUndefined();
    expect(reasons(c)).toMatchObject({
      'a-1': `errant transactions ${R1}:1`,
      'a-2': `errant transactions ${R1}:1`,
    });
  });

  it('a primary that is leaving but reachable is the reference for errant transactions', () => {
    const c = chooseCandidate(
      scenario([['a-1', 'neutral', { executed: `${P}:1-100` }]], { primary: { executed: `${P}:1-100` } }),
    );
    expect(c.candidate).toBe('a-1');
  });

  it('applier stopped on an error: passed over', () => {
    const c = chooseCandidate(
      scenario(
        [
          [
            'a-1',
            'neutral',
            {
              executed: `${P}:1-100`,
              retrieved: `${P}:1-100`,
              sql: 'No',
              sqlErrno: 1062,
              sqlError: 'Duplicate entry',
            },
          ],
          ['a-2', 'neutral', { executed: `${P}:1-98` }],
          ['a-3', 'neutral', { executed: `${P}:1-99`, retrieved: `${P}:1-99`, sql: 'No', sqlErrno: 0 }],
        ],
        { last: `${P}:1-98` },
      ),
    );
    // a-3's applier was stopped without an error (someone stopped it): it may be promoted.
    expect(c.candidate).toBe('a-3');
    expect(reasons(c)['a-1']).toBe('applier stopped on error 1062 (Duplicate entry)');
  });

  it('log_bin and log_replica_updates are required to promote', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-100`, retrieved: `${P}:90-100`, logBin: false }],
          ['a-2', 'neutral', { executed: `${P}:1-99`, retrieved: `${P}:90-99`, logReplicaUpdates: false }],
          ['a-3', 'neutral', { executed: `${P}:1-98` }],
        ],
        { last: `${P}:1-98` },
      ),
    );
    expect(c.candidate).toBe('a-3');
    expect(reasons(c)).toMatchObject({ 'a-1': 'log_bin off', 'a-2': 'log_replica_updates off' });
  });

  it('every rule a member breaks is listed', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'must_not', { executed: `${P}:1-10,${R1}:1`, logBin: false, sql: 'No', sqlErrno: 1032 }],
          ['a-2', 'neutral', { executed: `${P}:1-10` }],
        ],
        { last: `${P}:1-10` },
      ),
    );
    expect(reasons(c)['a-1']).toBe(
      `promotionRule must_not; errant transactions ${R1}:1; applier stopped on error 1032; log_bin off`,
    );
  });

  it('never a newer major.minor than the others run; the lowest patch wins a tie', () => {
    const same = { executed: `${P}:1-50` };
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer', { ...same, version: '8.4.2' }],
          ['a-2', 'neutral', { ...same, version: '8.0.36-log' }],
          ['a-3', 'neutral', { ...same, version: '8.0.35' }],
        ],
        { last: `${P}:1-50` },
      ),
    );
    expect(c.candidate).toBe('a-3');
    expect(reasons(c)).toMatchObject({
      'a-1': 'runs 8.4.2, newer than 8.0.35 on a-3',
      'a-2': 'ties with a-3 on GTID progress, but runs 8.0.36-log, newer than 8.0.35',
    });
    expect(c.reason).toBe('a-3 ties with a-2 on GTID progress and wins on version');
  });

  it('a newer member ahead of the candidate is not promoted', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-60`, retrieved: `${P}:1-60`, version: '8.4.0' }],
          ['a-2', 'neutral', { executed: `${P}:1-50`, version: '8.0.36' }],
        ],
        { last: `${P}:1-50` },
      ),
    );
    expect(c.candidate).toBe('a-2');
  });

  it('the leaving primary, when reachable, counts for the version rule', () => {
    const c = chooseCandidate(
      scenario([['a-1', 'neutral', { executed: `${P}:1-5`, version: '8.4.0' }]], {
        primary: { executed: `${P}:1-5`, version: '8.0.36' },
      }),
    );
    expect(c.candidate).toBeUndefined();
    expect(reasons(c)['a-1']).toBe('runs 8.4.0, newer than 8.0.36 on a-0');
  });

  it('ties: promotionRule, then applier lag (unknown last), then spec order', () => {
    const same = `${P}:1-50`;
    const byRule = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer_not', { executed: same }],
          ['a-2', 'neutral', { executed: same }],
          ['a-3', 'prefer', { executed: same, lag: 30 }],
        ],
        { last: same },
      ),
    );
    expect(byRule.candidate).toBe('a-3');
    expect(reasons(byRule)).toMatchObject({
      'a-1': 'ties with a-3 on GTID progress, but promotionRule prefer_not ranks below prefer',
      'a-2': 'ties with a-3 on GTID progress, but promotionRule neutral ranks below prefer',
    });
    expect(byRule.reason).toBe('a-3 ties with a-2 on GTID progress and wins on promotion rule');

    const byLag = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: same, lag: null }],
          ['a-2', 'neutral', { executed: same, lag: 12 }],
          ['a-3', 'neutral', { executed: same, lag: 3 }],
          ['a-4', 'neutral', { executed: same, lag: 3 }],
        ],
        { last: same },
      ),
    );
    expect(byLag.candidate).toBe('a-3');
    expect(reasons(byLag)).toMatchObject({
      'a-1': 'ties with a-3 on GTID progress, but its applier lag is unknown against 3s',
      'a-2': 'ties with a-3 on GTID progress, but its applier lag is 12s against 3s',
      'a-4': 'equal to a-3 on every rule; a-3 is listed first',
    });
    expect(byLag.reason).toBe('a-3 ties with a-4 on GTID progress and wins on spec order');
  });

  it('data first: a prefer member that is behind loses to a neutral one', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer', { executed: `${P}:1-49` }],
          ['a-2', 'neutral', { executed: `${P}:1-50`, retrieved: `${P}:40-50` }],
        ],
        { last: `${P}:1-49` },
      ),
    );
    expect(c.candidate).toBe('a-2');
  });

  it('incomparable sets: the one with more transactions wins', () => {
    // a-1 applied out of order (parallel applier) and misses 101; a-2 stopped at 101.
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: `${P}:1-100:102-103` }],
          ['a-2', 'prefer', { executed: `${P}:1-101` }],
        ],
        { last: `${P}:1-103` },
      ),
    );
    expect(c.candidate).toBe('a-1');
    expect(reasons(c)['a-2']).toBe(`behind a-1: lacks ${P}:102-103`);
  });

  it('ignores observations of other groups', () => {
    const input = scenario([['a-1', 'neutral', { executed: `${P}:1-5` }]], { last: `${P}:1-5` });
    const c = chooseCandidate({
      ...input,
      observations: [...input.observations, obs('b-0', { executed: `${P}:1-9` })],
    });
    expect(c.candidate).toBe('a-1');
    expect(c.passedOver.map((p) => p.member)).toEqual(['a-0']);
  });
});

describe('chooseCandidate (MariaDB)', () => {
  const flavor = 'mariadb' as const;

  it('compares per domain', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'prefer', { executed: '0-1-98,1-5-20' }],
          ['a-2', 'neutral', { executed: '0-1-100,1-5-20', retrieved: '0-1-100' }],
        ],
        { flavor, last: '0-1-95,1-5-20' },
      ),
    );
    expect(c.candidate).toBe('a-2');
    expect(reasons(c)['a-1']).toBe('behind a-2: lacks 0-1-100');
  });

  it('the ahead member is must_not: passed over', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'must_not', { executed: '1-1-13,2-2-10,3-3-4', retrieved: '1-1-13,2-2-10' }],
          ['a-2', 'neutral', { executed: '1-1-9,2-2-10,3-3-4', retrieved: '1-1-9,2-2-10' }],
        ],
        { flavor, last: '1-1-9,2-2-9,3-3-4' },
      ),
    );
    expect(c.candidate).toBe('a-2');
  });

  it('errant: a domain nobody else has, a seq past the others, the same seq from another server', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: '1-1-13,2-2-10,4-4-3', retrieved: '1-1-13,2-2-10' }],
          ['a-2', 'neutral', { executed: '1-4-14,2-2-10', retrieved: '1-1-13,2-2-10' }],
          ['a-3', 'neutral', { executed: '1-6-13,2-2-10', retrieved: '1-1-12,2-2-10' }],
          ['a-4', 'neutral', { executed: '1-1-12,2-2-10', retrieved: '1-1-12,2-2-10' }],
        ],
        { flavor, last: '1-1-12,2-2-10' },
      ),
    );
    expect(reasons(c)).toMatchObject({
      'a-1': 'errant transactions 4-4-3',
      'a-2': 'errant transactions 1-4-14',
      'a-3': 'errant transactions 1-6-13',
    });
    expect(c.candidate).toBe('a-4');
    // a-1 is behind nobody in domain 1 but errant: its 1-1-13 is stranded.
  });

  it('equal seqs of different servers in other members do not make an innocent member errant', () => {
    // a-2 diverged at seq 101 (its own 0-2-101); a-1 holds the primary's 0-1-101.
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: '0-1-101', retrieved: '0-1-101' }],
          ['a-2', 'neutral', { executed: '0-2-101', retrieved: '0-1-100' }],
        ],
        { flavor, last: '0-1-100' },
      ),
    );
    expect(c.candidate).toBe('a-1');
    expect(reasons(c)['a-2']).toBe('errant transactions 0-2-101');
  });

  it('versions: a newer MariaDB release is not promoted over older members', () => {
    const c = chooseCandidate(
      scenario(
        [
          ['a-1', 'neutral', { executed: '1-1-10', version: '11.4.2-MariaDB' }],
          ['a-2', 'neutral', { executed: '1-1-10', version: '10.11.19-MariaDB-0+deb12u1' }],
        ],
        { flavor, last: '1-1-10' },
      ),
    );
    expect(c.candidate).toBe('a-2');
    expect(reasons(c)['a-1']).toBe('runs 11.4.2-MariaDB, newer than 10.11.19-MariaDB-0+deb12u1 on a-2');
  });
});

describe('checkSwitchoverTarget', () => {
  const base = (
    target: string,
    facts: Record<string, Facts>,
    flavor: Flavor = 'mysql',
    rules: Record<string, PromotionRule> = {},
  ) => ({
    flavor,
    primary: 'a-0',
    target,
    members: ['a-0', 'a-1', 'a-2'].map((n) => member(n, rules[n])),
    observations: Object.entries(facts).map(([n, f]) => obs(n, f, flavor)),
  });
  const healthy: Record<string, Facts> = {
    'a-0': { executed: `${P}:1-100`, noChannel: true },
    'a-1': { executed: `${P}:1-99`, retrieved: `${P}:1-100`, io: 'Yes', lag: 4 },
    'a-2': { executed: `${P}:1-100`, io: 'Yes' },
  };

  it('a healthy replica may take over, lag and prefer_not notwithstanding', () => {
    expect(checkSwitchoverTarget(base('a-1', healthy, 'mysql', { 'a-1': 'prefer_not' }))).toBeUndefined();
  });

  it.each([
    ['a-9', {}, 'a-9 is not a member of this group'],
    ['a-0', {}, 'a-0 is already the primary'],
    [
      'a-1',
      { 'a-0': DEAD },
      'the primary a-0 cannot be read (unreachable (connect ECONNREFUSED)): a switchover needs it',
    ],
    ['a-1', { 'a-1': DEAD }, 'unreachable (connect ECONNREFUSED)'],
    [
      'a-1',
      { 'a-1': { ...healthy['a-1'], executed: `${P}:1-99,${R1}:1-4` } },
      `errant transactions ${R1}:1-4`,
    ],
    [
      'a-1',
      { 'a-1': { ...healthy['a-1'], io: 'Connecting' } },
      "its receiver on channel '' is not running (Connecting), so it cannot catch up",
    ],
    ['a-1', { 'a-1': { ...healthy['a-1'], noChannel: true } }, "does not replicate from a-0 (no channel '')"],
    ['a-1', { 'a-1': { ...healthy['a-1'], version: '8.4.0' } }, 'runs 8.4.0, newer than 8.0.36 on a-0'],
    [
      'a-1',
      { 'a-1': { ...healthy['a-1'], sql: 'No', sqlErrno: 1146, logBin: false } },
      'applier stopped on error 1146; log_bin off',
    ],
  ] as const)('%s with %j: %s', (target, override, reason) => {
    expect(checkSwitchoverTarget(base(target, { ...healthy, ...override }))).toBe(reason);
  });

  it('must_not is refused even when asked for', () => {
    expect(checkSwitchoverTarget(base('a-1', healthy, 'mysql', { 'a-1': 'must_not' }))).toBe(
      'promotionRule must_not',
    );
  });

  it('MariaDB: errant judged per domain against the live primary', () => {
    const facts: Record<string, Facts> = {
      'a-0': { executed: '1-1-20,2-2-5', noChannel: true },
      'a-1': { executed: '1-1-18,2-2-5,7-12-3', retrieved: '1-1-20,2-2-5', io: 'Yes' },
      'a-2': { executed: '1-1-21,2-2-5', retrieved: '1-1-21', io: 'Yes' },
    };
    expect(checkSwitchoverTarget(base('a-1', facts, 'mariadb'))).toBe('errant transactions 7-12-3');
    // a-2's read is newer than the primary's: what it received is not errant.
    expect(checkSwitchoverTarget(base('a-2', facts, 'mariadb'))).toBeUndefined();
  });
});

describe('the donor rules and what a member holds (the one authority catch-up.ts asks)', () => {
  it('a donor may feed the candidate unless errant, without a binary log of replicas, or newer', () => {
    const candidate = obs('a-2', { executed: `${P}:1-50`, version: '8.0.36' });
    expect(donorBlockers(obs('a-1', { executed: `${P}:1-60` }), candidate, '')).toEqual([]);
    expect(donorBlockers(obs('a-1', { executed: `${P}:1-60`, version: '8.4.0' }), candidate, '')).toEqual([
      'it runs 8.4.0, newer than 8.0.36 on a-2',
    ]);
    expect(donorBlockers(obs('a-1', { logReplicaUpdates: false }), candidate, `${R1}:1`)).toEqual([
      `it holds errant transactions ${R1}:1`,
      'log_replica_updates off',
    ]);
    expect(donorBlockers(obs('a-1', { logBin: false }), candidate, '')).toEqual(['log_bin off']);
  });

  it('donors are ranked like candidates, by what they executed; spec order ends ties, 0 only for itself', () => {
    const s = scenario([
      ['a-1', 'neutral', { executed: `${P}:1-40`, retrieved: `${P}:1-90` }],
      ['a-2', 'neutral', { executed: `${P}:1-60` }],
      ['a-3', 'prefer', { executed: `${P}:1-60` }],
      ['a-4', 'neutral', { executed: `${P}:1-60` }],
      ['a-5', 'neutral', DEAD],
    ]);
    const rank = compareDonors(s.flavor, s.members, s.observations);
    const names = ['a-5', 'a-4', 'a-1', 'a-2', 'a-3'];
    // a-1 received the most but can send only what it executed; a-3 wins the tie on its promotionRule,
    // a-2 before a-4 by spec order; a-5 cannot be read and comes last.
    expect([...names].sort(rank)).toEqual(['a-3', 'a-2', 'a-4', 'a-1', 'a-5']);
    for (const a of names)
      for (const b of names) {
        expect(rank(a, b) < 0).toBe(rank(b, a) > 0);
        expect(rank(a, b) === 0).toBe(a === b);
      }
  });

  it('holds: executed ∪ received, except a MariaDB relay log whose two threads are stopped', () => {
    expect(holds('mysql', obs('a-1', { executed: `${P}:1-5`, retrieved: `${P}:1-9`, io: 'No' }))).toBe(
      `${P}:1-9`,
    );
    const m = (sql: 'Yes' | 'No') =>
      obs('a-1', { executed: '1-1-5', retrieved: '1-1-9', io: 'No', sql, sqlErrno: 0 }, 'mariadb');
    expect(holds('mariadb', m('Yes'))).toBe('1-1-9');
    expect(holds('mariadb', m('No'))).toBe('1-1-5');
  });
});
