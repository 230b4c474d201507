// Convergence planning: findings → ordered, idempotent, channel-scoped actions. Pure.
import type { Finding } from '../analyze/findings.js';
import type { Action } from './actions.js';

/** Fencing first (never two writable members), then accounts, removals, default channels, named channels. */
const ORDER: Record<Action['kind'], number> = {
  SetReadOnly: 0,
  EnsureReplicationUser: 2,
  RemoveChannel: 3,
  StopChannel: 3,
  WaitForGtid: 3,
  ConfigureChannel: 4,
  StartChannel: 6,
};

function rank(a: Action): number {
  if (a.kind === 'SetReadOnly') return a.readOnly ? 0 : 1;
  if (a.kind === 'ConfigureChannel') return a.channel === '' ? 4 : 5;
  return ORDER[a.kind];
}

export interface ConvergeOptions {
  paused: boolean;
  /** Groups whose primary a failover is changing: convergence leaves them to the failover step. */
  busyGroups?: Set<string>;
  memberGroup: (member: string) => string | undefined;
}

export function planConvergence(findings: Finding[], opts: ConvergeOptions): Action[] {
  if (opts.paused) return [];
  const actions: Action[] = [];
  const busy = (member: string) => opts.busyGroups?.has(opts.memberGroup(member) ?? '') ?? false;
  for (const f of findings) {
    switch (f.kind) {
      case 'ReplicaWritable':
        // Fencing is always safe, even during a failover.
        actions.push({
          kind: 'SetReadOnly',
          member: f.member,
          readOnly: true,
          reason: 'a replica must be read-only',
        });
        break;
      case 'PrimaryReadOnly':
        if (!busy(f.member))
          actions.push({
            kind: 'SetReadOnly',
            member: f.member,
            readOnly: false,
            reason: 'the primary must be writable',
          });
        break;
      case 'ReplicationUserMissing':
        if (!busy(f.member))
          actions.push({
            kind: 'EnsureReplicationUser',
            member: f.member,
            reason: 'replicas log in with it',
          });
        break;
      case 'ChannelMissing':
        if (!busy(f.member))
          actions.push({
            kind: 'ConfigureChannel',
            member: f.member,
            channel: f.channel,
            desired: f.desired,
            exists: false,
            reason: 'missing',
          });
        break;
      case 'ChannelPointsElsewhere':
        if (!busy(f.member))
          actions.push({
            kind: 'ConfigureChannel',
            member: f.member,
            channel: f.channel,
            desired: f.desired,
            exists: true,
            reason: `points at ${f.actual}`,
          });
        break;
      case 'ChannelConfigDrift':
        if (!busy(f.member))
          actions.push({
            kind: 'ConfigureChannel',
            member: f.member,
            channel: f.channel,
            desired: f.desired,
            exists: true,
            reason: f.differences.join('; '),
          });
        break;
      case 'ChannelStopped':
        if (!busy(f.member))
          actions.push({
            kind: 'StartChannel',
            member: f.member,
            channel: f.channel,
            reason: `stopped (receiver ${f.io}, applier ${f.sql})`,
          });
        break;
      case 'ChannelRemovedFromSpec':
        if (!busy(f.member))
          actions.push({
            kind: 'RemoveChannel',
            member: f.member,
            channel: f.channel,
            reason: 'removed from the spec',
          });
        break;
      case 'ChannelMisplaced':
        if (!busy(f.member))
          actions.push({ kind: 'RemoveChannel', member: f.member, channel: f.channel, reason: f.reason });
        break;
      default:
        // Reported only: broken channels, errant members, conflicts, unmanaged channels need a human.
        break;
    }
  }
  return actions
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i)
    .map((x) => x.a);
}
