import { describe, expect, it } from 'vitest';
import type { TopologySpec } from '../../../src/api/spec.js';
import type { TopologyStatus } from '../../../src/api/status.js';
import { analyze } from '../../../src/analyze/findings.js';
import { buildView } from '../../../src/analyze/view.js';
import type { Observation } from '../../../src/observe/types.js';
import { planConvergence } from '../../../src/plan/converge.js';
import { gtidOps } from '../../../src/sql/gtid/index.js';
import { channel, converged, fresh, warehouse } from '../../fixtures/topology.js';

function run(spec: TopologySpec, obs: Observation, previous?: Partial<TopologyStatus>) {
  const prev = previous
    ? ({
        phase: 'Ready',
        conditions: [],
        groups: [],
        instances: [],
        channels: [],
        managedChannels: [],
        failovers: [],
        ...previous,
      } as TopologyStatus)
    : undefined;
  const view = buildView(spec, obs, prev);
  const findings = analyze({ view, gtid: gtidOps, remembered: prev?.managedChannels ?? [] });
  const actions = planConvergence(findings, {
    paused: spec.paused,
    memberGroup: (m) => view.members.get(m)?.group,
  });
  const brief = actions.map(
    (a) =>
      `${a.kind} ${a.member}${'channel' in a ? `/${a.channel}` : ''}${a.kind === 'SetReadOnly' ? `=${a.readOnly}` : ''}`,
  );
  return { view, findings, actions, brief, kinds: findings.map((f) => f.kind) };
}

describe('convergence planning (spec × observation → actions)', () => {
  const table: {
    name: string;
    spec?: TopologySpec;
    obs: Observation;
    previous?: Partial<TopologyStatus>;
    want: string[];
    findings?: string[];
  }[] = [
    {
      name: 'fresh servers: fence replicas first, then default channels, then named channels',
      obs: fresh(),
      want: [
        'SetReadOnly a-1=true',
        'SetReadOnly dw-1=true',
        'ConfigureChannel a-1/',
        'ConfigureChannel dw-1/',
        'ConfigureChannel dw-0/shard_a',
        'ConfigureChannel dw-0/shard_b',
      ],
    },
    { name: 'converged: nothing to do', obs: converged(), want: [], findings: [] },
    {
      name: 'a receiver that would give up after 10 retries (MySQL retry count) is reconfigured',
      obs: converged({
        'dw-0': { channels: [channel('shard_a', 'a-0', { retryCount: 10 }), channel('shard_b', 'b-0')] },
      }),
      want: ['ConfigureChannel dw-0/shard_a'],
      findings: ['ChannelConfigDrift'],
    },
    {
      name: 'a channel stopped by hand is started',
      obs: converged({
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0', { ioRunning: 'No', sqlRunning: 'No' }),
            channel('shard_b', 'b-0'),
          ],
        },
      }),
      want: ['StartChannel dw-0/shard_a'],
    },
    {
      name: 'a channel repointed by hand is repointed back',
      obs: converged({ 'dw-0': { channels: [channel('shard_a', 'a-1'), channel('shard_b', 'b-0')] } }),
      want: ['ConfigureChannel dw-0/shard_a'],
    },
    {
      name: 'read_only switched off on a replica',
      obs: converged({ 'dw-1': { vars: { readOnly: false }, channels: [channel('', 'dw-0')] } }),
      want: ['SetReadOnly dw-1=true'],
      findings: ['ReplicaWritable', 'TwoWritableMembers'],
    },
    {
      name: 'a channel made by hand is reported and never touched',
      obs: converged({
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0'),
            channel('shard_b', 'b-0'),
            channel('manual', 'zz', { ioRunning: 'No', sqlRunning: 'No' }),
          ],
        },
      }),
      want: [],
      findings: ['UnmanagedChannel'],
    },
    {
      name: 'a channel removed from the spec (remembered in status) is removed',
      spec: warehouse((s) => (s.groups[2]!.channels = [{ name: 'shard_a', from: 'shard-a' }])),
      obs: converged(),
      previous: {
        managedChannels: [
          { group: 'dw', name: 'shard_a', from: 'shard-a' },
          { group: 'dw', name: 'shard_b', from: 'shard-b' },
        ],
      },
      want: ['RemoveChannel dw-0/shard_b'],
    },
    {
      name: 'the same channel never declared is unmanaged: kept',
      spec: warehouse((s) => (s.groups[2]!.channels = [{ name: 'shard_a', from: 'shard-a' }])),
      obs: converged(),
      want: [],
      findings: ['UnmanagedChannel'],
    },
    { name: 'paused: nothing is planned', spec: warehouse((s) => (s.paused = true)), obs: fresh(), want: [] },
    {
      name: 'a replica with errant transactions stays fenced, without a channel',
      obs: converged({
        'a-1': { vars: { readOnly: true, gtidExecuted: '2-2-5', gtidBinlogPos: '2-2-5' }, channels: [] },
      }),
      want: [],
      findings: ['ErrantTransactions'],
    },
    {
      name: 'a managed named channel on a replica is removed (misplaced)',
      obs: converged({
        'dw-1': { vars: { readOnly: true }, channels: [channel('', 'dw-0'), channel('shard_a', 'a-0')] },
      }),
      want: ['RemoveChannel dw-1/shard_a'],
    },
    {
      name: "a primary's default channel into its own group is removed",
      obs: converged({ 'a-0': { channels: [channel('', 'a-1', { ioRunning: 'No', sqlRunning: 'No' })] } }),
      previous: { groups: [{ name: 'shard-a', primary: 'a-0', members: 2, ready: 2 }] },
      want: ['RemoveChannel a-0/'],
    },
    {
      name: 'an unreachable replica gets no action',
      obs: converged({ 'dw-1': { reachable: false } }),
      want: [],
      findings: ['InstanceUnreachable'],
    },
    {
      name: 'a broken channel is reported, not restarted',
      obs: converged({
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0', {
              sqlRunning: 'No',
              lastSQLErrno: 1062,
              lastSQLError: 'Duplicate entry',
            }),
            channel('shard_b', 'b-0'),
          ],
        },
      }),
      want: [],
      findings: ['ChannelBroken'],
    },
    {
      name: 'slow failure detection settings are repaired',
      obs: converged({
        'dw-0': { channels: [channel('shard_a', 'a-0', { connectRetry: 60 }), channel('shard_b', 'b-0')] },
      }),
      want: ['ConfigureChannel dw-0/shard_a'],
    },
    {
      name: 'a filter that differs from the spec is repaired',
      obs: converged({
        'dw-0': {
          channels: [
            channel('shard_a', 'a-0'),
            channel('shard_b', 'b-0', { filter: { doDatabases: [], ignoreDatabases: [] } }),
          ],
        },
      }),
      want: ['ConfigureChannel dw-0/shard_b'],
    },
    {
      name: 'two sources in one gtid domain: the second channel is not created',
      obs: converged({
        'b-0': { vars: { gtidDomainId: 1 } },
        'dw-0': { channels: [channel('shard_a', 'a-0')] },
      }),
      want: [],
      findings: ['GtidDomainConflict'],
    },
    {
      name: 'a read-only primary becomes writable, after replicas are fenced',
      obs: converged({ 'b-0': { vars: { readOnly: true } } }),
      want: ['SetReadOnly b-0=false'],
    },
    {
      name: 'the replication account is created on the primary only',
      obs: (() => {
        const o = converged();
        for (const i of o.instances) i.replicationUserExists = false;
        return o;
      })(),
      want: ['EnsureReplicationUser a-0', 'EnsureReplicationUser b-0', 'EnsureReplicationUser dw-0'],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const r = run(t.spec ?? warehouse(), t.obs, t.previous);
      expect(r.brief).toEqual(t.want);
      for (const k of t.findings ?? []) expect(r.kinds).toContain(k);
      if (t.findings && t.findings.length === 0) expect(r.kinds).toEqual([]);
    });
  }

  it('every channel action names a member and a channel of the spec', () => {
    const r = run(warehouse(), fresh());
    const shard = r.actions.find((a) => a.kind === 'ConfigureChannel' && a.channel === 'shard_b');
    expect(shard && shard.kind === 'ConfigureChannel' && shard.desired).toMatchObject({
      source: 'b-0',
      sourcePort: 1003,
      filter: { doDatabases: ['sales'] },
    });
  });

  it('a former primary with local writes rejoins with its replica position aligned (MariaDB)', () => {
    const obs = converged({
      'a-0': {
        vars: {
          readOnly: true,
          gtidBinlogPos: '1-1-10',
          gtidSlavePos: '',
          gtidCurrentPos: '1-1-10',
          gtidExecuted: '1-1-10',
        },
        channels: [],
      },
      'a-1': {
        vars: { gtidExecuted: '1-1-10,2-2-3', gtidBinlogPos: '1-1-10,2-2-3', gtidSlavePos: '1-1-10' },
        channels: [],
      },
    });
    const r = run(warehouse(), obs, { groups: [{ name: 'shard-a', primary: 'a-1', members: 2, ready: 1 }] });
    const join = r.actions.find((a) => a.kind === 'ConfigureChannel' && a.member === 'a-0');
    expect(join && join.kind === 'ConfigureChannel' && join.desired.alignReplicaPosition).toBe('1-1-10');
  });

  it('the remembered primary keeps its role while another member is also writable', () => {
    const obs = converged({ 'a-1': { vars: { readOnly: false }, channels: [] } });
    const r = run(warehouse(), obs, { groups: [{ name: 'shard-a', primary: 'a-0', members: 2, ready: 2 }] });
    expect(r.view.groups[0]!.primary).toBe('a-0');
    expect(r.brief[0]).toBe('SetReadOnly a-1=true');
  });

  it('an unreachable member is an observation, so a dead primary stays the primary (failover decides)', () => {
    const obs = converged({ 'a-0': { reachable: false } });
    const r = run(warehouse(), obs, { groups: [{ name: 'shard-a', primary: 'a-0', members: 2, ready: 2 }] });
    expect(r.view.groups[0]!.primary).toBe('a-0');
    expect(r.actions).toEqual([]);
  });
});
