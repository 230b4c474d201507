// `tributary plan -f FILE`: observe and print what a pass would do, with its SQL; changes nothing.
import { decide, loadInputs } from '../../controller/reconcile.js';
import { formatPlan } from '../../report/plan-text.js';
import { openLocal, reportProblems } from '../context.js';

export async function planCommand(o: { filename: string[]; statusOut?: string }): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  try {
    const stored = (await ctx.store.get(ctx.ref))!;
    const inputs = await loadInputs(ctx.store, stored);
    if ('errors' in inputs) {
      reportProblems(inputs.errors);
      return;
    }
    const d = await decide(inputs, ctx.pool);
    process.stdout.write(`${formatPlan(ctx.ref.name, d, inputs.replication)}\n`);
    process.exitCode = d.actions.length === 0 ? 0 : 2;
  } finally {
    await ctx.close();
  }
}
