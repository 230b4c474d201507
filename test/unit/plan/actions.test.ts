import { describe, expect, it } from 'vitest';
import type { DesiredChannel } from '../../../src/analyze/findings.js';
import { actionStatements, type Action } from '../../../src/plan/actions.js';
import { NO_CHANNEL_TLS } from '../../../src/sql/dialect.js';
import { dialectFor } from '../../../src/sql/flavor.js';

const repl = { username: 'repl', password: "p'w\\d" };
const desired = (over: Partial<DesiredChannel> = {}): DesiredChannel => ({
  member: 'dw-0',
  channel: 'shard_a',
  fromGroup: 'shard-a',
  source: 'a-1',
  sourceHost: 'a-1.db',
  sourcePort: 3306,
  delaySeconds: 0,
  filter: { doDatabases: [], ignoreDatabases: [] },
  tls: NO_CHANNEL_TLS,
  ...over,
});

describe('actions compile to channel-scoped SQL', () => {
  const cases: [string, Action, Record<'mariadb' | 'mysql', RegExp[]>][] = [
    [
      'remove one channel',
      { kind: 'RemoveChannel', member: 'dw-0', channel: 'shard_b', reason: '' },
      {
        mariadb: [/^STOP REPLICA 'shard_b'$/, /^RESET REPLICA 'shard_b' ALL$/],
        mysql: [/^STOP REPLICA FOR CHANNEL 'shard_b'$/, /^RESET REPLICA ALL FOR CHANNEL 'shard_b'$/],
      },
    ],
    [
      'remove the default channel, by name',
      { kind: 'RemoveChannel', member: 'a-1', channel: '', reason: '' },
      {
        mariadb: [/^STOP REPLICA ''$/, /^RESET REPLICA '' ALL$/],
        mysql: [/^STOP REPLICA FOR CHANNEL ''$/, /^RESET REPLICA ALL FOR CHANNEL ''$/],
      },
    ],
    [
      'repoint: stop, change, start the one channel',
      {
        kind: 'ConfigureChannel',
        member: 'dw-0',
        channel: 'shard_a',
        desired: desired(),
        exists: true,
        reason: '',
      },
      {
        mariadb: [
          /^STOP REPLICA 'shard_a'$/,
          /^CHANGE MASTER 'shard_a' TO MASTER_HOST='a-1\.db', MASTER_PORT=3306, .*MASTER_USE_GTID=slave_pos/,
          /replicate_do_db/,
          /^START REPLICA 'shard_a'$/,
        ],
        mysql: [
          /^STOP REPLICA FOR CHANNEL 'shard_a'$/,
          /^CHANGE REPLICATION SOURCE TO SOURCE_HOST='a-1\.db', SOURCE_PORT=3306, .*SOURCE_AUTO_POSITION=1.* FOR CHANNEL 'shard_a'$/,
          /^CHANGE REPLICATION FILTER .* FOR CHANNEL 'shard_a'$/,
          /^START REPLICA FOR CHANNEL 'shard_a'$/,
        ],
      },
    ],
    [
      'a former primary rejoins with its position aligned (MariaDB only)',
      {
        kind: 'ConfigureChannel',
        member: 'a-0',
        channel: '',
        desired: desired({ channel: '', alignReplicaPosition: '1-1-10' }),
        exists: false,
        reason: '',
      },
      {
        mariadb: [/gtid_slave_pos = '1-1-10'/, /^CHANGE MASTER '' TO /, /^START REPLICA ''$/],
        mysql: [/^CHANGE REPLICATION SOURCE TO .* FOR CHANNEL ''$/, /^START REPLICA FOR CHANNEL ''$/],
      },
    ],
    [
      'the replication account',
      { kind: 'EnsureReplicationUser', member: 'a-0', reason: '' },
      {
        mariadb: [
          /^CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY /,
          /^ALTER USER 'repl'@'%' IDENTIFIED BY /,
          /^GRANT REPLICATION SLAVE ON \*\.\* TO 'repl'@'%'$/,
        ],
        mysql: [
          /^CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY /,
          /^ALTER USER 'repl'@'%' IDENTIFIED BY /,
          /^GRANT REPLICATION SLAVE ON \*\.\* TO 'repl'@'%'$/,
        ],
      },
    ],
    [
      'a rotated password on a primary: ALTER USER of the account, by user and host',
      { kind: 'SetReplicationPassword', member: 'a-0', reason: '' },
      {
        mariadb: [/^ALTER USER 'repl'@'%' IDENTIFIED BY 'p''w\\\\d'$/],
        mysql: [/^ALTER USER 'repl'@'%' IDENTIFIED BY 'p''w\\\\d'$/],
      },
    ],
    [
      'a rotated password on a channel: MySQL restarts the receiver only, MariaDB the connection',
      { kind: 'SetChannelPassword', member: 'dw-0', channel: 'shard_a', desired: desired(), reason: '' },
      {
        mariadb: [
          /^STOP REPLICA 'shard_a'$/,
          /^CHANGE MASTER 'shard_a' TO MASTER_HOST='a-1\.db', .*MASTER_PASSWORD='p''w\\\\d', .*MASTER_HEARTBEAT_PERIOD=1, /,
          /^START REPLICA 'shard_a'$/,
        ],
        mysql: [
          /^STOP REPLICA IO_THREAD FOR CHANNEL 'shard_a'$/,
          /^CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = 'p''w\\\\d' FOR CHANNEL 'shard_a'$/,
          /^START REPLICA IO_THREAD FOR CHANNEL 'shard_a'$/,
        ],
      },
    ],
    [
      'a verifying TLS channel: CA on the server, verification, and no RSA key request',
      {
        kind: 'ConfigureChannel',
        member: 'dw-0',
        channel: 'shard_a',
        desired: desired({ tls: { enabled: true, caFile: '/etc/tls/ca.pem', verifyServerCert: true } }),
        exists: false,
        reason: '',
      },
      {
        mariadb: [
          /MASTER_SSL=1, MASTER_SSL_CA='\/etc\/tls\/ca\.pem', MASTER_SSL_CAPATH='', MASTER_SSL_VERIFY_SERVER_CERT=1/,
          /^START REPLICA 'shard_a'$/,
        ],
        mysql: [
          /SOURCE_SSL=1, SOURCE_SSL_CA='\/etc\/tls\/ca\.pem', SOURCE_SSL_CAPATH='', SOURCE_SSL_VERIFY_SERVER_CERT=1, GET_SOURCE_PUBLIC_KEY=0, SOURCE_AUTO_POSITION=1, SOURCE_DELAY=0 FOR CHANNEL 'shard_a'$/,
          /^START REPLICA FOR CHANNEL 'shard_a'$/,
        ],
      },
    ],
  ];
  for (const [name, action, want] of cases) {
    for (const flavor of ['mariadb', 'mysql'] as const) {
      it(`${name} (${flavor})`, () => {
        const stmts = actionStatements(action, dialectFor(flavor), repl);
        expect(stmts).toHaveLength(want[flavor].length);
        stmts.forEach((s, i) => expect(s.sql).toMatch(want[flavor][i]!));
        for (const s of stmts) {
          expect(s.display).not.toContain("p\\'w");
          expect(s.sql).not.toMatch(/^(STOP|START|RESET) (REPLICA|SLAVE)( ALL)?$/);
        }
      });
    }
  }

  it('the password is in the SQL, escaped, and only <redacted> in the display', () => {
    const [create] = actionStatements(
      { kind: 'EnsureReplicationUser', member: 'a-0', reason: '' },
      dialectFor('mariadb'),
      repl,
    );
    expect(create!.sql).toContain("'p''w\\\\d'");
    expect(create!.display).toBe("CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY <redacted>");
  });

  it("a catch-up channel receives only the dead group's GTID domains (MariaDB)", () => {
    const stmts = actionStatements(
      {
        kind: 'ConfigureChannel',
        member: 'a-1',
        channel: 'tributary_catchup',
        desired: desired({ channel: 'tributary_catchup', doDomainIds: [1, 2] }),
        exists: false,
        reason: '',
      },
      dialectFor('mariadb'),
      repl,
    );
    expect(stmts.find((s) => s.sql.startsWith('CHANGE MASTER'))!.sql).toMatch(/DO_DOMAIN_IDS=\(1,\s?2\)/);
  });
});
