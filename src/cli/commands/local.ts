// `tributary local -f FILE… [--once] [--status-out FILE]`: the controller with manifest files as its store.
import { runController, type Controller } from '../../controller/loop.js';
import { ANNOTATION_ACK_FAILOVER } from '../../store/store.js';
import { openLocal, reportProblems } from '../context.js';

export async function localCommand(o: {
  filename: string[];
  once: boolean;
  statusOut?: string;
  ackFailover?: string[];
}): Promise<void> {
  let controller: Controller | undefined;
  // A member's connection breaking wakes a pass at once (a killed primary is seen in milliseconds).
  const ctx = await openLocal(o.filename, o.statusOut, { wake: (ref) => controller?.enqueue(ref) });
  for (const group of o.ackFailover ?? []) ctx.store.setAnnotation(ANNOTATION_ACK_FAILOVER, group);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let exitCode = 0;
  try {
    controller = runController({
      store: ctx.store,
      reconcile: ctx.reconcile,
      log: ctx.log,
      signal: abort.signal,
      resyncIntervalMs: o.once ? 0 : 5_000,
      onPass: (outcome) => {
        if (outcome.error !== undefined) {
          ctx.log.error(
            { err: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) },
            'pass failed',
          );
          if (o.once) {
            exitCode = 1;
            abort.abort();
          }
          return;
        }
        const r = outcome.result;
        if (!r) return;
        if (reportProblems(r.problems)) {
          exitCode = 1;
          if (o.once) abort.abort();
          return;
        }
        const s = r.status;
        const line = `${ctx.ref.name}: ${s.phase}, ${s.summary?.channelsRunning ?? 0}/${s.summary?.channelsTotal ?? 0} channels running, ${r.actionsExecuted} actions`;
        if (o.once) {
          process.stdout.write(`${line}\n`);
          exitCode = s.phase === 'Ready' ? 0 : 2;
          abort.abort();
        } else if (r.actionsExecuted > 0 || outcome.statusWritten) ctx.log.info({ phase: s.phase }, line);
      },
    });
    await controller.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await ctx.close();
  }
  process.exitCode = exitCode;
}
