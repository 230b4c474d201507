// What the servers would report once a pass's actions succeeded: the model `tributary plan` uses to show
// the passes after the first (a failover runs one phase per pass). Pure; only as precise as a preview
// needs — the real next pass always starts from a real observation.
import { CHANNEL_DEFAULTS } from '../analyze/findings.js';
import { emptyChannelStatus, type ChannelStatus } from '../api/status.js';
import type { InstanceObservation, Observation } from '../observe/types.js';
import { gtidOps } from '../sql/gtid/index.js';
import type { Threads } from '../sql/dialect.js';
import type { Action } from './actions.js';

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function withExecuted(o: InstanceObservation, more: string): InstanceObservation {
  if (!o.vars || !o.flavor || !more) return o;
  const ops = gtidOps(o.flavor);
  const executed = ops.union(o.vars.gtidExecuted, more);
  return {
    ...o,
    vars: {
      ...o.vars,
      gtidExecuted: executed,
      ...(o.flavor === 'mariadb'
        ? { gtidCurrentPos: executed, gtidSlavePos: ops.union(o.vars.gtidSlavePos ?? '', more) }
        : {}),
    },
  };
}

const running = (t: Threads | undefined, on: boolean, c: ChannelStatus): ChannelStatus => {
  const io = on ? 'Yes' : 'No';
  const sql = on ? 'Yes' : 'No';
  return {
    ...c,
    ...(t !== 'applier' ? { ioRunning: io, lastIOErrno: on ? 0 : c.lastIOErrno } : {}),
    ...(t !== 'receiver' ? { sqlRunning: sql } : {}),
  };
};

function applyOne(obs: Map<string, InstanceObservation>, a: Action, user: string): void {
  const o = obs.get(a.member);
  if (!o?.reachable || !o.vars) return;
  const channels = (f: (cs: ChannelStatus[]) => ChannelStatus[]) =>
    obs.set(a.member, { ...o, channels: f(o.channels) });
  switch (a.kind) {
    case 'SetReadOnly':
      obs.set(a.member, {
        ...o,
        vars: {
          ...o.vars,
          readOnly: a.readOnly,
          ...(o.vars.superReadOnly !== null ? { superReadOnly: a.readOnly } : {}),
        },
      });
      return;
    case 'PersistReadOnly':
      obs.set(a.member, { ...o, vars: { ...o.vars, superReadOnlyPersisted: true } });
      return;
    case 'EnsureReplicationUser':
      obs.set(a.member, { ...o, replicationUserExists: true });
      return;
    case 'SetReplicationPassword':
    case 'SetChannelPassword':
      // Nothing a probe reads changes (passwords are not readable); the credentials record moves instead.
      return;
    case 'RemoveChannel':
      channels((cs) => cs.filter((c) => !sameName(c.name, a.channel)));
      return;
    case 'StartChannel':
    case 'StopChannel':
      channels((cs) =>
        cs.map((c) => (sameName(c.name, a.channel) ? running(a.threads, a.kind === 'StartChannel', c) : c)),
      );
      return;
    case 'WaitForGtid':
      obs.set(a.member, withExecuted(o, a.gtidSet));
      return;
    case 'ConfigureChannel': {
      const d = a.desired;
      const source = obs.get(d.source);
      const next: ChannelStatus = {
        ...emptyChannelStatus(a.channel),
        sourceHost: d.sourceHost,
        sourcePort: d.sourcePort,
        sourceUser: user,
        ioRunning: 'Yes',
        sqlRunning: 'Yes',
        autoPosition: true,
        gtidMode: o.flavor === 'mariadb' ? 'Slave_Pos' : 'Auto',
        delaySeconds: d.delaySeconds,
        connectRetry: CHANNEL_DEFAULTS.connectRetry,
        heartbeatPeriod: CHANNEL_DEFAULTS.heartbeatPeriod,
        sslAllowed: d.tls.enabled,
        sslCaFile: d.tls.caFile,
        sslVerifyServerCert: d.tls.verifyServerCert,
        getSourcePublicKey: o.flavor === 'mariadb' ? null : !d.tls.enabled,
        filter: { doDatabases: [...d.filter.doDatabases], ignoreDatabases: [...d.filter.ignoreDatabases] },
        retrievedGtidSet: source?.vars?.gtidExecuted ?? '',
      };
      obs.set(a.member, {
        ...withExecuted(o, d.doDomainIds ? '' : (source?.vars?.gtidExecuted ?? '')),
        channels: [...o.channels.filter((c) => !sameName(c.name, a.channel)), next],
      });
      return;
    }
  }
}

/** The observation after every action succeeded, in order (channels made log in as `user`). */
export function simulate(observation: Observation, actions: readonly Action[], user = ''): Observation {
  const obs = new Map(observation.instances.map((i) => [i.member, i]));
  for (const a of actions) applyOne(obs, a, user);
  return { ...observation, instances: observation.instances.map((i) => obs.get(i.member) ?? i) };
}
