// CatchingUp of a failover: bring the candidate everything a survivor holds, or show what promoting would
// lose and wait for an acknowledgement of exactly that loss. Pure.
//
// 1. Relay logs. Every survivor's channel from the dead primary applies what it received (a bounded
//    wait): the candidate's own always, before promotion; another survivor's as far as the candidate
//    lacks it. A relay log that can no longer be applied is part of the loss.
// 2. Donors (the rules and their order are candidate.ts's): a survivor holding what the candidate lacks
//    feeds it over a temporary channel, one per pass; the group's members first, then the primaries of
//    the groups it feeds (MariaDB only, by GTID domain). What no donor can serve is part of the loss.
// 3. Unreachable survivors may hold acknowledged transactions: the record waits for them up to
//    catchUpTimeoutSeconds from entering CatchingUp, then goes on and names them (`unreachable`).
// 4. A loss is shown (atRisk, FailoverHeld) and held until a human acknowledges it. The acknowledgement
//    covers the loss it was given for (the same holders, no more transactions); any other loss withdraws it.
import { CATCHUP_CHANNEL, type Flavor } from '../api/spec.js';
import type { ChannelStatus, FailoverRecord } from '../api/status.js';
import { desiredTls, type DesiredChannel } from '../analyze/findings.js';
import { channelSourceMember, type MemberView } from '../analyze/view.js';
import { gtidOps, type GtidOps } from '../sql/gtid/index.js';
import { inDomains, ofServers } from '../sql/gtid/select.js';
import type { Action } from './actions.js';
import { chooseCandidate, compareDonors, donorBlockers, holds, type Stranded } from './candidate.js';
import {
  cameBack,
  candidateInput,
  channelsFrom,
  choose,
  groupDomains,
  groupFlavor,
  readable,
  showLoss,
  waitSeconds,
  type Outcome,
  type StepContext,
} from './failover-common.js';

const noFilter = { doDatabases: [], ignoreDatabases: [] };

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

/** Every survivor channel from the dead primary with what it received (MariaDB: of the group's domains). */
function receivedNow(ctx: StepContext, flavor: Flavor, r: FailoverRecord) {
  const domains = flavor === 'mariadb' ? groupDomains(ctx.view, ctx.previous, r.group) : [];
  return channelsFrom(ctx, r).flatMap(({ member, channel }) => {
    if (!member.obs?.vars || !channel.retrievedGtidSet) return [];
    const position =
      flavor === 'mariadb' && channel.name !== ''
        ? inDomains(channel.retrievedGtidSet, domains)
        : channel.retrievedGtidSet;
    return position ? [{ member, channel, position }] : [];
  });
}

/** Survivors' channels from the dead primary whose relay log is not applied. */
export function unapplied(ctx: StepContext, ops: GtidOps, flavor: Flavor, r: FailoverRecord): Relay[] {
  return receivedNow(ctx, flavor, r).flatMap(({ member, channel, position }): Relay[] => {
    if (ops.contains(member.obs!.vars!.gtidExecuted, position)) return [];
    const lost =
      (channel.sqlRunning !== 'Yes' && channel.lastSQLErrno !== 0) ||
      (flavor === 'mariadb' && channel.ioRunning === 'No' && channel.sqlRunning !== 'Yes');
    return [{ member, channel, position, lost }];
  });
}

/** The statements that apply a relay log: start the applier when it is stopped, then a bounded wait. */
export function applyRelay(x: Relay, wait: number): Action[] {
  const name = x.member.spec.name;
  return [
    ...(x.channel.sqlRunning !== 'Yes'
      ? [
          {
            kind: 'StartChannel' as const,
            member: name,
            channel: x.channel.name,
            threads: 'applier' as const,
            reason: 'failover: apply the relay log',
          },
        ]
      : []),
    {
      kind: 'WaitForGtid',
      member: name,
      channel: x.channel.name,
      gtidSet: x.position,
      timeoutSeconds: wait,
      reason: 'failover: apply the relay log',
    },
  ];
}

/** An acknowledged loss covers this one: the same holder, and nothing more of it. */
function covered(ops: GtidOps, ack: readonly Stranded[] | undefined, s: Stranded): boolean {
  return (ack ?? []).some((a) => a.member === s.member && ops.contains(a.missing, s.missing));
}

function mergeStranded(a: readonly Stranded[], b: readonly Stranded[]): Stranded[] {
  const out = new Map(a.map((s) => [s.member, s]));
  for (const s of b) out.set(s.member, s);
  return [...out.values()];
}

/** One entry per member, the sets of its entries united: how a loss is shown and acknowledged. */
function byMember(ops: GtidOps, loss: readonly Stranded[]): Stranded[] {
  const out = new Map<string, string>();
  for (const s of loss) out.set(s.member, ops.union(out.get(s.member) ?? '', s.missing));
  return [...out].map(([member, missing]) => ({ member, missing }));
}

type Received = NonNullable<FailoverRecord['received']>[number];

/** What the record remembers each survivor channel received, grown by what is seen now. */
function remember(ops: GtidOps, before: readonly Received[], now: readonly Received[]): Received[] {
  const key = (x: Received) => `${x.member}\u0000${x.channel.toLowerCase()}`;
  const out = new Map(before.map((x) => [key(x), x]));
  for (const x of now) {
    const had = out.get(key(x));
    out.set(key(x), had ? { ...had, position: ops.union(had.position, x.position) } : x);
  }
  return [...out.values()];
}

/**
 * Relay logs that vanished: what a readable survivor's channel had received, which neither it (executed
 * or still in its relay log) nor the candidate holds now — a restart can discard a relay log (MariaDB
 * restarts a GTID channel from its applied position).
 */
function vanished(
  ctx: StepContext,
  ops: GtidOps,
  received: readonly Received[],
  now: readonly Received[],
  candidateHolds: string,
): Stranded[] {
  const out: Stranded[] = [];
  for (const x of received) {
    const m = readable(ctx, x.member);
    if (!m) continue; // unreachable: waited for, then named (step 3)
    const relay = now.find(
      (n) => n.member === x.member && n.channel.toLowerCase() === x.channel.toLowerCase(),
    );
    const has = ops.union(m.obs!.vars!.gtidExecuted, relay?.position ?? '', candidateHolds);
    const missing = ops.missing(has, x.position);
    if (missing) out.push({ member: x.member, missing });
  }
  return out;
}

export function catchUp(r: FailoverRecord, ctx: StepContext): Outcome {
  if (readable(ctx, r.from)) return cameBack(r);
  const flavor = groupFlavor(ctx, r.group);
  const candidate = readable(ctx, r.to);
  if (!flavor || !candidate) return choose(r, ctx);
  const ops = gtidOps(flavor);
  const wait = waitSeconds(r, ctx);
  const late = r.deadline !== undefined && ctx.nowMs >= Date.parse(r.deadline);
  const { errant } = chooseCandidate(candidateInput(r, ctx, flavor));
  /** What promoting now would lose, per survivor. */
  const loss: Stranded[] = [];
  const ack = r.acknowledged ? (r.acknowledgedLoss ?? []) : undefined;

  // 1. Relay logs. The candidate's own is always applied (a candidate that cannot is replaced); another
  //    survivor's is awaited unless the acknowledged loss already gives it up. One that vanished since it
  //    was seen is a loss.
  const candidateHolds = holds(flavor, candidate.obs!);
  const seen = receivedNow(ctx, flavor, r).map((x) => ({
    member: x.member.spec.name,
    channel: x.channel.name,
    position: x.position,
  }));
  const received = remember(ops, r.received ?? [], seen);
  loss.push(...vanished(ctx, ops, received, seen, candidateHolds));
  const relay: Action[] = [];
  const pending: Stranded[] = [];
  for (const x of unapplied(ctx, ops, flavor, r)) {
    const name = x.member.spec.name;
    const own = name === r.to;
    if (!own && ops.contains(candidateHolds, x.position)) continue;
    const missing = ops.missing(own ? candidate.obs!.vars!.gtidExecuted : candidateHolds, x.position);
    if (x.lost) {
      if (own && x.channel.lastSQLErrno !== 0) return choose(r, ctx);
      if (missing) loss.push({ member: name, missing });
      continue;
    }
    if (!own && covered(ops, ack, { member: name, missing })) {
      loss.push({ member: name, missing });
      continue;
    }
    relay.push(...applyRelay(x, wait));
    if (!own) pending.push({ member: name, missing });
  }
  if (relay.length > 0)
    return {
      stay: relay,
      update: {
        received,
        stranded: mergeStranded(r.stranded, byMember(ops, loss)),
        // Past the deadline, what an acknowledgement would give up is shown (FailoverStuck names it).
        ...(late && pending.length > 0 ? { atRisk: byMember(ops, [...loss, ...pending]) } : {}),
      },
    };

  // 2. Donors, one per pass, best first; what a survivor cannot serve is remembered (judged once).
  for (const d of donors(ctx, ops, flavor, r, errant, candidate.obs!.vars!.gtidExecuted)) {
    const s = { member: d.member.spec.name, missing: d.missing };
    const judged = r.stranded.find((x) => x.member === s.member);
    const why =
      judged && ops.contains(judged.missing, d.missing)
        ? 'judged before'
        : covered(ops, ack, s)
          ? 'acknowledged'
          : cannotServe(ctx, ops, d, candidate);
    if (why) {
      loss.push(s);
      continue;
    }
    return {
      stay: catchUpActions(ctx, r, d, wait),
      update: {
        received,
        donor: s.member,
        catchUpTo: d.missing,
        stranded: mergeStranded(r.stranded, byMember(ops, loss)),
        ...(late ? { atRisk: byMember(ops, [...loss, s]) } : {}),
      },
    };
  }
  const shown = byMember(ops, loss);
  const stranded = mergeStranded(r.stranded, shown);

  // 3. Survivors unreachable now may hold what nobody else does: waited for, bounded, then named.
  const away = unreachableSurvivors(ctx, r);
  const since = Date.parse(r.phaseTimes['CatchingUp'] ?? r.startedAt);
  const bound = r.waitSeconds ?? ctx.spec.failover.catchUpTimeoutSeconds;
  if (away.length > 0 && ctx.nowMs < since + bound * 1000)
    return {
      stay: [],
      update: {
        received,
        stranded,
        unreachable: away,
        message: `waits up to ${bound}s from ${new Date(since).toISOString()} for ${away.join(', ')} (unreachable): it may hold transactions ${r.to} lacks`,
      },
    };
  const named = { received, ...(away.length > 0 ? { unreachable: away } : { unreachable: undefined }) };

  // 4. Nothing left to fetch: drop the temporary channel, then promote — unless a loss is not acknowledged.
  if (candidate.obs!.channels.some((c) => c.name === CATCHUP_CHANNEL))
    return {
      stay: [
        { kind: 'RemoveChannel', member: r.to, channel: CATCHUP_CHANNEL, reason: 'failover: caught up' },
      ],
      update: { stranded, ...named },
    };
  const accepted = shown.every((s) => covered(ops, ack, s));
  if (shown.length > 0 && !accepted) {
    const withdrawn = r.acknowledged
      ? `; the acknowledgement of ${(r.acknowledgedLoss ?? []).length ? showLoss(r.acknowledgedLoss ?? []) : 'no loss'} is withdrawn: the loss differs`
      : '';
    const waitingFor = `an acknowledgement (tributary.dev/ack-failover: ${r.group}): promoting ${r.to} would lose transactions that reached a survivor but cannot be brought to it (${showLoss(shown)})`;
    return {
      stay: [],
      update: {
        stranded,
        ...named,
        waitingFor,
        atRisk: shown,
        acknowledged: undefined,
        acknowledgedLoss: undefined,
      },
      condition: {
        type: 'FailoverHeld',
        reason: 'StrandedTransactions',
        message: `${r.group}: ${waitingFor}${withdrawn}`,
      },
    };
  }
  return { next: 'Promoting', update: { stranded, ...named } };
}

/**
 * Members of the group (the old primary and the candidate aside) and primaries of the groups it feeds
 * that cannot be read now: what they hold is unknown.
 */
function unreachableSurvivors(ctx: StepContext, r: FailoverRecord): string[] {
  const g = ctx.view.groups.find((x) => x.spec.name === r.group)!;
  const inGroup = g.members
    .map((m) => m.spec.name)
    .filter((n) => n !== r.from && n !== r.to && !readable(ctx, n));
  const below = ctx.view.groups
    .filter((fed) => fed.spec.channels.some((c) => c.from === r.group) && fed.primary)
    .map((fed) => fed.primary!)
    .filter((n) => !readable(ctx, n));
  return [...inGroup, ...below];
}

interface Donor {
  member: MemberView;
  missing: string;
  /** MariaDB, downstream donors: receive only these domains (DO_DOMAIN_IDS). */
  domains?: number[];
  /** Why it cannot serve, known before asking it (candidate.ts's rules; MySQL downstream). */
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
  const candidate = ctx.view.members.get(r.to)!.obs!;
  const judge = (m: MemberView, missing: string, extra: Partial<Donor> = {}): Donor => {
    const blockers = donorBlockers(m.obs!, candidate, errant[m.spec.name] ?? '');
    return { member: m, missing, ...extra, ...(blockers.length ? { cannot: blockers.join('; ') } : {}) };
  };
  const rank = compareDonors(
    flavor,
    g.spec.members,
    g.members.flatMap((m) => (m.obs ? [m.obs] : [])),
  );
  // A member with errant transactions cannot feed the candidate (they would come along); what it holds
  // legitimately beyond the candidate is still a survivor's and must not vanish: it is part of the loss.
  const inGroup: Donor[] = g.members
    .filter((m) => m.spec.name !== r.from && m.spec.name !== r.to && readable(ctx, m.spec.name))
    .map((m) => judge(m, ops.missing(ops.union(held, errant[m.spec.name] ?? ''), m.obs!.vars!.gtidExecuted)))
    .filter((d) => d.missing !== '')
    .sort((a, b) => rank(a.member.spec.name, b.member.spec.name));
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
    if (!missing) continue;
    below.push(
      flavor === 'mariadb' && domains.length > 0
        ? judge(p, missing, { domains })
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
