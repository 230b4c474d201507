// Who takes over a group whose primary is dead (failover) or leaving (switchover), and which survivor may
// feed it what it lacks (a donor): the one authority for both. Pure: spec members and observations in, a
// decision with reasons out. The rules are docs/failover.md "Ranking" and "Donors that cannot serve".
//
// Failover, in order:
// 1. Only reachable members with readable variables and GTID text can be compared at all.
// 2. Hard rules, each a reason to pass a member over: promotionRule must_not; errant transactions;
//    applier of channel '' stopped on an error; log_bin off; log_replica_updates off; a newer
//    major.minor than another reachable member runs (replicating from a newer source is unsupported).
// 3. Among the rest, the first of: the most advanced GTID set it holds once its relay log is applied
//    (`holds`: executed ∪ received; GtidOps.progress, which agrees with containment; between incomparable
//    sets, the one with more: MySQL the transaction count, MariaDB the seq sum) — a member that received
//    the most but applied less (a blocked applier) wins, because the others' repointing would discard its
//    relay log; promotionRule (prefer > neutral > prefer_not), applier lag of '' (lower first, unknown
//    last), version (lowest first, unknown last), spec order.
// 4. Donors (`donorBlockers`): a survivor may feed the candidate unless it has errant transactions, no
//    binary log of replicated transactions, or runs a newer release than the candidate; rules such as
//    must_not do not matter for that. catch-up.ts adds what only the servers can tell (purged logs, 1236).
//    A group's donors are tried in the order of 3., by what they executed (`compareDonors`).
//
// Errant transactions are those nothing shows to come from the old primary: not in its last known
// executed set (or its live one, when it is leaving but reachable), not received by any member over ''
// (the last known set may be a few polls old; what the primary sent since is in the replicas' received
// sets). With no record of the old primary at all, the other members' executed sets stand in for it: a
// transaction born on a replica exists on that replica only. That fallback is weaker (MariaDB: a
// member's errant high seq hides lower ones on others) and a group of one replica cannot be judged, so
// its history counts as errant: pass lastPrimaryExecuted whenever the status has it.
import type { Flavor, Member, PromotionRule } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';
import type { InstanceObservation } from '../observe/types.js';
import type { ServerVariables } from '../sql/dialect.js';
import { gtidOps, type GtidOps } from '../sql/gtid/index.js';

export interface CandidateInput {
  flavor: Flavor;
  /** The group's members in spec order (spec order is the last tie breaker). */
  members: readonly Member[];
  /** The primary being replaced: never chosen, never a donor. */
  primary: string;
  /** Observations; entries of members outside `members` are ignored. */
  observations: readonly InstanceObservation[];
  /**
   * The old primary's executed GTID text as last known (status), possibly united with what downstream
   * channels received from it: the reference for errant transactions.
   */
  lastPrimaryExecuted?: string;
}

export interface PassedOver {
  member: string;
  reason: string;
}

export interface Stranded {
  member: string;
  /** What only this member holds (GTID text of the flavor). */
  missing: string;
}

export interface CandidateChoice {
  candidate?: string;
  /** Every member not chosen, in spec order, the old primary included. */
  passedOver: PassedOver[];
  /** Errant transactions per readable member ('' when none): such a member is neither candidate nor donor. */
  errant: Record<string, string>;
  reason: string;
}

export interface SwitchoverInput {
  flavor: Flavor;
  members: readonly Member[];
  /** The current primary, alive: it becomes a replica of the target. */
  primary: string;
  target: string;
  observations: readonly InstanceObservation[];
}

interface Version {
  text: string;
  parts: readonly [number, number, number];
}

/** A member whose observation can be compared: reachable, variables read, GTID text readable. */
interface Usable {
  member: Member;
  index: number;
  vars: ServerVariables;
  /** Channel '': how it replicates from its group's primary. */
  channel: ChannelStatus | undefined;
  executed: string;
  /** What channel '' received from the primary (MySQL Retrieved_Gtid_Set, MariaDB Gtid_IO_Pos). */
  received: string;
  /** Everything it holds once its relay log is applied: executed ∪ received. */
  holds: string;
  /** Grows with `holds`: candidates are ranked by what they received, not only by what they applied. */
  progress: bigint;
  lag: number | null;
  version: Version | undefined;
}

/** A member, usable or with the reason it is not. */
type Assessed =
  | { member: Member; usable: Usable; unusable?: undefined }
  | { member: Member; usable?: undefined; unusable: string };

interface Judged extends Usable {
  errant: string;
  /** Hard-rule reasons it may not be promoted; empty when it may. */
  blockers: string[];
}

const RULE_RANK: Record<PromotionRule, number> = { prefer: 0, neutral: 1, prefer_not: 2, must_not: 3 };

/** Chooses the member to promote after the primary `input.primary` died. */
export function chooseCandidate(input: CandidateInput): CandidateChoice {
  const ops = gtidOps(input.flavor);
  const observed = byMember(input.observations);
  const assessed = input.members.map((m, i) => assess(m, i, observed, ops, input.flavor));
  const usable = usableOf(assessed);
  const others = usable.filter((u) => u.member.name !== input.primary);
  const primary = usable.find((u) => u.member.name === input.primary); // reachable when leaving, not dead
  const known = [...(primary ? [primary.executed] : []), ...others.map((u) => u.received)];
  const noRecord = input.lastPrimaryExecuted === undefined && !primary;

  const byVersion = oldestFirst(usable);
  const judged = others.map((u): Judged => {
    const standIns = noRecord ? others.filter((o) => o !== u).map((o) => o.executed) : [];
    const errant = ops.errant(u.executed, input.lastPrimaryExecuted ?? '', {
      alsoLegit: [...known, ...standIns],
    });
    return { ...u, errant, blockers: ruleBlockers(u, errant, peersOf(u, byVersion)) };
  });
  const ranked = judged.filter((j) => j.blockers.length === 0).sort(compareRank(ops));
  const candidate = ranked[0];
  const errant = Object.fromEntries(judged.map((j) => [j.member.name, j.errant]));
  const passedOver = assessed
    .filter((a) => a.member !== candidate?.member)
    .map((a) => ({
      member: a.member.name,
      reason: passOverReason(a, input.primary, judged, candidate, ops),
    }));
  if (!candidate) return { passedOver, errant, reason: noCandidateReason(passedOver, judged, input.primary) };
  return {
    candidate: candidate.member.name,
    passedOver,
    errant,
    reason: choiceReason(candidate, ranked[1], ops),
  };
}

/**
 * What a member holds once its relay log from the primary is applied: executed ∪ received over ''. MariaDB
 * discards the relay log of a channel whose two threads are both stopped as soon as either is started
 * again: what such a channel received but did not apply cannot be counted on.
 */
export function holds(flavor: Flavor, obs: InstanceObservation): string {
  const ops = gtidOps(flavor);
  const executed = ops.normalize(obs.vars?.gtidExecuted ?? '');
  const channel = obs.channels.find((c) => c.name === '');
  const relayLost = flavor === 'mariadb' && channel?.ioRunning === 'No' && channel.sqlRunning !== 'Yes';
  return relayLost ? executed : ops.union(executed, ops.normalize(channel?.retrievedGtidSet ?? ''));
}

/**
 * Why a survivor may not feed the candidate, by the rules (empty when it may): errant transactions would
 * come along; without a binary log of replicated transactions it has nothing to send; a candidate may not
 * replicate from a newer release.
 */
export function donorBlockers(
  donor: InstanceObservation,
  candidate: InstanceObservation,
  errant: string,
): string[] {
  const out: string[] = [];
  if (errant) out.push(`it holds errant transactions ${errant}`);
  if (!donor.vars?.logBin) out.push('log_bin off');
  else if (!donor.vars.logReplicaUpdates) out.push('log_replica_updates off');
  const [d, c] = [parseVersion(donor.vars?.version ?? ''), parseVersion(candidate.vars?.version ?? '')];
  if (d && c && newerParts(d.parts, c.parts))
    out.push(`it runs ${d.text}, newer than ${c.text} on ${candidate.member}`);
  return out;
}

/**
 * The order in which a group's survivors feed the candidate (catch-up.ts), best first: the candidates'
 * ranking, with GTID progress measured on what a donor can send — its executed set, its binary log — not
 * on what it received. Spec order ends every tie, so only a member compared with itself gives 0; members
 * that cannot be compared (not readable, GTID text unreadable) come last.
 */
export function compareDonors(
  flavor: Flavor,
  members: readonly Member[],
  observations: readonly InstanceObservation[],
): (a: string, b: string) => number {
  const ops = gtidOps(flavor);
  const ranked = new Map<string, Usable>();
  const observed = byMember(observations);
  for (const a of members.map((m, i) => assess(m, i, observed, ops, flavor)))
    if (a.usable) ranked.set(a.member.name, { ...a.usable, progress: ops.progress(a.usable.executed) });
  const rank = compareRank(ops);
  return (a, b) => {
    const [x, y] = [ranked.get(a), ranked.get(b)];
    return x && y ? rank(x, y) : x ? -1 : y ? 1 : 0;
  };
}

/**
 * Why `target` may not take over from the live primary in a planned switchover; undefined when it may.
 * The same hard rules as failover, errant judged against the live primary. Lag and prefer_not do not
 * matter (the target catches up before promotion, and a person asked for it), but the target must be
 * receiving from the primary to catch up.
 */
export function checkSwitchoverTarget(input: SwitchoverInput): string | undefined {
  const ops = gtidOps(input.flavor);
  if (!input.members.some((m) => m.name === input.target))
    return `${input.target} is not a member of this group`;
  if (input.target === input.primary) return `${input.target} is already the primary`;
  const observed = byMember(input.observations);
  const assessed = input.members.map((m, i) => assess(m, i, observed, ops, input.flavor));
  const primary = assessed.find((a) => a.member.name === input.primary);
  if (!primary) return `the primary ${input.primary} is not a member of this group`;
  if (!primary.usable)
    return `the primary ${input.primary} cannot be read (${primary.unusable}): a switchover needs it`;
  const target = assessed.find((a) => a.member.name === input.target)!;
  if (!target.usable) return target.unusable;
  const t = target.usable;
  const errant = ops.errant(t.executed, primary.usable.executed, { alsoLegit: [t.received] });
  const reasons = ruleBlockers(t, errant, peersOf(t, oldestFirst(usableOf(assessed))));
  const channel = t.channel;
  if (!channel) reasons.push(`does not replicate from ${input.primary} (no channel '')`);
  else if (channel.ioRunning !== 'Yes')
    reasons.push(`its receiver on channel '' is not running (${channel.ioRunning}), so it cannot catch up`);
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/** Observations by member, the first of a name (indexed once: a scan per member would be quadratic). */
function byMember(observations: readonly InstanceObservation[]): Map<string, InstanceObservation> {
  const out = new Map<string, InstanceObservation>();
  for (const o of observations) if (!out.has(o.member)) out.set(o.member, o);
  return out;
}

/** Reads what the rules need from one member's observation; missing or unreadable data is the reason. */
function assess(
  member: Member,
  index: number,
  observations: ReadonlyMap<string, InstanceObservation>,
  ops: GtidOps,
  flavor: Flavor,
): Assessed {
  const obs = observations.get(member.name);
  if (!obs) return { member, unusable: 'not observed' };
  if (!obs.reachable) return { member, unusable: `unreachable${obs.error ? ` (${obs.error})` : ''}` };
  if (!obs.vars) return { member, unusable: 'reachable, but its server variables were not read' };
  const channel = obs.channels.find((c) => c.name === '');
  try {
    const executed = ops.normalize(obs.vars.gtidExecuted);
    // What it received still came from the old primary (errant checks count it as legitimate), even
    // where it is not something this member can be promoted with (`holds`).
    const received = ops.normalize(channel?.retrievedGtidSet ?? '');
    const held = holds(flavor, obs);
    const lag = channel?.secondsBehindSource ?? null;
    const version = parseVersion(obs.vars.version);
    return {
      member,
      usable: {
        member,
        index,
        vars: obs.vars,
        channel,
        executed,
        received,
        holds: held,
        progress: ops.progress(held),
        lag,
        version,
      },
    };
  } catch (e) {
    return { member, unusable: `unreadable GTID text: ${(e as Error).message}` };
  }
}

function usableOf(assessed: readonly Assessed[]): Usable[] {
  return assessed.flatMap((a) => (a.usable ? [a.usable] : []));
}

/** The hard rules, all of them (a person fixing one should see the others too). */
function ruleBlockers(u: Usable, errant: string, peers: readonly Usable[]): string[] {
  const out: string[] = [];
  if (u.member.promotionRule === 'must_not') out.push('promotionRule must_not');
  if (errant !== '') out.push(`errant transactions ${errant}`);
  if (u.vars.gtidMode !== null && u.vars.gtidMode !== undefined && u.vars.gtidMode !== 'ON')
    out.push(`gtid_mode ${u.vars.gtidMode}`);
  const applier = u.channel;
  if (applier && applier.sqlRunning === 'No' && applier.lastSQLErrno !== 0) {
    out.push(
      `applier stopped on error ${applier.lastSQLErrno}${applier.lastSQLError ? ` (${applier.lastSQLError})` : ''}`,
    );
  }
  if (!u.vars.logBin) out.push('log_bin off');
  if (!u.vars.logReplicaUpdates) out.push('log_replica_updates off');
  const older = peers.find((p) => newerRelease(u, p));
  if (older) out.push(`runs ${u.version!.text}, newer than ${older.version!.text} on ${older.member.name}`);
  return out;
}

/** Usable members with a known version, oldest first: sorted once per decision, not once per member. */
const oldestFirst = (usable: readonly Usable[]): Usable[] =>
  usable.filter((p) => p.version).sort((a, b) => compareVersions(a.version, b.version));

/**
 * The member whose version u must not exceed: the oldest other reachable member, the leaving primary
 * included, as all of them will replicate from u (newer than none of them unless newer than the oldest),
 * so that a reason names the oldest. `byVersion`: oldestFirst of the usable members.
 */
function peersOf(u: Usable, byVersion: readonly Usable[]): Usable[] {
  const oldest = byVersion[0] === u ? byVersion[1] : byVersion[0];
  return oldest ? [oldest] : [];
}

/** True when a runs a newer major.minor than b (patch levels only break ties). Unknown versions never do. */
function newerRelease(a: Usable, b: Usable): boolean {
  const [x, y] = [a.version?.parts, b.version?.parts];
  return x !== undefined && y !== undefined && newerParts(x, y);
}

const newerParts = (x: Version['parts'], y: Version['parts']) =>
  x[0] > y[0] || (x[0] === y[0] && x[1] > y[1]);

interface Criterion {
  name: string;
  /** Negative when a ranks before b. */
  compare(a: Usable, b: Usable): number;
  /** Why `loser` lost to `winner` on this criterion. */
  why(loser: Usable, winner: Usable): string;
}

function criteria(ops: GtidOps): Criterion[] {
  const tie = (l: Usable, w: Usable) => `ties with ${w.member.name} on GTID progress`;
  return [
    {
      name: 'GTID progress',
      compare: (a, b) => (a.progress > b.progress ? -1 : a.progress < b.progress ? 1 : 0),
      why: (l, w) => `behind ${w.member.name}: lacks ${ops.missing(l.holds, w.holds)}`,
    },
    {
      name: 'promotion rule',
      compare: (a, b) => RULE_RANK[a.member.promotionRule] - RULE_RANK[b.member.promotionRule],
      why: (l, w) =>
        `${tie(l, w)}, but promotionRule ${l.member.promotionRule} ranks below ${w.member.promotionRule}`,
    },
    {
      name: 'applier lag',
      compare: (a, b) => (a.lag === b.lag ? 0 : a.lag === null ? 1 : b.lag === null ? -1 : a.lag - b.lag),
      why: (l, w) => `${tie(l, w)}, but its applier lag is ${showLag(l.lag)} against ${showLag(w.lag)}`,
    },
    {
      name: 'version',
      compare: (a, b) => compareVersions(a.version, b.version),
      why: (l, w) =>
        `${tie(l, w)}, but runs ${l.version?.text ?? 'an unknown version'}, newer than ${w.version?.text}`,
    },
    {
      name: 'spec order',
      compare: (a, b) => a.index - b.index,
      why: (_l, w) => `equal to ${w.member.name} on every rule; ${w.member.name} is listed first`,
    },
  ];
}

function compareRank(ops: GtidOps): (a: Usable, b: Usable) => number {
  const list = criteria(ops);
  return (a, b) => list.reduce((d, c) => d || c.compare(a, b), 0);
}

/** The first criterion on which `winner` ranks before `loser` (spec order always decides in the end). */
function decisive(ops: GtidOps, winner: Usable, loser: Usable): Criterion {
  const list = criteria(ops);
  return list.find((c) => c.compare(winner, loser) < 0) ?? list[list.length - 1]!;
}

function passOverReason(
  a: Assessed,
  primary: string,
  judged: readonly Judged[],
  candidate: Judged | undefined,
  ops: GtidOps,
): string {
  if (a.member.name === primary) return 'the primary being replaced';
  if (!a.usable) return a.unusable;
  const j = judged.find((x) => x.member === a.member)!;
  if (j.blockers.length > 0) return j.blockers.join('; ');
  return decisive(ops, candidate!, j).why(j, candidate!);
}

function choiceReason(candidate: Judged, runnerUp: Judged | undefined, ops: GtidOps): string {
  const name = candidate.member.name;
  const by = runnerUp && decisive(ops, candidate, runnerUp).name;
  const parts = [
    !runnerUp
      ? `${name} is the only member that may be promoted`
      : by === 'GTID progress'
        ? `${name} holds the most advanced GTID set (executed and received) of the members that may be promoted`
        : `${name} ties with ${runnerUp.member.name} on GTID progress and wins on ${by}`,
  ];
  return parts.join('; ');
}

function noCandidateReason(
  passedOver: readonly PassedOver[],
  judged: readonly Judged[],
  primary: string,
): string {
  const others = passedOver.filter((p) => p.member !== primary);
  if (others.length === 0) return 'no member may be promoted: the group has no other member';
  const why = others.map((p) => `${p.member}: ${p.reason}`).join('; ');
  return judged.length === 0
    ? `no member may be promoted: none can be read (${why})`
    : `no member may be promoted (${why})`;
}

function showLag(lag: number | null): string {
  return lag === null ? 'unknown' : `${lag}s`;
}

/** `8.0.36`, `8.4.2-log`, `10.11.19-MariaDB-0+deb12u1` → [major, minor, patch]. */
function parseVersion(text: string): Version | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? { text, parts: [Number(m[1]), Number(m[2]), Number(m[3])] } : undefined;
}

/** Ascending; unknown versions last. */
function compareVersions(a: Version | undefined, b: Version | undefined): number {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  return a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2];
}
