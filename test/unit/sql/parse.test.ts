// parseChannels / parseVariables / waitReached on realistic rows: MariaDB rows are the samples recorded in
// facts/mariadb-10.11.md (typed as mysql2 delivers them, facts §7); MySQL rows are built from the column
// lists in facts/mysql.md, in both the 8.0.22+ and the older spellings.
import { describe, expect, it } from 'vitest';
import { ChannelStatus } from '../../../src/api/status.js';
import { dialectFor } from '../../../src/sql/flavor.js';
import { waitReached } from '../../../src/sql/rows.js';

// ---- MariaDB ---------------------------------------------------------------------------------------

const RUNNING_SRC1 =
  'Connection_name=src1 | Slave_SQL_State=Slave has read all relay log; waiting for more updates | Slave_IO_State=Waiting for master to send event | Master_Host=127.0.0.1 | Master_User=repl | Master_Port=33101 | Connect_Retry=60 | Master_Log_File=binlog.000001 | Read_Master_Log_Pos=1161 | Relay_Log_File=relay-src1.000002 | Relay_Log_Pos=1457 | Relay_Master_Log_File=binlog.000001 | Slave_IO_Running=Yes | Slave_SQL_Running=Yes | Replicate_Do_DB= | Replicate_Ignore_DB= | Replicate_Do_Table= | Replicate_Ignore_Table= | Replicate_Wild_Do_Table= | Replicate_Wild_Ignore_Table= | Last_Errno=0 | Last_Error= | Skip_Counter=0 | Exec_Master_Log_Pos=1161 | Relay_Log_Space=1761 | Until_Condition=None | Until_Log_File= | Until_Log_Pos=0 | Master_SSL_Allowed=No | Master_SSL_CA_File= | Master_SSL_CA_Path= | Master_SSL_Cert= | Master_SSL_Cipher= | Master_SSL_Key= | Seconds_Behind_Master=0 | Master_SSL_Verify_Server_Cert=No | Last_IO_Errno=0 | Last_IO_Error= | Last_SQL_Errno=0 | Last_SQL_Error= | Replicate_Ignore_Server_Ids= | Master_Server_Id=1 | Master_SSL_Crl= | Master_SSL_Crlpath= | Using_Gtid=Slave_Pos | Gtid_IO_Pos=1-1-4 | Replicate_Do_Domain_Ids= | Replicate_Ignore_Domain_Ids= | Parallel_Mode=optimistic | SQL_Delay=0 | SQL_Remaining_Delay=NULL | Slave_SQL_Running_State=Slave has read all relay log; waiting for more updates | Slave_DDL_Groups=2 | Slave_Non_Transactional_Groups=0 | Slave_Transactional_Groups=2 | Replicate_Rewrite_DB= | Retried_transactions=0 | Max_relay_log_size=1073741824 | Executed_log_entries=35 | Slave_received_heartbeats=0 | Slave_heartbeat_period=30.000 | Gtid_Slave_Pos=1-1-4,2-2-4';

// Wire types from facts §7: LONG, LONGLONG and DOUBLE columns arrive as JS numbers; NULL as null.
const NUMERIC = new Set(
  'Master_Port Connect_Retry Last_Errno Skip_Counter Last_IO_Errno Last_SQL_Errno Master_Server_Id SQL_Delay SQL_Remaining_Delay Retried_transactions Executed_log_entries Slave_received_heartbeats Read_Master_Log_Pos Relay_Log_Pos Exec_Master_Log_Pos Relay_Log_Space Until_Log_Pos Seconds_Behind_Master Slave_DDL_Groups Slave_Non_Transactional_Groups Slave_Transactional_Groups Max_relay_log_size Slave_heartbeat_period'.split(
    ' ',
  ),
);

function mariadbRow(text: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const part of text.split(' | ')) {
    const i = part.indexOf('=');
    const k = part.slice(0, i);
    const v = part.slice(i + 1);
    row[k] = v === 'NULL' ? null : NUMERIC.has(k) ? Number(v) : v;
  }
  expect(Object.keys(row)).toHaveLength(62);
  return { ...row, ...overrides };
}

// Source down (facts §2: src2 killed, read ~3 s later).
const DOWN_SRC2 = mariadbRow(RUNNING_SRC1, {
  Connection_name: 'src2',
  Master_Port: 33102,
  Slave_IO_State: 'Reconnecting after a failed master event read',
  Slave_IO_Running: 'Connecting',
  Seconds_Behind_Master: null,
  Last_IO_Errno: 2013,
  Last_IO_Error:
    "error reconnecting to master 'repl@127.0.0.1:33102' - retry-time: 60  maximum-retries: 100000  message: Lost connection to server at 'reading initial communication packet', system error: 104 \"Connection reset by peer\"",
  Gtid_IO_Pos: '2-2-4',
  Master_Server_Id: 2,
  Read_Master_Log_Pos: 1136,
});

// The default connection, stopped, with a filter and TLS, as SHOW ALL returns it ('' sorts first).
const DEFAULT_STOPPED = mariadbRow(RUNNING_SRC1, {
  Connection_name: '',
  Master_Port: 33103,
  Slave_IO_State: '',
  Slave_SQL_State: '',
  Slave_SQL_Running_State: '',
  Slave_IO_Running: 'No',
  Slave_SQL_Running: 'No',
  Seconds_Behind_Master: null,
  Replicate_Do_DB: 'sales,crm',
  Replicate_Ignore_DB: 'tmp',
  Master_SSL_Allowed: 'Yes',
  Master_SSL_CA_File: '/etc/mysql/tls/ca.pem',
  Master_SSL_Verify_Server_Cert: 'Yes',
  SQL_Delay: 3600,
  Using_Gtid: 'No',
  Gtid_IO_Pos: '',
  Master_Server_Id: 0,
  Last_SQL_Errno: 1062,
  Last_SQL_Error: "Error 'Duplicate entry' on query",
  Slave_heartbeat_period: 1.5,
});

describe('mariadb parseChannels', () => {
  const d = dialectFor('mariadb');
  const vars = { gtidSlavePos: '1-1-4,2-2-4', gtidExecuted: '1-1-4,2-2-4,3-3-9' };

  it('a running connection', () => {
    const [c] = d.parseChannels([mariadbRow(RUNNING_SRC1)], vars);
    expect(c).toEqual({
      name: 'src1',
      sourceHost: '127.0.0.1',
      sourcePort: 33101,
      sourceUser: 'repl',
      sourceServerId: 1,
      sourceUuid: null,
      ioRunning: 'Yes',
      sqlRunning: 'Yes',
      ioState: 'Waiting for master to send event',
      sqlState: 'Slave has read all relay log; waiting for more updates',
      secondsBehindSource: 0,
      lastIOErrno: 0,
      lastIOError: '',
      lastIOErrorTimestamp: null,
      lastSQLErrno: 0,
      lastSQLError: '',
      lastSQLErrorTimestamp: null,
      retrievedGtidSet: '1-1-4',
      executedGtidSet: '1-1-4,2-2-4',
      autoPosition: true,
      gtidMode: 'Slave_Pos',
      delaySeconds: 0,
      connectRetry: 60,
      heartbeatPeriod: 30,
      // MariaDB has no per-connection retry count (only the startup option --master-retry-count).
      retryCount: null,
      sslAllowed: false,
      sslCaFile: '',
      sslCaPath: '',
      sslVerifyServerCert: false,
      // MariaDB has no Get_Master_public_key column.
      getSourcePublicKey: null,
      filter: { doDatabases: [], ignoreDatabases: [] },
    });
    expect(ChannelStatus.parse(c)).toEqual(c);
  });

  it('executed comes from @@gtid_slave_pos, never from the Gtid_Slave_Pos column (which is gtid_current_pos)', () => {
    const row = mariadbRow(RUNNING_SRC1, { Gtid_Slave_Pos: '1-1-13,2-2-10,3-3-4,4-4-3' });
    expect(
      d.parseChannels([row], { gtidSlavePos: '1-1-13,2-2-10,3-3-4', gtidExecuted: '' })[0]!.executedGtidSet,
    ).toBe('1-1-13,2-2-10,3-3-4');
    expect(d.parseChannels([row])[0]!.executedGtidSet).toBe('');
  });

  it('a connection whose source is down', () => {
    const [c] = d.parseChannels([DOWN_SRC2], vars);
    expect(c).toMatchObject({
      name: 'src2',
      ioRunning: 'Connecting',
      sqlRunning: 'Yes',
      secondsBehindSource: null,
      lastIOErrno: 2013,
      sourceServerId: 2,
      retrievedGtidSet: '2-2-4',
      ioState: 'Reconnecting after a failed master event read',
    });
    expect(c!.lastIOError).toMatch(/^error reconnecting to master 'repl@127.0.0.1:33102'/);
  });

  it('the default connection, stopped, filtered, delayed, TLS, not using GTID', () => {
    const all = d.parseChannels([DEFAULT_STOPPED, mariadbRow(RUNNING_SRC1), DOWN_SRC2], vars);
    expect(all.map((c) => c.name)).toEqual(['', 'src1', 'src2']);
    expect(all[0]).toMatchObject({
      name: '',
      ioRunning: 'No',
      sqlRunning: 'No',
      ioState: '',
      sqlState: '',
      secondsBehindSource: null,
      sourceServerId: null,
      autoPosition: false,
      gtidMode: 'No',
      retrievedGtidSet: '',
      delaySeconds: 3600,
      sslAllowed: true,
      sslCaFile: '/etc/mysql/tls/ca.pem',
      sslVerifyServerCert: true,
      heartbeatPeriod: 1.5,
      lastSQLErrno: 1062,
      filter: { doDatabases: ['sales', 'crm'], ignoreDatabases: ['tmp'] },
    });
    for (const c of all) expect(() => ChannelStatus.parse(c)).not.toThrow();
  });

  it('no connections: no rows', () => {
    expect(d.parseChannels([], vars)).toEqual([]);
  });

  it('numbers as strings (bigNumberStrings) read the same', () => {
    const row = mariadbRow(RUNNING_SRC1, {
      Seconds_Behind_Master: '12',
      Master_Port: '33101',
      Slave_heartbeat_period: '30.000',
    });
    expect(d.parseChannels([row], vars)[0]).toMatchObject({
      secondsBehindSource: 12,
      sourcePort: 33101,
      heartbeatPeriod: 30,
    });
  });
});

describe('mariadb parseVariables', () => {
  it('reads the row showVariables() returns (as seen on 10.11 through mysql2)', () => {
    const row = {
      version: '10.11.19-MariaDB-0+deb12u1-log',
      server_id: 4,
      read_only: 1,
      log_bin: 1,
      log_replica_updates: 1,
      binlog_format: 'ROW',
      gtid_binlog_pos: '1-1-13,2-2-10,3-3-4,4-4-3',
      gtid_slave_pos: '1-1-13,2-2-10,3-3-4',
      gtid_current_pos: '1-1-13,2-2-10,3-3-4,4-4-3',
      gtid_domain_id: 4,
      gtid_strict_mode: 0,
    };
    expect(dialectFor('mariadb').parseVariables(row)).toEqual({
      version: '10.11.19-MariaDB-0+deb12u1-log',
      serverId: 4,
      serverUuid: null,
      readOnly: true,
      superReadOnly: null,
      logBin: true,
      logReplicaUpdates: true,
      binlogFormat: 'ROW',
      gtidExecuted: '1-1-13,2-2-10,3-3-4,4-4-3',
      gtidPurged: null,
      gtidBinlogPos: '1-1-13,2-2-10,3-3-4,4-4-3',
      gtidSlavePos: '1-1-13,2-2-10,3-3-4',
      gtidCurrentPos: '1-1-13,2-2-10,3-3-4,4-4-3',
      gtidDomainId: 4,
      gtidStrictMode: false,
      gtidMode: null,
      enforceGtidConsistency: null,
      superReadOnlyPersisted: null,
    });
  });

  it('empty GTID state and OFF/ON words', () => {
    const v = dialectFor('mariadb').parseVariables({
      version: '10.6.1-MariaDB',
      server_id: 1,
      read_only: 'OFF',
      log_bin: 0,
      log_replica_updates: 'ON',
      binlog_format: 'MIXED',
      gtid_binlog_pos: '',
      gtid_slave_pos: '',
      gtid_current_pos: '',
      gtid_domain_id: 0,
      gtid_strict_mode: 'ON',
    });
    expect(v).toMatchObject({
      readOnly: false,
      logBin: false,
      logReplicaUpdates: true,
      gtidExecuted: '',
      gtidDomainId: 0,
      gtidStrictMode: true,
    });
  });
});

// ---- MySQL -----------------------------------------------------------------------------------------

const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

/** A SHOW REPLICA STATUS row with every column of facts/mysql.md (8.0.22+ names). */
function mysqlRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Replica_IO_State: 'Waiting for source to send event',
    Source_Host: 'a-1.shard-a.db.svc',
    Source_User: 'repl',
    Source_Port: 3306,
    Connect_Retry: 1,
    Source_Log_File: 'binlog.000003',
    Read_Source_Log_Pos: 2345,
    Relay_Log_File: 'relay-shard_a.000002',
    Relay_Log_Pos: 1200,
    Relay_Source_Log_File: 'binlog.000003',
    Replica_IO_Running: 'Yes',
    Replica_SQL_Running: 'Yes',
    Replicate_Do_DB: '',
    Replicate_Ignore_DB: '',
    Replicate_Do_Table: '',
    Replicate_Ignore_Table: '',
    Replicate_Wild_Do_Table: '',
    Replicate_Wild_Ignore_Table: '',
    Last_Errno: 0,
    Last_Error: '',
    Skip_Counter: 0,
    Exec_Source_Log_Pos: 2345,
    Relay_Log_Space: 1500,
    Until_Condition: 'None',
    Until_Log_File: '',
    Until_Log_Pos: 0,
    Source_SSL_Allowed: 'No',
    Source_SSL_CA_File: '',
    Source_SSL_CA_Path: '',
    Source_SSL_Cert: '',
    Source_SSL_Cipher: '',
    Source_SSL_Key: '',
    Seconds_Behind_Source: 0,
    Source_SSL_Verify_Server_Cert: 'No',
    Last_IO_Errno: 0,
    Last_IO_Error: '',
    Last_SQL_Errno: 0,
    Last_SQL_Error: '',
    Replicate_Ignore_Server_Ids: '',
    Source_Server_Id: 11,
    Source_UUID: UUID_A,
    Source_Info_File: 'mysql.slave_master_info',
    SQL_Delay: 0,
    SQL_Remaining_Delay: null,
    Replica_SQL_Running_State: 'Replica has read all relay log; waiting for more updates',
    Source_Retry_Count: 86400,
    Source_Bind: '',
    Last_IO_Error_Timestamp: '',
    Last_SQL_Error_Timestamp: '',
    Source_SSL_Crl: '',
    Source_SSL_Crlpath: '',
    Retrieved_Gtid_Set: `${UUID_A}:1-5`,
    Executed_Gtid_Set: `${UUID_A}:1-5,\n${UUID_B}:1-3`,
    Auto_Position: 1,
    Replicate_Rewrite_DB: '',
    Channel_Name: 'shard_a',
    Source_TLS_Version: '',
    Source_public_key_path: '',
    Get_Source_public_key: 1,
    Network_Namespace: '',
    ...overrides,
  };
}

/** The same row in 5.7 – 8.0.21 spelling (Source→Master, Replica→Slave). */
function legacyRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mysqlRow()))
    out[
      k
        .replace(/Source/g, 'Master')
        .replace(/Replica_/g, 'Slave_')
        .replace('Get_Master_public_key', 'Get_master_public_key')
    ] = v;
  out['Slave_SQL_Running_State'] = 'Slave has read all relay log; waiting for more updates';
  return { ...out, ...overrides };
}

describe.each([
  ['mysql', mysqlRow],
  ['mysql-legacy', legacyRow],
] as const)('%s parseChannels', (flavor, row) => {
  const d = dialectFor(flavor);

  it('a running channel: GTID sets without newlines, auto position, source UUID', () => {
    const [c] = d.parseChannels([row()]);
    expect(c).toMatchObject({
      name: 'shard_a',
      sourceHost: 'a-1.shard-a.db.svc',
      sourcePort: 3306,
      sourceUser: 'repl',
      sourceServerId: 11,
      sourceUuid: UUID_A,
      ioRunning: 'Yes',
      sqlRunning: 'Yes',
      secondsBehindSource: 0,
      retrievedGtidSet: `${UUID_A}:1-5`,
      executedGtidSet: `${UUID_A}:1-5,${UUID_B}:1-3`,
      autoPosition: true,
      gtidMode: 'Auto',
      lastIOErrorTimestamp: null,
      lastSQLErrorTimestamp: null,
      connectRetry: 1,
      // Not in SHOW REPLICA STATUS: without the configuration rows it is unknown.
      heartbeatPeriod: null,
      retryCount: 86400,
      sslAllowed: false,
      sslCaFile: '',
      sslVerifyServerCert: false,
      getSourcePublicKey: true,
    });
    expect(c!.sqlState).toMatch(/has read all relay log/);
    expect(() => ChannelStatus.parse(c)).not.toThrow();
  });

  it('several channels, the default one included, one broken and one connecting', () => {
    const rows = [
      row({ Channel_Name: '', Auto_Position: 0, Retrieved_Gtid_Set: '' }),
      row(),
      row({
        Channel_Name: 'shard_b',
        [flavor === 'mysql' ? 'Replica_IO_Running' : 'Slave_IO_Running']: 'Connecting',
        [flavor === 'mysql' ? 'Seconds_Behind_Source' : 'Seconds_Behind_Master']: null,
        Last_IO_Errno: 2003,
        Last_IO_Error:
          "error connecting to source 'repl@b-0:3306' - retry-time: 1 retries: 3 message: Can't connect",
        Last_IO_Error_Timestamp: '240115 10:22:01',
        [flavor === 'mysql' ? 'Source_UUID' : 'Master_UUID']: '',
        [flavor === 'mysql' ? 'Source_Server_Id' : 'Master_Server_Id']: 0,
      }),
      row({
        Channel_Name: 'shard_c',
        [flavor === 'mysql' ? 'Replica_SQL_Running' : 'Slave_SQL_Running']: 'No',
        Last_SQL_Errno: 1062,
        Last_SQL_Error: 'Duplicate entry',
        Last_SQL_Error_Timestamp: '240115 10:23:00',
        SQL_Delay: 600,
        Replicate_Do_DB: 'sales,crm',
        Replicate_Ignore_DB: 'tmp',
        [flavor === 'mysql' ? 'Source_SSL_Allowed' : 'Master_SSL_Allowed']: 'Yes',
      }),
    ];
    const [def, a, b, c] = d.parseChannels(rows);
    expect(def).toMatchObject({ name: '', autoPosition: false, gtidMode: 'No', retrievedGtidSet: '' });
    expect(a!.name).toBe('shard_a');
    expect(b).toMatchObject({
      name: 'shard_b',
      ioRunning: 'Connecting',
      secondsBehindSource: null,
      lastIOErrno: 2003,
      lastIOErrorTimestamp: '240115 10:22:01',
      sourceUuid: null,
      sourceServerId: null,
    });
    expect(c).toMatchObject({
      name: 'shard_c',
      sqlRunning: 'No',
      lastSQLErrno: 1062,
      lastSQLError: 'Duplicate entry',
      lastSQLErrorTimestamp: '240115 10:23:00',
      delaySeconds: 600,
      sslAllowed: true,
      filter: { doDatabases: ['sales', 'crm'], ignoreDatabases: ['tmp'] },
    });
  });

  it('SSL "Ignored" is not allowed; unknown IO words are a running receiver', () => {
    const [c] = d.parseChannels([
      row({
        [flavor === 'mysql' ? 'Source_SSL_Allowed' : 'Master_SSL_Allowed']: 'Ignored',
        [flavor === 'mysql' ? 'Replica_IO_Running' : 'Slave_IO_Running']: 'Preparing',
      }),
    ]);
    expect(c).toMatchObject({ sslAllowed: false, ioRunning: 'Connecting' });
  });
});

describe('mysql parseVariables', () => {
  it.each(['mysql', 'mysql-legacy'] as const)('%s', (flavor) => {
    const v = dialectFor(flavor).parseVariables({
      version: '8.0.36',
      server_id: 11,
      server_uuid: UUID_A,
      read_only: 1,
      super_read_only: 1,
      log_bin: 1,
      log_replica_updates: 1,
      binlog_format: 'ROW',
      gtid_mode: 'ON',
      enforce_gtid_consistency: 'ON',
      super_read_only_persisted: 'ON',
      gtid_executed: `${UUID_A}:1-5,\n${UUID_B}:1-3`,
      gtid_purged: `${UUID_A}:1-2`,
    });
    expect(v).toEqual({
      version: '8.0.36',
      serverId: 11,
      serverUuid: UUID_A,
      readOnly: true,
      superReadOnly: true,
      logBin: true,
      logReplicaUpdates: true,
      binlogFormat: 'ROW',
      gtidExecuted: `${UUID_A}:1-5,${UUID_B}:1-3`,
      gtidPurged: `${UUID_A}:1-2`,
      gtidBinlogPos: null,
      gtidSlavePos: null,
      gtidCurrentPos: null,
      gtidDomainId: null,
      gtidStrictMode: null,
      gtidMode: 'ON',
      enforceGtidConsistency: true,
      // Without a version, mysql-legacy means 5.7: nothing is persisted there, so it is not asked.
      superReadOnlyPersisted: flavor === 'mysql' ? true : null,
    });
  });

  it('a writable server with empty GTID state', () => {
    expect(
      dialectFor('mysql').parseVariables({
        version: '8.4.3',
        server_id: 1,
        server_uuid: UUID_B,
        read_only: 0,
        super_read_only: 0,
        log_bin: 1,
        log_replica_updates: 1,
        binlog_format: 'ROW',
        gtid_executed: '',
        gtid_purged: '',
      }),
    ).toMatchObject({ readOnly: false, superReadOnly: false, gtidExecuted: '', gtidPurged: '' });
  });
});

describe('waitReached', () => {
  it.each([
    // [value, reached] — MySQL WAIT_FOR_EXECUTED_GTID_SET: 0 reached, 1 timeout; MariaDB MASTER_GTID_WAIT: 0 / -1.
    [0, true],
    ['0', true],
    [BigInt(0), true],
    [1, false],
    ['1', false],
    [-1, false],
    ['-1', false],
    [null, false],
    [undefined, false],
    ['', false],
  ])('%s → %s', (value, reached) => {
    expect(waitReached(value)).toBe(reached);
    for (const f of ['mysql', 'mysql-legacy', 'mariadb'] as const)
      expect(dialectFor(f).waitReached(value)).toBe(reached);
  });
});
