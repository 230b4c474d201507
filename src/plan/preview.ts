// The passes a topology would go through from what is observed now, each decided from the servers as
// the previous pass's statements would leave them (simulate.ts): how `tributary plan` shows a whole
// failover, statement by statement, although a failover decides one phase at a time. Pure.
import { emptyStatus } from '../api/status.js';
import { isOpen } from './failover-step.js';
import { afterExecution } from './credentials.js';
import { currentRouting, decidePass, type DecideInput, type PassPlan } from './decide.js';
import { routingAfter } from './routing.js';
import { simulate } from './simulate.js';

export function previewPasses(input: DecideInput, maxPasses = 8): PassPlan[] {
  const passes: PassPlan[] = [];
  let next = input;
  for (let i = 0; i < maxPasses; i++) {
    const plan = decidePass(next);
    const idle = plan.actions.length === 0 && plan.routing.length === 0 && !plan.journalChanged;
    const repeated =
      JSON.stringify([plan.actions, plan.routing]) ===
        JSON.stringify([passes.at(-1)?.actions, passes.at(-1)?.routing]) && !plan.journalChanged;
    if ((idle || repeated) && passes.length > 0) break;
    passes.push(plan);
    if (idle) break;
    const annotations = Object.fromEntries(
      Object.entries(next.annotations).filter(([k]) => !plan.consume.includes(k)),
    );
    const { switchover: _asked, ...rest } = next;
    // Every statement is assumed to succeed: a rotation's record moves as the real pass's would.
    const credentials =
      plan.credentials &&
      afterExecution(
        plan.credentials,
        plan.view,
        plan.actions,
        plan.actions,
        new Date(next.nowMs).toISOString(),
      );
    // Every routing step is assumed taken too: the targets hold what the pass gave them.
    const base = next.previous ?? emptyStatus('Ready');
    const routing = routingAfter(currentRouting(base), plan.routing, new Date(next.nowMs).toISOString());
    const { routingObserved: _read, ...unread } = rest;
    const byName = new Map(base.groups.map((g) => [g.name, g]));
    next = {
      ...unread,
      observation: simulate(next.observation, plan.actions, next.replication?.user),
      previous: {
        ...base,
        groups: plan.view.groups.map((g) => {
          const kept = byName.get(g.spec.name) ?? {
            name: g.spec.name,
            primary: null,
            members: 0,
            ready: 0,
          };
          const r = routing.get(g.spec.name);
          return r ? { ...kept, routing: r } : kept;
        }),
        failovers: plan.journal,
        ...(credentials ? { credentials } : {}),
      },
      annotations,
      // A failover that waits for an unreachable survivor goes on once its bound has passed: the next
      // pass shown is decided at that time, so the preview reaches the promotion the real passes would.
      nowMs: next.nowMs + (waitsForTime(plan) ? next.spec.failover.catchUpTimeoutSeconds * 1000 : 1),
    };
  }
  return passes;
}

/** A record in CatchingUp that waits for unreachable survivors (catch-up.ts step 3): only time moves it. */
const waitsForTime = (plan: PassPlan): boolean =>
  plan.actions.length === 0 &&
  plan.journal.some((r) => isOpen(r) && r.phase === 'CatchingUp' && (r.unreachable?.length ?? 0) > 0);
