// `tributary ui -f FILE…`: the web view of the files' topology, observe-only. Every pollIntervalSeconds
// it observes the servers through the same read-only path as `tributary status` and shows the result;
// it never writes to any server nor to the status file.
import { basename } from 'node:path';
import { sleep, systemClock } from '../../util/clock.js';
import { LocalStore } from '../../store/local.js';
import { StatusBoard } from '../../ui/feed.js';
import { startUiServer } from '../../ui/server.js';
import { oneLine } from '../../util/errors.js';
import { openLocal } from '../context.js';
import { observeStatus } from './status.js';

export async function uiCommand(o: {
  filename: string[];
  port: number;
  address: string;
  statusOut?: string;
}): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A fresh store each round: the status file (the failover journal) may be written by a running
  // `tributary local`; the store reads it once, when created.
  const observe = () =>
    observeStatus({
      ...ctx,
      store: new LocalStore({ files: o.filename, ...(o.statusOut ? { statusOut: o.statusOut } : {}) }),
    });
  try {
    const first = await observe();
    if (!first) return;
    const board = new StatusBoard();
    board.set(ctx.ref, first.status);
    const server = await startUiServer({
      feed: board,
      port: o.port,
      host: o.address,
      note: `observing ${o.filename.map((f) => basename(f)).join(', ')} every ${first.pollIntervalSeconds}s · read-only`,
    });
    process.stdout.write(`tributary ui: ${server.url} (read-only; Ctrl-C stops it)\n`);
    let intervalMs = first.pollIntervalSeconds * 1000;
    let lastError = '';
    try {
      while (!abort.signal.aborted) {
        await sleep(systemClock, intervalMs, abort.signal);
        if (abort.signal.aborted) break;
        try {
          const next = await observe();
          if (next) {
            board.set(ctx.ref, next.status);
            intervalMs = next.pollIntervalSeconds * 1000;
          }
          lastError = '';
        } catch (e) {
          const message = oneLine(e instanceof Error ? e.message : String(e));
          if (message !== lastError) process.stderr.write(`tributary: ${message}\n`);
          lastError = message;
        }
      }
    } finally {
      await server.close();
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await ctx.close();
  }
}
