// What the local commands share: the file store, its one topology, a connection pool, the reconciler.
import { loadInputs, observeAndVerify, replicationOf, type PassInputs } from '../controller/gather.js';
import { createReconciler } from '../controller/reconcile.js';
import { routingHook, type RoutingHook } from '../execute/routing-hook.js';
import type { DecideInput } from '../plan/decide.js';
import type { ProbeStreak } from '../plan/health.js';
import type { Reconciler } from '../controller/pass.js';
import { SqlClientPool } from '../sql/client.js';
import { LocalStore } from '../store/local.js';
import type { TopologyRef } from '../store/store.js';
import { UserError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';

/** The command line's routing hook flags, as commander parses them. */
export interface RoutingHookFlags {
  routingHook?: string;
  routingHookTimeout?: number;
  routingHookPersistent?: boolean;
}

/** The routing hook the flags ask for, or none. */
export function routingHookFromFlags(flags: RoutingHookFlags, log: Logger): RoutingHook | undefined {
  if (!flags.routingHook) return undefined;
  return routingHook({
    command: flags.routingHook,
    timeoutMs: (flags.routingHookTimeout ?? 10) * 1000,
    persistent: flags.routingHookPersistent === true,
    log,
  });
}

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
  opts: {
    settleMs?: number;
    wake?: (ref: TopologyRef) => void;
    log?: Logger;
    /** The routing hook (--routing-hook, its timeout and mode): local mode's only routing target. */
    routingHook?: RoutingHookFlags;
    /** --max-connections-per-server (default 2). */
    maxConnectionsPerServer?: number;
  } = {},
): Promise<LocalContext> {
  const log = opts.log ?? createLogger();
  const store = new LocalStore({
    files,
    ...(statusOut ? { statusOut } : {}),
    log: (line: string) => log.info(line),
  });
  const refs = await store.list();
  const ref = refs[0];
  if (!ref) throw new UserError(`no MySQLTopology in ${files.join(', ')}`);
  const pool = new SqlClientPool({ maxConnectionsPerServer: opts.maxConnectionsPerServer });
  const hook = opts.routingHook ? routingHookFromFlags(opts.routingHook, log) : undefined;
  const reconcile = createReconciler({
    pool,
    log,
    ...(opts.settleMs !== undefined ? { settleMs: opts.settleMs } : {}),
    ...(opts.wake ? { wake: opts.wake } : {}),
    ...(hook ? { routing: { targets: [hook] } } : {}),
  });
  const close = async () => {
    await hook?.close();
    await pool.closeAll();
  };
  return { store, ref, pool, log, reconcile, close };
}

/** Prints the problems of an invalid resource, one line each, and makes the process exit 1. */
export function reportProblems(problems: string[] | undefined): boolean {
  if (!problems || problems.length === 0) return false;
  for (const p of problems) process.stderr.write(`tributary: ${p}\n`);
  process.exitCode = 1;
  return true;
}

/**
 * Observes the topology of the files and gathers what a pass would decide from, without writing
 * anything (plan, status, the web view, the demo). With `assumeDown`, every unreachable member counts as
 * unreachable for the whole detection window: `plan` then shows the failover that would run. Undefined
 * when the resource cannot be used; its problems are printed then.
 */
export async function observeLocal(
  ctx: LocalContext,
  opts: { assumeDown?: boolean } = {},
): Promise<{ inputs: PassInputs; decideInput: DecideInput; generation: number } | undefined> {
  const stored = await ctx.store.get(ctx.ref);
  if (!stored) throw new UserError(`MySQLTopology ${ctx.ref.name} disappeared from the files`);
  const inputs = await loadInputs(ctx.store, stored);
  if ('errors' in inputs) {
    reportProblems(inputs.errors);
    return undefined;
  }
  const observation = await observeAndVerify(inputs, ctx.pool);
  const streaks = new Map<string, ProbeStreak>(
    opts.assumeDown
      ? observation.instances
          .filter((i) => !i.reachable)
          .map((i) => [i.member, { since: Number.NEGATIVE_INFINITY, failures: Number.POSITIVE_INFINITY }])
      : [],
  );
  const decideInput: DecideInput = {
    spec: inputs.spec,
    observation,
    previous: inputs.previous,
    streaks,
    nowMs: Date.now(),
    annotations: stored.annotations,
    replication: replicationOf(inputs),
  };
  return { inputs, decideInput, generation: stored.generation };
}
