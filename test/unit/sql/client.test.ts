// The client without a database: connection failures become SqlError without the password, and the
// pool hands out one client per address and user. (Queries against real servers run in the
// integration tests.)
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlClient, SqlClientPool, settingsKey, sslOptions } from '../../../src/sql/client.js';
import { SqlError, isConnectionError, toSqlError } from '../../../src/sql/errors.js';

let hangup: Server;
let hangupPort = 0;
let silent: Server;
let silentPort = 0;

beforeAll(async () => {
  // Accepts and closes at once: the handshake never starts.
  hangup = createServer((s) => s.destroy());
  // Accepts and says nothing: the handshake never finishes.
  silent = createServer(() => undefined);
  await Promise.all([hangup, silent].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))));
  hangupPort = (hangup.address() as { port: number }).port;
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  hangup.close();
  silent.close();
});

const PASSWORD = 'sup3r-s3cret-admin';

async function failure(client: SqlClient): Promise<SqlError> {
  try {
    await client.query('SELECT 1');
  } catch (e) {
    return e as SqlError;
  } finally {
    await client.close();
  }
  throw new Error('query succeeded');
}

describe('SqlClient connection failures', () => {
  it('refused', async () => {
    // Port 1 on loopback: nothing listens there.
    const e = await failure(
      new SqlClient({ host: '127.0.0.1', port: 1, user: 'admin', password: PASSWORD, label: 'a-0' }),
    );
    expect(e).toBeInstanceOf(SqlError);
    expect(e.kind).toBe('connect');
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.errno).toBeNull();
    expect(e.server).toBe('a-0 (127.0.0.1:1)');
    expect(e.message).toMatch(
      /^a-0 \(127\.0\.0\.1:1\): connect ECONNREFUSED 127\.0\.0\.1:1 \(ECONNREFUSED\)$/,
    );
    expect(isConnectionError(e)).toBe(true);
    expect(JSON.stringify({ ...e, m: e.message, s: e.stack })).not.toContain(PASSWORD);
  });

  it('a server that hangs up', async () => {
    const e = await failure(
      new SqlClient({ host: '127.0.0.1', port: hangupPort, user: 'admin', password: PASSWORD }),
    );
    expect(e.kind).toBe('connect');
    expect(isConnectionError(e)).toBe(true);
    expect(e.message).not.toContain(PASSWORD);
  });

  it('a server that never answers: bounded by connectTimeoutMs', async () => {
    const started = Date.now();
    const e = await failure(
      new SqlClient({
        host: '127.0.0.1',
        port: silentPort,
        user: 'admin',
        password: PASSWORD,
        connectTimeoutMs: 300,
      }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(e.kind).toBe('timeout');
    expect(isConnectionError(e)).toBe(true);
  });

  it('a closed client refuses to query', async () => {
    const c = new SqlClient({ host: '127.0.0.1', port: 1, user: 'u', password: PASSWORD });
    await c.close();
    await c.close();
    await expect(c.query('SELECT 1')).rejects.toThrow(/client is closed/);
  });
});

describe('SqlClientPool', () => {
  it('one client per address and user; a new password replaces it; closeAll empties', async () => {
    const pool = new SqlClientPool({ connectTimeoutMs: 500 });
    const a = pool.get({ host: 'DB-0.example', port: 3306, user: 'admin', password: 'p1', label: 'db-0' });
    expect(pool.get({ host: 'db-0.example', port: 3306, user: 'admin', password: 'p1' })).toBe(a);
    expect(pool.get({ host: 'db-0.example', port: 3307, user: 'admin', password: 'p1' })).not.toBe(a);
    expect(pool.get({ host: 'db-0.example', port: 3306, user: 'other', password: 'p1' })).not.toBe(a);
    expect(pool.size).toBe(3);
    const rotated = pool.get({ host: 'db-0.example', port: 3306, user: 'admin', password: 'p2' });
    expect(rotated).not.toBe(a);
    expect(pool.size).toBe(3);
    await expect(a.query('SELECT 1')).rejects.toThrow(/client is closed/);
    await pool.close({ host: 'db-0.example', port: 3307, user: 'admin' });
    expect(pool.size).toBe(2);
    await pool.closeAll();
    expect(pool.size).toBe(0);
    await expect(rotated.query('SELECT 1')).rejects.toThrow(/client is closed/);
  });

  it('labels name the member and the address', () => {
    const pool = new SqlClientPool();
    expect(pool.get({ host: '10.0.0.5', port: 3306, user: 'u', password: 'p', label: 'a-0' }).label).toBe(
      'a-0 (10.0.0.5:3306)',
    );
    expect(pool.get({ host: '10.0.0.6', port: 3306, user: 'u', password: 'p' }).label).toBe('10.0.0.6:3306');
    return pool.closeAll();
  });
});

describe('TLS of the operator’s connections', () => {
  const pem = { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' };
  it.each([
    ['no TLS', undefined, undefined],
    ['disabled', { mode: 'disabled' as const, ...pem }, undefined],
    ['preferred: encrypt, verify nothing', { mode: 'preferred' as const }, { rejectUnauthorized: false }],
    [
      'required: encrypt, verify nothing',
      { mode: 'required' as const, ca: 'CA-PEM' },
      { ca: 'CA-PEM', rejectUnauthorized: false },
    ],
    [
      'verify-ca: the chain',
      { mode: 'verify-ca' as const, ca: 'CA-PEM' },
      { ca: 'CA-PEM', rejectUnauthorized: true },
    ],
    [
      'verify-identity: the chain and the host, with a client certificate',
      { mode: 'verify-identity' as const, ...pem },
      { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM', rejectUnauthorized: true, verifyIdentity: true },
    ],
  ])('%s', (_n, tls, want) => {
    expect(sslOptions(tls)).toEqual(want);
  });

  it('new settings (password, mode, CA, client key) replace the client; the same ones keep it', async () => {
    const base = { password: 'p', tls: { mode: 'verify-ca' as const, ca: 'A' } };
    const key = settingsKey(base);
    expect(settingsKey({ ...base })).toBe(key);
    for (const other of [
      { ...base, password: 'q' },
      { ...base, tls: { ...base.tls, ca: 'B' } },
      { ...base, tls: { ...base.tls, mode: 'verify-identity' as const } },
      { ...base, tls: { ...base.tls, key: 'K' } },
      { password: 'p' },
    ])
      expect(settingsKey(other)).not.toBe(key);
    expect(key).not.toContain('p');
    const pool = new SqlClientPool({ connectTimeoutMs: 500 });
    const at = { host: 'db-0', port: 3306, user: 'admin', password: 'p' };
    const a = pool.get({ ...at, tls: { mode: 'required' } });
    expect(pool.get({ ...at, tls: { mode: 'required' } })).toBe(a);
    expect(pool.get({ ...at, tls: { mode: 'verify-ca', ca: 'A' } })).not.toBe(a);
    await pool.closeAll();
  });

  it('a TLS failure is a refusal of kind tls, not a connection failure, and carries no key material', async () => {
    // The hang-up server never completes a handshake; a server without TLS is mimicked by the driver code.
    const e = toSqlError(
      Object.assign(new Error('Server does not support secure connection'), {
        code: 'HANDSHAKE_NO_SSL_SUPPORT',
      }),
      { server: 'a-0 (10.0.0.5:3306)', secrets: ['KEY-PEM'] },
    );
    expect([e.kind, e.message]).toEqual([
      'tls',
      'a-0 (10.0.0.5:3306): TLS: Server does not support secure connection (HANDSHAKE_NO_SSL_SUPPORT)',
    ]);
    expect(isConnectionError(e)).toBe(false);
  });
});
