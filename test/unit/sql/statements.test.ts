// Every statement of every flavor, for a named channel and for the default channel ''. The MySQL strings
// follow facts/mysql.md (no MySQL server can run here: these tables are the MySQL coverage); the MariaDB
// strings were each run on a MariaDB 10.11.19 server (accepted, and acting on the named connection only):
//   CHANGE MASTER '' TO …, START/STOP REPLICA '' [IO_THREAD|SQL_THREAD], RESET REPLICA '' ALL — an explicit ''
//   targets the default connection even with SET SESSION default_master_connection='x';
//   SET GLOBAL `x`.replicate_do_db = 'a,b' (per connection; needs the connection stopped, else 1198);
//   SET SESSION default_master_connection = '', GLOBAL replicate_do_db = … (the '' connection: a bare or ``
//   prefix means the *session's* default connection, so the session is pinned in the same statement).
import { describe, expect, it } from 'vitest';
import type { Flavor } from '../../../src/api/spec.js';
import type { ChannelSource, Dialect, Statement, Threads } from '../../../src/sql/dialect.js';
import { FilterUnsupportedError } from '../../../src/sql/errors.js';
import { InvalidInputError } from '../../../src/sql/escape.js';
import { dialectFor } from '../../../src/sql/flavor.js';
import { replicationAccountExists } from '../../../src/sql/grants.js';

const source: ChannelSource = {
  host: 'a-1.shard-a.db.svc',
  port: 3306,
  user: 'repl',
  password: 's3cret',
  connectRetry: 1,
  retryCount: 86400,
  heartbeatPeriod: 2,
  delaySeconds: 0,
};
const verifying = { enabled: true, caFile: '/etc/mysql/tls/ca.pem', verifyServerCert: true };

const mysql = dialectFor('mysql');
const legacy = dialectFor('mysql-legacy');
const mariadb = dialectFor('mariadb');

const sqlOf = (s: Statement | Statement[]) => (Array.isArray(s) ? s.map((x) => x.sql) : s.sql);

describe('mysql (8.0.23+)', () => {
  it.each([
    ['shard_a', "'shard_a'"],
    ['', "''"],
  ])('channel %j', (ch, q) => {
    expect(mysql.flavor).toBe('mysql');
    expect(mysql.showChannels().sql).toBe('SHOW REPLICA STATUS');
    expect(mysql.changeSource(ch, source).sql).toBe(
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='a-1.shard-a.db.svc', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD='s3cret', SOURCE_CONNECT_RETRY=1, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=2, SOURCE_SSL=0, SOURCE_SSL_CA='', SOURCE_SSL_CAPATH='', SOURCE_SSL_VERIFY_SERVER_CERT=0, GET_SOURCE_PUBLIC_KEY=1, SOURCE_AUTO_POSITION=1, SOURCE_DELAY=0 FOR CHANNEL ${q}`,
    );
    expect(mysql.start(ch).sql).toBe(`START REPLICA FOR CHANNEL ${q}`);
    expect(mysql.start(ch, 'both').sql).toBe(`START REPLICA FOR CHANNEL ${q}`);
    expect(mysql.start(ch, 'receiver').sql).toBe(`START REPLICA IO_THREAD FOR CHANNEL ${q}`);
    expect(mysql.start(ch, 'applier').sql).toBe(`START REPLICA SQL_THREAD FOR CHANNEL ${q}`);
    expect(mysql.stop(ch).sql).toBe(`STOP REPLICA FOR CHANNEL ${q}`);
    expect(mysql.stop(ch, 'receiver').sql).toBe(`STOP REPLICA IO_THREAD FOR CHANNEL ${q}`);
    expect(mysql.stop(ch, 'applier').sql).toBe(`STOP REPLICA SQL_THREAD FOR CHANNEL ${q}`);
    expect(mysql.resetAll(ch).sql).toBe(`RESET REPLICA ALL FOR CHANNEL ${q}`);
    expect(sqlOf(mysql.setFilter(ch, { doDatabases: ['sales', 'crm$1'], ignoreDatabases: [] }))).toEqual([
      `CHANGE REPLICATION FILTER REPLICATE_DO_DB = (\`sales\`, \`crm$1\`), REPLICATE_IGNORE_DB = () FOR CHANNEL ${q}`,
    ]);
    expect(sqlOf(mysql.setFilter(ch, { doDatabases: [], ignoreDatabases: ['tmp'] }))).toEqual([
      `CHANGE REPLICATION FILTER REPLICATE_DO_DB = (), REPLICATE_IGNORE_DB = (\`tmp\`) FOR CHANNEL ${q}`,
    ]);
  });

  it('server-level statements', () => {
    expect(mysql.showVariables().sql).toBe(
      "SELECT VERSION() AS version, @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, (SELECT VARIABLE_VALUE FROM performance_schema.persisted_variables WHERE VARIABLE_NAME = 'super_read_only') AS super_read_only_persisted, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_replica_updates AS log_replica_updates, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.enforce_gtid_consistency AS enforce_gtid_consistency, @@GLOBAL.gtid_executed AS gtid_executed, @@GLOBAL.gtid_purged AS gtid_purged",
    );
    // The replication account's existence rides on the same row, its name escaped.
    for (const d of [mysql, dialectFor('mariadb', '10.11.19')])
      expect(d.showVariables({ user: "r'epl", host: '%' }).sql).toMatch(
        /, \(SELECT COUNT\(\*\) FROM mysql\.user WHERE User = 'r''epl' AND Host = '%'\) AS replication_account$/,
      );
    expect(replicationAccountExists({ replication_account: 1 })).toBe(true);
    expect(replicationAccountExists({ replication_account: '0' })).toBe(false);
    expect(replicationAccountExists({})).toBeUndefined();
    expect(mysql.showChannelConfig()?.sql).toBe(
      'SELECT CHANNEL_NAME, HEARTBEAT_INTERVAL FROM performance_schema.replication_connection_configuration',
    );
    expect(sqlOf(mysql.persistReadOnly())).toEqual(['SET PERSIST_ONLY super_read_only = ON']);
    const wait = mysql.waitForGtid(
      '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3',
      30,
    );
    expect(wait.sql).toBe(
      "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3', 30) AS reached",
    );
    expect(wait.timeoutSeconds).toBe(30);
    // MySQL takes whole seconds; 0 would mean "forever", so fractions round up and 0 is refused.
    expect(mysql.waitForGtid('', 0.2).sql).toBe("SELECT WAIT_FOR_EXECUTED_GTID_SET('', 1) AS reached");
    expect(() => mysql.waitForGtid('x:1', 0)).toThrow(InvalidInputError);
    expect(() => mysql.waitForGtid('x:1', -1)).toThrow(/wait timeout/);
    expect(sqlOf(mysql.setReadOnly(true))).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(sqlOf(mysql.setReadOnly(false))).toEqual([
      'SET GLOBAL super_read_only = OFF',
      'SET GLOBAL read_only = OFF',
    ]);
    expect(mysql.setReplicaPosition('x:1-5')).toEqual([]);
  });

  it('TLS on (CA, verification, no RSA key over TLS), delay, fractional heartbeat', () => {
    expect(
      mysql.changeSource('c', { ...source, tls: verifying, delaySeconds: 3600, heartbeatPeriod: 0.5 }).sql,
    ).toContain(
      "SOURCE_HEARTBEAT_PERIOD=0.5, SOURCE_SSL=1, SOURCE_SSL_CA='/etc/mysql/tls/ca.pem', SOURCE_SSL_CAPATH='', SOURCE_SSL_VERIFY_SERVER_CERT=1, GET_SOURCE_PUBLIC_KEY=0, SOURCE_AUTO_POSITION=1, SOURCE_DELAY=3600 FOR CHANNEL",
    );
  });

  it('a new password stops and starts only the receiver; the password is redacted', () => {
    const s = mysql.setSourcePassword('c', { ...source, password: 'n3w' });
    expect(sqlOf(s)).toEqual([
      "STOP REPLICA IO_THREAD FOR CHANNEL 'c'",
      "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = 'n3w' FOR CHANNEL 'c'",
      "START REPLICA IO_THREAD FOR CHANNEL 'c'",
    ]);
    expect(s.map((x) => x.display).join(' ')).not.toContain('n3w');
    expect(s[1]!.display).toContain('<redacted>');
    expect(sqlOf(legacy.setSourcePassword('', source))[1]).toBe(
      "CHANGE MASTER TO MASTER_PASSWORD = 's3cret' FOR CHANNEL ''",
    );
    expect(() => mysql.setSourcePassword('c', { ...source, password: 'p'.repeat(33) })).toThrow(
      /^password: must be at most 32 characters on this server$/,
    );
  });

  it('versions inside the flavor: log_slave_updates before 8.0.26', () => {
    expect(dialectFor('mysql', '8.0.25').showVariables().sql).toContain(
      '@@GLOBAL.log_slave_updates AS log_replica_updates',
    );
    expect(dialectFor('mysql', '8.0.26').showVariables().sql).toContain(
      '@@GLOBAL.log_replica_updates AS log_replica_updates',
    );
    expect(dialectFor('mysql', '9.1.0').showVariables().sql).toContain('@@GLOBAL.log_replica_updates AS');
  });
});

describe('mysql-legacy (5.7 – 8.0.22)', () => {
  it.each([
    ['shard_a', "'shard_a'"],
    ['', "''"],
  ])('channel %j', (ch, q) => {
    expect(legacy.flavor).toBe('mysql-legacy');
    expect(legacy.showChannels().sql).toBe('SHOW SLAVE STATUS');
    expect(legacy.changeSource(ch, source).sql).toBe(
      `CHANGE MASTER TO MASTER_HOST='a-1.shard-a.db.svc', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='s3cret', MASTER_CONNECT_RETRY=1, MASTER_RETRY_COUNT=86400, MASTER_HEARTBEAT_PERIOD=2, MASTER_SSL=0, MASTER_SSL_CA='', MASTER_SSL_CAPATH='', MASTER_SSL_VERIFY_SERVER_CERT=0, MASTER_AUTO_POSITION=1, MASTER_DELAY=0 FOR CHANNEL ${q}`,
    );
    expect(legacy.start(ch).sql).toBe(`START SLAVE FOR CHANNEL ${q}`);
    expect(legacy.start(ch, 'receiver').sql).toBe(`START SLAVE IO_THREAD FOR CHANNEL ${q}`);
    expect(legacy.start(ch, 'applier').sql).toBe(`START SLAVE SQL_THREAD FOR CHANNEL ${q}`);
    expect(legacy.stop(ch).sql).toBe(`STOP SLAVE FOR CHANNEL ${q}`);
    expect(legacy.stop(ch, 'receiver').sql).toBe(`STOP SLAVE IO_THREAD FOR CHANNEL ${q}`);
    expect(legacy.stop(ch, 'applier').sql).toBe(`STOP SLAVE SQL_THREAD FOR CHANNEL ${q}`);
    expect(legacy.resetAll(ch).sql).toBe(`RESET SLAVE ALL FOR CHANNEL ${q}`);
  });

  it('server-level statements', () => {
    expect(legacy.showVariables().sql).toBe(
      'SELECT VERSION() AS version, @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, NULL AS super_read_only_persisted, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.enforce_gtid_consistency AS enforce_gtid_consistency, @@GLOBAL.gtid_executed AS gtid_executed, @@GLOBAL.gtid_purged AS gtid_purged',
    );
    // 5.7 (what legacy means without a version) persists nothing; 8.0.11+ can.
    expect(legacy.persistReadOnly()).toEqual([]);
    expect(sqlOf(dialectFor('mysql-legacy', '8.0.11').persistReadOnly())).toEqual([
      'SET PERSIST_ONLY super_read_only = ON',
    ]);
    expect(dialectFor('mysql-legacy', '8.0.10').persistReadOnly()).toEqual([]);
    expect(dialectFor('mysql-legacy', '8.0.22').showVariables().sql).toContain(
      "(SELECT VARIABLE_VALUE FROM performance_schema.persisted_variables WHERE VARIABLE_NAME = 'super_read_only') AS super_read_only_persisted",
    );
    expect(legacy.waitForGtid('u:1-3', 5).sql).toBe(
      "SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1-3', 5) AS reached",
    );
    expect(sqlOf(legacy.setReadOnly(true))).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(sqlOf(legacy.setReadOnly(false))).toEqual([
      'SET GLOBAL super_read_only = OFF',
      'SET GLOBAL read_only = OFF',
    ]);
  });

  it('MySQL 5.7 has no per-channel filter: a typed error, before any SQL', () => {
    for (const d of [legacy, dialectFor('mysql-legacy', '5.7.44-log')]) {
      let err: unknown;
      try {
        d.setFilter('shard_a', { doDatabases: ['sales'], ignoreDatabases: [] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FilterUnsupportedError);
      expect((err as Error).message).toBe(
        'channel "shard_a": MySQL 5.7 has no per-channel replication filters (CHANGE REPLICATION FILTER … FOR CHANNEL needs 8.0.2+)',
      );
    }
  });

  it('8.0.x legacy servers: per-channel filters and the public-key option', () => {
    const d = dialectFor('mysql-legacy', '8.0.22');
    expect(sqlOf(d.setFilter('c', { doDatabases: ['a'], ignoreDatabases: [] }))).toEqual([
      "CHANGE REPLICATION FILTER REPLICATE_DO_DB = (`a`), REPLICATE_IGNORE_DB = () FOR CHANNEL 'c'",
    ]);
    expect(d.changeSource('c', source).sql).toMatch(
      /MASTER_SSL_VERIFY_SERVER_CERT=0, GET_MASTER_PUBLIC_KEY=1, MASTER_AUTO_POSITION=1, MASTER_DELAY=0 FOR CHANNEL 'c'$/,
    );
    expect(dialectFor('mysql-legacy', '5.7.44').changeSource('c', source).sql).toMatch(
      /MASTER_SSL_VERIFY_SERVER_CERT=0, MASTER_AUTO_POSITION=1, MASTER_DELAY=0 FOR CHANNEL 'c'$/,
    );
  });
});

describe('mariadb (10.5+)', () => {
  it.each([
    ['shard_a', "'shard_a'"],
    ['', "''"],
  ])('connection %j', (ch, q) => {
    expect(mariadb.flavor).toBe('mariadb');
    expect(mariadb.showChannels().sql).toBe('SHOW ALL REPLICAS STATUS');
    expect(mariadb.changeSource(ch, source).sql).toBe(
      `CHANGE MASTER ${q} TO MASTER_HOST='a-1.shard-a.db.svc', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='s3cret', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=2, MASTER_DELAY=0, MASTER_SSL=0, MASTER_SSL_CA='', MASTER_SSL_CAPATH='', MASTER_SSL_VERIFY_SERVER_CERT=0, DO_DOMAIN_IDS=()`,
    );
    expect(mariadb.start(ch).sql).toBe(`START REPLICA ${q}`);
    expect(mariadb.start(ch, 'receiver').sql).toBe(`START REPLICA ${q} IO_THREAD`);
    expect(mariadb.start(ch, 'applier').sql).toBe(`START REPLICA ${q} SQL_THREAD`);
    expect(mariadb.stop(ch).sql).toBe(`STOP REPLICA ${q}`);
    expect(mariadb.stop(ch, 'receiver').sql).toBe(`STOP REPLICA ${q} IO_THREAD`);
    expect(mariadb.stop(ch, 'applier').sql).toBe(`STOP REPLICA ${q} SQL_THREAD`);
    expect(mariadb.resetAll(ch).sql).toBe(`RESET REPLICA ${q} ALL`);
  });

  it('per-connection filters: named, and the default connection', () => {
    expect(
      sqlOf(mariadb.setFilter('shard-a', { doDatabases: ['sales', 'x_y'], ignoreDatabases: [] })),
    ).toEqual([
      "SET GLOBAL `shard-a`.replicate_do_db = 'sales,x_y', GLOBAL `shard-a`.replicate_ignore_db = ''",
    ]);
    expect(sqlOf(mariadb.setFilter('', { doDatabases: [], ignoreDatabases: ['tmp', 'scratch'] }))).toEqual([
      "SET SESSION default_master_connection = '', GLOBAL replicate_do_db = '', GLOBAL replicate_ignore_db = 'tmp,scratch'",
    ]);
  });

  it('server-level statements', () => {
    expect(mariadb.showVariables().sql).toBe(
      'SELECT VERSION() AS version, @@GLOBAL.server_id AS server_id, @@GLOBAL.read_only AS read_only, @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos, @@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@GLOBAL.gtid_current_pos AS gtid_current_pos, @@GLOBAL.gtid_domain_id AS gtid_domain_id, @@GLOBAL.gtid_strict_mode AS gtid_strict_mode',
    );
    const wait = mariadb.waitForGtid('1-1-13,2-2-10', 0.5);
    expect(wait.sql).toBe("SELECT MASTER_GTID_WAIT('1-1-13,2-2-10', 0.5) AS reached");
    expect(wait.timeoutSeconds).toBe(0.5);
    // A negative timeout waits forever on MariaDB (seen on 10.11): refused.
    expect(() => mariadb.waitForGtid('1-1-1', -1)).toThrow(InvalidInputError);
    expect(() => mariadb.waitForGtid('1-1-1', 0)).toThrow(InvalidInputError);
    expect(sqlOf(mariadb.setReadOnly(true))).toEqual(['SET GLOBAL read_only = ON']);
    expect(sqlOf(mariadb.setReadOnly(false))).toEqual(['SET GLOBAL read_only = OFF']);
    expect(sqlOf(mariadb.setReplicaPosition('1-1-13,\n2-2-10'))).toEqual([
      "SET GLOBAL gtid_slave_pos = '1-1-13,2-2-10'",
    ]);
    // No persisted variables; SHOW ALL REPLICAS STATUS has every channel setting read.
    expect(mariadb.persistReadOnly()).toEqual([]);
    expect(mariadb.showChannelConfig()).toBeNull();
  });

  it('retryCount has no MariaDB option and is not sent; TLS and delay are', () => {
    const s = mariadb.changeSource('c', { ...source, tls: verifying, delaySeconds: 60, retryCount: 5 }).sql;
    expect(s).not.toMatch(/RETRY_COUNT/);
    expect(s).toMatch(
      /MASTER_DELAY=60, MASTER_SSL=1, MASTER_SSL_CA='\/etc\/mysql\/tls\/ca.pem', MASTER_SSL_CAPATH='', MASTER_SSL_VERIFY_SERVER_CERT=1, DO_DOMAIN_IDS=\(\)$/,
    );
  });

  it('a new password stops the whole connection (10.11 refuses CHANGE MASTER while the applier runs) and restates every option', () => {
    const s = mariadb.setSourcePassword('c', { ...source, password: 'n3w' });
    expect(sqlOf(s)[0]).toBe("STOP REPLICA 'c'");
    expect(sqlOf(s)[1]).toBe(mariadb.changeSource('c', { ...source, password: 'n3w' }).sql);
    expect(sqlOf(s)[2]).toBe("START REPLICA 'c'");
    expect(s.map((x) => x.display).join(' ')).not.toContain('n3w');
  });

  it('a CA path that could break out of its literal is refused, naming the field', () => {
    expect(() =>
      mariadb.changeSource('c', { ...source, tls: { ...verifying, caFile: "/x' , MASTER_HOST='evil" } }),
    ).toThrow(/^SSL CA file /);
  });
});

// ---- invariants over every flavor ------------------------------------------------------------------

const flavors: Flavor[] = ['mysql', 'mysql-legacy', 'mariadb'];
const threads: Threads[] = ['both', 'receiver', 'applier'];
const filterDialect = (f: Flavor): Dialect =>
  f === 'mysql-legacy' ? dialectFor(f, '8.0.22') : dialectFor(f);

function channelStatements(d: Dialect, ch: string): Statement[] {
  return [
    d.changeSource(ch, source),
    ...threads.flatMap((t) => [d.start(ch, t), d.stop(ch, t)]),
    d.resetAll(ch),
    ...d.setFilter(ch, { doDatabases: ['a'], ignoreDatabases: ['b'] }),
  ];
}

describe.each(flavors)('%s: every channel statement names its channel', (flavor) => {
  const d = filterDialect(flavor);
  it.each(['shard_a', ''])('channel %j', (ch) => {
    for (const s of channelStatements(d, ch)) {
      const q = `'${ch}'`;
      if (/^(START|STOP|RESET|CHANGE)\b/.test(s.sql)) {
        if (flavor === 'mariadb')
          expect(s.sql).toMatch(
            new RegExp(`^(START REPLICA|STOP REPLICA|RESET REPLICA|CHANGE MASTER) ${q}( |$)`),
          );
        else expect(s.sql.endsWith(` FOR CHANNEL ${q}`)).toBe(true);
      } else if (flavor === 'mariadb') {
        // The filter SET: a named prefix, or the session pinned to '' first.
        expect(s.sql).toMatch(
          ch
            ? /^SET GLOBAL `shard_a`\.replicate_do_db = /
            : /^SET SESSION default_master_connection = '', GLOBAL /,
        );
      }
    }
  });
});

describe.each(flavors)('%s: display redacts the password, and only the password', (flavor) => {
  const d = dialectFor(flavor);
  it.each(['s3cret', "it's", 'back\\slash', 'new\nline', 'x'.repeat(32), '🎉ünï'])(
    'password %j',
    (password) => {
      const s = d.changeSource('c', { ...source, password });
      expect(s.display).toContain('PASSWORD=<redacted>,');
      expect(s.display).not.toContain(password.slice(0, 6));
      expect(s.display.replace('<redacted>', 'X')).toBe(
        s.sql.replace(/PASSWORD='(?:[^'\\]|\\.|'')*'/, 'PASSWORD=X'),
      );
      for (const other of [d.start('c'), d.resetAll('c'), d.showChannels(), d.showVariables()])
        expect(other.display).toBe(other.sql);
    },
  );
});

describe.each(flavors)('%s: hostile input never reaches SQL', (flavor) => {
  const d = filterDialect(flavor);
  const hostile = [
    "a'b",
    'a`b',
    'a\\b',
    'a\nb',
    "x'; DROP TABLE t; --",
    'x'.repeat(200),
    'ü',
    '',
    ' ',
    'a b',
  ];

  it.each(hostile.filter((h) => h !== ''))('channel %j is rejected by every channel statement', (ch) => {
    for (const make of [
      () => d.changeSource(ch, source),
      () => d.start(ch),
      () => d.stop(ch, 'receiver'),
      () => d.resetAll(ch),
      () => d.setFilter(ch, { doDatabases: [], ignoreDatabases: [] }),
    ]) {
      expect(make).toThrow(InvalidInputError);
      expect(make).toThrow(/^channel name /);
    }
  });

  // A 200-letter host name is a well-formed (if unlikely) name; 256 characters are not.
  it.each([...hostile.filter((h) => h.length !== 200), 'x'.repeat(256)])('host %j rejected', (v) => {
    expect(() => d.changeSource('c', { ...source, host: v })).toThrow(/^host /);
  });

  it.each(hostile)('user %j rejected', (v) => {
    expect(() => d.changeSource('c', { ...source, user: v })).toThrow(/^user /);
  });

  it.each(hostile)('database %j rejected', (v) => {
    expect(() => d.setFilter('c', { doDatabases: ['ok', v], ignoreDatabases: [] })).toThrow(
      /^database name /,
    );
    expect(() => d.setFilter('c', { doDatabases: [], ignoreDatabases: [v] })).toThrow(/^database name /);
  });

  it('GTID sets with quotes are rejected', () => {
    expect(() => d.waitForGtid("1-1-1', 0) OR SLEEP(100) -- ", 1)).toThrow(/^GTID set /);
  });

  it('accounts longer than the server takes are refused up front (the server errors would quote them)', () => {
    const [maxUser, maxPassword] = flavor === 'mariadb' ? [80, 96] : [32, 32];
    expect(
      d.changeSource('c', { ...source, user: 'u'.repeat(maxUser), password: 'p'.repeat(maxPassword) }).sql,
    ).toContain(`USER='${'u'.repeat(maxUser)}'`);
    expect(() => d.changeSource('c', { ...source, user: 'u'.repeat(maxUser + 1) })).toThrow(
      /^user ".*: must be (at most|1–80)/,
    );
    expect(() => d.changeSource('c', { ...source, password: 'p'.repeat(maxPassword + 1) })).toThrow(
      `password: must be at most ${maxPassword} characters on this server`,
    );
  });

  it('a password is escaped, whatever it holds', () => {
    const s = d.changeSource('c', { ...source, password: "p'); DROP TABLE t; --\\\n\0\x1a" });
    expect(s.sql).toContain("PASSWORD='p''); DROP TABLE t; --\\\\\\n\\0\\Z',");
  });
});
