// `tributary status -f FILE [-o tree|json|yaml]`: observe only; nothing is written anywhere.
import { stringify } from 'yaml';
import { projectStatus } from '../../report/status.js';
import { renderTree } from '../../report/tree.js';
import { observeLocal, openLocal } from '../context.js';

export async function statusCommand(o: {
  filename: string[];
  output: 'tree' | 'json' | 'yaml';
  statusOut?: string;
}): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  try {
    const observed = await observeLocal(ctx);
    if (!observed) return;
    const { inputs, decision: d, generation } = observed;
    const status = projectStatus(
      {
        view: d.view,
        findings: d.findings,
        generation,
        now: new Date().toISOString(),
        paused: inputs.spec.paused,
        remembered: d.remembered,
        failovers: inputs.previous?.failovers ?? [],
      },
      inputs.previous,
    );
    const text =
      o.output === 'json'
        ? JSON.stringify(status, null, 2)
        : o.output === 'yaml'
          ? stringify(status).trimEnd()
          : renderTree(ctx.ref.name, status);
    process.stdout.write(`${text}\n`);
  } finally {
    await ctx.close();
  }
}
