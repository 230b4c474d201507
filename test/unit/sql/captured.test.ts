// The probe's statements and parsers on rows captured from real servers (MySQL 9.7.4 from Debian sid,
// MariaDB 10.11.19 from Debian bookworm) by scripts/capture-sql-rows.ts, exactly as mysql2 delivered them.
// The scene: c1 running from s1 (heartbeat 2 s, retry count 77), c2 from s2 after s2 was killed, the
// default channel stopped with a filter and a delay; the replica's super_read_only persisted ON and then
// switched off at run time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChannelStatus } from '../../../src/api/status.js';
import { detectFlavor, dialectFor } from '../../../src/sql/flavor.js';

type Row = Record<string, unknown>;
interface Capture {
  version: string;
  statements: { showVariables: string; showChannels: string; showChannelConfig: string | null };
  replica: { variables: Row; channels: Row[]; channelConfig: Row[] | null };
  source: { variables: Row };
}
const load = (f: string): Capture =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'captured', `${f}.json`), 'utf8')) as Capture;

const FLAVORS = {
  mysql: load('mysql'),
  mariadb: load('mariadb'),
};

/** What each flavor's parse of the capture must give, field by field (a table, per flavor). */
const EXPECTED = {
  mysql: {
    version: /^9\.7\.4/,
    replicaVars: {
      readOnly: false,
      superReadOnly: false,
      // Persisted by persistReadOnly() although switched off at run time: the next start is read-only.
      superReadOnlyPersisted: true,
      gtidMode: 'ON',
      enforceGtidConsistency: true,
      gtidDomainId: null,
      gtidStrictMode: null,
    },
    sourceVars: { superReadOnlyPersisted: false, gtidMode: 'ON', enforceGtidConsistency: true },
    channels: {
      '': { ioRunning: 'No', sqlRunning: 'No', heartbeatPeriod: 1, retryCount: 77, delaySeconds: 3600 },
      c1: { ioRunning: 'Yes', sqlRunning: 'Yes', heartbeatPeriod: 2, retryCount: 77, lastIOErrno: 0 },
      c2: {
        ioRunning: 'Connecting',
        sqlRunning: 'Yes',
        heartbeatPeriod: 1.5,
        retryCount: 77,
        lastIOErrno: 2003,
      },
    },
    c2Error: /^Error reconnecting to source 'repl@127\.0\.0\.1:\d+'\. This was attempt \d+\/77/,
  },
  mariadb: {
    version: /^10\.11\.\d+-MariaDB/,
    replicaVars: {
      readOnly: false,
      superReadOnly: null,
      superReadOnlyPersisted: null,
      gtidMode: null,
      enforceGtidConsistency: null,
      gtidDomainId: 3,
      gtidStrictMode: false,
    },
    sourceVars: { superReadOnlyPersisted: null, gtidMode: null, enforceGtidConsistency: null },
    channels: {
      '': { ioRunning: 'No', sqlRunning: 'No', heartbeatPeriod: 1, retryCount: null, delaySeconds: 3600 },
      c1: { ioRunning: 'Yes', sqlRunning: 'Yes', heartbeatPeriod: 2, retryCount: null, lastIOErrno: 0 },
      c2: {
        ioRunning: 'Connecting',
        sqlRunning: 'Yes',
        heartbeatPeriod: 1.5,
        retryCount: null,
        lastIOErrno: 2013,
      },
    },
    c2Error:
      /^error reconnecting to master 'repl@127\.0\.0\.1:\d+' - retry-time: 1 {2}maximum-retries: 100000/,
  },
} as const;

describe.each(Object.keys(FLAVORS) as (keyof typeof FLAVORS)[])('rows captured on %s', (flavor) => {
  const cap = FLAVORS[flavor];
  const want = EXPECTED[flavor];
  const d = dialectFor(detectFlavor(cap.version), cap.version);

  it('came from the statements the dialect sends today', () => {
    expect(cap.version).toMatch(want.version);
    expect(d.showVariables().sql).toBe(cap.statements.showVariables);
    expect(d.showChannels().sql).toBe(cap.statements.showChannels);
    expect(d.showChannelConfig()?.sql ?? null).toBe(cap.statements.showChannelConfig);
  });

  it('server variables of the replica and of a source', () => {
    expect(d.parseVariables(cap.replica.variables)).toMatchObject({ serverId: 3, ...want.replicaVars });
    expect(d.parseVariables(cap.source.variables)).toMatchObject({
      serverId: 1,
      readOnly: false,
      ...want.sourceVars,
    });
  });

  it('channels: state, heartbeat, retry count, filter, errors', () => {
    const vars = d.parseVariables(cap.replica.variables);
    const channels = d.parseChannels(cap.replica.channels, vars, cap.replica.channelConfig ?? undefined);
    expect(channels.map((c) => c.name)).toEqual(['', 'c1', 'c2']);
    for (const c of channels) {
      expect(ChannelStatus.parse(c)).toEqual(c);
      expect(c, c.name).toMatchObject(want.channels[c.name as keyof typeof want.channels]);
      expect(c.autoPosition).toBe(true);
    }
    expect(channels[0]!.filter).toEqual({ doDatabases: ['sales', 'crm'], ignoreDatabases: ['tmp'] });
    expect(channels[2]!.lastIOError).toMatch(want.c2Error);
    // Every channel resumes from the server's executed set (MySQL gtid_executed, MariaDB gtid_slave_pos).
    expect(new Set(channels.map((c) => c.executedGtidSet)).size).toBe(1);
    expect(channels[0]!.executedGtidSet).not.toBe('');
  });

  it('without the configuration rows (refused or not read) only the heartbeat is unknown', () => {
    const channels = d.parseChannels(cap.replica.channels, d.parseVariables(cap.replica.variables));
    const heartbeats = channels.map((c) => c.heartbeatPeriod);
    // MariaDB has it in SHOW ALL REPLICAS STATUS; MySQL only in performance_schema.
    expect(heartbeats).toEqual(flavor === 'mysql' ? [null, null, null] : [1, 2, 1.5]);
    expect(channels.map((c) => c.ioRunning)).toEqual(['No', 'Yes', 'Connecting']);
  });
});
