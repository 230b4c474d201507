// Rotation of the replication password as tables: fingerprints, when a rotation starts, where the password
// still has to go, what a pass's statements leave done; and a whole rotation decided and previewed.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { emptyStatus, type CredentialsStatus, type TopologyStatus } from '../../../src/api/status.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Action } from '../../../src/plan/actions.js';
import { describeAction } from '../../../src/plan/actions.js';
import {
  afterExecution,
  fingerprint,
  passwordTargets,
  startRotation,
} from '../../../src/plan/credentials.js';
import { decidePass, type DecideInput } from '../../../src/plan/decide.js';
import { previewPasses } from '../../../src/plan/preview.js';
import { formatPlan } from '../../../src/report/plan-text.js';
import { converged, warehouse } from '../../fixtures/topology.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const SALT = '00112233445566778899aabbccddeeff';
const repl = { username: 'repl', password: 'n3w-Secret!' };
const FP = fingerprint(SALT, repl);

describe('fingerprint', () => {
  it('is a salted scrypt hash: stable for the same salt and credentials, different otherwise', () => {
    expect(FP).toMatch(/^scrypt:[0-9a-f]{64}$/);
    expect(fingerprint(SALT, { ...repl })).toBe(FP);
    expect(fingerprint('ffeeddccbbaa99887766554433221100', repl)).not.toBe(FP);
    expect(fingerprint(SALT, { ...repl, password: 'n3w-Secret?' })).not.toBe(FP);
    expect(fingerprint(SALT, { ...repl, username: 'repl2' })).not.toBe(FP);
    expect(fingerprint(SALT, repl, '10.%')).not.toBe(FP);
  });

  it('holds neither the password nor a plain hash of it', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    for (const leak of [repl.password, sha(repl.password), sha(`repl\u0000%\u0000${repl.password}`)])
      expect(FP).not.toContain(leak);
  });
});

describe('startRotation', () => {
  const record = (fp: string) => ({
    fingerprint: fp,
    since: '2026-11-20T00:00:00.000Z',
    accounts: ['a-0'],
    channels: [],
    complete: true,
  });
  it.each([
    ['nothing stored (servers unknown): a rotation', undefined, true],
    ['the same fingerprint: nothing', { salt: SALT, replication: record(FP) }, false],
    [
      'another fingerprint (the Secret changed): a rotation',
      { salt: SALT, replication: record('scrypt:00') },
      true,
    ],
    ['a salt but no record yet: a rotation', { salt: SALT }, true],
  ] as [string, CredentialsStatus | undefined, boolean][])('%s', (_name, stored, started) => {
    const r = startRotation(stored, { salt: SALT, fingerprint: FP }, '2026-11-21T12:00:00.000Z');
    expect(r.started).toBe(started);
    if (started)
      expect(r.credentials).toEqual({
        salt: SALT,
        replication: {
          fingerprint: FP,
          since: '2026-11-21T12:00:00.000Z',
          accounts: [],
          channels: [],
          complete: false,
          // First contact (no record before): a refused login alone changes no account later either.
          ...(stored?.replication ? {} : { adopted: true }),
        },
      });
    else expect(r.credentials).toBe(stored);
  });
});

describe('passwordTargets', () => {
  const t = passwordTargets({
    fingerprint: FP,
    since: '',
    accounts: ['a-0'],
    channels: ["a-1/''"],
    complete: false,
  })!;
  it.each([
    ['an account not set yet', () => t.accountStale('b-0'), true],
    ['an account set', () => t.accountStale('a-0'), false],
    ["a channel whose source's account has it", () => t.channelStale('dw-0', 'shard_a', 'a-0'), true],
    [
      "a channel whose source's account does not have it yet: it waits",
      () => t.channelStale('dw-0', 'shard_b', 'b-0'),
      false,
    ],
    ['a channel done', () => t.channelStale('a-1', '', 'a-0'), false],
  ])('%s', (_n, f, want) => expect(f()).toBe(want));

  it('a complete rotation leaves channels alone but still sets a new primary’s account', () => {
    const done = passwordTargets({
      fingerprint: FP,
      since: '',
      accounts: ['a-0'],
      channels: [],
      complete: true,
    })!;
    expect(done.channelStale('dw-0', 'shard_a', 'a-0')).toBe(false);
    expect(done.accountStale('a-1')).toBe(true);
  });
});

describe('afterExecution', () => {
  const view = buildView(warehouse(), converged());
  const creds = (over: Partial<NonNullable<CredentialsStatus['replication']>>): CredentialsStatus => ({
    salt: SALT,
    replication: { fingerprint: FP, since: 's', accounts: [], channels: [], complete: false, ...over },
  });
  const account = (m: string): Action => ({ kind: 'SetReplicationPassword', member: m, reason: '' });
  const chan = (m: string, c: string): Action =>
    ({ kind: 'SetChannelPassword', member: m, channel: c, desired: {} as never, reason: '' }) as Action;
  const all = ['a-0', 'b-0', 'dw-0'];

  it.each([
    {
      name: 'accounts set this pass: noted; channels still to come, so not complete',
      before: {},
      planned: all.map(account),
      ran: all.map(account),
      want: { accounts: all, channels: [], complete: false },
    },
    {
      name: 'every primary had it and every channel statement ran: complete, channel list cleared',
      before: { accounts: all },
      planned: [chan('dw-0', 'shard_a'), chan('a-1', '')],
      ran: [chan('dw-0', 'shard_a'), chan('a-1', '')],
      want: { accounts: all, channels: [], complete: true, completedAt: 'now' },
    },
    {
      name: 'a channel statement failed: the others are noted, not complete',
      before: { accounts: all },
      planned: [chan('dw-0', 'shard_a'), chan('a-1', '')],
      ran: [chan('dw-0', 'shard_a')],
      want: { accounts: all, channels: ['dw-0/shard_a'], complete: false },
    },
  ])('$name', ({ before, planned, ran, want }) => {
    // The same objects: executed actions are the planned ones that ran.
    const executed = planned.filter((p) => ran.some((r) => JSON.stringify(r) === JSON.stringify(p)));
    const out = afterExecution(creds(before), view, planned, executed, 'now');
    expect(out.replication).toMatchObject(want);
  });

  it('an unreachable member keeps the rotation open (its channels were not seen)', () => {
    const down = buildView(warehouse(), converged({ 'dw-1': { reachable: false } }));
    expect(afterExecution(creds({ accounts: all }), down, [], [], 'now').replication?.complete).toBe(false);
  });

  it('a member no longer in the spec is forgotten from the accounts', () => {
    const out = afterExecution(creds({ accounts: [...all, 'gone-0'] }), view, [], [], 'now');
    expect(out.replication?.accounts).toEqual(all);
  });
});

describe('a rotation decided pass by pass', () => {
  const previous = (credentials?: CredentialsStatus): TopologyStatus => ({
    ...emptyStatus('Ready'),
    groups: [
      { name: 'shard-a', primary: 'a-0', members: 2, ready: 2 },
      { name: 'shard-b', primary: 'b-0', members: 1, ready: 1 },
      { name: 'dw', primary: 'dw-0', members: 2, ready: 2 },
    ],
    managedChannels: [
      { group: 'dw', name: 'shard_a', from: 'shard-a' },
      { group: 'dw', name: 'shard_b', from: 'shard-b' },
    ],
    ...(credentials ? { credentials } : {}),
  });
  const input = (over: Partial<DecideInput> = {}): DecideInput => ({
    spec: warehouse(),
    observation: converged(),
    previous: previous({
      salt: SALT,
      replication: {
        fingerprint: 'scrypt:old',
        since: 'x',
        accounts: ['a-0', 'b-0', 'dw-0'],
        channels: [],
        complete: true,
      },
    }),
    streaks: new Map(),
    nowMs: NOW,
    annotations: {},
    replication: { user: 'repl', salt: SALT, fingerprint: FP },
    ...over,
  });

  it('a changed Secret: journaled first, then the primaries’ accounts; channels wait for them', () => {
    const d = decidePass(input());
    expect(d.credentialsStarted).toBe(true);
    expect(d.credentials?.replication).toMatchObject({ fingerprint: FP, accounts: [], complete: false });
    expect(d.actions.map(describeAction)).toEqual([
      "a-0: set the replication account's password (the replication Secret changed (or was never applied))",
      "b-0: set the replication account's password (the replication Secret changed (or was never applied))",
      "dw-0: set the replication account's password (the replication Secret changed (or was never applied))",
    ]);
    expect(d.requeueAfterMs).toBe(0);
    expect(d.conditions.map((c) => c.type)).toContain('CredentialsRotating');
  });

  it('once the accounts have it: every managed channel, hand-made ones untouched', () => {
    const obs = converged({
      'dw-0': {
        channels: [
          ...converged().instances.find((i) => i.member === 'dw-0')!.channels,
          {
            ...converged().instances.find((i) => i.member === 'a-1')!.channels[0]!,
            name: 'manual',
            sourcePort: 1002,
          },
        ],
      },
    });
    const stored = {
      salt: SALT,
      replication: {
        fingerprint: FP,
        since: 's',
        accounts: ['a-0', 'b-0', 'dw-0'],
        channels: [],
        complete: false,
      },
    };
    const d = decidePass(input({ observation: obs, previous: previous(stored) }));
    expect(d.credentialsStarted).toBe(false);
    expect(d.actions.map((a) => `${a.kind} ${a.member}/${'channel' in a ? a.channel : ''}`).sort()).toEqual([
      'SetChannelPassword a-1/',
      'SetChannelPassword dw-0/shard_a',
      'SetChannelPassword dw-0/shard_b',
      'SetChannelPassword dw-1/',
    ]);
  });

  it('paused: nothing starts, the difference is said', () => {
    const d = decidePass(input({ spec: warehouse((s) => void (s.paused = true)) }));
    expect([d.credentialsStarted, d.actions]).toEqual([false, []]);
    expect(d.conditions.find((c) => c.type === 'CredentialsPending')?.message).toMatch(/spec\.paused/);
  });

  it('plan shows both passes, with the password only as <redacted>', () => {
    const passes = previewPasses(input());
    expect(passes.map((p) => p.actions.map((a) => a.kind))).toEqual([
      ['SetReplicationPassword', 'SetReplicationPassword', 'SetReplicationPassword'],
      ['SetChannelPassword', 'SetChannelPassword', 'SetChannelPassword', 'SetChannelPassword'],
    ]);
    const text = formatPlan('warehouse', passes, { username: 'repl', password: 'n3w-Secret!' });
    expect(text).toContain("ALTER USER 'repl'@'%' IDENTIFIED BY <redacted>;");
    expect(text).toMatch(/CHANGE MASTER 'shard_a' TO .*MASTER_PASSWORD=<redacted>/);
    expect(text).not.toContain('n3w-Secret');
    expect(text).not.toContain('n3w-S');
  });
});
