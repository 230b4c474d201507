// CatchingUp of a planned switchover: freeze the old primary, wait (bounded) for the target to hold all
// it wrote, or abort. Pure.
import type { FailoverRecord } from '../api/status.js';
import { gtidOps } from '../sql/gtid/index.js';
import type { Action } from './actions.js';
import { managed, readable, type Outcome, type StepContext } from './failover-common.js';

export function switchoverCatchUp(r: FailoverRecord, ctx: StepContext): Outcome {
  const old = readable(ctx, r.from);
  if (!old) return { next: 'Aborted', update: { message: `aborted: ${r.from} became unreachable` } };
  const target = readable(ctx, r.to);
  if (!target) return { next: 'Aborted', update: { message: `aborted: ${r.to} became unreachable` } };
  const named = old.obs!.channels.filter(
    (c) => c.name !== '' && (c.ioRunning !== 'No' || c.sqlRunning !== 'No') && managed(ctx, r.from, c),
  );
  const v = old.obs!.vars!;
  // Frozen means no account can write: MySQL needs super_read_only too (read_only alone lets SUPER write).
  const frozen = v.readOnly && v.superReadOnly !== false;
  // Stop what the old primary receives, then its writes: a fixed point for the target to reach. Checked
  // every pass: a primary made writable again is frozen again before its position counts.
  if (named.length > 0 || !frozen) {
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
  // The position is read from the frozen primary every pass, never kept from an earlier one: whatever it
  // wrote while writable again is included.
  const position = flavor === 'mariadb' ? (v.gtidBinlogPos ?? v.gtidExecuted) : v.gtidExecuted;
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
