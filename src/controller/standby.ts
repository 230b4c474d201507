// What a standby shows of its observing (a replica that runs the loop without the Lease): the passes it ran
// and the failed probes it counted per member, so that one can see it is alive and already counting a dead
// primary's downtime before it leads. Kept apart from the leader's metrics (status gauges, failovers_total):
// a standby reports nothing twice that the leader reports.
import { Counter, type Registry } from 'prom-client';
import type { PassOutcome } from './loop.js';

export class StandbyMetrics {
  readonly passes: Counter<string>;
  readonly failedProbes: Counter<string>;

  constructor(registry: Registry, prefix = 'tributary_') {
    this.passes = new Counter({
      name: `${prefix}standby_passes_total`,
      help: 'Observe-only passes run while not leading (probes of every member, no write anywhere)',
      labelNames: ['namespace', 'topology'],
      registers: [registry],
    });
    this.failedProbes = new Counter({
      name: `${prefix}standby_failed_probes_total`,
      help: 'Failed probes of a member counted while not leading (its downtime counts toward downAfterSeconds)',
      labelNames: ['namespace', 'topology', 'group', 'member'],
      registers: [registry],
    });
  }

  /** Counts one observe-only pass (PassOutcome.observeOnly). */
  observePass(outcome: PassOutcome): void {
    const labels = { namespace: outcome.ref.namespace, topology: outcome.ref.name };
    if (!outcome.result) return;
    this.passes.inc(labels);
    for (const i of outcome.result.status.instances)
      if (!i.reachable) this.failedProbes.inc({ ...labels, group: i.group, member: i.name });
  }
}
