// execute: the only step that writes to servers. Actions run target by target: a failure stops only what
// depends on it, and the rest of the pass goes on; the next pass starts from what is observed then, so a
// half-done action is repaired, not resumed.
//
// Order: the plan's stages (src/plan/stages.ts), one after the other — the order `tributary plan` prints.
// Within a stage each member's actions run in plan order, different members in parallel. What depends on
// a failure:
// - later actions on the same channel of the same member (a catch-up wait after its channel failed);
// - later member-wide actions on that member, after any failed statement there (a failed channel reset
//   or wait before a promotion) — except persisted settings and accounts, which concern nothing else;
// - making a member writable, when fencing another member of its group at run time failed.
import type { Dialect, Statement } from '../sql/dialect.js';
import type { SqlClient } from '../sql/client.js';
import {
  actionStatements,
  actionTarget,
  channelLabel,
  describeAction,
  type Action,
  type Credentials,
} from '../plan/actions.js';
import { planStages, STAGES } from '../plan/stages.js';
import { oneLine } from '../util/errors.js';

export interface ExecuteContext {
  client(member: string): SqlClient;
  dialect(member: string): Dialect;
  replication: Credentials;
  /** Members that may receive data writes (group primaries): the replication account goes there only. */
  isPrimary(member: string): boolean;
  /** The group of a member: fencing failures block making another member of it writable. */
  groupOf(member: string): string | undefined;
  /** Checked before every statement: a lost leadership or a stop request ends writing at once. */
  mayWrite(): boolean;
  onStatement?(member: string, statement: Statement): void;
}

export interface ActionFailure {
  action: Action;
  statement?: string;
  errno?: number;
  message: string;
}

export interface ExecuteResult {
  executed: Action[];
  failures: ActionFailure[];
  /** Actions not run because something they depend on failed, with the failure's message. */
  skipped: { action: Action; because: string }[];
}

/** Actions whose failure concerns nothing else on the member: a persisted setting, an account, its password. */
const independent = (a: Action) =>
  a.kind === 'PersistReadOnly' || a.kind === 'EnsureReplicationUser' || a.kind === 'SetReplicationPassword';

const targetKey = (a: Action): string => {
  const t = actionTarget(a);
  if (independent(a)) return `${t.member}\u0000#${a.kind}`;
  return t.channel === undefined ? `${t.member}\u0000*` : `${t.member}\u0000${t.channel.toLowerCase()}`;
};

/** Runs the plan's actions; never throws for a failing statement (failures are part of the result). */
export async function executeActions(
  actions: readonly Action[],
  ctx: ExecuteContext,
): Promise<ExecuteResult> {
  const result: ExecuteResult = { executed: [], failures: [], skipped: [] };
  const failedTargets = new Map<string, string>();
  /** Members where a statement that others depend on failed: their later member-wide actions wait. */
  const failedMembers = new Map<string, string>();
  const fencingFailedIn = new Set<string>();

  const blockedBy = (a: Action): string | undefined => {
    const own = failedTargets.get(targetKey(a)) ?? failedTargets.get(`${a.member}\u0000*`);
    if (own) return own;
    // A member-wide step after a failed one on the same member (promotion after a failed channel reset).
    if (actionTarget(a).channel === undefined && !independent(a) && failedMembers.has(a.member))
      return failedMembers.get(a.member);
    if (a.kind === 'SetReadOnly' && !a.readOnly && fencingFailedIn.has(ctx.groupOf(a.member) ?? ''))
      return `fencing another member of ${ctx.groupOf(a.member)} failed: not making ${a.member} writable`;
    return undefined;
  };

  const runMember = async (list: Action[]): Promise<void> => {
    for (const a of list) {
      const because = blockedBy(a);
      if (because) {
        result.skipped.push({ action: a, because });
        continue;
      }
      const failure = await runOne(a, ctx);
      if (!failure) {
        result.executed.push(a);
        continue;
      }
      result.failures.push(failure);
      failedTargets.set(targetKey(a), failure.message);
      if (!independent(a)) failedMembers.set(a.member, failure.message);
      // Only a failed run-time fence keeps another member of the group from being made writable.
      if (a.kind === 'SetReadOnly' && a.readOnly) fencingFailedIn.add(ctx.groupOf(a.member) ?? '');
    }
  };

  const stages = planStages(actions);
  for (const stage of STAGES.map((k) => stages[k])) {
    const byMember = new Map<string, Action[]>();
    for (const a of stage) byMember.set(a.member, [...(byMember.get(a.member) ?? []), a]);
    await Promise.all([...byMember.values()].map(runMember));
  }
  return result;
}

async function runOne(action: Action, ctx: ExecuteContext): Promise<ActionFailure | undefined> {
  if (
    (action.kind === 'EnsureReplicationUser' || action.kind === 'SetReplicationPassword') &&
    !ctx.isPrimary(action.member)
  )
    return { action, message: `refused: ${action.member} is not a primary (never write on a replica)` };
  let current: Statement | undefined;
  try {
    for (const statement of actionStatements(action, ctx.dialect(action.member), ctx.replication)) {
      if (!ctx.mayWrite()) throw new Error('writing is not allowed any more (stopping or lost leadership)');
      current = statement;
      ctx.onStatement?.(action.member, statement);
      const rows = await ctx.client(action.member).query<Record<string, unknown>>(statement);
      if (action.kind === 'WaitForGtid') {
        const value = rows[0] ? Object.values(rows[0])[0] : undefined;
        if (!ctx.dialect(action.member).waitReached(value))
          throw new Error(`timed out after ${action.timeoutSeconds}s waiting for ${action.gtidSet}`);
      }
    }
    return undefined;
  } catch (e) {
    const err = e as { message?: string; errno?: number };
    return {
      action,
      ...(current ? { statement: current.display } : {}),
      ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
      message: oneLine(`${describeAction(action)}: ${err.message ?? String(e)}`),
    };
  }
}

/** `member/channel` of a failure, or the member for member-wide actions. */
export const failureLabel = (f: ActionFailure): string => {
  const t = actionTarget(f.action);
  return t.channel === undefined ? t.member : channelLabel(t.member, t.channel);
};
