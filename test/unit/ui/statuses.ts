// Statuses for the web view's pure tests: a diamond with a multi-source sink, built as a pass reports them.
import {
  emptyChannelStatus,
  emptyStatus,
  FailoverRecord,
  type ChannelReport,
  type InstanceStatus,
  type TopologyStatus,
} from '../../../src/api/status.js';

export function chan(
  replica: string,
  name: string,
  source: string | null,
  from: string | null,
  over: Partial<ChannelReport> = {},
): ChannelReport {
  return {
    ...emptyChannelStatus(name),
    sourceHost: '127.0.0.1',
    sourcePort: 3306,
    sourceUser: 'repl',
    ioRunning: 'Yes',
    sqlRunning: 'Yes',
    secondsBehindSource: 0,
    gtidMode: 'Slave_Pos',
    replica,
    source,
    from,
    managed: true,
    state: 'Running',
    ...over,
  };
}

const member = (
  name: string,
  group: string,
  role: InstanceStatus['role'],
  over: Partial<InstanceStatus> = {},
) => ({
  name,
  group,
  reachable: true,
  role,
  readOnly: role !== 'primary',
  flavor: 'mariadb' as const,
  version: '10.11.19-MariaDB',
  ...over,
});

/** hub (h-0 → h-1) feeds left and right; both feed sink: a diamond, and k-0 is a multi-source replica. */
export function diamond(mutate?: (s: TopologyStatus) => void): TopologyStatus {
  const s: TopologyStatus = {
    ...emptyStatus('Ready'),
    groups: [
      { name: 'sink', primary: 'k-0', members: 1, ready: 1 },
      { name: 'right', primary: 'r-0', members: 1, ready: 1 },
      { name: 'hub', primary: 'h-0', members: 2, ready: 2 },
      { name: 'left', primary: 'l-0', members: 1, ready: 1 },
    ],
    instances: [
      member('k-0', 'sink', 'primary'),
      member('r-0', 'right', 'primary'),
      member('h-1', 'hub', 'replica'),
      member('h-0', 'hub', 'primary'),
      member('l-0', 'left', 'primary'),
    ],
    channels: [
      chan('h-1', '', 'h-0', 'hub'),
      chan('l-0', 'hub', 'h-0', 'hub'),
      chan('r-0', 'hub', 'h-0', 'hub', { secondsBehindSource: 7 }),
      chan('k-0', 'left', 'l-0', 'left'),
      chan('k-0', 'right', 'r-0', 'right'),
    ],
    managedChannels: [
      { group: 'left', name: 'hub', from: 'hub' },
      { group: 'right', name: 'hub', from: 'hub' },
      { group: 'sink', name: 'left', from: 'left' },
      { group: 'sink', name: 'right', from: 'right' },
    ],
    summary: { channelsRunning: 5, channelsTotal: 5 },
  };
  mutate?.(s);
  return s;
}

/** A finished failover of hub (h-0 → h-1), two seconds long; `over` changes any field. */
export function record(over: Partial<FailoverRecord> = {}): FailoverRecord {
  return FailoverRecord.parse({
    id: 'f1',
    group: 'hub',
    from: 'h-0',
    to: 'h-1',
    reason: 'DeadPrimary',
    phase: 'Done',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
    phaseTimes: { Decided: '2026-01-01T00:00:00.000Z', Done: '2026-01-01T00:00:02.000Z' },
    ...over,
  });
}
