// execute: the only step that writes to servers. Runs actions in order and stops at the first failure;
// the next pass starts from what is observed then, so a half-done action is repaired, not resumed.
import type { Dialect, Statement } from '../sql/dialect.js';
import type { SqlClient } from '../sql/client.js';
import { actionStatements, describeAction, type Action, type Credentials } from '../plan/actions.js';
import { oneLine } from '../util/errors.js';

export interface ExecuteContext {
  client(member: string): SqlClient;
  dialect(member: string): Dialect;
  replication: Credentials;
  /** Members that may receive data writes (group primaries): the replication account goes there only. */
  isPrimary(member: string): boolean;
  /** Checked before every statement: a lost leadership or a stop request ends writing at once. */
  mayWrite(): boolean;
  onStatement?(member: string, statement: Statement): void;
}

export interface ActionFailure {
  action: Action;
  index: number;
  statement?: string;
  errno?: number;
  message: string;
}

export interface ExecuteResult {
  executed: Action[];
  failure?: ActionFailure;
}

export async function executeActions(actions: Action[], ctx: ExecuteContext): Promise<ExecuteResult> {
  const executed: Action[] = [];
  for (const [index, action] of actions.entries()) {
    if (action.kind === 'EnsureReplicationUser' && !ctx.isPrimary(action.member)) {
      return {
        executed,
        failure: {
          action,
          index,
          message: `refused: ${action.member} is not a primary (never write on a replica)`,
        },
      };
    }
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
      executed.push(action);
    } catch (e) {
      const err = e as { message?: string; errno?: number };
      return {
        executed,
        failure: {
          action,
          index,
          ...(current ? { statement: current.display } : {}),
          ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
          message: oneLine(`${describeAction(action)}: ${err.message ?? String(e)}`),
        },
      };
    }
  }
  return { executed };
}
