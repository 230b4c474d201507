// Traffic routing: which member each group's writer and reader endpoints hold, and the steps that move
// them there. Pure; the authority for routing (the failover step asks it whether a group is drained).
//
// The state a pass starts from is what the routing targets (EndpointSlices, the routing hook) were last
// given, remembered in status (`groups[].routing`) and, in the operator, read back from the API server's
// cache so that a slice edited by hand is put back. Steps are level-triggered: the desired state is
// recomputed every pass and a step is planned only where it differs.
//
//   writer   the group's primary, `ready` while it is writable and reachable. While a failover or
//            switchover of the group has not promoted, nobody: the old primary is drained before any
//            promotion (failover-step.ts waits for it), and the new primary enters only in the pass that
//            makes it writable, after that statement (the route stage runs last).
//   readers  replicas reachable and replicating from the primary within maxReplicaLagSeconds. While the
//            group's primary is unreachable or a failover is open, they keep their place (minus members
//            that became unreachable or broken): reads stay available while writes move.
import type { RoutingSpec } from '../api/spec.js';
import type { FailoverRecord, GroupRouting } from '../api/status.js';
import type { GroupView, MemberView, TopologyView } from '../analyze/view.js';
import type { Action } from './actions.js';

export type RoutingOp = 'drain' | 'route' | 'readers';

/**
 * The names of a group's writer and reader endpoints: its Services, and what the routing hook is told
 * (`<topology>-<group>-primary`, `<topology>-<group>-replicas`).
 */
export const endpointNames = (topology: string, group: string) => ({
  writer: `${topology}-${group}-primary`,
  readers: `${topology}-${group}-replicas`,
});

/** A member as routing targets see it: where applications reach it (the spec's host and port). */
export interface RoutedMember {
  name: string;
  host: string;
  port: number;
  /** Marked ready (EndpointSlice condition; the hook's `ready`). */
  ready: boolean;
}

/** One change of one group's routing: what the targets are given, in the order the pass runs them. */
export interface RoutingStep {
  group: string;
  /** drain: the writer leaves; route: the writer (members holds it); readers: the whole reader set. */
  op: RoutingOp;
  /** drain: the member(s) leaving; route: the writer; readers: every reader. */
  members: RoutedMember[];
  /** The open failover or switchover record this step belongs to. */
  failover?: string;
  reason: string;
}

export type DesiredRouting = Pick<GroupRouting, 'writer' | 'writerReady' | 'readers'>;

export interface RoutingInput {
  view: TopologyView;
  journal: readonly FailoverRecord[];
  spec: RoutingSpec;
  /** What the targets were last given, per group (status): steps start from it. */
  current: ReadonlyMap<string, GroupRouting>;
  /**
   * What a target reads back where it can (the EndpointSlices): where it differs from what is wanted and
   * no step covers it, a step puts it back (a slice edited or deleted by hand).
   */
  observed?: ReadonlyMap<string, GroupRouting>;
  /** This pass's statements: a member made writable by them is routed after them. */
  actions: readonly Action[];
}

const openRecord = (journal: readonly FailoverRecord[], group: string) =>
  journal.find((r) => r.group === group && r.phase !== 'Done' && r.phase !== 'Aborted');

/** Whether the old primary has left the writer endpoints (or never was in them). */
export const drained = (current: ReadonlyMap<string, GroupRouting>, group: string, member: string): boolean =>
  (current.get(group)?.writer ?? null) !== member;

/** The writer and readers each group should have now. */
export function desiredRouting(input: RoutingInput): Map<string, DesiredRouting> {
  const out = new Map<string, DesiredRouting>();
  // Members this pass's statements make writable, found once (not a scan of every action per group).
  const madeWritable = new Set(
    input.actions.flatMap((a) => (a.kind === 'SetReadOnly' && !a.readOnly ? [a.member] : [])),
  );
  for (const g of input.view.groups) {
    const record = openRecord(input.journal, g.spec.name);
    const writer = desiredWriter(g, record, madeWritable);
    const previous = input.current.get(g.spec.name)?.readers ?? [];
    out.set(g.spec.name, {
      writer: writer?.name ?? null,
      writerReady: writer?.ready ?? false,
      readers: desiredReaders(g, record, writer?.name, previous, input.spec.maxReplicaLagSeconds),
    });
  }
  return out;
}

function desiredWriter(
  g: GroupView,
  record: FailoverRecord | undefined,
  madeWritable: ReadonlySet<string>,
): { name: string; ready: boolean } | undefined {
  // A member this pass's statements make writable is routed, ready, after them (the route stage runs last).
  const ready = (name: string) =>
    madeWritable.has(name) || writable(g.members.find((x) => x.spec.name === name));
  if (record && record.phase !== 'Repointing')
    // Before promotion nobody takes writes.
    return record.phase === 'Promoting' && ready(record.to) ? { name: record.to, ready: true } : undefined;
  return g.primary ? { name: g.primary, ready: ready(g.primary) } : undefined;
}

const writable = (m: MemberView | undefined): boolean => m?.reachable === true && m.readOnly === false;

function desiredReaders(
  g: GroupView,
  record: FailoverRecord | undefined,
  writer: string | undefined,
  previous: readonly string[],
  maxLagSeconds: number,
): string[] {
  const primary = g.members.find((m) => m.spec.name === g.primary);
  // During a failover the view's primary is already the candidate: it serves reads until it takes writes.
  const excluded = new Set([writer, record ? record.from : g.primary]);
  const candidates = g.members.filter((m) => !excluded.has(m.spec.name) && m.reachable);
  // Without a reachable primary (dead, restarting, failing over) nobody replicates: readers hold their place.
  const steady = !record && primary?.reachable === true;
  return candidates
    .filter((m) => {
      const ch = m.obs?.channels.find((c) => c.name === '');
      if (!ch || ch.lastSQLErrno !== 0) return false;
      if (!steady) return previous.includes(m.spec.name);
      return (
        m.defaultSource === g.primary &&
        ch.ioRunning === 'Yes' &&
        ch.sqlRunning === 'Yes' &&
        ch.secondsBehindSource !== null &&
        ch.secondsBehindSource !== undefined &&
        ch.secondsBehindSource <= maxLagSeconds
      );
    })
    .map((m) => m.spec.name);
}

/**
 * The steps from the current routing to the desired one, per group in spec order: drains first (they run
 * before any statement), then routes and reader sets (after every statement).
 */
export function routingSteps(
  input: RoutingInput,
  desired: ReadonlyMap<string, DesiredRouting>,
): RoutingStep[] {
  const drains: RoutingStep[] = [];
  const routes: RoutingStep[] = [];
  for (const g of input.view.groups) {
    const name = g.spec.name;
    const want = desired.get(name);
    if (!want) continue;
    const have = input.current.get(name);
    const record = openRecord(input.journal, name);
    const failover = record ? { failover: record.id } : {};
    const member = (n: string, ready: boolean): RoutedMember => {
      const m = input.view.members.get(n)!.spec;
      return { name: n, host: m.host, port: m.port, ready };
    };
    const before = have?.writer ?? null;
    if (before !== null && before !== want.writer && input.view.members.has(before))
      drains.push({
        group: name,
        op: 'drain',
        members: [member(before, false)],
        ...failover,
        reason: record
          ? `${record.reason === 'Switchover' ? 'switchover' : 'failover'} ${record.id}: ${before} takes no more writes before ${record.to} is promoted`
          : want.writer === null
            ? `${before} is no longer the primary`
            : `${want.writer} is the primary now`,
      });
    if (want.writer !== null && (want.writer !== before || want.writerReady !== (have?.writerReady ?? false)))
      routes.push({
        group: name,
        op: 'route',
        members: [member(want.writer, want.writerReady)],
        ...failover,
        reason:
          want.writer !== before
            ? record
              ? `${want.writer} is writable: it takes the writes`
              : `${want.writer} is the primary`
            : want.writerReady
              ? `${want.writer} is writable and reachable again`
              : `${want.writer} is not writable or not reachable`,
      });
    const readersStep = !have || !sameSet(want.readers, have.readers);
    if (readersStep)
      routes.push({
        group: name,
        op: 'readers',
        members: want.readers.map((n) => member(n, true)),
        ...failover,
        reason: readersReason(have?.readers ?? [], want.readers),
      });
    // Drift a target read back, not covered by a step above: the wanted state is given again.
    const seen = input.observed?.get(name);
    if (!seen) continue;
    const writerStep =
      drains.some((s) => s.group === name) || routes.some((s) => s.group === name && s.op === 'route');
    if (!writerStep && (seen.writer !== want.writer || seen.writerReady !== want.writerReady)) {
      if (want.writer !== null)
        routes.push({
          group: name,
          op: 'route',
          members: [member(want.writer, want.writerReady)],
          ...failover,
          reason: 'the writer endpoints were changed by someone else',
        });
      else
        drains.push({
          group: name,
          op: 'drain',
          members: seen.writer && input.view.members.has(seen.writer) ? [member(seen.writer, false)] : [],
          ...failover,
          reason: 'the writer endpoints were changed by someone else',
        });
    }
    if (!readersStep && !sameSet(want.readers, seen.readers))
      routes.push({
        group: name,
        op: 'readers',
        members: want.readers.map((n) => member(n, true)),
        ...failover,
        reason: 'the reader endpoints were changed by someone else',
      });
  }
  return [...drains, ...routes];
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

function readersReason(before: readonly string[], after: readonly string[]): string {
  const joined = after.filter((x) => !before.includes(x));
  const left = before.filter((x) => !after.includes(x));
  const parts = [
    ...(joined.length ? [`${joined.join(', ')} ${joined.length > 1 ? 'join' : 'joins'}`] : []),
    ...(left.length ? [`${left.join(', ')} ${left.length > 1 ? 'leave' : 'leaves'}`] : []),
  ];
  return parts.length ? parts.join('; ') : after.length ? 'first routing' : 'no replica can serve reads';
}

/** The routing after steps ran: those that succeeded change the state, the rest keep it as it was. */
export function routingAfter(
  current: ReadonlyMap<string, GroupRouting>,
  done: readonly RoutingStep[],
  at: string,
): Map<string, GroupRouting> {
  const out = new Map(current);
  for (const s of done) {
    const was = out.get(s.group) ?? { writer: null, writerReady: false, readers: [] };
    const next: GroupRouting =
      s.op === 'drain'
        ? { ...was, writer: was.writer === s.members[0]?.name ? null : was.writer, writerReady: false }
        : s.op === 'route'
          ? { ...was, writer: s.members[0]!.name, writerReady: s.members[0]!.ready }
          : { ...was, readers: s.members.map((m) => m.name) };
    out.set(s.group, { ...next, changedAt: at });
  }
  return out;
}

/** One line of `tributary plan` and of the event a step leaves. */
export function describeRoutingStep(s: RoutingStep): string {
  const who = s.members.map((m) => `${m.name} (${m.host}:${m.port})`).join(', ');
  switch (s.op) {
    case 'drain':
      return `${s.group}: drain ${who} from the writer endpoints (${s.reason})`;
    case 'route':
      return `${s.group}: route writes to ${who}${s.members[0]?.ready ? '' : ', not ready'} (${s.reason})`;
    case 'readers':
      return `${s.group}: route reads to ${who || 'nobody'} (${s.reason})`;
  }
}
