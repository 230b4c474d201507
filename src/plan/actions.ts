// Actions: the only things a pass may do to servers, each compiled to channel-scoped SQL by a dialect.
import type { Credentials } from '../api/validate.js';
import type { DesiredChannel } from '../analyze/findings.js';
import { CHANNEL_DEFAULTS } from '../analyze/findings.js';
import type { ChannelSource, Dialect, Statement, Threads } from '../sql/dialect.js';
import { lit, secret, sql } from '../sql/escape.js';
import { REPLICATION_ACCOUNT_HOST } from '../sql/grants.js';

export type Action =
  | { kind: 'SetReadOnly'; member: string; readOnly: boolean; reason: string }
  | { kind: 'EnsureReplicationUser'; member: string; reason: string }
  /** ALTER USER of the replication account on a primary (written there only: it replicates). */
  | { kind: 'SetReplicationPassword'; member: string; reason: string }
  /** A managed channel's source password, with as little stopped as the server allows. */
  | { kind: 'SetChannelPassword'; member: string; channel: string; desired: DesiredChannel; reason: string }
  | { kind: 'RemoveChannel'; member: string; channel: string; reason: string }
  | {
      kind: 'ConfigureChannel';
      member: string;
      channel: string;
      desired: DesiredChannel;
      exists: boolean;
      /**
       * Only connection settings differ (user, password, retry, heartbeat, TLS): the channel keeps its
       * source, position and applier settings, and only what the server requires restarts.
       */
      connectionOnly?: boolean;
      reason: string;
    }
  | { kind: 'StartChannel'; member: string; channel: string; threads?: Threads; reason: string }
  | { kind: 'StopChannel'; member: string; channel: string; threads?: Threads; reason: string }
  | {
      kind: 'WaitForGtid';
      member: string;
      gtidSet: string;
      timeoutSeconds: number;
      /** The channel whose progress is awaited: later steps on that channel depend on the wait. */
      channel?: string;
      reason: string;
    }
  /** Make every later start of the server read-only (MySQL SET PERSIST_ONLY; nothing on MariaDB). */
  | { kind: 'PersistReadOnly'; member: string; reason: string };

/** The (member, channel) an action works on; member-wide actions have no channel. */
export const actionTarget = (a: Action): { member: string; channel?: string } =>
  'channel' in a && a.channel !== undefined ? { member: a.member, channel: a.channel } : { member: a.member };

export type { Credentials };

/**
 * Whether an action changes what a server does now: everything but persisting read-only for the next
 * start (SET PERSIST_ONLY leaves the running server as it is), which `tributary plan` names but does not
 * count as pending.
 */
export const disruptive = (a: Action): boolean => a.kind !== 'PersistReadOnly';

export const channelLabel = (member: string, channel: string) =>
  `${member}/${channel === '' ? "''" : channel}`;

export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'SetReadOnly':
      return `${a.member}: ${a.readOnly ? 'make read-only' : 'make writable'} (${a.reason})`;
    case 'EnsureReplicationUser':
      return `${a.member}: ensure the replication account (${a.reason})`;
    case 'SetReplicationPassword':
      return `${a.member}: set the replication account's password (${a.reason})`;
    case 'SetChannelPassword':
      return `${channelLabel(a.member, a.channel)}: give it the replication password (${a.reason})`;
    case 'ConfigureChannel':
      if (a.exists && a.connectionOnly)
        return `${channelLabel(a.member, a.channel)}: change its connection settings, same source ${a.desired.source} (${a.reason})`;
      return `${channelLabel(a.member, a.channel)}: ${a.exists ? 'repoint' : 'create'} from ${a.desired.source} (${a.desired.sourceHost}:${a.desired.sourcePort}) and start (${a.reason})`;
    case 'RemoveChannel':
      return `${channelLabel(a.member, a.channel)}: stop and remove (${a.reason})`;
    case 'StartChannel':
      return `${channelLabel(a.member, a.channel)}: start${threadWords(a.threads)} (${a.reason})`;
    case 'StopChannel':
      return `${channelLabel(a.member, a.channel)}: stop${threadWords(a.threads)} (${a.reason})`;
    case 'WaitForGtid':
      return `${a.member}: wait up to ${a.timeoutSeconds}s for ${a.gtidSet || 'nothing'} (${a.reason})`;
    case 'PersistReadOnly':
      return `${a.member}: persist read-only for every restart (${a.reason})`;
  }
}

const threadWords = (t: Threads | undefined) =>
  t === 'receiver' ? ' the receiver' : t === 'applier' ? ' the applier' : '';

/** The SQL of one action on one server, in order. Pure: the dialect renders, nothing is sent. */
export function actionStatements(a: Action, dialect: Dialect, replication: Credentials): Statement[] {
  switch (a.kind) {
    case 'SetReadOnly':
      return dialect.setReadOnly(a.readOnly);
    case 'EnsureReplicationUser': {
      // ALTER too: an account that appeared meanwhile keeps its password under IF NOT EXISTS.
      const to = replicationAccount(replication);
      return [
        sql`CREATE USER IF NOT EXISTS ${to} IDENTIFIED BY ${secret(replication.password)}`,
        sql`ALTER USER ${to} IDENTIFIED BY ${secret(replication.password)}`,
        sql`GRANT REPLICATION SLAVE ON *.* TO ${to}`,
      ];
    }
    case 'SetReplicationPassword':
      return [
        sql`ALTER USER ${replicationAccount(replication)} IDENTIFIED BY ${secret(replication.password)}`,
      ];
    case 'SetChannelPassword':
      return dialect.setSourcePassword(a.channel, channelSource(a.desired, replication));
    case 'RemoveChannel':
      return [dialect.stop(a.channel), dialect.resetAll(a.channel)];
    case 'StartChannel':
      return [dialect.start(a.channel, a.threads)];
    case 'StopChannel':
      return [dialect.stop(a.channel, a.threads)];
    case 'WaitForGtid':
      return [dialect.waitForGtid(a.gtidSet, a.timeoutSeconds)];
    case 'PersistReadOnly':
      return dialect.persistReadOnly();
    case 'ConfigureChannel': {
      const d = a.desired;
      if (a.exists && a.connectionOnly)
        return dialect.reconfigureConnection(a.channel, channelSource(d, replication));
      const out: Statement[] = [];
      if (a.exists) out.push(dialect.stop(a.channel));
      if (d.alignReplicaPosition !== undefined)
        out.push(...dialect.setReplicaPosition(d.alignReplicaPosition));
      out.push(dialect.changeSource(a.channel, channelSource(d, replication)));
      if (d.filter.doDatabases.length > 0 || d.filter.ignoreDatabases.length > 0 || a.exists) {
        out.push(...dialect.setFilter(a.channel, d.filter));
      }
      out.push(dialect.start(a.channel));
      return out;
    }
  }
}

/** `'user'@'%'`: the replication account, matched by user and host. */
function replicationAccount(replication: Credentials) {
  return sql`${lit(replication.username, 'replication user')}@${lit(REPLICATION_ACCOUNT_HOST)}`;
}

/** Everything a managed channel is configured with: where, who, how fast it notices failures, TLS. */
function channelSource(d: DesiredChannel, replication: Credentials): ChannelSource {
  return {
    host: d.sourceHost,
    port: d.sourcePort,
    user: replication.username,
    password: replication.password,
    connectRetry: CHANNEL_DEFAULTS.connectRetry,
    retryCount: CHANNEL_DEFAULTS.retryCount,
    heartbeatPeriod: CHANNEL_DEFAULTS.heartbeatPeriod,
    delaySeconds: d.delaySeconds,
    tls: d.tls,
    ...(d.doDomainIds ? { doDomainIds: d.doDomainIds } : {}),
  };
}
