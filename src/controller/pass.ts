// The contract of one reconciliation pass of one topology (implemented in reconcile.ts).
import type { TopologyStatus } from '../api/status.js';
import type { RoutingResult } from '../execute/routing.js';
import type { Store, TopologyRef, TopologyEvent } from '../store/store.js';

export interface PassResult {
  status: TopologyStatus;
  /** True when status differs from what the store held (a write is owed). */
  statusChanged: boolean;
  events: TopologyEvent[];
  /** Routing steps this pass ran (done) and those a target refused (failures); absent when it did not act. */
  routing?: RoutingResult;
  /** Number of actions executed (0 at steady state). */
  actionsExecuted: number;
  /** Problems the user must fix (invalid spec, missing Secrets), one line each; empty otherwise. */
  problems?: string[];
  /** Milliseconds until this topology wants its next pass (its pollIntervalSeconds, or sooner; 0: at once). */
  requeueAfterMs: number;
  /**
   * The next pass goes before routine passes of other topologies: a primary is suspect or dead, or a
   * failover is open (its re-probes and phases never wait behind the fleet).
   */
  urgent?: boolean;
  /**
   * The stored object's version after the pass's own writes: the status write that follows the pass is
   * conditional on it, so a status decided on a stale copy never overwrites a newer journal.
   */
  resourceVersion?: string;
}

export interface PassOptions {
  /** Plan only: observe and plan, execute nothing. */
  dryRun?: boolean;
  /** When false, the pass may not write to any server (lost leadership). */
  mayWrite?: () => boolean;
  /** A planned switchover asked for by the command line (the annotation asks for it in the resource). */
  switchover?: { group: string; to: string; timeoutSeconds?: number };
}

export type Reconciler = (
  store: Store,
  ref: TopologyRef,
  options?: PassOptions,
) => Promise<PassResult | undefined>;

/** What the loop does after a pass, for callers that run single passes: the status when it changed, then the events. */
export async function applyPassResult(store: Store, ref: TopologyRef, result: PassResult): Promise<void> {
  if (result.statusChanged)
    await store.writeStatus(ref, result.status, result.status.observedGeneration ?? 0, {
      ...(result.resourceVersion !== undefined ? { resourceVersion: result.resourceVersion } : {}),
    });
  for (const e of result.events) await store.emitEvent(ref, e);
}
