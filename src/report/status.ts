// report: observation + findings + journal → status. Pure, and stable: the same inputs give the same
// status (no timestamps of this pass unless something changed), so callers can skip unchanged writes.
import {
  emptyChannelStatus,
  type ChannelReport,
  type ChannelStatus,
  type Condition,
  type FailoverRecord,
  type InstanceStatus,
  type Phase,
  type TopologyStatus,
} from '../api/status.js';
import { isManagedChannel, type Finding } from '../analyze/findings.js';
import { channelSourceMember, memberRole, type TopologyView } from '../analyze/view.js';
import { IO_UNREACHABLE_ERRNOS } from '../sql/errors.js';
import { channelLabel } from '../plan/actions.js';

export interface ReportInput {
  view: TopologyView;
  findings: Finding[];
  generation: number;
  now: string;
  paused: boolean;
  remembered: { group: string; name: string; from: string }[];
  failovers: FailoverRecord[];
  /** Extra conditions from other steps (failover detection, cooldown), already built. */
  extraConditions?: Omit<Condition, 'lastTransitionTime'>[];
  /** Why a channel (`member/channel`) is not where it should be: conflicts, failed statements. */
  channelProblems?: ReadonlyMap<string, string>;
}

/** Findings that make a topology Degraded (the rest are informational). */
const DEGRADING = new Set<Finding['kind']>([
  'ChannelMissing',
  'ChannelPointsElsewhere',
  'ChannelStopped',
  'ChannelBroken',
  'ChannelMisplaced',
  'ChannelRemovedFromSpec',
  'GtidDomainConflict',
  'SourcePurgedNeededGtids',
  'ReplicaWritable',
  'PrimaryReadOnly',
  'TwoWritableMembers',
  'ErrantTransactions',
  'LogBinOff',
  'LogReplicaUpdatesOff',
  'ReplicationUserMissing',
  'InstanceUnreachable',
  'InstanceRefused',
  'NoPrimary',
  'ChannelConfigDrift',
  'ChannelSourceConflict',
  'GtidModeOff',
  'ReadOnlyNotPersisted',
]);

/** Findings a human must resolve: each kind present gets a condition of its own (type = kind). */
const NEEDS_A_HUMAN = new Set<Finding['kind']>([
  'ErrantTransactions',
  'ChannelSourceConflict',
  'GtidDomainConflict',
  'SourcePurgedNeededGtids',
  'ChannelBroken',
  'GtidModeOff',
  'InstanceRefused',
]);

/** Facts of an unreachable member that status keeps from when it was last seen. */
const LAST_KNOWN = ['flavor', 'version', 'serverId', 'serverUuid', 'gtidDomainId', 'gtidExecuted'] as const;

export function channelState(c: ChannelStatus): ChannelReport['state'] {
  if (c.ioRunning === 'Yes' && c.sqlRunning === 'Yes') return 'Running';
  // A receiver stopped while its source was unreachable is stopped, not broken: starting it is the repair.
  const receiverBroken =
    c.ioRunning === 'No' && c.lastIOErrno !== 0 && !IO_UNREACHABLE_ERRNOS.has(c.lastIOErrno);
  if ((c.sqlRunning === 'No' && c.lastSQLErrno !== 0) || receiverBroken) return 'Broken';
  if (c.ioRunning === 'Connecting' && c.sqlRunning === 'Yes') return 'Connecting';
  return 'Stopped';
}

export function projectStatus(input: ReportInput, previous: TopologyStatus | undefined): TopologyStatus {
  const { view, findings } = input;
  const fenced = new Set(
    findings.filter((f) => f.kind === 'ErrantTransactions').map((f) => (f as { member: string }).member),
  );
  const instances: InstanceStatus[] = [];
  const channels: ChannelReport[] = [];
  // Looked up by name, the first of a name (a scan of the previous instances per member would be quadratic).
  const before = new Map<string, InstanceStatus>();
  for (const i of previous?.instances ?? []) if (!before.has(i.name)) before.set(i.name, i);
  const groups = view.groups.map((g) => {
    let ready = 0;
    for (const m of g.members) {
      const role = memberRole(view, g, m, fenced);
      const o = m.obs;
      const prev = before.get(m.spec.name);
      const inst: InstanceStatus = { name: m.spec.name, group: g.spec.name, reachable: m.reachable, role };
      if (m.reachable && o?.vars) {
        Object.assign(inst, {
          readOnly: o.vars.readOnly,
          ...(o.vars.superReadOnly !== null ? { superReadOnly: o.vars.superReadOnly } : {}),
          flavor: o.flavor,
          version: o.vars.version,
          serverId: o.vars.serverId,
          ...(o.vars.serverUuid ? { serverUuid: o.vars.serverUuid } : {}),
          ...(o.vars.gtidDomainId !== null ? { gtidDomainId: o.vars.gtidDomainId } : {}),
          gtidExecuted: o.vars.gtidExecuted,
          ...(o.tls !== undefined ? { tls: o.tls } : {}),
        });
      } else {
        // Last known facts stay (the failover needs the dead primary's GTID domain and executed set);
        // readOnly does not: nobody knows it now.
        for (const k of LAST_KNOWN) if (prev?.[k] !== undefined) Object.assign(inst, { [k]: prev[k] });
        inst.lastError = o?.error ?? 'not probed';
        if (o?.refused) inst.refused = o.refused;
        // The last time it was seen: carried while it stays unreachable, so the status does not churn.
        inst.lastSeen = prev && !prev.reachable && prev.lastSeen ? prev.lastSeen : input.now;
      }
      instances.push(inst);
      for (const ch of o?.channels ?? []) channels.push(channelReport(input, g.spec.name, m.spec.name, ch));
      const def = o?.channels.find((c) => c.name === '');
      if (role === 'primary' || (role === 'replica' && def && channelState(def) === 'Running')) ready++;
    }
    return { name: g.spec.name, primary: g.primary ?? null, members: g.members.length, ready };
  });
  const reported = new Set(channels.map((c) => `${c.replica}\u0000${c.name.toLowerCase()}`));
  for (const f of findings) {
    if ((f.kind === 'ChannelMissing' || f.kind === 'ChannelSourceConflict') && f.channel !== '') {
      const from = f.kind === 'ChannelMissing' ? f.desired.fromGroup : fromOf(view, f.member, f.channel);
      const key = `${f.member}\u0000${f.channel.toLowerCase()}`;
      if (!reported.has(key)) {
        reported.add(key);
        channels.push(missingChannel(f.member, f.channel, from));
      }
    }
  }
  for (const c of channels) {
    const problem = input.channelProblems?.get(channelLabel(c.replica, c.name));
    if (problem) c.problem = problem;
  }
  const degraded = findings.filter((f) => DEGRADING.has(f.kind));
  const active = input.failovers.find((r) => r.phase !== 'Done' && r.phase !== 'Aborted');
  const phase: Phase = input.paused
    ? 'Paused'
    : active
      ? 'FailingOver'
      : degraded.length > 0
        ? 'Degraded'
        : 'Ready';
  const running = channels.filter((c) => c.state === 'Running').length;
  const last = [...input.failovers].reverse().find((r) => r.phase === 'Done');
  const conditions = mergeConditions(
    previous?.conditions ?? [],
    [
      {
        type: 'Ready',
        status: phase === 'Ready' ? 'True' : 'False',
        reason: phase === 'Ready' ? 'AllChannelsRunning' : phase,
        message: phase === 'Ready' ? `${running} channels running` : summarize(degraded, phase),
        observedGeneration: input.generation,
      },
      {
        type: 'Degraded',
        status: degraded.length > 0 ? 'True' : 'False',
        reason: degraded[0]?.kind ?? 'NoProblems',
        message: degraded.length > 0 ? summarize(degraded, 'Degraded') : 'nothing to repair',
        observedGeneration: input.generation,
      },
      ...humanConditions(findings, input.generation),
      ...(input.extraConditions ?? []),
    ],
    input.now,
  );
  return {
    observedGeneration: input.generation,
    phase,
    conditions,
    groups,
    instances,
    channels,
    managedChannels: input.remembered,
    failovers: input.failovers,
    summary: {
      channelsRunning: running,
      channelsTotal: channels.length,
      groups: groups.length,
      channels: `${running}/${channels.length}`,
      ...(last ? { lastFailover: last.finishedAt ?? last.startedAt } : {}),
    },
  };
}

function channelReport(input: ReportInput, group: string, member: string, ch: ChannelStatus): ChannelReport {
  const { view } = input;
  const source = channelSourceMember(view, ch) ?? null;
  const from = source ? (view.members.get(source)?.group ?? null) : null;
  const managed = isManagedChannel({ view, remembered: input.remembered }, member, ch);
  void group;
  return { ...ch, replica: member, from, source, managed, state: channelState(ch) };
}

/** One condition per kind of finding that needs a human, naming every place it occurs. */
function humanConditions(findings: Finding[], generation: number): Omit<Condition, 'lastTransitionTime'>[] {
  const kinds = [...new Set(findings.map((f) => f.kind).filter((k) => NEEDS_A_HUMAN.has(k)))];
  return kinds.map((kind) => {
    const of = findings.filter((f) => f.kind === kind);
    return {
      type: kind,
      status: 'True',
      reason: kind,
      message: summarize(of, kind),
      observedGeneration: generation,
    };
  });
}

/** The group a declared channel of a member's group receives from. */
function fromOf(view: TopologyView, member: string, channel: string): string {
  const g = view.groups.find((x) => x.spec.name === view.members.get(member)?.group);
  return g?.spec.channels.find((c) => c.name.toLowerCase() === channel.toLowerCase())?.from ?? '';
}

function missingChannel(member: string, name: string, from: string): ChannelReport {
  return {
    ...emptyChannelStatus(name),
    replica: member,
    from,
    source: null,
    managed: true,
    state: 'Missing',
  };
}

export function describeFinding(f: Finding): string {
  const at =
    'channel' in f
      ? `${f.member}/${f.channel === '' ? "''" : f.channel}`
      : 'member' in f
        ? f.member
        : 'group' in f
          ? f.group
          : '';
  switch (f.kind) {
    case 'ChannelBroken':
      return `${at}: ${f.thread} error ${f.errno}: ${f.error}`;
    case 'ErrantTransactions':
      return `${at}: errant transactions ${f.errant}`;
    case 'InstanceUnreachable':
      return `${at}: unreachable (${f.error})`;
    case 'InstanceRefused':
      return `${at}: answers, but the operator cannot use it, so nothing is done on it (${f.error})`;
    case 'ReplicationPasswordStale':
      return `${at}: the replication account gets the Secret's password`;
    case 'ChannelPasswordStale':
      return `${at}: gets the replication Secret's password`;
    case 'GtidDomainConflict':
      return `${at}: gtid_domain_id ${f.domain} also used by ${f.withMember}`;
    case 'ChannelPointsElsewhere':
      return `${at}: points at ${f.actual}, want ${f.desired.source}`;
    case 'TwoWritableMembers':
      return `${at}: writable members ${f.members.join(', ')}`;
    case 'SourcePurgedNeededGtids':
      return `${at}: source purged ${f.missing}`;
    case 'ChannelSourceConflict':
      return `${at}: its source ${f.source} already feeds ${f.member}/${f.otherChannel === '' ? "''" : f.otherChannel}; not created`;
    case 'ChannelMisplaced':
      return `${at}: ${f.reason}`;
    case 'GtidModeOff':
      return `${at}: GTIDs are not on (gtid_mode ${f.gtidMode}, enforce_gtid_consistency ${f.enforceGtidConsistency ? 'ON' : 'OFF'}): no channel to or from it is created or repointed, and it is never promoted`;
    case 'ReplicaWritable':
      return `${at}: a replica that accepts writes`;
    default:
      return `${at}: ${f.kind}`;
  }
}

function summarize(findings: Finding[], fallback: string): string {
  if (findings.length === 0) return fallback;
  const shown = findings.slice(0, 5).map(describeFinding).join('; ');
  return findings.length > 5 ? `${shown}; and ${findings.length - 5} more` : shown;
}

/** Keeps lastTransitionTime unless the condition's status changed (Kubernetes conventions). */
export function mergeConditions(
  previous: Condition[],
  next: Omit<Condition, 'lastTransitionTime'>[],
  now: string,
): Condition[] {
  return next.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now };
  });
}

/**
 * The status without the fields that move with every transaction (GTID positions, lag, thread-state
 * text): what decides whether a change is worth a write at once, or can wait for the periodic refresh.
 */
export function significantPart(status: TopologyStatus | undefined): unknown {
  if (!status) return undefined;
  return {
    ...status,
    instances: status.instances.map(({ gtidExecuted: _g, ...rest }) => rest),
    channels: status.channels.map(
      ({
        retrievedGtidSet: _r,
        executedGtidSet: _e,
        secondsBehindSource: _s,
        ioState: _i,
        sqlState: _q,
        ...rest
      }) => rest,
    ),
  };
}
