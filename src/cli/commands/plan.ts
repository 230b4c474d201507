// `tributary plan -f FILE`: observe and print what a pass would do, with its SQL; changes nothing.
import { formatPlan } from '../../report/plan-text.js';
import { observeLocal, openLocal } from '../context.js';

export async function planCommand(o: { filename: string[]; statusOut?: string }): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  try {
    const observed = await observeLocal(ctx);
    if (!observed) return;
    const d = observed.decision;
    process.stdout.write(`${formatPlan(ctx.ref.name, d, observed.inputs.replication)}\n`);
    process.exitCode = d.actions.length === 0 ? 0 : 2;
  } finally {
    await ctx.close();
  }
}
