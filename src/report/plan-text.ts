// The text of a plan: each action and its SQL as it would be sent, passwords shown as <redacted>.
import type { Decision } from '../controller/reconcile.js';
import type { Credentials } from '../api/validate.js';
import { actionStatements, describeAction } from '../plan/actions.js';
import { dialectOf } from '../observe/probe.js';

export function formatPlan(name: string, d: Decision, replication: Credentials): string {
  const out: string[] = [];
  for (const inst of d.observation.instances) {
    if (!inst.reachable) out.push(`# ${inst.member} unreachable: ${inst.error}`);
  }
  if (d.actions.length === 0) {
    out.push(`${name}: nothing to do`);
    return out.join('\n');
  }
  out.push(`${name}: ${d.actions.length} action${d.actions.length === 1 ? '' : 's'}`);
  d.actions.forEach((a, i) => {
    out.push(`${String(i + 1).padStart(3)}. ${describeAction(a)}`);
    const obs = d.view.members.get(a.member)?.obs;
    if (!obs?.flavor) return;
    for (const s of actionStatements(a, dialectOf(obs), replication)) out.push(`       ${s.display};`);
  });
  return out.join('\n');
}
