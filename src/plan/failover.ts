// Failover decisions, pure: may a group with a dead primary fail over now, and is a switchover possible.
// Both open a journal record; failover-step.ts carries it through its phases. The choice itself is
// candidate.ts's.
import type { TopologySpec } from '../api/spec.js';
import type { FailoverRecord, TopologyStatus } from '../api/status.js';
import type { TopologyView } from '../analyze/view.js';
import { checkSwitchoverTarget, chooseCandidate } from './candidate.js';
import { groupCandidateInput } from './failover-common.js';
import { isOpen } from './failover-step.js';
import type { PrimaryHealth } from './health.js';

export { isOpen };

export function activeFailover(
  journal: readonly FailoverRecord[],
  group?: string,
): FailoverRecord | undefined {
  return journal.find((r) => isOpen(r) && (group === undefined || r.group === group));
}

/** The cooldown that blocks an automatic failover of the group, if any: the time it ends. */
export function cooldownUntil(
  journal: readonly FailoverRecord[],
  group: string,
  cooldownSeconds: number,
  now: Date,
): string | undefined {
  const last = [...journal]
    .reverse()
    .find((r) => r.group === group && r.reason === 'DeadPrimary' && r.phase === 'Done');
  if (!last || last.acknowledged) return undefined;
  const until = new Date(Date.parse(last.finishedAt ?? last.startedAt) + cooldownSeconds * 1000);
  return until > now ? until.toISOString() : undefined;
}

export type FailoverDecision =
  | { kind: 'start'; record: FailoverRecord }
  | { kind: 'blocked'; group: string; reason: string; condition: string };

const iso = (d: Date) => d.toISOString();

function newRecord(
  group: string,
  from: string,
  to: string,
  reason: FailoverRecord['reason'],
  now: Date,
  extra: Partial<FailoverRecord> & { deadlineSeconds: number },
): FailoverRecord {
  const { deadlineSeconds, ...rest } = extra;
  return {
    id: `${group}-${now.getTime().toString(36)}`,
    group,
    from,
    to,
    reason,
    phase: 'Decided',
    startedAt: iso(now),
    phaseTimes: { Decided: iso(now) },
    repointed: [],
    passedOver: [],
    stranded: [],
    deadline: iso(new Date(now.getTime() + deadlineSeconds * 1000)),
    ...rest,
  };
}

/** For each dead primary: start a failover, or say why not (disabled, paused, cooldown, no candidate). */
export function decideFailovers(
  spec: TopologySpec,
  view: TopologyView,
  health: readonly PrimaryHealth[],
  previous: TopologyStatus | undefined,
  now: Date,
): FailoverDecision[] {
  const journal = previous?.failovers ?? [];
  const out: FailoverDecision[] = [];
  for (const h of health) {
    if (h.state !== 'Dead' || activeFailover(journal, h.group)) continue;
    const blocked = (reason: string, condition: string) =>
      out.push({ kind: 'blocked', group: h.group, reason, condition });
    if (!spec.failover.enabled) {
      blocked(
        `primary ${h.primary} of ${h.group} is dead; automatic failover is disabled`,
        'FailoverDisabled',
      );
      continue;
    }
    if (spec.paused) {
      blocked(`primary ${h.primary} of ${h.group} is dead; the topology is paused`, 'Paused');
      continue;
    }
    const until = cooldownUntil(journal, h.group, spec.failover.cooldownSeconds, now);
    if (until) {
      blocked(
        `primary ${h.primary} of ${h.group} is dead; a failover happened recently, cooldown until ${until} (acknowledge with tributary.dev/ack-failover: ${h.group})`,
        'FailoverCooldown',
      );
      continue;
    }
    const g = view.groups.find((x) => x.spec.name === h.group)!;
    const flavor = g.members.find((m) => m.obs?.flavor)?.obs?.flavor;
    if (!flavor) {
      blocked(`primary ${h.primary} of ${h.group} is dead; no member is reachable`, 'NoCandidate');
      continue;
    }
    const choice = chooseCandidate(groupCandidateInput(view, previous, h.group, h.primary, flavor));
    if (!choice.candidate) {
      blocked(
        `primary ${h.primary} of ${h.group} is dead; no member can be promoted: ${choice.reason}`,
        'NoCandidate',
      );
      continue;
    }
    // The first choice is provisional: the receivers are stopped first and the candidate chosen again
    // from what each then holds (failover-step.ts).
    out.push({
      kind: 'start',
      record: newRecord(h.group, h.primary, choice.candidate, 'DeadPrimary', now, {
        passedOver: choice.passedOver,
        message: choice.reason,
        deadlineSeconds: spec.failover.deadlineSeconds,
        waitSeconds: spec.failover.catchUpTimeoutSeconds,
      }),
    });
  }
  return out;
}

export interface SwitchoverRequest {
  group: string;
  to: string;
  timeoutSeconds: number;
}

/** `group=member` from the annotation; undefined when malformed. */
export function parseSwitchoverAnnotation(
  value: string | undefined,
): { group: string; to: string } | undefined {
  const m = /^\s*([a-z0-9-]+)\s*=\s*([a-z0-9-]+)\s*$/.exec(value ?? '');
  return m ? { group: m[1]!, to: m[2]! } : undefined;
}

/** A planned switchover: a record to start, or the one-line reason it is refused. */
export function decideSwitchover(
  req: SwitchoverRequest,
  view: TopologyView,
  previous: TopologyStatus | undefined,
  now: Date,
): { record: FailoverRecord } | { refused: string } | { nothingToDo: string } {
  const g = view.groups.find((x) => x.spec.name === req.group);
  if (!g) return { refused: `switchover: group "${req.group}" does not exist` };
  if (!g.spec.members.some((m) => m.name === req.to))
    return { refused: `switchover: "${req.to}" is not a member of group "${req.group}"` };
  if (activeFailover(previous?.failovers ?? [], req.group))
    return { refused: `switchover: a failover of ${req.group} is in progress` };
  if (!g.primary) return { refused: `switchover: group "${req.group}" has no primary` };
  if (g.primary === req.to) return { nothingToDo: `${req.to} is already the primary of ${req.group}` };
  const primary = g.members.find((m) => m.spec.name === g.primary)!;
  if (!primary.reachable)
    return {
      refused: `switchover: the primary ${g.primary} is unreachable (a failover, not a switchover, replaces it)`,
    };
  const flavor = primary.obs!.flavor!;
  const why = checkSwitchoverTarget({
    flavor,
    members: g.spec.members,
    primary: g.primary,
    target: req.to,
    observations: g.members.flatMap((m) => (m.obs ? [m.obs] : [])),
  });
  if (why) return { refused: `switchover: ${req.to} cannot be promoted: ${why}` };
  return {
    record: newRecord(req.group, g.primary, req.to, 'Switchover', now, {
      message: `planned switchover to ${req.to}`,
      deadlineSeconds: view.spec.failover.deadlineSeconds,
      waitSeconds: req.timeoutSeconds,
    }),
  };
}
