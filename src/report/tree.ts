// The `status -o tree` drawing: each source with the channels that replicate from it, then where each
// group's traffic is routed, then the last failover. A multi-source replica appears under every one of
// its sources; its own subtree is drawn once, at its first place.
import {
  FailoverPhase,
  type ChannelReport,
  type FailoverRecord,
  type GroupRouting,
  type InstanceStatus,
  type TopologyStatus,
} from '../api/status.js';
import { showLoss } from '../plan/failover-common.js';
import { isOpen } from '../plan/failover-step.js';

const channelName = (c: ChannelReport) => (c.name === '' ? "''" : c.name);

function lag(c: ChannelReport): string {
  if (c.state === 'Running')
    return c.secondsBehindSource === null ? 'lag ?' : `lag ${c.secondsBehindSource}s`;
  if (c.state === 'Broken') {
    const errno = c.lastSQLErrno || c.lastIOErrno;
    const msg = c.lastSQLError || c.lastIOError;
    return `error ${errno}: ${msg.length > 80 ? `${msg.slice(0, 79)}…` : msg}`;
  }
  if (c.state === 'Connecting' && c.lastIOErrno) return `receiver error ${c.lastIOErrno}`;
  return '';
}

function describeInstance(i: InstanceStatus | undefined, name: string): string {
  if (!i) return name;
  if (!i.reachable)
    return `${name} [${i.group}] ${i.role} UNREACHABLE${i.lastError ? ` (${i.lastError})` : ''}`;
  const rw = i.readOnly ? 'ro' : 'rw';
  return `${name} [${i.group}] ${i.role} ${rw}${i.version ? ` ${i.version}` : ''}`;
}

export function renderTree(name: string, status: TopologyStatus): string {
  const lines: string[] = [];
  const s = status.summary;
  lines.push(
    `${name}: ${status.phase}, ${s?.channelsRunning ?? 0}/${s?.channelsTotal ?? 0} channels running`,
  );
  const inst = new Map(status.instances.map((i) => [i.name, i]));
  const bySource = new Map<string, ChannelReport[]>();
  const orphans: ChannelReport[] = [];
  for (const c of status.channels) {
    if (c.source && inst.has(c.source)) bySource.set(c.source, [...(bySource.get(c.source) ?? []), c]);
    else orphans.push(c);
  }
  const drawn = new Set<string>();
  const draw = (member: string, prefix: string) => {
    const children = bySource.get(member) ?? [];
    children.forEach((c, idx) => {
      const last = idx === children.length - 1;
      const again = drawn.has(c.replica);
      const label = `${describeInstance(inst.get(c.replica), c.replica)} via ${channelName(c)} ${c.state}${lag(c) ? ` ${lag(c)}` : ''}${c.managed ? '' : ' (unmanaged)'}`;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label}${again ? ' (see above)' : ''}`);
      if (!again) {
        drawn.add(c.replica);
        draw(c.replica, `${prefix}${last ? '   ' : '│  '}`);
      }
    });
  };
  // Roots: members no managed-or-not channel of the topology feeds (the sources of the whole graph).
  const fed = new Set(status.channels.filter((c) => c.source && inst.has(c.source)).map((c) => c.replica));
  for (const i of status.instances) {
    if (fed.has(i.name) || drawn.has(i.name)) continue;
    drawn.add(i.name);
    lines.push(describeInstance(i, i.name));
    draw(i.name, '  ');
  }
  // Members fed only through a cycle of channels (should not happen) or not yet drawn.
  for (const i of status.instances) {
    if (drawn.has(i.name)) continue;
    drawn.add(i.name);
    lines.push(describeInstance(i, i.name));
    draw(i.name, '  ');
  }
  for (const g of status.groups) if (g.routing) lines.push(describeRouting(g.name, g.routing));
  const last = status.failovers.at(-1);
  if (last) lines.push(describeFailover(last));
  for (const c of orphans) {
    const where =
      c.state === 'Missing' ? `missing (from ${c.from})` : `from ${c.sourceHost}:${c.sourcePort} ${c.state}`;
    lines.push(`${c.replica} via ${channelName(c)} ${where}${c.managed ? '' : ' (unmanaged)'}`);
  }
  return lines.join('\n');
}

/**
 * One line for where a group's traffic goes (as the routing targets were last given it):
 * `routing shard-a: writer a-1, readers a-2, a-3, changed 2026-…`. The writer is `drained` while nobody
 * holds the writer endpoints (a failover before promotion), `(not ready)` while it is not marked ready.
 */
export function describeRouting(group: string, r: GroupRouting): string {
  const writer = r.writer === null ? 'drained' : `${r.writer}${r.writerReady ? '' : ' (not ready)'}`;
  const readers = r.readers.length ? r.readers.join(', ') : 'none';
  return `routing ${group}: writer ${writer}, readers ${readers}${r.changedAt ? `, changed ${r.changedAt}` : ''}`;
}

/** Phases in the order a record goes through them (ties in time keep it); unknown ones last. */
const rank = (phase: string) => {
  const i = (FailoverPhase.options as string[]).indexOf(phase);
  return i < 0 ? FailoverPhase.options.length : i;
};

/** Phases of a journal record in time order, with seconds since the record started. */
export function phaseOffsets(r: FailoverRecord): { phase: string; at: string; seconds: number }[] {
  const start = Date.parse(r.startedAt);
  return Object.entries(r.phaseTimes)
    .map(([phase, at]) => ({ phase, at, seconds: (Date.parse(at) - start) / 1000 }))
    .filter((p) => Number.isFinite(p.seconds))
    .sort((a, b) => a.seconds - b.seconds || rank(a.phase) - rank(b.phase));
}

/** One line for a journal record: `last failover: hub h-0 → h-1 (DeadPrimary) Done: Decided +0.000s, …`. */
export function describeFailover(r: FailoverRecord): string {
  const phases = phaseOffsets(r)
    .map((p) => `${p.phase} +${p.seconds.toFixed(3)}s`)
    .join(', ');
  const what = r.reason === 'Switchover' ? 'last switchover' : 'last failover';
  const routing = routingOffsets(r);
  const loss = lossFacts(r);
  return `${what}: ${r.group} ${r.from} → ${r.to} (${r.reason}) ${r.phase}${phases ? `: ${phases}` : ''}${routing ? `; ${routing}` : ''}${loss ? `; ${loss}` : ''}${r.message && r.phase === 'Aborted' ? ` (${r.message})` : ''}`;
}

/**
 * What a person must see before acknowledging, and after: what the record waits for, the loss it shows
 * (holders and GTID sets), the loss an acknowledgement accepted, survivors unreachable at the promotion.
 */
export function lossFacts(r: FailoverRecord): string {
  const open = isOpen(r);
  return [
    open && r.waitingFor ? `waiting for ${r.waitingFor}` : '',
    open && r.atRisk?.length
      ? `would lose ${showLoss(r.atRisk)} (acknowledge with tributary.dev/ack-failover: ${r.group})`
      : '',
    r.acknowledgedLoss?.length ? `acknowledged loss ${showLoss(r.acknowledgedLoss)}` : '',
    r.unreachable?.length
      ? `unreachable when promoted (may hold transactions it lacks): ${r.unreachable.join(', ')}`
      : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** When the record's routing happened, since its decision: `drained +0.004s, routed +1.207s`, or why the drain failed. */
function routingOffsets(r: FailoverRecord): string {
  const start = Date.parse(r.startedAt);
  const since = (at: string | undefined) => {
    const s = at === undefined ? NaN : (Date.parse(at) - start) / 1000;
    return Number.isFinite(s) ? ` +${s.toFixed(3)}s` : '';
  };
  return [
    r.drainedAt !== undefined ? `drained${since(r.drainedAt)}` : '',
    r.drainProblem !== undefined ? `drain failed, went on without it (${r.drainProblem})` : '',
    r.routedAt !== undefined ? `routed${since(r.routedAt)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}
