// Which drift of a channel's settings touches only its connection (user, password, connect retry, retry
// count, heartbeat, TLS): the channel then keeps its source, position and applier settings, and only what
// the server requires restarts (MySQL: the receiver; MariaDB: the whole connection, docs/mysql.md §9).
// Pure.
import type { DesiredChannel } from '../analyze/findings.js';
import type { ChannelStatus } from '../api/status.js';

const sameList = (a: readonly string[], b: readonly string[]) =>
  [...a]
    .map((x) => x.toLowerCase())
    .sort()
    .join(',') ===
  [...b]
    .map((x) => x.toLowerCase())
    .sort()
    .join(',');

/**
 * True when everything the applier or the position depends on is already as desired: GTID auto-position
 * on (MySQL refuses to set it with the applier running, 3081), the delay (3085), both filters, and no
 * position to align or domain filter to set (failover catch-up). What is left to differ is connection.
 */
export function connectionOnlyDrift(current: ChannelStatus, desired: DesiredChannel): boolean {
  return (
    current.autoPosition &&
    current.delaySeconds === desired.delaySeconds &&
    sameList(current.filter.doDatabases, desired.filter.doDatabases) &&
    sameList(current.filter.ignoreDatabases, desired.filter.ignoreDatabases) &&
    desired.alignReplicaPosition === undefined &&
    desired.doDomainIds === undefined
  );
}
