// Routing steps, applied to every routing target (the operator's EndpointSlices, a routing hook). A step
// is done only when every target took it; groups are independent, so one group's failing target never
// holds another's. Targets are idempotent: a step repeated after a crash changes nothing more.
import type { RoutingStep } from '../plan/routing.js';
import { oneLine } from '../util/errors.js';

/** The topology a step belongs to (the store's TopologyRef; execute sits below the stores). */
export interface RoutedTopology {
  namespace: string;
  name: string;
}

export interface RoutingTarget {
  /** Named in failures: `services`, `hook`. */
  name: string;
  /** Applies one step; throws (one line) when the target did not take it. */
  apply(ref: RoutedTopology, step: RoutingStep): Promise<void>;
  /** Ends what the target keeps running (a persistent routing hook's process); called at shutdown. */
  close?(): Promise<void>;
}

export interface RoutingFailure {
  step: RoutingStep;
  target: string;
  message: string;
}

export interface RoutingResult {
  done: RoutingStep[];
  failures: RoutingFailure[];
}

/** Runs steps per group in order, groups in parallel; never throws for a failing target. */
export async function executeRouting(
  ref: RoutedTopology,
  steps: readonly RoutingStep[],
  targets: readonly RoutingTarget[],
): Promise<RoutingResult> {
  const result: RoutingResult = { done: [], failures: [] };
  const byGroup = new Map<string, RoutingStep[]>();
  for (const s of steps) byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s]);
  await Promise.all(
    [...byGroup.values()].map(async (list) => {
      for (const step of list) {
        // Every target gets the step, at the same time: each holds as much of the truth as it can, and a slow
        // one (a hook) does not hold back another (the EndpointSlices).
        const failures = (
          await Promise.all(
            targets.map(async (t): Promise<RoutingFailure | undefined> => {
              try {
                await t.apply(ref, step);
                return undefined;
              } catch (e) {
                return { step, target: t.name, message: oneLine((e as Error).message ?? String(e)) };
              }
            }),
          )
        ).filter((f): f is RoutingFailure => f !== undefined);
        if (failures.length === 0) result.done.push(step);
        else result.failures.push(...failures);
      }
    }),
  );
  return result;
}
