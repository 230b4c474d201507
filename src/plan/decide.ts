// decide: one pass's whole decision, pure. Observation, stored status and the probe streaks in; findings,
// the failover journal to write before acting, and every statement the pass may send out — failover
// steps included, so `tributary plan` shows them. moco's shape: gather → decide the state → one
// operation per group → requeue at once while a failover is under way.
import type { TopologySpec } from '../api/spec.js';
import type { CredentialsStatus, FailoverRecord, GroupRouting, TopologyStatus } from '../api/status.js';
import { analyze, type Finding } from '../analyze/findings.js';
import { buildView, type TopologyView } from '../analyze/view.js';
import type { Observation } from '../observe/types.js';
import { gtidOps } from '../sql/gtid/index.js';
import { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER } from '../api/annotations.js';
import type { TopologyEvent } from '../api/events.js';
import { channelLabel, type Action } from './actions.js';
import { planConvergence } from './converge.js';
import { activeFailover, decideFailovers, decideSwitchover, parseSwitchoverAnnotation } from './failover.js';
import { showLoss, type StepCondition } from './failover-common.js';
import { isOpen, journalFirst, moveTo, stepFailover } from './failover-step.js';
import { assessPrimaries, nextProbeInMs, type PrimaryHealth, type ProbeStreak } from './health.js';
import { inRunOrder } from './stages.js';
import { adoptionReport, unverifiedCondition, type AdoptionLine } from './adoption.js';
import type { ConditionDraft } from './condition.js';
import { connectionOnlyDrift } from './connection-drift.js';
import { passwordTargets, rotationMessage, startRotation, type CredentialsInput } from './credentials.js';
import { desiredRouting, drained, routingSteps, type RoutingStep } from './routing.js';

/** Closed records kept in the journal (open ones are always kept). */
export const JOURNAL_LENGTH = 20;

export type ManagedChannel = TopologyStatus['managedChannels'][number];
export type { ConditionDraft };

export interface DecideInput {
  spec: TopologySpec;
  observation: Observation;
  previous: TopologyStatus | undefined;
  /** Consecutive failed probes per member, this probe included. */
  streaks: ReadonlyMap<string, ProbeStreak>;
  nowMs: number;
  annotations: Readonly<Record<string, string>>;
  /** A switchover asked for on the command line (the annotation asks for one in the resource). */
  switchover?: { group: string; to: string; timeoutSeconds?: number };
  /**
   * The replication Secret as this pass sees it: its user, and its fingerprint under the topology's salt.
   * Absent: no rotation is tracked (unit tests of other parts).
   */
  replication?: CredentialsInput & { user: string };
  /**
   * Traffic is routed: some routing target exists (the operator's Services, a routing hook) and
   * spec.routing is enabled. A failover then drains the old primary before it promotes.
   */
  routed?: boolean;
  /** What the routing targets hold, read back where a target can tell (the slices): drift is put back. */
  routingObserved?: ReadonlyMap<string, GroupRouting>;
}

/** What the routing targets were last given, as status remembers it (the state steps start from). */
export function currentRouting(previous: TopologyStatus | undefined): Map<string, GroupRouting> {
  const out = new Map<string, GroupRouting>();
  for (const g of previous?.groups ?? []) if (g.routing) out.set(g.name, g.routing);
  return out;
}

export interface PassPlan {
  view: TopologyView;
  findings: Finding[];
  health: PrimaryHealth[];
  remembered: ManagedChannel[];
  /** The failover journal after this pass's decisions; written (conditionally) before anything acts. */
  journal: FailoverRecord[];
  journalChanged: boolean;
  /** Whether the journal's change must be written before the statements (failover-step.ts journalFirst). */
  journalFirst: boolean;
  /** The credentials record this pass works from; a new rotation (started) is journaled before acting. */
  credentials?: CredentialsStatus;
  credentialsStarted: boolean;
  /** First contact (no credentials record before): what adoption does, one line per member and channel. */
  adoption?: AdoptionLine[];
  /** Every statement the pass may send, as actions, in run order (stages.ts: fencing, accounts, the rest). */
  actions: Action[];
  /** Routing changes: drains run before the actions, routes and reader sets after them (routing.ts). */
  routing: RoutingStep[];
  conditions: ConditionDraft[];
  events: TopologyEvent[];
  /** Problems the user must fix, one line each (a refused switchover, a malformed annotation). */
  problems: string[];
  /** Annotations acted on: removed once the journal is written. */
  consume: string[];
  /** Problems per channel (`member/channel`) for its status, from findings. */
  channelProblems: Map<string, string>;
  requeueAfterMs: number;
}

/** Managed channels: declared now, plus those declared before that some server still holds. */
export function rememberChannels(
  spec: TopologySpec,
  previous: TopologyStatus | undefined,
  observation?: Observation,
): ManagedChannel[] {
  const declared = spec.groups.flatMap((g) =>
    g.channels.map((c) => ({ group: g.name, name: c.name, from: c.from })),
  );
  // Declared names by group (a scan of the declarations per remembered channel would be quadratic).
  const key = (group: string, name: string) => `${group}\u0000${name.toLowerCase()}`;
  const declaredKeys = new Set(declared.map((d) => key(d.group, d.name)));
  const stillThere = (previous?.managedChannels ?? []).filter((r) => {
    if (declaredKeys.has(key(r.group, r.name))) return false;
    const g = spec.groups.find((x) => x.name === r.group);
    if (!g || !observation) return true;
    // Forget it once every member is reachable and none holds it any more.
    return g.members.some((m) => {
      const o = observation.instances.find((i) => i.member === m.name);
      return !o?.reachable || o.channels.some((c) => c.name.toLowerCase() === r.name.toLowerCase());
    });
  });
  return [...declared, ...stillThere];
}

/** The journal in a status, for the view: the primary a record names decides the group's primary. */
const withJournal = (previous: TopologyStatus | undefined, journal: FailoverRecord[]) =>
  previous ? { ...previous, failovers: journal } : undefined;

/** Keeps open records and the newest JOURNAL_LENGTH closed ones. */
function trim(journal: FailoverRecord[]): FailoverRecord[] {
  const closed = journal.filter((x) => !isOpen(x));
  if (closed.length <= JOURNAL_LENGTH) return journal;
  return journal.filter((x) => isOpen(x) || closed.indexOf(x) >= closed.length - JOURNAL_LENGTH);
}

const upsert = (journal: FailoverRecord[], r: FailoverRecord): FailoverRecord[] =>
  journal.some((x) => x.id === r.id) ? journal.map((x) => (x.id === r.id ? r : x)) : [...journal, r];

/** Findings that keep a repointing failover open: channels into or inside the group not yet on the new primary. */
const UNSETTLED = new Set<Finding['kind']>([
  'ChannelMissing',
  'ChannelPointsElsewhere',
  'ChannelStopped',
  'ChannelMisplaced',
  'PrimaryReadOnly',
]);

function settled(view: TopologyView, findings: Finding[], group: string): boolean {
  return !findings.some((f) => {
    if (!UNSETTLED.has(f.kind) || !('member' in f)) return false;
    const from = 'desired' in f ? f.desired.fromGroup : 'fromGroup' in f ? f.fromGroup : undefined;
    return from === group || view.members.get(f.member)?.group === group;
  });
}

/** The view, managed channels and findings of an observation, with the journal deciding primaries. */
export function assess(
  spec: TopologySpec,
  observation: Observation,
  previous: TopologyStatus | undefined,
  journal: FailoverRecord[],
  replication?: { user: string; credentials?: CredentialsStatus | undefined },
): { view: TopologyView; remembered: ManagedChannel[]; findings: Finding[] } {
  const view = buildView(spec, observation, withJournal(previous, journal));
  const remembered = rememberChannels(spec, previous, observation);
  const targets = passwordTargets(replication?.credentials?.replication, view);
  const findings = analyze({
    view,
    gtid: gtidOps,
    remembered,
    ...(replication ? { replicationUser: replication.user } : {}),
    ...(targets ? { credentials: targets } : {}),
  });
  return { view, remembered, findings };
}

export function decidePass(input: DecideInput): PassPlan {
  const { spec, observation, nowMs } = input;
  const now = new Date(nowMs);
  const writing = !spec.paused;
  const conditions: ConditionDraft[] = [];
  const events: TopologyEvent[] = [];
  const problems: string[] = [];
  const consume: string[] = [];
  const condition = (type: string, reason: string, message: string) =>
    conditions.push({ type, status: 'True', reason, message });
  const before = input.previous?.failovers ?? [];
  let journal = [...before];

  // An acknowledgement: an open record goes on with exactly the loss it showed; a finished one stops the
  // cooldown.
  const ack = input.annotations[ANNOTATION_ACK_FAILOVER]?.trim();
  if (ack !== undefined && writing) {
    consume.push(ANNOTATION_ACK_FAILOVER);
    const open = activeFailover(journal, ack);
    const target = open
      ? acknowledgeable(open, nowMs)
        ? open
        : undefined
      : [...journal].reverse().find((r) => r.group === ack && r.reason === 'DeadPrimary');
    const loss = target && isOpen(target) ? (target.atRisk ?? []) : [];
    if (target && !target.acknowledged)
      journal = upsert(journal, {
        ...target,
        acknowledged: true,
        ...(isOpen(target) ? { acknowledgedLoss: loss } : {}),
      });
    events.push({
      type: 'Normal',
      reason: 'FailoverAcknowledged',
      message: target
        ? isOpen(target)
          ? `failover ${target.id} of ${ack} acknowledged: it goes on with what ${target.to} holds, losing ${loss.length ? showLoss(loss) : 'nothing shown'} (${target.waitingFor ?? 'past its deadline'})`
          : `failover cooldown of ${ack} lifted`
        : open
          ? `failover ${open.id} of ${ack} shows no loss to accept and is not past its deadline: nothing to acknowledge`
          : `nothing to acknowledge for group ${ack}`,
    });
  }

  const view0 = buildView(spec, observation, withJournal(input.previous, journal));
  const policy = {
    downAfterMs: spec.failover.downAfterSeconds * 1000,
    failureThreshold: spec.failover.failureThreshold,
  };
  const health = assessPrimaries(view0, input.streaks, policy, nowMs);
  for (const h of health) reportHealth(h, condition);

  // A planned switchover, from the command line or the annotation.
  const raw = input.annotations[ANNOTATION_SWITCHOVER];
  const ask = input.switchover ?? parseSwitchoverAnnotation(raw);
  if (raw !== undefined && !parseSwitchoverAnnotation(raw)) {
    problems.push(`metadata.annotations["${ANNOTATION_SWITCHOVER}"]: must be <group>=<member>`);
    if (writing) consume.push(ANNOTATION_SWITCHOVER);
  }
  if (ask && !writing) {
    problems.push(
      'switchover: the topology is paused (spec.paused: true); nothing is written until it is resumed',
    );
  } else if (ask) {
    if (!input.switchover) consume.push(ANNOTATION_SWITCHOVER);
    const timeoutSeconds = input.switchover?.timeoutSeconds ?? spec.failover.catchUpTimeoutSeconds;
    const sw = decideSwitchover({ ...ask, timeoutSeconds }, view0, withJournal(input.previous, journal), now);
    if ('record' in sw) {
      journal = upsert(journal, sw.record);
      events.push({
        type: 'Normal',
        reason: 'SwitchoverStarted',
        message: `${sw.record.group}: ${sw.record.from} → ${sw.record.to}`,
      });
    } else if ('refused' in sw) {
      problems.push(sw.refused);
      events.push({ type: 'Warning', reason: 'SwitchoverRefused', message: sw.refused });
    }
  }

  // Dead primaries: open a record (or say why not).
  for (const d of decideFailovers(spec, view0, health, withJournal(input.previous, journal), now)) {
    if (d.kind === 'blocked') condition('FailoverBlocked', d.condition, d.reason);
    else if (writing) {
      journal = upsert(journal, d.record);
      events.push({
        type: 'Warning',
        reason: 'FailoverStarted',
        message: `${d.record.group}: ${d.record.from} is dead, failing over (first choice ${d.record.to})`,
      });
    }
  }

  // Every open record takes its step; the statements of the phase it stopped in run this pass.
  const routed = input.routed === true && spec.routing.enabled;
  const routingNow = currentRouting(input.previous);
  const stepActions: Action[] = [];
  if (writing) {
    for (const r of journal.filter((x) => isOpen(x) && x.phase !== 'Repointing')) {
      const step = stepFailover(r, {
        spec,
        view: view0,
        previous: input.previous,
        nowMs,
        remembered: rememberChannels(spec, input.previous, observation),
        // Drained once every target took the drain (status records it then; a slice deleted by hand does
        // not drain the hook).
        ...(routed ? { drained: (group: string, member: string) => drained(routingNow, group, member) } : {}),
      });
      journal = upsert(journal, step.record);
      stepActions.push(...step.actions);
      for (const c of step.conditions) condition(c.type, c.reason, c.message);
      events.push(...progressEvents(r, step.record, step.conditions));
    }
  }

  // The replication Secret: a fingerprint other than the record's starts a rotation (journaled first).
  const rotation =
    input.replication && writing
      ? startRotation(input.previous?.credentials, input.replication, now.toISOString(), view0)
      : { credentials: input.previous?.credentials, started: false, adopted: false };
  if (
    input.replication &&
    !writing &&
    rotation.credentials?.replication?.fingerprint !== input.replication.fingerprint
  )
    condition(
      'CredentialsPending',
      'Paused',
      'the replication Secret differs from what the servers were given; it is applied once spec.paused is false',
    );
  const { view, remembered, findings } = assess(
    spec,
    observation,
    input.previous,
    journal,
    input.replication ? { user: input.replication.user, credentials: rotation.credentials } : undefined,
  );
  const record = rotation.credentials?.replication;
  if (input.replication && writing && record && !record.complete)
    condition('CredentialsRotating', 'Rotating', rotationMessage(record, view));

  // A repointing record is done once its group is settled, or at its deadline (what is left of the
  // repointing is then ordinary drift, reported and repaired like any other).
  for (const r of journal.filter((x) => isOpen(x) && x.phase === 'Repointing')) {
    const late = r.deadline !== undefined && nowMs >= Date.parse(r.deadline);
    if (!settled(view, findings, r.group) && !late) continue;
    const done = moveTo(r, 'Done', nowMs, late ? { message: `closed at its deadline ${r.deadline}` } : {});
    journal = upsert(journal, done);
    events.push(...progressEvents(r, done, []));
  }
  journal = trim(journal);

  const busy = new Set(journal.filter((r) => isOpen(r) && r.phase !== 'Repointing').map((r) => r.group));
  const convergence = planConvergence(findings, {
    paused: spec.paused,
    busyGroups: busy,
    memberGroup: (m) => view.members.get(m)?.group,
    connectionOnly: (f) => {
      const current = view.members.get(f.member)?.obs?.channels.find((c) => c.name === f.channel);
      return current !== undefined && connectionOnlyDrift(current, f.desired);
    },
  });
  // In run order: the executor runs these stages as they are, and `tributary plan` prints them so.
  const actions = writing ? inRunOrder([...stepActions, ...convergence]) : [];
  if (input.replication && writing) {
    const unverified = unverifiedCondition(
      view,
      actions,
      rotation.adopted,
      (m) => !(record?.accounts.includes(m) ?? false),
    );
    if (unverified) conditions.push(unverified);
  }
  const routingInput = {
    view,
    journal,
    spec: spec.routing,
    current: routingNow,
    actions,
    ...(input.routingObserved ? { observed: input.routingObserved } : {}),
  };
  const routing = routed && writing ? routingSteps(routingInput, desiredRouting(routingInput)) : [];
  const pollMs = spec.failover.pollIntervalSeconds * 1000;
  // At once while a failover moves on (it acted or changed phase); a record held for a human waits
  // at the poll interval like everything else.
  const journalChanged = JSON.stringify(journal) !== JSON.stringify(before);
  const movingOn =
    stepActions.length > 0 || journalChanged || rotation.started || routing.some((r) => r.failover);
  const requeueAfterMs = movingOn
    ? 0
    : Math.min(pollMs, ...health.map((h) => nextProbeInMs(h, policy, pollMs, nowMs)));
  return {
    view,
    findings,
    health,
    remembered,
    journal,
    journalChanged,
    journalFirst: journalChanged && journalFirst(before, journal),
    ...(rotation.credentials ? { credentials: rotation.credentials } : {}),
    credentialsStarted: rotation.started,
    ...(rotation.adopted ? { adoption: adoptionReport(view, actions) } : {}),
    actions,
    routing,
    conditions,
    events,
    problems,
    consume,
    channelProblems: channelProblems(findings),
    requeueAfterMs,
  };
}

/**
 * An open record takes an acknowledgement only while it shows a loss to accept (atRisk), or past its
 * deadline: never a blank cheque for a loss nobody has been shown.
 */
function acknowledgeable(r: FailoverRecord, nowMs: number): boolean {
  return r.atRisk !== undefined || (r.deadline !== undefined && nowMs >= Date.parse(r.deadline));
}

/** Events for what changed in a record this pass. */
function progressEvents(
  before: FailoverRecord,
  after: FailoverRecord,
  held: readonly StepCondition[],
): TopologyEvent[] {
  const kind = after.reason === 'Switchover' ? 'Switchover' : 'Failover';
  const out: TopologyEvent[] = [];
  if (after.to !== before.to && after.phase !== 'Aborted')
    out.push({
      type: 'Warning',
      reason: 'CandidateChosen',
      message: `${after.group}: ${after.to} will be promoted in place of ${after.from}${before.to !== after.to ? ` (first choice ${before.to})` : ''}`,
    });
  if (after.phase !== before.phase) {
    if (after.phase === 'Done')
      out.push({
        type: 'Normal',
        reason: `${kind}Finished`,
        message: `${after.group}: ${after.to} is primary; repointed ${after.repointed.join(', ') || 'nothing'}${after.message?.startsWith('closed at') ? ` (${after.message})` : ''}`,
      });
    else if (after.phase === 'Aborted')
      out.push({
        type: 'Warning',
        reason: `${kind}Aborted`,
        message: `${after.group}: ${after.message ?? 'aborted'}`,
      });
    else
      out.push({
        type: 'Normal',
        reason: `${kind}Progress`,
        message: `${after.group}: ${after.from} → ${after.to}: ${after.phase}`,
      });
  }
  if (before.acknowledged && !after.acknowledged && isOpen(after))
    out.push({
      type: 'Warning',
      reason: 'FailoverAcknowledgementWithdrawn',
      message: `${after.group}: the acknowledgement of ${before.acknowledgedLoss?.length ? showLoss(before.acknowledgedLoss) : 'no loss'} no longer holds (${after.to !== before.to ? `the candidate is now ${after.to}` : 'the loss differs'}); acknowledge again what is shown`,
    });
  const away = after.unreachable ?? [];
  if (after.phase === 'Promoting' && before.phase !== 'Promoting' && away.length > 0)
    out.push({
      type: 'Warning',
      reason: 'FailoverPossibleLoss',
      message: `${after.group}: ${after.to} is promoted while ${away.join(', ')} cannot be read: what only they hold may be lost`,
    });
  for (const c of held) out.push({ type: 'Warning', reason: c.type, message: c.message });
  return out;
}

function reportHealth(
  h: PrimaryHealth,
  condition: (type: string, reason: string, message: string) => void,
): void {
  if (h.state === 'Unreachable') {
    condition(
      'PrimaryUnreachable',
      'OperatorCutOff',
      `${h.primary} (${h.group}) fails probes but ${h.witnesses.map((w) => channelLabel(w.member, w.channel)).join(', ')} still receive from it: no failover`,
    );
  } else if (h.state === 'NoWitness') {
    condition(
      'PrimaryUnreachable',
      'NoWitness',
      `${h.primary} (${h.group}) fails probes and no replica says it is down (none receives from it, or their receivers are stopped or broken for other reasons): nobody to confirm, no failover`,
    );
  } else if (h.state === 'Suspect') {
    condition(
      'PrimaryUnreachable',
      'WithinWindow',
      `${h.primary} (${h.group}) fails probes (${h.failures}); it counts as dead once unreachable for the whole window (spec.failover.downAfterSeconds)`,
    );
  } else if (h.state === 'Refused') {
    condition(
      'PrimaryRefused',
      h.refused === 'privilege' ? 'MissingPrivilege' : h.refused === 'tls' ? 'TlsRefused' : 'LoginRefused',
      `${h.primary} (${h.group}) answers, but the operator cannot use it, so nothing is done on it (not dead: no failover): ${h.error}`,
    );
  } else if (h.state === 'Dead') {
    condition(
      'PrimaryDead',
      'DeadPrimary',
      `${h.primary} (${h.group}) is dead: unreachable for the whole window, ${h.failures} failed probes, no replica receives from it`,
    );
  }
}

/** The text a channel's status shows for a finding about it that a human must resolve. */
function channelProblems(findings: Finding[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of findings) {
    if (f.kind === 'ChannelSourceConflict') {
      const [mine, other] = [channelLabel(f.member, f.channel), channelLabel(f.member, f.otherChannel)];
      out.set(mine, `not created or repointed: its source ${f.source} already feeds ${other}`);
      out.set(other, `receives from ${f.source}, which the managed channel ${mine} should receive from`);
    } else if (f.kind === 'ErrantTransactions')
      out.set(
        channelLabel(f.member, ''),
        `errant transactions on ${f.member}: ${f.errant} (it may not be promoted)`,
      );
  }
  return out;
}
