// What the local commands share: the file store, its one topology, a connection pool, the reconciler.
import {
  createReconciler,
  decide,
  loadInputs,
  type Decision,
  type PassInputs,
} from '../controller/reconcile.js';
import type { Reconciler } from '../controller/pass.js';
import { SqlClientPool } from '../sql/client.js';
import { LocalStore } from '../store/local.js';
import type { TopologyRef } from '../store/store.js';
import { UserError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';

export interface LocalContext {
  store: LocalStore;
  ref: TopologyRef;
  pool: SqlClientPool;
  log: Logger;
  reconcile: Reconciler;
  close(): Promise<void>;
}

export async function openLocal(
  files: string[],
  statusOut?: string,
  opts: { settleMs?: number; wake?: (ref: TopologyRef) => void } = {},
): Promise<LocalContext> {
  const log = createLogger();
  const store = new LocalStore({
    files,
    ...(statusOut ? { statusOut } : {}),
    log: (line: string) => log.info(line),
  });
  const refs = await store.list();
  const ref = refs[0];
  if (!ref) throw new UserError(`no MySQLTopology in ${files.join(', ')}`);
  const pool = new SqlClientPool();
  const reconcile = createReconciler({
    pool,
    log,
    ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
    ...(opts.wake ? { wake: opts.wake } : {}),
  });
  return { store, ref, pool, log, reconcile, close: () => pool.closeAll() };
}

/** Prints the problems of an invalid resource, one line each, and makes the process exit 1. */
export function reportProblems(problems: string[] | undefined): boolean {
  if (!problems || problems.length === 0) return false;
  for (const p of problems) process.stderr.write(`tributary: ${p}\n`);
  process.exitCode = 1;
  return true;
}

/**
 * Observes and analyzes the topology of the files without writing anything (plan, status, the demo).
 * Undefined when the resource cannot be used; its problems are printed then.
 */
export async function observeLocal(
  ctx: LocalContext,
): Promise<{ inputs: PassInputs; decision: Decision; generation: number } | undefined> {
  const stored = await ctx.store.get(ctx.ref);
  if (!stored) throw new UserError(`MySQLTopology ${ctx.ref.name} disappeared from the files`);
  const inputs = await loadInputs(ctx.store, stored);
  if ('errors' in inputs) {
    reportProblems(inputs.errors);
    return undefined;
  }
  return { inputs, decision: await decide(inputs, ctx.pool), generation: stored.generation };
}
