// The text of a plan: each pass's actions and their SQL as they would be sent, passwords shown as
// <redacted>. A failover runs one phase per pass, so its later passes are shown as decided from the
// servers as the earlier ones would leave them.
import type { Credentials } from '../api/validate.js';
import { actionStatements, describeAction } from '../plan/actions.js';
import type { PassPlan } from '../plan/decide.js';
import { isOpen } from '../plan/failover-step.js';
import { describeRoutingStep } from '../plan/routing.js';
import { dialectOf } from '../observe/probe.js';

/** What the failovers of a pass are doing, e.g. `failover of shard-a (a-0 → a-1): CatchingUp`. */
function passTitle(plan: PassPlan): string {
  const open = plan.journal.filter((r) => isOpen(r) || r.phaseTimes['Done'] !== undefined);
  const shown = open
    .filter((r) => isOpen(r))
    .map(
      (r) =>
        `${r.reason === 'Switchover' ? 'switchover' : 'failover'} of ${r.group} (${r.from} → ${r.to}): ${r.phase}`,
    );
  return shown.length > 0 ? shown.join('; ') : 'convergence';
}

export function formatPlan(name: string, passes: PassPlan[], replication: Credentials): string {
  const out: string[] = [];
  const first = passes[0];
  for (const m of first?.view.members.values() ?? []) {
    if (!m.reachable) out.push(`# ${m.spec.name} unreachable: ${m.obs?.error ?? 'not probed'}`);
  }
  for (const h of first?.health ?? []) {
    if (h.state === 'Suspect' || h.state === 'Dead')
      out.push(
        `# ${h.primary} (primary of ${h.group}) unreachable: a failover runs once it stays so for spec.failover.downAfterSeconds and its replicas agree; shown below as it would run`,
      );
  }
  // First contact: what adoption does, one line per member and managed channel.
  if (first?.adoption) {
    out.push(`${name}: first contact, adopting what matches the spec`);
    for (const l of first.adoption) out.push(`  ${l.target}: ${l.text}`);
  }
  const total = passes.reduce((n, p) => n + p.actions.length + p.routing.length, 0);
  if (total === 0 && !passes.some((p) => p.journalChanged)) {
    out.push(`${name}: nothing to do`);
    return out.join('\n');
  }
  const many = passes.length > 1;
  out.push(`${name}: ${total} action${total === 1 ? '' : 's'}${many ? ` in ${passes.length} passes` : ''}`);
  let n = 0;
  passes.forEach((plan, p) => {
    if (many) out.push(`pass ${p + 1}: ${passTitle(plan)}`);
    // The order the pass runs them in: drains, the statements, then routes and reader sets.
    const routing = (drains: boolean) =>
      plan.routing
        .filter((r) => (r.op === 'drain') === drains)
        .forEach((r) => out.push(`${String(++n).padStart(3)}. ${describeRoutingStep(r)} [routing]`));
    routing(true);
    for (const a of plan.actions) {
      out.push(`${String(++n).padStart(3)}. ${describeAction(a)}`);
      const obs = plan.view.members.get(a.member)?.obs;
      if (!obs?.flavor) continue;
      for (const s of actionStatements(a, dialectOf(obs), replication)) out.push(`       ${s.display};`);
    }
    routing(false);
  });
  return out.join('\n');
}
