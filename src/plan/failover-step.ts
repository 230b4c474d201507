// The phase machine of an open failover or switchover record, decided from what is observed now. Pure.
//
// A record advances through its phases as far as the observation allows, then names the statements of
// the phase it stopped in; the pass journals the record before those statements run, so a restarted
// operator resumes the same record (moco's "one operation per pass, then requeue").
//
//   Decided     stop every survivor's receiver from the dead primary, so what each received is frozen;
//               then choose the candidate by what it holds (candidate.ts).
//   CatchingUp  catch-up.ts (failover): relay logs applied, donors, what would be lost and its
//               acknowledgement; switchover-step.ts: freeze the old primary, wait for the target, or abort.
//   Promoting   reset only the candidate's channel '' and make it writable.
//   Repointing  ordinary convergence towards the new primary; Done once every channel into or inside the
//               group runs from it (unreachable members aside), or at the deadline (decide.ts).
import type { FailoverPhase, FailoverRecord } from '../api/status.js';
import { CATCHUP_CHANNEL } from '../api/spec.js';
import type { Action } from './actions.js';
import { gtidOps } from '../sql/gtid/index.js';
import { applyRelay, catchUp, unapplied } from './catch-up.js';
import {
  cameBack,
  channelsFrom,
  choose,
  readable,
  showLoss,
  waitSeconds,
  type Outcome,
  type StepCondition,
  type StepContext,
} from './failover-common.js';
import { switchoverCatchUp } from './switchover-step.js';

export interface StepResult {
  record: FailoverRecord;
  actions: Action[];
  conditions: StepCondition[];
}

export const isOpen = (r: FailoverRecord) => r.phase !== 'Done' && r.phase !== 'Aborted';

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

/** Fields a move into Repointing or Done changes on its own (the phase, when, and a closing message). */
const MOVE_FIELDS = new Set(['phase', 'phaseTimes', 'finishedAt', 'message', 'waitingFor']);

/**
 * Whether a journal change must be written before the pass's statements run (a restarted operator must
 * resume from it), or may ride on the pass's report. Only moves into Repointing or Done may wait: a
 * promoted record's Repointing statements are ordinary convergence towards the primary the Promoting
 * record already names (a pass resuming from Promoting derives the same ones: promote() has nothing left
 * and moves on), and Done has none. A new record, or any other change, is journaled first.
 */
export function journalFirst(before: readonly FailoverRecord[], after: readonly FailoverRecord[]): boolean {
  const was = new Map(before.map((r) => [r.id, r]));
  return after.some((r) => {
    const b = was.get(r.id);
    if (!b) return true;
    if (JSON.stringify(b) === JSON.stringify(r)) return false;
    const deferrable =
      (b.phase === 'Promoting' || b.phase === 'Repointing') &&
      (r.phase === 'Repointing' || r.phase === 'Done');
    if (!deferrable) return true;
    const keys = new Set([...Object.keys(b), ...Object.keys(r)]) as Set<keyof FailoverRecord>;
    return [...keys].some((k) => !MOVE_FIELDS.has(k) && JSON.stringify(b[k]) !== JSON.stringify(r[k]));
  });
}

/** Advances the record as far as the observation allows and returns the statements of where it stopped. */
export function stepFailover(start: FailoverRecord, ctx: StepContext): StepResult {
  let record = start;
  // Each phase is visited at most once per pass: the loop ends within a handful of turns.
  for (let turn = 0; turn < 6 && isOpen(record); turn++) {
    const outcome = evaluate(record, ctx);
    const { waitingFor: _cleared, atRisk: _shown, ...rest } = record;
    // waitingFor and atRisk describe the current hold only: an outcome that does not hold clears them.
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
      message: `failover ${r.id} of ${r.group} (${r.from} → ${r.to}) has not promoted by its deadline ${r.deadline}${r.waitingFor ? `; it waits for ${r.waitingFor}` : ''}; acknowledge with tributary.dev/ack-failover: ${r.group} to ${r.phase === 'Promoting' ? 'abandon it' : `promote with what ${r.to} holds${r.atRisk?.length ? `, losing ${showLoss(r.atRisk)}` : ''}`}`,
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

/** Promoting: only the candidate's channel '' goes (and a leftover catch-up channel); then writable. */
function promote(r: FailoverRecord, ctx: StepContext): Outcome {
  const c = readable(ctx, r.to);
  // It may be writable already: once promotion began it is never replaced. Past the deadline the record
  // says so (FailoverStuck) until a human acknowledges; then it ends, and a new failover may start.
  if (!c)
    return r.acknowledged
      ? { next: 'Aborted', update: { message: `promotion abandoned (acknowledged): ${r.to} is unreachable` } }
      : { stay: [], update: { waitingFor: `${r.to}, being promoted, to answer again` } };
  // The candidate's own relay log is applied before its channel '' goes (the reset discards it); a relay
  // log that can no longer be applied was shown as a loss and acknowledged in CatchingUp.
  // Traffic first: the old primary leaves the writer endpoints before anything is promoted (routing.ts
  // plans the drain). A drain that failed holds the promotion only where the spec asks for it.
  if (ctx.drained && !ctx.drained(r.group, r.from) && r.drainProblem === undefined)
    return {
      stay: [],
      update: {
        waitingFor: `${r.from} to leave the writer endpoints (drain)${ctx.spec.failover.requireDrain ? '; spec.failover.requireDrain holds the promotion until it has' : ''}`,
      },
    };
  const flavor = c.obs!.flavor!;
  const own = unapplied(ctx, gtidOps(flavor), flavor, r).find((x) => x.member === c && !x.lost);
  const actions: Action[] = own ? applyRelay(own, waitSeconds(r, ctx)) : [];
  for (const ch of c.obs!.channels.filter((x) => x.name === '' || x.name === CATCHUP_CHANNEL))
    actions.push({
      kind: 'RemoveChannel',
      member: r.to,
      channel: ch.name,
      reason: ch.name === '' ? `it pointed at ${r.from}` : 'failover: caught up',
    });
  if (c.readOnly !== false)
    actions.push({
      kind: 'SetReadOnly',
      member: r.to,
      readOnly: false,
      reason: `promoted in place of ${r.from}`,
    });
  return actions.length > 0 ? { stay: actions } : { next: 'Repointing' };
}
