// Convergence planning: findings → ordered, idempotent, channel-scoped actions. Pure.
import type { DesiredChannel, Finding } from '../analyze/findings.js';
import type { Action } from './actions.js';

/** Fencing first (never two writable members), then accounts, removals, default channels, named channels. */
function rank(a: Action): number {
  switch (a.kind) {
    case 'SetReadOnly':
      return a.readOnly ? 0 : 1;
    case 'PersistReadOnly':
      return 0;
    case 'EnsureReplicationUser':
    case 'SetReplicationPassword':
      // After SetReadOnly(false) of the same member: a primary made writable this pass takes it.
      return 2;
    case 'RemoveChannel':
    case 'StopChannel':
    case 'WaitForGtid':
      return 3;
    case 'ConfigureChannel':
      return a.channel === '' ? 4 : 5;
    case 'SetChannelPassword':
      return 5;
    case 'StartChannel':
      return 6;
  }
}

/** The action that repairs a finding; undefined for what only a human can decide (reported only). */
function repair(f: Finding, opts: Pick<ConvergeOptions, 'connectionOnly'>): Action | undefined {
  switch (f.kind) {
    case 'ReplicaWritable':
      return { kind: 'SetReadOnly', member: f.member, readOnly: true, reason: 'a replica must be read-only' };
    case 'PrimaryReadOnly':
      return {
        kind: 'SetReadOnly',
        member: f.member,
        readOnly: false,
        reason: 'the primary must be writable',
      };
    case 'ReadOnlyNotPersisted':
      return {
        kind: 'PersistReadOnly',
        member: f.member,
        reason: 'a restarted member must come back read-only',
      };
    case 'ReplicationUserMissing':
      return { kind: 'EnsureReplicationUser', member: f.member, reason: 'replicas log in with it' };
    case 'ReplicationPasswordStale':
      return {
        kind: 'SetReplicationPassword',
        member: f.member,
        reason: 'the replication Secret changed (or was never applied)',
      };
    case 'ChannelPasswordStale':
      return {
        kind: 'SetChannelPassword',
        member: f.member,
        channel: f.channel,
        desired: f.desired,
        reason: `${f.desired.source}'s account has the new password`,
      };
    case 'ChannelMissing':
      return {
        kind: 'ConfigureChannel',
        member: f.member,
        channel: f.channel,
        desired: f.desired,
        exists: false,
        reason: 'missing',
      };
    case 'ChannelPointsElsewhere':
      return {
        kind: 'ConfigureChannel',
        member: f.member,
        channel: f.channel,
        desired: f.desired,
        exists: true,
        reason: `points at ${f.actual}`,
      };
    case 'ChannelConfigDrift':
      return {
        kind: 'ConfigureChannel',
        member: f.member,
        channel: f.channel,
        desired: f.desired,
        exists: true,
        ...(opts.connectionOnly?.(f) ? { connectionOnly: true } : {}),
        reason: f.differences.join('; '),
      };
    case 'ChannelStopped':
      return {
        kind: 'StartChannel',
        member: f.member,
        channel: f.channel,
        reason: `stopped (receiver ${f.io}, applier ${f.sql})`,
      };
    case 'ChannelRemovedFromSpec':
      return { kind: 'RemoveChannel', member: f.member, channel: f.channel, reason: 'removed from the spec' };
    case 'ChannelMisplaced':
      return { kind: 'RemoveChannel', member: f.member, channel: f.channel, reason: f.reason };
    default:
      // Broken channels, errant members, domain conflicts, unmanaged channels: reported, never acted on.
      return undefined;
  }
}

export interface ConvergeOptions {
  paused: boolean;
  /**
   * Groups whose primary a failover is changing: convergence leaves their members, and the channels
   * they feed elsewhere, to the failover step.
   */
  busyGroups?: Set<string>;
  memberGroup: (member: string) => string | undefined;
  /** Whether a drifted channel differs in connection settings only (connection-drift.ts). */
  connectionOnly?: (f: { member: string; channel: string; desired: DesiredChannel }) => boolean;
}

/** The group a finding's channel receives from, when it names one. */
const fromGroupOf = (f: Finding): string | undefined =>
  'desired' in f ? f.desired.fromGroup : 'fromGroup' in f ? f.fromGroup : undefined;

export function planConvergence(findings: Finding[], opts: ConvergeOptions): Action[] {
  if (opts.paused) return [];
  const busy = (f: Finding, a: Action) =>
    opts.busyGroups !== undefined &&
    (opts.busyGroups.has(opts.memberGroup(a.member) ?? '') || opts.busyGroups.has(fromGroupOf(f) ?? ''));
  const actions = findings.flatMap((f) => {
    const a = repair(f, opts);
    // Fencing is always safe, even in a group a failover is changing; nothing else is.
    const fencing = (a?.kind === 'SetReadOnly' && a.readOnly) || a?.kind === 'PersistReadOnly';
    return a && (!busy(f, a) || fencing) ? [a] : [];
  });
  return actions
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i)
    .map((x) => x.a);
}
