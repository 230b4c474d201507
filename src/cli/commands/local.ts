// `tributary local -f FILE… [--once] [--status-out FILE] [--ui-port P]`: the controller with manifest files
// as its store, and optionally the web view of its passes.
import { basename } from 'node:path';
import { runController, type Controller } from '../../controller/loop.js';
import { ANNOTATION_ACK_FAILOVER } from '../../store/store.js';
import { boardFromPasses, StatusBoard } from '../../ui/feed.js';
import { startUiServer, type UiServer } from '../../ui/server.js';
import { openLocal, reportProblems } from '../context.js';

/** Passes `--once` may chain while a failover moves phase by phase. */
const MAX_FOLLOW_UPS = 50;

export async function localCommand(o: {
  filename: string[];
  once: boolean;
  statusOut?: string;
  ackFailover?: string[];
  uiPort?: number;
  uiAddress?: string;
  routingHook?: string;
  routingHookTimeout?: number;
  routingHookPersistent?: boolean;
  maxConnectionsPerServer?: number;
}): Promise<void> {
  let controller: Controller | undefined;
  // A member's connection breaking wakes a pass at once (a killed primary is seen in milliseconds).
  const ctx = await openLocal(o.filename, o.statusOut, {
    wake: (ref) => controller?.enqueue(ref, { urgent: true }),
    routingHook: o,
    maxConnectionsPerServer: o.maxConnectionsPerServer,
  });
  for (const group of o.ackFailover ?? []) ctx.store.setAnnotation(ANNOTATION_ACK_FAILOVER, group);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let exitCode = 0;
  let followUps = 0;
  // The web view, fed by the passes of this controller.
  const board = new StatusBoard();
  const toBoard = boardFromPasses(board);
  let ui: UiServer | undefined;
  try {
    if (o.uiPort !== undefined) {
      ui = await startUiServer({
        feed: board,
        port: o.uiPort,
        host: o.uiAddress ?? '127.0.0.1',
        note: `tributary local · ${o.filename.map((f) => basename(f)).join(', ')} · read-only`,
      });
      process.stdout.write(`tributary local: web view at ${ui.url} (read-only)\n`);
    }
    controller = runController({
      store: ctx.store,
      reconcile: ctx.reconcile,
      log: ctx.log,
      signal: abort.signal,
      resyncIntervalMs: o.once ? 0 : 5_000,
      onPass: (outcome) => {
        toBoard(outcome);
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
        // --once: one reconciliation, i.e. the passes until none asks for an immediate follow-up (a
        // failover runs one phase per pass), bounded.
        if (o.once && r.requeueAfterMs <= 0 && ++followUps <= MAX_FOLLOW_UPS) return;
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
    await ui?.close();
    await ctx.close();
  }
  process.exitCode = exitCode;
}
