// `tributary switchover -f FILE --group G --to MEMBER`: planned switchover, no data loss.
import { isOpen } from '../../plan/failover-step.js';
import { UserError } from '../../util/errors.js';
import { applyPassResult } from '../../controller/pass.js';
import { openLocal, reportProblems } from '../context.js';

/** Beyond the catch-up bound: time for the promotion and the repointing passes. */
const SETTLE_SECONDS = 30;

export async function switchoverCommand(o: {
  filename: string[];
  group: string;
  to: string;
  statusOut?: string;
  timeout: number;
  routingHook?: string;
  routingHookTimeout?: number;
  routingHookPersistent?: boolean;
}): Promise<void> {
  if (!Number.isFinite(o.timeout) || o.timeout <= 0 || o.timeout > 3600)
    throw new UserError(`--timeout: must be 1–3600 seconds`);
  const ctx = await openLocal(o.filename, o.statusOut, { routingHook: o });
  try {
    const first = await ctx.reconcile(ctx.store, ctx.ref, {
      switchover: { group: o.group, to: o.to, timeoutSeconds: o.timeout },
    });
    if (!first) throw new UserError('the topology disappeared');
    let result = first;
    await applyPassResult(ctx.store, ctx.ref, result);
    if (reportProblems(result.problems)) return;
    // One phase per pass; repointing may need a few more (channels start, replicas reconnect).
    const deadline = Date.now() + (o.timeout + SETTLE_SECONDS) * 1000;
    while (result.status.failovers.some((r) => r.group === o.group && isOpen(r)) && Date.now() < deadline) {
      const wait = Math.min(result.requeueAfterMs, 200);
      await new Promise((r) => setTimeout(r, wait));
      result = (await ctx.reconcile(ctx.store, ctx.ref))!;
      await applyPassResult(ctx.store, ctx.ref, result);
    }
    const record = [...result.status.failovers]
      .reverse()
      .find((r) => r.group === o.group && r.reason === 'Switchover');
    const primary = result.status.groups.find((g) => g.name === o.group)?.primary;
    if (primary !== o.to || !record || record.phase !== 'Done') {
      throw new UserError(
        `switchover of ${o.group} to ${o.to} did not finish (phase ${record?.phase ?? 'none'}, primary ${primary ?? 'none'})`,
      );
    }
    process.stdout.write(
      `${o.group}: ${record.from} → ${record.to} done; repointed ${record.repointed.join(', ') || 'nothing'}\n`,
    );
  } finally {
    await ctx.close();
  }
}
