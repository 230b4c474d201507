// What the steps of an open failover or switchover share: their context, the outcome of one phase, and
// the questions every phase asks of the observation (who is readable, which channels receive from the
// dead primary, who would be promoted now). Pure.
import type { Flavor, TopologySpec } from '../api/spec.js';
import type { ChannelStatus, FailoverPhase, FailoverRecord, TopologyStatus } from '../api/status.js';
import { isManagedChannel } from '../analyze/findings.js';
import { channelSourceMember, type MemberView, type TopologyView } from '../analyze/view.js';
import type { Action } from './actions.js';
import { chooseCandidate, type CandidateInput } from './candidate.js';

/** A managed channel as status remembers it (declared now, or before). */
export interface RememberedChannel {
  group: string;
  name: string;
  from: string;
}

export interface StepContext {
  spec: TopologySpec;
  /** The view as observed at the start of the pass. */
  view: TopologyView;
  previous: TopologyStatus | undefined;
  nowMs: number;
  /** Managed channels declared before (status); the spec's own are always managed. */
  remembered?: readonly RememberedChannel[];
  /**
   * Whether a member has left its group's writer endpoints (routing.ts). Absent: traffic is not routed,
   * nothing to drain.
   */
  drained?: (group: string, member: string) => boolean;
}

/** A condition a step raises: something a human can act on (type, reason, message). */
export interface StepCondition {
  type: string;
  reason: string;
  message: string;
}

/** One phase's verdict: go on to the next phase now, or stay with these statements. */
export type Outcome =
  | { next: FailoverPhase; update?: Partial<FailoverRecord> }
  | { stay: Action[]; update?: Partial<FailoverRecord>; condition?: StepCondition };

/** `a-2: 1-1-12; dw-0: 1-1-13`: a loss (holders and GTID sets) as every message and event shows it. */
export const showLoss = (loss: readonly { member: string; missing: string }[]): string =>
  loss.map((s) => `${s.member}: ${s.missing}`).join('; ');

export const readable = (ctx: StepContext, name: string): MemberView | undefined => {
  const m = ctx.view.members.get(name);
  return m?.reachable && m.obs?.vars ? m : undefined;
};

export const cameBack = (r: FailoverRecord): Outcome => ({
  next: 'Aborted',
  update: { message: `${r.from} answers again: it came back before promotion, nothing was promoted` },
});

export function groupFlavor(ctx: StepContext, group: string): Flavor | undefined {
  const g = ctx.view.groups.find((x) => x.spec.name === group);
  return g?.members.find((m) => m.obs?.flavor)?.obs?.flavor;
}

/**
 * The managed channels (findings.ts decides which are) that receive from the failing group's primary,
 * on reachable servers. Hand-made channels from it are left alone, as everywhere.
 */
export function channelsFrom(
  ctx: StepContext,
  r: FailoverRecord,
): { member: MemberView; channel: ChannelStatus }[] {
  const out: { member: MemberView; channel: ChannelStatus }[] = [];
  for (const m of ctx.view.members.values()) {
    if (!m.reachable || !m.obs) continue;
    for (const c of m.obs.channels)
      if (channelSourceMember(ctx.view, c) === r.from && managed(ctx, m.spec.name, c))
        out.push({ member: m, channel: c });
  }
  return out;
}

/** Whether the operator manages this channel of this member: findings.ts's definition, the only one. */
export function managed(ctx: StepContext, member: string, channel: ChannelStatus): boolean {
  const remembered = [
    ...ctx.spec.groups.flatMap((g) => g.channels.map((c) => ({ group: g.name, name: c.name, from: c.from }))),
    ...(ctx.remembered ?? []),
  ];
  return isManagedChannel({ view: ctx.view, remembered }, member, channel);
}

export const candidateInput = (r: FailoverRecord, ctx: StepContext, flavor: Flavor): CandidateInput =>
  groupCandidateInput(ctx.view, ctx.previous, r.group, r.from, flavor);

/** What candidate.ts needs to choose in a group replacing `primary` (decideFailovers asks the same). */
export function groupCandidateInput(
  view: TopologyView,
  previous: TopologyStatus | undefined,
  group: string,
  primary: string,
  flavor: Flavor,
): CandidateInput {
  const g = view.groups.find((x) => x.spec.name === group)!;
  const lastKnown = previous?.instances.find((i) => i.name === primary)?.gtidExecuted;
  return {
    flavor,
    members: g.spec.members,
    primary,
    observations: g.members.flatMap((m) => (m.obs ? [m.obs] : [])),
    ...(lastKnown ? { lastPrimaryExecuted: lastKnown } : {}),
  };
}

/** Chooses (or re-chooses) the candidate among the reachable members; holds when there is none. */
export function choose(r: FailoverRecord, ctx: StepContext): Outcome {
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
      // An acknowledgement was given for the candidate and the loss shown then; a new one needs another.
      ...(replaced.length > 0 ? { acknowledged: undefined, acknowledgedLoss: undefined } : {}),
      to: choice.candidate,
      passedOver: [...replaced, ...choice.passedOver.filter((p) => p.member !== r.to || !replaced.length)],
      message: choice.reason,
    },
  };
}

/** Bound of one GTID wait: the record's, and never past its deadline. */
export function waitSeconds(r: FailoverRecord, ctx: StepContext): number {
  const bound = r.waitSeconds ?? ctx.spec.failover.catchUpTimeoutSeconds;
  if (!r.deadline) return bound;
  const left = Math.floor((Date.parse(r.deadline) - ctx.nowMs) / 1000);
  return Math.max(1, Math.min(bound, left));
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
