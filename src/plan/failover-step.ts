// One step of an open failover or switchover record, decided from what is observed now. Pure.
//
// A record advances through its phases as far as the observation allows, then names the statements of
// the phase it stopped in; the pass journals the record before those statements run, so a restarted
// operator resumes the same record (moco's "one operation per pass, then requeue").
//
//   Decided     stop every survivor's receiver from the dead primary, so what each received is frozen;
//               then choose the candidate by what it holds (received ∪ executed).
//   CatchingUp  every survivor of the group applies its relay log; a survivor holding more than the
//               candidate feeds it over a temporary channel; a downstream survivor that received more of
//               the group's transactions feeds it too (MariaDB, by GTID domain) or, on MySQL where that
//               cannot be done without the other sources' data, the transactions are reported stranded
//               and the record waits for an acknowledgement. Switchover: freeze the old primary, wait for
//               the target to hold everything it wrote, abort when the bound runs out.
//   Promoting   reset only the candidate's channel '' and make it writable.
//   Repointing  ordinary convergence towards the new primary; Done once every channel into or inside the
//               group runs from it (unreachable members aside), or at the deadline.
import { CATCHUP_CHANNEL, type Flavor, type TopologySpec } from '../api/spec.js';
import type { ChannelStatus, FailoverPhase, FailoverRecord, TopologyStatus } from '../api/status.js';
import { desiredTls, type DesiredChannel } from '../analyze/findings.js';
import { channelSourceMember, type MemberView, type TopologyView } from '../analyze/view.js';
import { gtidOps, type GtidOps } from '../sql/gtid/index.js';
import type { Action } from './actions.js';
import { chooseCandidate, type Stranded } from './candidate.js';

export interface StepContext {
  spec: TopologySpec;
  /** The view as observed at the start of the pass. */
  view: TopologyView;
  previous: TopologyStatus | undefined;
  nowMs: number;
}

/** A condition a step raises: something a human can act on (type, reason, message). */
export interface StepCondition {
  type: string;
  reason: string;
  message: string;
}

export interface StepResult {
  record: FailoverRecord;
  actions: Action[];
  conditions: StepCondition[];
}

type Outcome =
  | { next: FailoverPhase; update?: Partial<FailoverRecord> }
  | { stay: Action[]; update?: Partial<FailoverRecord>; condition?: StepCondition };

export const isOpen = (r: FailoverRecord) => r.phase !== 'Done' && r.phase !== 'Aborted';

/** The phases before the candidate is made writable: convergence keeps out of the group meanwhile. */
export const beforePromotion = (r: FailoverRecord) => r.phase === 'Decided' || r.phase === 'CatchingUp';

const noFilter = { doDatabases: [], ignoreDatabases: [] };

export function moveTo(
  record: FailoverRecord,
  next: FailoverPhase,
  nowMs: number,
  extra: Partial<FailoverRecord> = {},
): FailoverRecord {
  const at = new Date(nowMs).toISOString();
  const done = next === 'Done' || next === 'Aborted';
  return {
    ...record,
    ...extra,
    phase: next,
    phaseTimes: { ...record.phaseTimes, [next]: at },
    ...(done ? { finishedAt: at } : {}),
  };
}

/** Advances the record as far as the observation allows and returns the statements of where it stopped. */
export function stepFailover(start: FailoverRecord, ctx: StepContext): StepResult {
  let record = start;
  // Each phase is visited at most once per pass: the loop ends within a handful of turns.
  for (let turn = 0; turn < 6 && isOpen(record); turn++) {
    const outcome = evaluate(record, ctx);
    const { waitingFor: _cleared, ...rest } = record;
    // waitingFor describes the current hold only: an outcome that does not hold clears it.
    record = { ...rest, ...outcome.update };
    if ('stay' in outcome) {
      const conditions = [...(outcome.condition ? [outcome.condition] : []), ...overdue(record, ctx)];
      return { record, actions: outcome.stay, conditions };
    }
    record = moveTo(record, outcome.next, ctx.nowMs);
  }
  return { record, actions: [], conditions: [] };
}

/** A record past its deadline before it promoted: a named condition, every pass, until someone acts. */
function overdue(r: FailoverRecord, ctx: StepContext): StepCondition[] {
  if (r.phase === 'Repointing' || !r.deadline || ctx.nowMs < Date.parse(r.deadline)) return [];
  return [
    {
      type: 'FailoverStuck',
      reason: 'DeadlineExceeded',
      message: `failover ${r.id} of ${r.group} (${r.from} → ${r.to}) has not promoted by its deadline ${r.deadline}${r.waitingFor ? `; it waits for ${r.waitingFor}` : ''}; acknowledge with tributary.dev/ack-failover: ${r.group} to promote with what ${r.to} holds`,
    },
  ];
}

function evaluate(r: FailoverRecord, ctx: StepContext): Outcome {
  switch (r.phase) {
    case 'Decided':
      return r.reason === 'Switchover' ? { next: 'CatchingUp' } : stopReceivers(r, ctx);
    case 'CatchingUp':
      return r.reason === 'Switchover' ? switchoverCatchUp(r, ctx) : catchUp(r, ctx);
    case 'Promoting':
      return promote(r, ctx);
    case 'Repointing':
    case 'Done':
    case 'Aborted':
      return { stay: [] };
  }
}

const readable = (ctx: StepContext, name: string): MemberView | undefined => {
  const m = ctx.view.members.get(name);
  return m?.reachable && m.obs?.vars ? m : undefined;
};

const cameBack = (r: FailoverRecord): Outcome => ({
  next: 'Aborted',
  update: { message: `${r.from} answers again: it came back before promotion, nothing was promoted` },
});

function groupFlavor(ctx: StepContext, group: string): Flavor | undefined {
  const g = ctx.view.groups.find((x) => x.spec.name === group);
  return g?.members.find((m) => m.obs?.flavor)?.obs?.flavor;
}

/**
 * The managed channels that receive from the failing group's primary, on reachable servers: channel ''
 * of the group's other members, and the declared channels of the groups it feeds (on their primaries).
 * Hand-made channels from it are left alone, as everywhere.
 */
function channelsFrom(ctx: StepContext, r: FailoverRecord): { member: MemberView; channel: ChannelStatus }[] {
  const out: { member: MemberView; channel: ChannelStatus }[] = [];
  for (const g of ctx.view.groups) {
    const declared = g.spec.channels.find((c) => c.from === r.group);
    for (const m of g.members) {
      if (!m.reachable || !m.obs) continue;
      const managed = (c: ChannelStatus) =>
        g.spec.name === r.group
          ? c.name === ''
          : m.spec.name === g.primary &&
            declared !== undefined &&
            c.name.toLowerCase() === declared.name.toLowerCase();
      for (const c of m.obs.channels)
        if (managed(c) && channelSourceMember(ctx.view, c) === r.from) out.push({ member: m, channel: c });
    }
  }
  return out;
}

/** Decided: freeze what every survivor received from the dead primary, then choose. */
function stopReceivers(r: FailoverRecord, ctx: StepContext): Outcome {
  if (readable(ctx, r.from)) return cameBack(r);
  const running = channelsFrom(ctx, r).filter((x) => x.channel.ioRunning !== 'No');
  if (running.length > 0) {
    // The applier is started first where it is stopped without an error: MariaDB discards the relay log
    // of a channel whose two threads are both stopped when either is started again.
    return {
      stay: running.flatMap((x): Action[] => [
        ...(x.channel.sqlRunning !== 'Yes' && x.channel.lastSQLErrno === 0
          ? [
              {
                kind: 'StartChannel' as const,
                member: x.member.spec.name,
                channel: x.channel.name,
                threads: 'applier' as const,
                reason: 'failover: apply what it received before the receiver stops',
              },
            ]
          : []),
        {
          kind: 'StopChannel',
          member: x.member.spec.name,
          channel: x.channel.name,
          threads: 'receiver',
          reason: `failover: freeze what it received from ${r.from}`,
        },
      ]),
    };
  }
  return choose(r, ctx);
}

function candidateInput(r: FailoverRecord, ctx: StepContext, flavor: Flavor) {
  const g = ctx.view.groups.find((x) => x.spec.name === r.group)!;
  const lastKnown = ctx.previous?.instances.find((i) => i.name === r.from)?.gtidExecuted;
  return {
    flavor,
    members: g.spec.members,
    primary: r.from,
    observations: g.members.flatMap((m) => (m.obs ? [m.obs] : [])),
    ...(lastKnown ? { lastPrimaryExecuted: lastKnown } : {}),
  };
}

/** Chooses (or re-chooses) the candidate among the reachable members; holds when there is none. */
function choose(r: FailoverRecord, ctx: StepContext): Outcome {
  const flavor = groupFlavor(ctx, r.group);
  const choice = flavor ? chooseCandidate(candidateInput(r, ctx, flavor)) : undefined;
  if (!choice?.candidate) {
    const why = choice?.reason ?? 'no member of the group is reachable';
    return {
      stay: [],
      update: { waitingFor: `a member that can be promoted (${why})` },
      condition: { type: 'FailoverBlocked', reason: 'NoCandidate', message: `${r.group}: ${why}` },
    };
  }
  const replaced =
    r.phase === 'CatchingUp' && choice.candidate !== r.to
      ? [{ member: r.to, reason: 'chosen first, then unreachable or unable to apply its relay log' }]
      : [];
  return {
    next: 'CatchingUp',
    update: {
      // An acknowledgement was given for the candidate and losses shown then; a new candidate needs another.
      ...(replaced.length > 0 ? { acknowledged: undefined } : {}),
      to: choice.candidate,
      passedOver: [...replaced, ...choice.passedOver.filter((p) => p.member !== r.to || !replaced.length)],
      message: choice.reason,
    },
  };
}

function mergeStranded(a: readonly Stranded[], b: readonly Stranded[]): Stranded[] {
  const out = new Map(a.map((s) => [s.member, s]));
  for (const s of b) out.set(s.member, s);
  return [...out.values()];
}

/** A channel's received transactions not applied yet, with the wait that applies them. */
interface Relay {
  member: MemberView;
  channel: ChannelStatus;
  /** What to wait for (MariaDB: only the failing group's domains of the connection's position). */
  position: string;
  /**
   * The relay log cannot be applied any more: the applier stopped on an error, or (MariaDB) both threads
   * are stopped, and starting either would discard the relay log.
   */
  lost: boolean;
}

/**
 * Survivors' channels from the dead primary whose relay log is not applied: the group's replicas over
 * '', and the downstream channels of the groups it feeds. Repointing a channel discards its relay log.
 */
function unapplied(ctx: StepContext, ops: GtidOps, flavor: Flavor, r: FailoverRecord): Relay[] {
  const domains = flavor === 'mariadb' ? groupDomains(ctx.view, ctx.previous, r.group) : [];
  return channelsFrom(ctx, r).flatMap(({ member, channel }): Relay[] => {
    if (!member.obs?.vars || !channel.retrievedGtidSet) return [];
    const position =
      flavor === 'mariadb' && channel.name !== ''
        ? inDomains(channel.retrievedGtidSet, domains)
        : channel.retrievedGtidSet;
    if (!position || ops.contains(member.obs.vars.gtidExecuted, position)) return [];
    const lost =
      (channel.sqlRunning !== 'Yes' && channel.lastSQLErrno !== 0) ||
      (flavor === 'mariadb' && channel.ioRunning === 'No' && channel.sqlRunning !== 'Yes');
    return [{ member, channel, position, lost }];
  });
}

function catchUp(r: FailoverRecord, ctx: StepContext): Outcome {
  if (readable(ctx, r.from)) return cameBack(r);
  const flavor = groupFlavor(ctx, r.group);
  const candidate = readable(ctx, r.to);
  if (!flavor || !candidate) return choose(r, ctx);
  const ops = gtidOps(flavor);
  const wait = waitSeconds(r, ctx);
  const { errant } = chooseCandidate(candidateInput(r, ctx, flavor));
  const stranded: Stranded[] = [];

  // 1. The candidate applies what it received, and so does every survivor that received something the
  //    candidate lacks (in parallel, bounded). A relay log that can no longer be applied is stranded; a
  //    candidate that cannot apply its own is replaced. Acknowledged: nothing more is awaited.
  const candidateDef = candidate.obs!.channels.find((c) => c.name === '');
  const candidateHolds = ops.union(candidate.obs!.vars!.gtidExecuted, candidateDef?.retrievedGtidSet ?? '');
  const relay: Action[] = [];
  for (const x of unapplied(ctx, ops, flavor, r)) {
    const name = x.member.spec.name;
    if (name !== r.to && ops.contains(candidateHolds, x.position)) continue;
    if (x.lost || r.acknowledged) {
      // A candidate whose applier stopped on an error is replaced (the rules pass it over now).
      if (name === r.to && !r.acknowledged && x.channel.lastSQLErrno !== 0) return choose(r, ctx);
      const have = name === r.to ? candidate.obs!.vars!.gtidExecuted : candidateHolds;
      const missing = ops.missing(have, x.position);
      if (missing) stranded.push({ member: name, missing });
      continue;
    }
    if (x.channel.sqlRunning !== 'Yes')
      relay.push({
        kind: 'StartChannel',
        member: name,
        channel: x.channel.name,
        threads: 'applier',
        reason: 'failover: apply the relay log',
      });
    relay.push({
      kind: 'WaitForGtid',
      member: name,
      channel: x.channel.name,
      gtidSet: x.position,
      timeoutSeconds: wait,
      reason: 'failover: apply the relay log',
    });
  }
  if (relay.length > 0) return { stay: relay, update: { stranded: mergeStranded(r.stranded, stranded) } };

  // 2. A survivor holding what the candidate lacks feeds it, one per pass: the group's members first,
  //    then the groups it feeds (MariaDB only, by GTID domain, so no other source's data leaks in).
  const held = candidate.obs!.vars!.gtidExecuted;
  for (const d of donors(ctx, ops, flavor, r, errant, held)) {
    const judged = r.stranded.find((s) => s.member === d.member.spec.name);
    const why =
      judged && ops.contains(judged.missing, d.missing)
        ? 'judged before'
        : r.acknowledged
          ? 'acknowledged: nothing more is awaited'
          : cannotServe(ctx, ops, d, candidate);
    if (why) {
      stranded.push({ member: d.member.spec.name, missing: d.missing });
      continue;
    }
    return {
      stay: catchUpActions(ctx, r, d, wait),
      update: { donor: d.member.spec.name, catchUpTo: d.missing },
    };
  }

  // 3. Nothing left to fetch: drop the temporary channel, then promote — unless something would be lost.
  // What cannot be fetched is remembered in the record: a survivor is judged once.
  const all = mergeStranded(r.stranded, stranded);
  if (candidate.obs!.channels.some((c) => c.name === CATCHUP_CHANNEL))
    return {
      stay: [
        { kind: 'RemoveChannel', member: r.to, channel: CATCHUP_CHANNEL, reason: 'failover: caught up' },
      ],
      update: { stranded: all },
    };
  if (stranded.length > 0 && !r.acknowledged) {
    const what = stranded.map((s) => `${s.member} holds ${s.missing}`).join('; ');
    const waitingFor = `an acknowledgement (tributary.dev/ack-failover: ${r.group}): promoting ${r.to} would lose transactions that reached a survivor but cannot be brought to it (${what})`;
    return {
      stay: [],
      update: { stranded: all, waitingFor },
      condition: {
        type: 'FailoverHeld',
        reason: 'StrandedTransactions',
        message: `${r.group}: ${waitingFor}`,
      },
    };
  }
  return { next: 'Promoting', update: { stranded: all } };
}

interface Donor {
  member: MemberView;
  missing: string;
  /** MariaDB, downstream donors: receive only these domains (DO_DOMAIN_IDS). */
  domains?: number[];
  /** Why it cannot serve, known before asking it (errant transactions; MySQL downstream). */
  cannot?: string;
}

/** Survivors whose binary log holds what the candidate lacks, best first. */
function donors(
  ctx: StepContext,
  ops: GtidOps,
  flavor: Flavor,
  r: FailoverRecord,
  errant: Record<string, string>,
  held: string,
): Donor[] {
  const g = ctx.view.groups.find((x) => x.spec.name === r.group)!;
  // A member with errant transactions cannot feed the candidate (they would come along); what it holds
  // legitimately beyond the candidate is still a survivor's and must not vanish: it is stranded.
  const inGroup: Donor[] = g.members
    .filter((m) => m.spec.name !== r.from && m.spec.name !== r.to && readable(ctx, m.spec.name))
    .map((m): Donor => {
      const own = errant[m.spec.name] ?? '';
      const missing = ops.missing(ops.union(held, own), m.obs!.vars!.gtidExecuted);
      return own
        ? { member: m, missing, cannot: `it holds errant transactions ${own}` }
        : { member: m, missing };
    })
    .filter((d) => d.missing !== '')
    .sort((a, b) =>
      ops.progress(b.member.obs!.vars!.gtidExecuted) > ops.progress(a.member.obs!.vars!.gtidExecuted)
        ? 1
        : -1,
    );
  const domains = flavor === 'mariadb' ? groupDomains(ctx.view, ctx.previous, r.group) : [];
  const below: Donor[] = [];
  for (const fed of ctx.view.groups) {
    const spec = fed.spec.channels.find((c) => c.from === r.group);
    const p = fed.members.find((m) => m.spec.name === fed.primary);
    if (!spec || !p || !readable(ctx, p.spec.name)) continue;
    // What the failing group's data on that primary is: MariaDB, its position in the group's domains;
    // MySQL, what its channel from the group retrieved (applied by step 1) and what it executed of the
    // group's own servers (a restart with relay_log_recovery or a repoint clears the retrieved set).
    const channel = p.obs!.channels.find((c) => c.name.toLowerCase() === spec.name.toLowerCase());
    const theirs =
      flavor === 'mariadb'
        ? inDomains(p.obs!.vars!.gtidCurrentPos ?? p.obs!.vars!.gtidExecuted, domains)
        : ops.union(
            channel?.retrievedGtidSet ?? '',
            ofServers(p.obs!.vars!.gtidExecuted, groupUuids(ctx, r.group)),
          );
    const missing = theirs ? ops.missing(held, theirs) : '';
    if (missing)
      below.push(
        flavor === 'mariadb' && domains.length > 0
          ? { member: p, missing, domains }
          : {
              member: p,
              missing,
              cannot: 'MySQL cannot take one source group’s transactions from a multi-source replica',
            },
      );
  }
  return [...inGroup, ...below];
}

/** Why a survivor cannot serve what the candidate lacks, or undefined when it can. */
function cannotServe(ctx: StepContext, ops: GtidOps, d: Donor, candidate: MemberView): string | undefined {
  if (d.cannot) return d.cannot;
  const v = d.member.obs!.vars!;
  if (!v.logBin) return 'log_bin off';
  if (!v.logReplicaUpdates) return 'log_replica_updates off';
  // MySQL: it purged binary logs holding some of them (needed ∩ purged ≠ ∅).
  if (v.gtidPurged && ops.missing(ops.missing(v.gtidPurged, d.missing), d.missing) !== '')
    return 'it purged binary logs holding them';
  // A channel of the candidate already receives from it: a second one would break one of the two.
  const busy = candidate.obs!.channels.find(
    (c) => c.name !== CATCHUP_CHANNEL && channelSourceMember(ctx.view, c) === d.member.spec.name,
  );
  if (busy)
    return `it already feeds channel ${busy.name === '' ? "''" : busy.name} of ${candidate.spec.name}`;
  // MariaDB tells only by refusing: the catch-up channel from it stopped with error 1236.
  const channel = candidate.obs!.channels.find((c) => c.name === CATCHUP_CHANNEL);
  if (
    channel &&
    channelSourceMember(ctx.view, channel) === d.member.spec.name &&
    channel.lastIOErrno === 1236
  )
    return `it cannot send them (${channel.lastIOError})`;
  return undefined;
}

/** MySQL server UUIDs of a group's members: observed now, or remembered in status (the dead primary's). */
function groupUuids(ctx: StepContext, group: string): Set<string> {
  const g = ctx.view.groups.find((x) => x.spec.name === group);
  const out = new Set<string>();
  for (const m of g?.members ?? []) {
    for (const u of [
      m.obs?.vars?.serverUuid,
      ctx.previous?.instances.find((i) => i.name === m.spec.name)?.serverUuid,
    ])
      if (u) out.add(u.toLowerCase());
  }
  return out;
}

/** The entries of a MySQL GTID set that originated on these servers (`uuid:…` or `uuid:tag:…`). */
const ofServers = (set: string, uuids: ReadonlySet<string>): string =>
  set
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && uuids.has(e.split(':')[0]!.toLowerCase()))
    .join(',');

const inDomains = (position: string, domains: readonly number[]): string =>
  position
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && domains.includes(Number(e.split('-')[0])))
    .join(',');

function waitSeconds(r: FailoverRecord, ctx: StepContext): number {
  const bound = r.waitSeconds ?? ctx.spec.failover.catchUpTimeoutSeconds;
  if (!r.deadline) return bound;
  const left = Math.floor((Date.parse(r.deadline) - ctx.nowMs) / 1000);
  return Math.max(1, Math.min(bound, left));
}

/** Temporary channel on the candidate from a donor; the wait and the removal depend on it. */
function catchUpActions(ctx: StepContext, r: FailoverRecord, d: Donor, wait: number): Action[] {
  const current = ctx.view.members.get(r.to)?.obs?.channels.find((c) => c.name === CATCHUP_CHANNEL);
  const desired: DesiredChannel = {
    member: r.to,
    channel: CATCHUP_CHANNEL,
    fromGroup: d.member.group,
    source: d.member.spec.name,
    sourceHost: d.member.spec.host,
    sourcePort: d.member.spec.port,
    delaySeconds: 0,
    filter: noFilter,
    ...(d.domains ? { doDomainIds: d.domains } : {}),
    tls: desiredTls(ctx.view, d.member.spec.name, current),
  };
  const running =
    current !== undefined &&
    channelSourceMember(ctx.view, current) === d.member.spec.name &&
    current.ioRunning !== 'No';
  const configure: Action[] = running
    ? []
    : [
        {
          kind: 'ConfigureChannel',
          member: r.to,
          channel: CATCHUP_CHANNEL,
          desired,
          exists: current !== undefined,
          reason: `failover: catch up from ${d.member.spec.name}`,
        },
      ];
  return [
    ...configure,
    {
      kind: 'WaitForGtid',
      member: r.to,
      channel: CATCHUP_CHANNEL,
      gtidSet: d.missing,
      timeoutSeconds: wait,
      reason: `failover: transactions only ${d.member.spec.name} holds`,
    },
    { kind: 'RemoveChannel', member: r.to, channel: CATCHUP_CHANNEL, reason: 'failover: caught up' },
  ];
}

/** GTID domains a group's members write (MariaDB): observed now, or remembered in status. */
export function groupDomains(
  view: TopologyView,
  previous: TopologyStatus | undefined,
  group: string,
): number[] {
  const g = view.groups.find((x) => x.spec.name === group);
  const ids = new Set<number>();
  for (const m of g?.members ?? []) {
    const now = m.obs?.vars?.gtidDomainId;
    const before = previous?.instances.find((i) => i.name === m.spec.name)?.gtidDomainId;
    for (const d of [now, before]) if (typeof d === 'number') ids.add(d);
  }
  return [...ids].sort((a, b) => a - b);
}

/** Switchover: freeze the old primary, wait (bounded) for the target to hold all it wrote, or abort. */
function switchoverCatchUp(r: FailoverRecord, ctx: StepContext): Outcome {
  const old = readable(ctx, r.from);
  if (!old) return { next: 'Aborted', update: { message: `aborted: ${r.from} became unreachable` } };
  const target = readable(ctx, r.to);
  if (!target) return { next: 'Aborted', update: { message: `aborted: ${r.to} became unreachable` } };
  const g = ctx.view.groups.find((x) => x.spec.name === r.group)!;
  const named = old.obs!.channels.filter(
    (c) =>
      c.name !== '' &&
      (c.ioRunning !== 'No' || c.sqlRunning !== 'No') &&
      g.spec.channels.some((s) => s.name.toLowerCase() === c.name.toLowerCase()),
  );
  // Stop what the old primary receives, then its writes: a fixed point for the target to reach.
  if (named.length > 0 || old.readOnly !== true) {
    return {
      stay: [
        ...named.map((c): Action => ({
          kind: 'StopChannel',
          member: r.from,
          channel: c.name,
          reason: 'switchover: freeze the old primary',
        })),
        {
          kind: 'SetReadOnly',
          member: r.from,
          readOnly: true,
          reason: 'switchover: no more writes on the old primary',
        },
      ],
    };
  }
  const flavor = old.obs!.flavor!;
  const v = old.obs!.vars!;
  const position =
    r.catchUpTo ?? (flavor === 'mariadb' ? (v.gtidBinlogPos ?? v.gtidExecuted) : v.gtidExecuted);
  if (gtidOps(flavor).contains(target.obs!.vars!.gtidExecuted, position))
    return { next: 'Promoting', update: { catchUpTo: position } };
  const bound = r.waitSeconds ?? ctx.spec.failover.catchUpTimeoutSeconds;
  const left = Math.ceil(
    (Date.parse(r.phaseTimes['CatchingUp'] ?? r.startedAt) + bound * 1000 - ctx.nowMs) / 1000,
  );
  if (left <= 0)
    return {
      next: 'Aborted',
      update: {
        message: `aborted: ${r.to} did not reach ${position} within ${bound}s; ${r.from} stays primary`,
      },
    };
  return {
    stay: [
      {
        kind: 'WaitForGtid',
        member: r.to,
        channel: '',
        gtidSet: position,
        timeoutSeconds: left,
        reason: 'switchover: the target must hold everything',
      },
    ],
    update: { catchUpTo: position },
  };
}

/** Promoting: only the candidate's channel '' goes (and a leftover catch-up channel); then writable. */
function promote(r: FailoverRecord, ctx: StepContext): Outcome {
  const c = readable(ctx, r.to);
  // It may be writable already: once promotion began it is never replaced. Past the deadline the record
  // says so (FailoverStuck) until a human acknowledges; then it ends, and a new failover may start.
  if (!c)
    return r.acknowledged
      ? { next: 'Aborted', update: { message: `promotion abandoned (acknowledged): ${r.to} is unreachable` } }
      : { stay: [], update: { waitingFor: `${r.to}, being promoted, to answer again` } };
  const actions: Action[] = c
    .obs!.channels.filter((ch) => ch.name === '' || ch.name === CATCHUP_CHANNEL)
    .map((ch) => ({
      kind: 'RemoveChannel',
      member: r.to,
      channel: ch.name,
      reason: ch.name === '' ? `it pointed at ${r.from}` : 'failover: caught up',
    }));
  if (c.readOnly !== false)
    actions.push({
      kind: 'SetReadOnly',
      member: r.to,
      readOnly: false,
      reason: `promoted in place of ${r.from}`,
    });
  return actions.length > 0 ? { stay: actions } : { next: 'Repointing' };
}
