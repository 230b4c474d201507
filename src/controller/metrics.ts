// Prometheus metrics of the operator (prom-client). One registry per OperatorMetrics, so tests and two
// operators in one process do not collide.
//
// Per-topology gauges are computed when /metrics is scraped, from the latest TopologyStatus of each
// topology (a pass only keeps a reference: at 40 passes a second, setting every channel's series per pass
// was a measurable share of the operator's CPU); series of channels, instances or topologies that
// disappeared are gone at the next scrape, so a dashboard never shows a channel that no longer exists.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TopologyStatus } from '../api/status.js';
import type { RoutingResult } from '../execute/routing.js';
import { refKey, type TopologyRef } from '../store/store.js';
import type { PassOutcome } from './loop.js';

type Labels = Record<string, string>;
type Series = { labels: Labels; value: number };
/** The series one gauge has for one topology, from its status; `base` is its namespace and topology labels. */
type SeriesOf = (base: Labels, status: TopologyStatus) => Series[];
const chan = (base: Labels, c: TopologyStatus['channels'][number]): Labels => ({
  ...base,
  replica: c.replica,
  channel: c.name,
});

export interface OperatorMetricsOptions {
  /** Also collect Node.js process metrics (default true). */
  processMetrics?: boolean;
  prefix?: string;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly receiverRunning: Gauge<string>;
  readonly applierRunning: Gauge<string>;
  readonly secondsBehind: Gauge<string>;
  readonly delaySeconds: Gauge<string>;
  readonly channelUp: Gauge<string>;
  readonly channelState: Gauge<string>;
  readonly instanceUp: Gauge<string>;
  readonly probeErrors: Counter<string>;
  readonly topologyPhase: Gauge<string>;
  readonly channelsRunning: Gauge<string>;
  readonly leader: Gauge<string>;
  readonly reconcileDuration: Histogram<string>;
  readonly reconcileErrors: Counter<string>;
  readonly failoversTotal: Counter<string>;
  readonly failoverDuration: Histogram<string>;
  readonly statusWrites: Counter<string>;
  readonly routingChanges: Counter<string>;
  readonly routingFailures: Counter<string>;
  readonly failoverRouted: Histogram<string>;
  /** The latest status of each topology, by key: what the per-topology gauges are computed from. */
  private readonly latest = new Map<string, { base: Labels; status: TopologyStatus }>();
  /** Routed groups whose routing-change series were started at 0, per topology. */
  private readonly routedGroups = new Map<string, Set<string>>();
  /** Failover journal ids already counted (or already finished when first seen), per topology. */
  private readonly countedFailovers = new Map<string, Set<string>>();
  /** Journal ids whose time to routed was observed (or already routed when first seen), per topology. */
  private readonly routedFailovers = new Map<string, Set<string>>();

  constructor(options: OperatorMetricsOptions = {}) {
    const p = options.prefix ?? 'tributary_';
    const r = [this.registry];
    const channel = ['namespace', 'topology', 'replica', 'channel'];
    this.receiverRunning = new Gauge({
      name: `${p}channel_receiver_running`,
      help: 'Replication receiver (I/O) thread of the channel running: 1, else 0',
      labelNames: channel,
      registers: r,
      collect: this.fromStatuses(
        () => this.receiverRunning,
        (b, st) => st.channels.map((c) => ({ labels: chan(b, c), value: c.ioRunning === 'Yes' ? 1 : 0 })),
      ),
    });
    this.applierRunning = new Gauge({
      name: `${p}channel_applier_running`,
      help: 'Replication applier (SQL) thread of the channel running: 1, else 0',
      labelNames: channel,
      registers: r,
      collect: this.fromStatuses(
        () => this.applierRunning,
        (b, st) => st.channels.map((c) => ({ labels: chan(b, c), value: c.sqlRunning === 'Yes' ? 1 : 0 })),
      ),
    });
    this.secondsBehind = new Gauge({
      name: `${p}channel_seconds_behind_source`,
      help: 'Seconds_Behind_Source of the channel (absent while unknown)',
      labelNames: channel,
      registers: r,
      collect: this.fromStatuses(
        () => this.secondsBehind,
        (b, st) =>
          st.channels.flatMap((c) =>
            c.secondsBehindSource === null ? [] : [{ labels: chan(b, c), value: c.secondsBehindSource }],
          ),
      ),
    });
    this.delaySeconds = new Gauge({
      name: `${p}channel_delay_seconds`,
      help: 'Configured delay of the channel (SOURCE_DELAY): the lag it keeps on purpose',
      labelNames: channel,
      registers: r,
      collect: this.fromStatuses(
        () => this.delaySeconds,
        (b, st) => st.channels.map((c) => ({ labels: chan(b, c), value: c.delaySeconds })),
      ),
    });
    this.channelUp = new Gauge({
      name: `${p}channel_up`,
      help: 'Channel Running (receiver and applier running): 1, else 0; managed says whether Tributary manages it',
      labelNames: [...channel, 'managed'],
      registers: r,
      collect: this.fromStatuses(
        () => this.channelUp,
        (b, st) =>
          st.channels.map((c) => ({
            labels: { ...chan(b, c), managed: String(c.managed) },
            value: c.state === 'Running' ? 1 : 0,
          })),
      ),
    });
    this.channelState = new Gauge({
      name: `${p}channel_state`,
      help: 'State of the channel (Running, Connecting, Stopped, Broken, Missing): 1 for the current state',
      labelNames: [...channel, 'state'],
      registers: r,
      collect: this.fromStatuses(
        () => this.channelState,
        (b, st) => st.channels.map((c) => ({ labels: { ...chan(b, c), state: c.state }, value: 1 })),
      ),
    });
    // `member`, not `instance`: Prometheus sets `instance` to the scraped target.
    this.probeErrors = new Counter({
      name: `${p}member_probe_errors_total`,
      help: 'Passes in which the member could not be probed (unreachable)',
      labelNames: ['namespace', 'topology', 'group', 'member'],
      registers: r,
    });
    this.instanceUp = new Gauge({
      name: `${p}instance_up`,
      help: 'Instance reachable by the operator: 1, else 0',
      labelNames: ['namespace', 'topology', 'group', 'instance'],
      registers: r,
      collect: this.fromStatuses(
        () => this.instanceUp,
        (b, st) =>
          st.instances.map((i) => ({
            labels: { ...b, group: i.group, instance: i.name },
            value: i.reachable ? 1 : 0,
          })),
      ),
    });
    this.topologyPhase = new Gauge({
      name: `${p}topology_phase`,
      help: 'Phase of the topology: 1 for the current phase',
      labelNames: ['namespace', 'topology', 'phase'],
      registers: r,
      collect: this.fromStatuses(
        () => this.topologyPhase,
        (b, st) => [{ labels: { ...b, phase: st.phase }, value: 1 }],
      ),
    });
    this.channelsRunning = new Gauge({
      name: `${p}topology_channels`,
      help: 'Channels of the topology, by state (running / total)',
      labelNames: ['namespace', 'topology', 'state'],
      registers: r,
      collect: this.fromStatuses(
        () => this.channelsRunning,
        (b, st) => [
          {
            labels: { ...b, state: 'running' },
            value: st.channels.filter((c) => c.state === 'Running').length,
          },
          { labels: { ...b, state: 'total' }, value: st.channels.length },
        ],
      ),
    });
    this.leader = new Gauge({
      name: `${p}leader`,
      help: 'This process is the elected leader (or runs without election): 1, else 0',
      registers: r,
    });
    this.reconcileDuration = new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Duration of reconciliation passes',
      labelNames: ['namespace', 'topology', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    });
    this.reconcileErrors = new Counter({
      name: `${p}reconcile_errors_total`,
      help: 'Reconciliation passes that failed',
      labelNames: ['namespace', 'topology'],
      registers: r,
    });
    this.failoversTotal = new Counter({
      name: `${p}failovers_total`,
      help: 'Failovers and switchovers that finished, by reason (DeadPrimary, Switchover) and result (Done, Aborted)',
      labelNames: ['namespace', 'topology', 'group', 'reason', 'result'],
      registers: r,
    });
    this.failoverDuration = new Histogram({
      name: `${p}failover_duration_seconds`,
      help: 'Time from failover decision to its end',
      labelNames: ['namespace', 'topology', 'group', 'reason'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: r,
    });
    this.statusWrites = new Counter({
      name: `${p}status_writes_total`,
      help: 'Status subresource writes',
      labelNames: ['namespace', 'topology'],
      registers: r,
    });
    const routing = ['namespace', 'topology', 'group', 'op'];
    this.routingChanges = new Counter({
      name: `${p}routing_changes_total`,
      help: 'Routing steps every routing target took, by op (drain, route, readers)',
      labelNames: routing,
      registers: r,
    });
    this.routingFailures = new Counter({
      name: `${p}routing_failures_total`,
      help: 'Routing steps a routing target (services, hook) refused or did not finish',
      labelNames: [...routing, 'target'],
      registers: r,
    });
    this.failoverRouted = new Histogram({
      name: `${p}failover_routed_seconds`,
      help: "Time from a failover's or switchover's decision to its new primary in the writer endpoints",
      labelNames: ['namespace', 'topology', 'group', 'reason'],
      buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: r,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** Sets the gauges of one topology from its status, removing series that disappeared. */
  updateFromStatus(ref: TopologyRef, status: TopologyStatus): void {
    const key = refKey(ref);
    const base = { namespace: ref.namespace, topology: ref.name };
    this.latest.set(key, { base, status });
    this.countFailovers(ref, status);
    this.observeRouted(ref, status);
    // Series at 0 from the start for every routed group, so that increase() sees its first change.
    const started = this.routedGroups.get(key) ?? new Set<string>();
    this.routedGroups.set(key, started);
    for (const g of status.groups)
      if (g.routing && !started.has(g.name)) {
        started.add(g.name);
        for (const op of ['drain', 'route', 'readers'])
          this.routingChanges.inc({ ...base, group: g.name, op }, 0);
      }
  }

  /** A gauge's collect(): its series recomputed, at each scrape, from every topology's latest status. */
  private fromStatuses(gauge: () => Gauge<string>, seriesOf: SeriesOf): () => void {
    return () => {
      const g = gauge();
      g.reset();
      for (const { base, status } of this.latest.values())
        for (const x of seriesOf(base, status)) g.set(x.labels, x.value);
    };
  }

  /** Removes every series of a topology (deleted, or no longer watched). */
  forget(ref: TopologyRef): void {
    const key = refKey(ref);
    this.latest.delete(key);
    this.routedGroups.delete(key);
    this.countedFailovers.delete(key);
    this.routedFailovers.delete(key);
  }

  /** Observes one pass of the controller loop (pass it as runController's onPass). */
  observePass(outcome: PassOutcome): void {
    const { ref } = outcome;
    if (outcome.skipped || (!outcome.result && !outcome.error)) {
      this.forget(ref);
      return;
    }
    const labels = { namespace: ref.namespace, topology: ref.name };
    this.reconcileDuration.observe(
      { ...labels, result: outcome.error ? 'error' : 'success' },
      outcome.durationMs / 1000,
    );
    if (outcome.error) this.reconcileErrors.inc(labels);
    if (outcome.statusWritten) this.statusWrites.inc(labels);
    if (outcome.result) {
      if (outcome.result.routing) this.countRouting(labels, outcome.result.routing);
      this.updateFromStatus(ref, outcome.result.status);
      for (const i of outcome.result.status.instances)
        if (!i.reachable) this.probeErrors.inc({ ...labels, group: i.group, member: i.name });
    }
  }

  /** Counts the routing steps one pass ran and those a target refused. */
  private countRouting(base: Labels, routing: RoutingResult): void {
    for (const s of routing.done) this.routingChanges.inc({ ...base, group: s.group, op: s.op });
    for (const f of routing.failures)
      this.routingFailures.inc({ ...base, group: f.step.group, op: f.step.op, target: f.target });
  }

  /**
   * Observes, once per journal record, the seconds from its decision (startedAt) to its new primary's
   * routing (routedAt). Records already routed when a topology is first seen (an operator restart) were
   * observed by the process that routed them.
   */
  private observeRouted(ref: TopologyRef, status: TopologyStatus): void {
    const key = refKey(ref);
    const routed = status.failovers.filter((f) => f.routedAt !== undefined);
    const seen = this.routedFailovers.get(key);
    if (!seen) {
      this.routedFailovers.set(key, new Set(routed.map((f) => f.id)));
      return;
    }
    for (const f of routed) {
      if (seen.has(f.id)) continue;
      seen.add(f.id);
      const seconds = (Date.parse(f.routedAt!) - Date.parse(f.startedAt)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0)
        this.failoverRouted.observe(
          { namespace: ref.namespace, topology: ref.name, group: f.group, reason: f.reason },
          seconds,
        );
    }
    const inJournal = new Set(status.failovers.map((f) => f.id));
    for (const id of seen) if (!inJournal.has(id)) seen.delete(id);
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Counts journal records that reached Done or Aborted. Records already finished the first time a
   * topology is seen (an operator restart) are not counted again.
   */
  private countFailovers(ref: TopologyRef, status: TopologyStatus): void {
    const key = refKey(ref);
    const finished = status.failovers.filter((f) => f.phase === 'Done' || f.phase === 'Aborted');
    const counted = this.countedFailovers.get(key);
    if (!counted) {
      this.countedFailovers.set(key, new Set(finished.map((f) => f.id)));
      // Series at 0 from the start, so that increase() sees the first failover of a group.
      for (const g of status.groups)
        for (const reason of ['DeadPrimary', 'Switchover'])
          for (const result of ['Done', 'Aborted'])
            this.failoversTotal.inc(
              { namespace: ref.namespace, topology: ref.name, group: g.name, reason, result },
              0,
            );
      return;
    }
    for (const f of finished) {
      if (counted.has(f.id)) continue;
      counted.add(f.id);
      this.failoversTotal.inc({
        namespace: ref.namespace,
        topology: ref.name,
        group: f.group,
        reason: f.reason,
        result: f.phase,
      });
      const start = Date.parse(f.startedAt);
      const end = f.finishedAt ? Date.parse(f.finishedAt) : NaN;
      if (f.phase === 'Done' && Number.isFinite(start) && Number.isFinite(end) && end >= start) {
        this.failoverDuration.observe(
          { namespace: ref.namespace, topology: ref.name, group: f.group, reason: f.reason },
          (end - start) / 1000,
        );
      }
    }
    // The journal is bounded; forget ids that left it.
    const inJournal = new Set(status.failovers.map((f) => f.id));
    for (const id of counted) if (!inJournal.has(id)) counted.delete(id);
  }
}
