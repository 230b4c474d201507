// `tributary status -f FILE [-o tree|json|yaml]`: observe only; nothing is written anywhere.
import { stringify } from 'yaml';
import { decidePass } from '../../plan/decide.js';
import { projectStatus } from '../../report/status.js';
import { renderTree } from '../../report/tree.js';
import type { TopologyStatus } from '../../api/status.js';
import { observeLocal, openLocal, type LocalContext } from '../context.js';

/**
 * Observes the topology of the files and projects its status, as a pass would without writing anything
 * (`status`, and the web view of `tributary ui`). Undefined when the resource is invalid (problems printed).
 */
export async function observeStatus(
  ctx: LocalContext,
): Promise<{ status: TopologyStatus; pollIntervalSeconds: number } | undefined> {
  const observed = await observeLocal(ctx);
  if (!observed) return undefined;
  const { inputs, decideInput, generation } = observed;
  const d = decidePass(decideInput);
  const status = projectStatus(
    {
      view: d.view,
      findings: d.findings,
      generation,
      now: new Date().toISOString(),
      paused: inputs.spec.paused,
      remembered: d.remembered,
      failovers: inputs.previous?.failovers ?? [],
      channelProblems: d.channelProblems,
    },
    inputs.previous,
  );
  return { status, pollIntervalSeconds: inputs.spec.failover.pollIntervalSeconds };
}

export async function statusCommand(o: {
  filename: string[];
  output: 'tree' | 'json' | 'yaml';
  statusOut?: string;
}): Promise<void> {
  const ctx = await openLocal(o.filename, o.statusOut);
  try {
    const observed = await observeStatus(ctx);
    if (!observed) return;
    const { status } = observed;
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
