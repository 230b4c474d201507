// toSqlError on error objects shaped exactly as mysql2 3.24 produced them against MariaDB 10.11
// (errno/code/sqlState/message/sql as observed), and the predicates the operator branches on.
import { describe, expect, it } from 'vitest';
import {
  ER,
  FilterUnsupportedError,
  SqlError,
  isAccessDenied,
  isChannelRunning,
  isConnectionError,
  isDuplicateSource,
  isFileRepository,
  isMultipleChannels,
  isTimeout,
  isUnknownChannel,
  scrub,
  secretOf,
  toSqlError,
} from '../../../src/sql/errors.js';
import { dialectFor } from '../../../src/sql/flavor.js';

const serverError = (errno: number, message: string, code?: string, sql = 'X') =>
  Object.assign(new Error(message), { errno, sqlState: 'HY000', sqlMessage: message, code, sql });

const observed = {
  unknownChannel: serverError(
    1617,
    "There is no master connection 'nosuch'",
    'WARN_NO_CONNECTION_METADATA',
    "START REPLICA 'nosuch'",
  ),
  conflict: serverError(1934, "Connection 'dup' conflicts with existing connection 'x'"),
  running: serverError(
    1198,
    "This operation cannot be performed as you have a running slave 'x'; run STOP SLAVE 'x' first",
    'ER_SLAVE_MUST_STOP',
  ),
  refused: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
    errno: -111,
    code: 'ECONNREFUSED',
    fatal: true,
  }),
  connectTimeout: Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT', fatal: true }),
  queryTimeout: Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }),
  lost: Object.assign(new Error('Connection lost: The server closed the connection.'), {
    code: 'PROTOCOL_CONNECTION_LOST',
    fatal: true,
  }),
  denied: Object.assign(
    serverError(
      1045,
      "Access denied for user 'admin'@'127.0.0.1' (using password: YES)",
      'ER_ACCESS_DENIED_ERROR',
    ),
    { sqlState: '28000' },
  ),
  privilege: serverError(
    1227,
    'Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this operation',
  ),
  mysqlNoChannel: serverError(
    3074,
    "Replica channel 'x' does not exist.",
    'ER_REPLICA_CHANNEL_DOES_NOT_EXIST',
  ),
  mysqlMustStop: serverError(
    3081,
    "This operation cannot be performed with running replication threads; run STOP REPLICA FOR CHANNEL 'x' first",
  ),
  mysqlMulti: serverError(
    3079,
    'Multiple channels exist on the replica. Please provide channel name as an argument.',
  ),
  mysqlFile: serverError(3077, 'To have multiple channels, repository cannot be of type FILE'),
  prior1964: serverError(1964, 'Commit failed due to failure of an earlier commit on which this one depends'),
};

describe('toSqlError', () => {
  it.each([
    ['unknownChannel', 1617, null, 'server'],
    ['conflict', 1934, null, 'server'],
    ['running', 1198, null, 'server'],
    ['refused', null, 'ECONNREFUSED', 'connect'],
    ['connectTimeout', null, 'ETIMEDOUT', 'timeout'],
    ['queryTimeout', null, 'PROTOCOL_SEQUENCE_TIMEOUT', 'timeout'],
    ['lost', null, 'PROTOCOL_CONNECTION_LOST', 'connect'],
    ['denied', 1045, null, 'auth'],
    ['privilege', 1227, null, 'privilege'],
  ] as const)('%s → errno %s, code %s, kind %s', (name, errno, code, kind) => {
    const e = toSqlError(observed[name], { server: 'a-0 (10.0.0.5:3306)' });
    expect(e).toBeInstanceOf(SqlError);
    expect(e.errno).toBe(errno);
    expect(e.code).toBe(code);
    expect(e.kind).toBe(kind);
    expect(e.server).toBe('a-0 (10.0.0.5:3306)');
    expect(e.message.startsWith('a-0 (10.0.0.5:3306): ')).toBe(true);
    expect(e.message).not.toMatch(/[\r\n]/);
    // mysql2's error (with the SQL text) is not kept.
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify(e)).not.toContain('"sql"');
  });

  it('the message names the server, the errno and the statement display', () => {
    const stmt = dialectFor('mariadb').start('nosuch');
    const e = toSqlError(observed.unknownChannel, { server: 'dw-0 (127.0.0.1:33103)', statement: stmt });
    expect(e.message).toBe(
      "dw-0 (127.0.0.1:33103): There is no master connection 'nosuch' (errno 1617) in: START REPLICA 'nosuch'",
    );
    expect(e.statement).toBe("START REPLICA 'nosuch'");
    expect(e.serverMessage).toBe("There is no master connection 'nosuch'");
    expect(e.sqlState).toBe('HY000');
  });

  it('never carries the password: not from the statement, not from a server message echoing it', () => {
    const password = "hunter2's\\secret";
    const stmt = dialectFor('mariadb').changeSource('x', {
      host: 'h',
      port: 1,
      user: 'repl',
      password,
      connectRetry: 1,
      retryCount: 1,
      heartbeatPeriod: 1,
      delaySeconds: 0,
    });
    // A 1064 quotes the statement text near the error, escaped password included.
    const near = stmt.sql.slice(stmt.sql.indexOf('MASTER_USER'));
    const err = serverError(
      1064,
      `You have an error in your SQL syntax; ... near '${near}' at line 1`,
      'ER_PARSE_ERROR',
      stmt.sql,
    );
    const e = toSqlError(err, { server: 's', statement: stmt, secrets: ['adminpass'] });
    for (const form of [password, "hunter2''s\\\\secret", 'hunter2']) expect(e.message).not.toContain(form);
    expect(e.message).toContain('MASTER_PASSWORD=<redacted>');
    expect(e.statement).toContain('MASTER_PASSWORD=<redacted>');
    expect(JSON.stringify({ ...e, message: e.message, stack: e.stack })).not.toContain('hunter2');
    // The client's own password is scrubbed too.
    const login = toSqlError(new Error('bad handshake for adminpass'), {
      server: 's',
      secrets: ['adminpass'],
    });
    expect(login.message).toBe('s: bad handshake for <redacted>');
  });

  it('a plain string statement is shown as is; an SqlError passes through', () => {
    const e = toSqlError(observed.running, { server: 's', statement: "RESET REPLICA 'x' ALL" });
    expect(e.statement).toBe("RESET REPLICA 'x' ALL");
    expect(toSqlError(e, { server: 'other' })).toBe(e);
    expect(toSqlError('weird', { server: 's' }).kind).toBe('client');
  });
});

describe('secretOf / scrub', () => {
  it('finds exactly the redacted literal', () => {
    expect(secretOf({ sql: "A P='x''y', B", display: 'A P=<redacted>, B' })).toBe("'x''y'");
    expect(secretOf({ sql: "P='<r'", display: 'P=<redacted>' })).toBe("'<r'");
    expect(secretOf({ sql: 'SELECT 1', display: 'SELECT 1' })).toBeNull();
  });
  it('removes a truncated prefix the server quotes (MariaDB 1470 on a 200-character password)', () => {
    const password = 'p'.repeat(150) + 'Q'.repeat(50);
    const literal = `'${password}'`;
    const message = `String '${password.slice(0, 64)}...' is too long for MASTER_PASSWORD (should be no longer than 96)`;
    expect(scrub(message, [literal])).toBe(
      "String '<redacted>...' is too long for MASTER_PASSWORD (should be no longer than 96)",
    );
    // Short runs shared by chance are left alone.
    expect(scrub('pp and ppppp stay', [literal])).toBe('pp and ppppp stay');
  });

  it('removes the literal, its escaped text and its raw text; ignores empty secrets', () => {
    expect(scrub("near 'a\\\\b''c' and a\\\\b''c and a\\b'c", ["'a\\\\b''c'"])).toBe(
      'near <redacted> and <redacted> and <redacted>',
    );
    expect(scrub("x '' y", ["''", ''])).toBe('x <redacted> y');
  });
});

describe('predicates', () => {
  it.each([
    ['unknownChannel', isUnknownChannel],
    ['mysqlNoChannel', isUnknownChannel],
    ['running', isChannelRunning],
    ['mysqlMustStop', isChannelRunning],
    ['conflict', isDuplicateSource],
    ['denied', isAccessDenied],
    ['privilege', isAccessDenied],
    ['refused', isConnectionError],
    ['connectTimeout', isConnectionError],
    ['lost', isConnectionError],
    ['queryTimeout', isTimeout],
    ['connectTimeout', isTimeout],
    ['mysqlFile', isFileRepository],
  ] as const)('%s (raw and as SqlError)', (name, predicate) => {
    expect(predicate(observed[name]), predicate.name).toBe(true);
    expect(predicate(toSqlError(observed[name], { server: 's' })), predicate.name).toBe(true);
  });

  it.each([
    ['unknownChannel', [isChannelRunning, isDuplicateSource, isConnectionError, isTimeout, isAccessDenied]],
    ['refused', [isUnknownChannel, isTimeout, isAccessDenied]],
    ['queryTimeout', [isConnectionError, isUnknownChannel]],
    ['denied', [isConnectionError]],
  ] as const)('%s is none of the others', (name, predicates) => {
    for (const p of predicates) expect(p(toSqlError(observed[name], { server: 's' })), p.name).toBe(false);
  });

  it('match on errno, not on the driver code name', () => {
    // 1934 has no mysql2 code at all; 1617 carries a MySQL name that says nothing about MariaDB.
    expect(isDuplicateSource({ errno: 1934 })).toBe(true);
    expect(isUnknownChannel({ errno: 0, code: 'WARN_NO_CONNECTION_METADATA' })).toBe(false);
    // A Node errno (negative) is not a server error number.
    expect(toSqlError({ errno: -111, code: 'ECONNREFUSED', message: 'x' }, { server: 's' }).errno).toBeNull();
  });

  it('"multiple channels" depends on the flavor: 1964 is something else on MariaDB', () => {
    expect(isMultipleChannels(observed.mysqlMulti, 'mysql')).toBe(true);
    expect(isMultipleChannels(observed.mysqlMulti, 'mariadb')).toBe(true);
    expect(isMultipleChannels(observed.prior1964, 'mysql-legacy')).toBe(true);
    expect(isMultipleChannels(observed.prior1964, 'mariadb')).toBe(false);
  });

  it('the errno table holds the numbers seen or documented', () => {
    expect([
      ER.NO_MASTER_CONNECTION,
      ER.MARIADB_CONNECTION_CONFLICT,
      ER.REPLICA_MUST_STOP,
      ER.MYSQL_CHANNEL_DOES_NOT_EXIST,
    ]).toEqual([1617, 1934, 1198, 3074]);
    expect([
      ER.CR_CONN_HOST_ERROR,
      ER.CR_SERVER_LOST,
      ER.ACCESS_DENIED,
      ER.MYSQL_NEW_CHANNEL_WRONG_REPOSITORY,
    ]).toEqual([2003, 2013, 1045, 3077]);
  });
});

describe('typed errors raised before SQL', () => {
  it('FilterUnsupportedError', () => {
    const e = new FilterUnsupportedError('mysql-legacy', 'c', 'why');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('FilterUnsupportedError');
    expect(e.message).toBe('channel "c": why');
    expect(e.flavor).toBe('mysql-legacy');
  });
});

describe('refusals: privilege, login, TLS', () => {
  const e = (errno: number, message: string, statement?: string) =>
    toSqlError(serverError(errno, message), {
      server: 'b-0 (127.0.0.1:3306)',
      ...(statement ? { statement } : {}),
    });
  it.each([
    [
      'MariaDB SHOW ALL REPLICAS STATUS without SLAVE MONITOR (SUPER is not suggested)',
      e(
        1227,
        'Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this operation',
        'SHOW ALL REPLICAS STATUS',
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege SLAVE MONITOR (docs/security.md lists the grants): ',
    ],
    [
      'MariaDB read_only without READ_ONLY ADMIN',
      e(
        1227,
        'Access denied; you need (at least one of) the READ_ONLY ADMIN privilege(s) for this operation',
        'SET GLOBAL read_only = ON',
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege READ_ONLY ADMIN ',
    ],
    [
      'MySQL SET PERSIST_ONLY',
      e(
        3630,
        'Access denied; you need SYSTEM_VARIABLES_ADMIN and PERSIST_RO_VARIABLES_ADMIN privileges for this operation',
        'SET PERSIST_ONLY super_read_only = ON',
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege SYSTEM_VARIABLES_ADMIN and PERSIST_RO_VARIABLES_ADMIN ',
    ],
    [
      'a table read without SELECT on it',
      e(
        1142,
        "SELECT command denied to user 'tributary'@'127.0.0.1' for table 'replication_connection_configuration'",
        'SELECT 1',
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege SELECT on table replication_connection_configuration ',
    ],
    [
      'a column read without SELECT on it',
      e(
        1143,
        "SELECT command denied to user 'tributary'@'127.0.0.1' for column 'authentication_string' in table 'user'",
        'SELECT 1',
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege SELECT on column user.authentication_string ',
    ],
    [
      'GRANT without the grant option (1045 to a statement)',
      e(
        1045,
        "Access denied for user 'tributary'@'%' (using password: YES)",
        "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
      ),
      'privilege',
      'b-0 (127.0.0.1:3306): missing privilege GRANT OPTION ',
    ],
    [
      'a refused login (1045 at connect)',
      e(1045, "Access denied for user 'tributary'@'127.0.0.1' (using password: YES)"),
      'auth',
      "b-0 (127.0.0.1:3306): refused the operator's login: ",
    ],
    [
      'MySQL refusing plaintext',
      e(3159, 'Connections using insecure transport are prohibited while --require_secure_transport=ON.'),
      'tls',
      'b-0 (127.0.0.1:3306): TLS: ',
    ],
  ] as const)('%s', (_n, err, kind, start) => {
    expect(err.kind).toBe(kind);
    expect(err.message.startsWith(start)).toBe(true);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(isConnectionError(err)).toBe(false);
  });
});
