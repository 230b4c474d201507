import { describe, expect, it } from 'vitest';
import {
  emptyChannelStatus,
  emptyStatus,
  FailoverRecord,
  type ChannelReport,
  type TopologyStatus,
} from '../../../src/api/status.js';
import { startHealthServer, startMetricsServer } from '../../../src/controller/health.js';
import { OperatorMetrics } from '../../../src/controller/metrics.js';
import type { RoutingResult } from '../../../src/execute/routing.js';
import type { RoutingStep } from '../../../src/plan/routing.js';

const ref = { namespace: 'db', name: 'warehouse' };

function channel(replica: string, name: string, over: Partial<ChannelReport> = {}): ChannelReport {
  return {
    ...emptyChannelStatus(name),
    replica,
    from: 'shard-a',
    source: 'a-0',
    managed: true,
    state: 'Running',
    sourceHost: 'h',
    sourcePort: 3306,
    sourceUser: 'repl',
    sourceServerId: 1,
    ioRunning: 'Yes',
    sqlRunning: 'Yes',
    secondsBehindSource: 0,
    autoPosition: true,
    gtidMode: 'Slave_Pos',
    connectRetry: 60,
    ...over,
  };
}

function failover(id: string, phase: FailoverRecord['phase'], seconds = 3): FailoverRecord {
  return FailoverRecord.parse({
    id,
    group: 'shard-a',
    from: 'a-0',
    to: 'a-1',
    reason: 'DeadPrimary',
    phase,
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt:
      phase === 'Done'
        ? new Date(Date.parse('2026-01-01T00:00:00Z') + seconds * 1000).toISOString()
        : undefined,
  });
}

function status(over: Partial<TopologyStatus> = {}): TopologyStatus {
  return { ...emptyStatus('Ready'), ...over };
}

const text = async (m: OperatorMetrics) => (await m.render()).body;

describe('OperatorMetrics', () => {
  it('sets per-channel and per-instance gauges and removes series that disappeared', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    m.updateFromStatus(
      ref,
      status({
        phase: 'Degraded',
        channels: [
          channel('dw-0', 'shard_a', { secondsBehindSource: 12 }),
          channel('dw-0', 'shard_b', {
            ioRunning: 'Connecting',
            sqlRunning: 'No',
            secondsBehindSource: null,
            state: 'Connecting',
          }),
        ],
        instances: [
          { name: 'a-0', group: 'shard-a', reachable: false, role: 'fenced' },
          { name: 'a-1', group: 'shard-a', reachable: true, role: 'primary' },
        ],
      }),
    );
    let t = await text(m);
    expect(t).toContain(
      'tributary_channel_receiver_running{namespace="db",topology="warehouse",replica="dw-0",channel="shard_a"} 1',
    );
    expect(t).toContain(
      'tributary_channel_receiver_running{namespace="db",topology="warehouse",replica="dw-0",channel="shard_b"} 0',
    );
    expect(t).toContain(
      'tributary_channel_applier_running{namespace="db",topology="warehouse",replica="dw-0",channel="shard_b"} 0',
    );
    expect(t).toContain(
      'tributary_channel_seconds_behind_source{namespace="db",topology="warehouse",replica="dw-0",channel="shard_a"} 12',
    );
    expect(t).not.toContain(
      'tributary_channel_seconds_behind_source{namespace="db",topology="warehouse",replica="dw-0",channel="shard_b"}',
    );
    expect(t).toContain(
      'tributary_instance_up{namespace="db",topology="warehouse",group="shard-a",instance="a-0"} 0',
    );
    expect(t).toContain('tributary_topology_phase{namespace="db",topology="warehouse",phase="Degraded"} 1');
    expect(t).toContain('tributary_topology_channels{namespace="db",topology="warehouse",state="running"} 1');

    m.updateFromStatus(
      ref,
      status({
        channels: [channel('dw-0', 'shard_a')],
        instances: [{ name: 'a-1', group: 'shard-a', reachable: true, role: 'primary' }],
      }),
    );
    t = await text(m);
    expect(t).not.toContain('channel="shard_b"');
    expect(t).not.toContain('instance="a-0"');
    expect(t).not.toContain('phase="Degraded"');
    expect(t).toContain('tributary_topology_phase{namespace="db",topology="warehouse",phase="Ready"} 1');

    m.forget(ref);
    t = await text(m);
    expect(t).not.toContain('topology="warehouse"');
  });

  it('counts failovers that finish while watched, not those already finished at first sight', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    m.updateFromStatus(ref, status({ failovers: [failover('old', 'Done'), failover('f1', 'Promoting')] }));
    expect(await text(m)).not.toMatch(/^tributary_failovers_total\{/m);
    m.updateFromStatus(ref, status({ failovers: [failover('old', 'Done'), failover('f1', 'Done', 7)] }));
    m.updateFromStatus(ref, status({ failovers: [failover('old', 'Done'), failover('f1', 'Done', 7)] }));
    const t = await text(m);
    expect(t).toContain(
      'tributary_failovers_total{namespace="db",topology="warehouse",group="shard-a",reason="DeadPrimary",result="Done"} 1',
    );
    expect(t).toContain(
      'tributary_failover_duration_seconds_sum{namespace="db",topology="warehouse",group="shard-a",reason="DeadPrimary"} 7',
    );
    expect(t).toContain(
      'tributary_failover_duration_seconds_count{namespace="db",topology="warehouse",group="shard-a",reason="DeadPrimary"} 1',
    );
  });

  it('observes passes: duration by result, errors, status writes; a vanished topology is forgotten', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    const result = {
      status: status({ channels: [channel('dw-0', 'x')] }),
      statusChanged: true,
      events: [],
      actionsExecuted: 0,
      requeueAfterMs: 1000,
    };
    m.observePass({ ref, result, durationMs: 250, statusWritten: true, eventsEmitted: 0 });
    m.observePass({ ref, error: new Error('x'), durationMs: 50, statusWritten: false, eventsEmitted: 0 });
    let t = await text(m);
    expect(t).toContain(
      'tributary_reconcile_duration_seconds_count{namespace="db",topology="warehouse",result="success"} 1',
    );
    expect(t).toContain(
      'tributary_reconcile_duration_seconds_sum{namespace="db",topology="warehouse",result="success"} 0.25',
    );
    expect(t).toContain('tributary_reconcile_errors_total{namespace="db",topology="warehouse"} 1');
    expect(t).toContain('tributary_status_writes_total{namespace="db",topology="warehouse"} 1');
    expect(t).toContain('channel="x"');
    m.observePass({ ref, durationMs: 1, statusWritten: false, eventsEmitted: 0 });
    t = await text(m);
    expect(t).not.toContain('channel="x"');
  });

  it('channel up and state per channel, probe errors per unreachable member and pass, failover series from 0', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    const degraded = status({
      phase: 'Degraded',
      groups: [{ name: 'shard-a', primary: 'a-1', members: 2, ready: 1 }],
      channels: [
        channel('dw-0', 'shard_a'),
        channel('dw-0', 'manual', { managed: false, state: 'Stopped', ioRunning: 'No', sqlRunning: 'No' }),
        channel('dw-0', 'shard_b', { state: 'Missing', ioRunning: 'No', sqlRunning: 'No' }),
      ],
      instances: [
        { name: 'a-0', group: 'shard-a', reachable: false, role: 'unknown' },
        { name: 'a-1', group: 'shard-a', reachable: true, role: 'primary' },
      ],
    });
    const pass = (s: TopologyStatus) =>
      m.observePass({
        ref,
        result: { status: s, statusChanged: false, events: [], actionsExecuted: 0, requeueAfterMs: 1000 },
        durationMs: 10,
        statusWritten: false,
        eventsEmitted: 0,
      });
    pass(degraded);
    pass(degraded);
    const labels = (replica: string, ch: string) =>
      `namespace="db",topology="warehouse",replica="${replica}",channel="${ch}"`;
    let t = await text(m);
    for (const [line, present] of [
      [`tributary_channel_up{${labels('dw-0', 'shard_a')},managed="true"} 1`, true],
      [`tributary_channel_up{${labels('dw-0', 'manual')},managed="false"} 0`, true],
      [`tributary_channel_up{${labels('dw-0', 'shard_b')},managed="true"} 0`, true],
      [`tributary_channel_state{${labels('dw-0', 'shard_a')},state="Running"} 1`, true],
      [`tributary_channel_delay_seconds{${labels('dw-0', 'shard_a')}} 0`, true],
      [`tributary_channel_state{${labels('dw-0', 'shard_b')},state="Missing"} 1`, true],
      [
        `tributary_member_probe_errors_total{namespace="db",topology="warehouse",group="shard-a",member="a-0"} 2`,
        true,
      ],
      [
        `tributary_member_probe_errors_total{namespace="db",topology="warehouse",group="shard-a",member="a-1"}`,
        false,
      ],
      [
        `tributary_failovers_total{namespace="db",topology="warehouse",group="shard-a",reason="DeadPrimary",result="Done"} 0`,
        true,
      ],
      [
        `tributary_failovers_total{namespace="db",topology="warehouse",group="shard-a",reason="Switchover",result="Aborted"} 0`,
        true,
      ],
    ] as const)
      expect(t.includes(line), line).toBe(present);
    pass(
      status({ channels: [channel('dw-0', 'shard_a', { state: 'Connecting', ioRunning: 'Connecting' })] }),
    );
    t = await text(m);
    expect(t).toContain(`tributary_channel_state{${labels('dw-0', 'shard_a')},state="Connecting"} 1`);
    expect(t).not.toContain('state="Running"');
    expect(t).not.toContain('channel="manual"');
  });

  it('counts routing steps taken and refused, by group, op and target; routed groups start at 0', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    const step = (group: string, op: RoutingStep['op'], member: string): RoutingStep => ({
      group,
      op,
      members: [{ name: member, host: '127.0.0.1', port: 3306, ready: op !== 'drain' }],
      reason: 'x',
    });
    const [drain, route, readers] = [
      step('shard-a', 'drain', 'a-0'),
      step('shard-a', 'route', 'a-1'),
      step('shard-b', 'readers', 'b-1'),
    ];
    const routedStatus = status({
      groups: [
        {
          name: 'shard-a',
          primary: 'a-1',
          members: 2,
          ready: 1,
          routing: { writer: 'a-1', writerReady: true, readers: [] },
        },
        { name: 'shard-b', primary: 'b-0', members: 2, ready: 2 },
      ],
    });
    const pass = (routing?: RoutingResult) =>
      m.observePass({
        ref,
        result: {
          status: routedStatus,
          statusChanged: true,
          events: [],
          actionsExecuted: 0,
          requeueAfterMs: 1000,
          ...(routing ? { routing } : {}),
        },
        durationMs: 10,
        statusWritten: true,
        eventsEmitted: 0,
      });
    pass();
    const labels = (group: string, op: string) =>
      `namespace="db",topology="warehouse",group="${group}",op="${op}"`;
    let t = await text(m);
    for (const op of ['drain', 'route', 'readers'])
      expect(t).toContain(`tributary_routing_changes_total{${labels('shard-a', op)}} 0`);
    // A group whose traffic is not routed has no series.
    expect(t).not.toContain('group="shard-b",op=');
    pass({
      done: [drain],
      failures: [
        { step: route, target: 'hook', message: 'routing hook failed (exit 1)' },
        { step: readers, target: 'services', message: 'forbidden' },
      ],
    });
    pass({ done: [route, readers], failures: [{ step: route, target: 'hook', message: 'exit 1' }] });
    t = await text(m);
    for (const [line, present] of [
      [`tributary_routing_changes_total{${labels('shard-a', 'drain')}} 1`, true],
      [`tributary_routing_changes_total{${labels('shard-a', 'route')}} 1`, true],
      [`tributary_routing_changes_total{${labels('shard-a', 'readers')}} 0`, true],
      [`tributary_routing_changes_total{${labels('shard-b', 'readers')}} 1`, true],
      [`tributary_routing_failures_total{${labels('shard-a', 'route')},target="hook"} 2`, true],
      [`tributary_routing_failures_total{${labels('shard-b', 'readers')},target="services"} 1`, true],
      [`tributary_routing_failures_total{${labels('shard-a', 'drain')}`, false],
    ] as const)
      expect(t.includes(line), line).toBe(present);
  });

  it('observes the time from decision to routed once per record, not for records routed before it watched', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
    const routed = (id: string, seconds: number | undefined, phase: FailoverRecord['phase'] = 'Done') => ({
      ...failover(id, phase),
      ...(seconds === undefined ? {} : { routedAt: at(seconds) }),
    });
    const series = 'namespace="db",topology="warehouse",group="shard-a",reason="DeadPrimary"';
    m.updateFromStatus(ref, status({ failovers: [routed('old', 4), routed('f1', undefined, 'Promoting')] }));
    expect(await text(m)).not.toMatch(/^tributary_failover_routed_seconds_count\{/m);
    m.updateFromStatus(ref, status({ failovers: [routed('old', 4), routed('f1', 2.5, 'Repointing')] }));
    m.updateFromStatus(ref, status({ failovers: [routed('old', 4), routed('f1', 2.5)] }));
    let t = await text(m);
    expect(t).toContain(`tributary_failover_routed_seconds_count{${series}} 1`);
    expect(t).toContain(`tributary_failover_routed_seconds_sum{${series}} 2.5`);
    expect(t).toContain(`tributary_failover_routed_seconds_bucket{le="5",${series}} 1`);
    expect(t).toContain(`tributary_failover_routed_seconds_bucket{le="2",${series}} 0`);
    // Forgotten, then seen again: what it holds then was routed before.
    m.forget(ref);
    m.updateFromStatus(ref, status({ failovers: [routed('f1', 2.5), routed('f2', undefined, 'Promoting')] }));
    m.updateFromStatus(ref, status({ failovers: [routed('f1', 2.5), routed('f2', 0.75)] }));
    t = await text(m);
    expect(t).toContain(`tributary_failover_routed_seconds_count{${series}} 2`);
    expect(t).toContain(`tributary_failover_routed_seconds_sum{${series}} 3.25`);
  });

  it('includes process metrics by default', async () => {
    expect(await text(new OperatorMetrics())).toContain('tributary_process_cpu_user_seconds_total');
  });
});

describe('health and metrics servers', () => {
  it('serves /healthz, /readyz (503 until ready) and /metrics', async () => {
    let ready = false;
    const health = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      isReady: () => ready,
      notReadyReason: () => 'watch not synced',
    });
    const m = new OperatorMetrics({ processMetrics: false });
    m.setLeader(true);
    const metrics = await startMetricsServer({ port: 0, host: '127.0.0.1', render: () => m.render() });
    try {
      const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`);
      expect((await get(health.port, '/healthz')).status).toBe(200);
      const notReady = await get(health.port, '/readyz');
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toContain('watch not synced');
      ready = true;
      expect((await get(health.port, '/readyz')).status).toBe(200);
      expect((await get(health.port, '/nope')).status).toBe(404);
      const res = await get(metrics.port, '/metrics');
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toMatch(/^tributary_leader 1$/m);
    } finally {
      await health.close();
      await metrics.close();
    }
  });
});
