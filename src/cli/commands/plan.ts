// `tributary plan -f FILE`: observe and print what the passes would do, with their SQL; changes nothing.
import { disruptive } from '../../plan/actions.js';
import { previewPasses } from '../../plan/preview.js';
import { formatPlan } from '../../report/plan-text.js';
import { observeLocal, openLocal } from '../context.js';

export async function planCommand(o: {
  filename: string[];
  statusOut?: string;
  routingHook?: string;
  /** Accepted as `local` takes it: the steps planned are the same in either mode. */
  routingHookPersistent?: boolean;
}): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  try {
    const observed = await observeLocal(ctx, { assumeDown: true });
    if (!observed) return;
    // Routing is planned as `local --routing-hook` would run it (the hook itself is not run).
    const passes = previewPasses({ ...observed.decideInput, routed: o.routingHook !== undefined });
    process.stdout.write(`${formatPlan(ctx.ref.name, passes, observed.inputs.replication)}\n`);
    // Exit 2 only for something disruptive: a one-time fence that restarts nothing (PersistReadOnly) is
    // printed, but a healthy topology met for the first time still exits 0.
    const pending = passes.some((p) => p.actions.some(disruptive) || p.journalChanged);
    process.exitCode = pending ? 2 : 0;
  } finally {
    await ctx.close();
  }
}
