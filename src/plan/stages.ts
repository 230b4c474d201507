// The stages a pass's statements run in: part of the plan, so `tributary plan` prints the order the
// executor keeps. Within a stage each member's actions run in plan order and members run in parallel;
// stages run one after the other. Pure.
//
//   fence     making members read-only (run time and persisted), everywhere first: never two writable.
//   accounts  the replication account on primaries, with whatever the plan puts before it on the same
//             member (making that primary writable: a read-only primary refuses CREATE USER), before
//             any other member's channels log in with it.
//   rest      everything else.
import type { Action } from './actions.js';

export type Stage = 'fence' | 'accounts' | 'rest';
export const STAGES: readonly Stage[] = ['fence', 'accounts', 'rest'];

const fencing = (a: Action) => (a.kind === 'SetReadOnly' && a.readOnly) || a.kind === 'PersistReadOnly';
const account = (a: Action) => a.kind === 'EnsureReplicationUser' || a.kind === 'SetReplicationPassword';

/**
 * The actions of each stage, in run order. Each member's actions keep their relative order except that
 * its fencing comes first; applied to its own flattened output it gives the same stages.
 */
export function planStages(actions: readonly Action[]): Record<Stage, Action[]> {
  const out: Record<Stage, Action[]> = { fence: [], accounts: [], rest: [] };
  const others = actions.filter((a) => !fencing(a));
  const lastAccount = new Map<string, number>();
  others.forEach((a, i) => account(a) && lastAccount.set(a.member, i));
  others.forEach((a, i) => {
    const stage: Stage = i <= (lastAccount.get(a.member) ?? -1) ? 'accounts' : 'rest';
    out[stage].push(a);
  });
  out.fence = actions.filter(fencing);
  return out;
}

/** The plan's actions in run order: the stages one after the other. */
export const inRunOrder = (actions: readonly Action[]): Action[] => {
  const s = planStages(actions);
  return STAGES.flatMap((k) => s[k]);
};
