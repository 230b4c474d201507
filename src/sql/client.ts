// The I/O shell over mysql2: one small pool per server, bounded connect and query times, and errors
// as SqlError whose text never holds a password. Everything else in the SQL layer is pure.
import { createHash } from 'node:crypto';
import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2/promise';
import type { TlsMaterial } from '../api/validate.js';
import type { Statement } from './dialect.js';
import { SqlError, toSqlError } from './errors.js';

export interface SqlClientOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** How messages name the server, e.g. the member name; host:port is appended. */
  label?: string;
  /** Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Default 10000 ms; a statement with its own timeoutSeconds gets that plus 5 s instead. */
  queryTimeoutMs?: number;
  /** Pooled connections, 1–4 (default 2): a probe runs a few queries at once, never many. */
  connectionLimit?: number;
  /** Called when a pooled connection breaks (the server died or the link dropped): a reason to look now. */
  onConnectionLost?: () => void;
  /** TLS of the connections (spec.tls and its Secrets); absent or mode disabled: plaintext. */
  tls?: TlsMaterial;
}

/**
 * mysql2's ssl options for a TLS mode, like MySQL's --ssl-mode: preferred and required encrypt without
 * verifying; verify-ca checks the chain against the CA; verify-identity also the host name (or IP in the
 * certificate's subjectAltName). A client certificate is sent whenever one is given. Undefined: plaintext.
 */
export function sslOptions(tls: TlsMaterial | undefined): PoolOptions['ssl'] | undefined {
  if (!tls || tls.mode === 'disabled') return undefined;
  const verify = tls.mode === 'verify-ca' || tls.mode === 'verify-identity';
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    rejectUnauthorized: verify,
    ...(tls.mode === 'verify-identity' ? { verifyIdentity: true } : {}),
  } as PoolOptions['ssl'];
}

/**
 * What tells one client's connection settings from another's: the password and the TLS material, hashed
 * (never kept or shown as such). A change replaces the client; its connections are drained.
 */
export function settingsKey(opts: Pick<SqlClientOptions, 'password' | 'tls'>): string {
  const h = createHash('sha256').update(opts.password);
  const t = opts.tls;
  if (t && t.mode !== 'disabled')
    for (const part of [t.mode, t.ca ?? '', t.cert ?? '', t.key ?? '']) h.update('\0').update(part);
  return h.digest('hex');
}

export interface QueryOptions {
  timeoutMs?: number;
}

type Row = Record<string, unknown>;

/** Margin a self-bounded statement (GTID wait) gets beyond its server-side timeout. */
const SERVER_TIMEOUT_MARGIN_MS = 5000;

/**
 * quoteString's backslash escapes are only read as escapes without NO_BACKSLASH_ESCAPES: every new
 * connection drops that mode from its session (whatever the server's global sql_mode says).
 */
const SESSION_SETUP =
  "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))";

export class SqlClient {
  readonly label: string;
  private pool: Pool;
  private readonly queryTimeoutMs: number;
  private readonly password: string;
  private readonly ready = new WeakSet<object>();
  private closed = false;
  /** Queries in flight: a retired client closes once they are done (drained). */
  private active = 0;
  private idle: (() => void) | undefined;
  /** preferred mode: the server offered no TLS, so this client fell back to plaintext. */
  private plaintextFallback = false;
  /** Whether the connection of the last query was encrypted (undefined before the first). */
  encrypted: boolean | undefined;

  constructor(private readonly opts: SqlClientOptions) {
    const address = `${opts.host}:${opts.port}`;
    this.label = opts.label && opts.label !== address ? `${opts.label} (${address})` : address;
    this.password = opts.password;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    this.pool = this.createPool(sslOptions(opts.tls));
  }

  private createPool(ssl: PoolOptions['ssl'] | undefined): Pool {
    const opts = this.opts;
    const limit = Math.min(4, Math.max(1, Math.trunc(opts.connectionLimit ?? 2)));
    const pool = createPool({
      host: opts.host,
      port: opts.port,
      user: opts.user,
      password: opts.password,
      connectTimeout: opts.connectTimeoutMs ?? 3000,
      connectionLimit: limit,
      maxIdle: limit,
      idleTimeout: 60_000,
      enableKeepAlive: true,
      waitForConnections: true,
      queueLimit: 0,
      // One statement per call, so nothing can be stacked behind a literal.
      multipleStatements: false,
      // Numbers stay numbers (facts §7); only values beyond 2^53 become strings instead of losing digits.
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      // mysql2 sizes a prepared-statement cache per connection (16000 entries, ~512 KB) up front; nothing
      // here prepares statements, and at 50 servers that cache was most of the live heap.
      maxPreparedStatements: 1,
      ...(ssl ? { ssl } : {}),
    });
    // A broken idle connection emits 'error' on the pool's connection (mysql2 drops it). A kill -9 of the
    // server shows here within milliseconds, long before the next probe: say so.
    pool.on('connection', (c) =>
      c.on('error', () => {
        if (!this.closed) opts.onConnectionLost?.();
      }),
    );
    return pool;
  }

  /**
   * A pooled connection. preferred mode: a server that offers no TLS is used in plaintext from then on (a
   * new client, made when the settings change, tries TLS again).
   */
  private async connection(): Promise<PoolConnection> {
    try {
      return await this.pool.getConnection();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (
        this.opts.tls?.mode !== 'preferred' ||
        this.plaintextFallback ||
        code !== 'HANDSHAKE_NO_SSL_SUPPORT'
      )
        throw e;
      this.plaintextFallback = true;
      const old = this.pool;
      this.pool = this.createPool(undefined);
      void old.end().catch(() => undefined);
      return await this.pool.getConnection();
    }
  }

  /** Rows of a SELECT/SHOW; [] for statements that return none. */
  async query<T = Row>(stmt: Statement | string, opts: QueryOptions = {}): Promise<T[]> {
    const statement: Statement = typeof stmt === 'string' ? { sql: stmt, display: stmt } : stmt;
    const context = { server: this.label, statement, secrets: [this.password] };
    if (this.closed) throw toSqlError(new Error('client is closed'), context);
    const timeout =
      opts.timeoutMs ??
      (statement.timeoutSeconds !== undefined
        ? Math.max(this.queryTimeoutMs, statement.timeoutSeconds * 1000 + SERVER_TIMEOUT_MARGIN_MS)
        : this.queryTimeoutMs);

    this.active++;
    try {
      return await this.run<T>(statement, timeout, context);
    } finally {
      if (--this.active === 0) this.idle?.();
    }
  }

  private async run<T>(
    statement: Statement,
    timeout: number,
    context: { server: string; statement: Statement; secrets: string[] },
  ): Promise<T[]> {
    let conn: PoolConnection;
    try {
      conn = await this.connection();
    } catch (e) {
      throw toSqlError(e, { ...context, statement: undefined });
    }
    // mysql2 swaps the socket for a TLSSocket once the handshake upgrades it.
    this.encrypted =
      (conn.connection as unknown as { stream?: { encrypted?: boolean } }).stream?.encrypted === true;
    try {
      if (!this.ready.has(conn.connection)) {
        await conn.query({ sql: SESSION_SETUP, timeout: this.queryTimeoutMs });
        this.ready.add(conn.connection);
      }
      const [result] = await conn.query({ sql: statement.sql, timeout });
      conn.release();
      return Array.isArray(result) ? (result as T[]) : [];
    } catch (e) {
      const err = toSqlError(e, context);
      // A server error leaves the connection usable. Anything else (a timeout: the statement may still run
      // and would block the next one; a broken link) retires it.
      if (err.kind === 'server') conn.release();
      else conn.destroy();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  /**
   * Closes once the queries in flight are done (bounded by `maxWaitMs`): a client replaced by new settings
   * (a rotated password, new TLS material) lets a running statement finish instead of cutting it.
   */
  async drain(maxWaitMs = this.queryTimeoutMs): Promise<void> {
    if (this.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, maxWaitMs);
      });
      clearTimeout(timer);
    }
    await this.close();
  }

  /** Queries in flight now. */
  get inFlight(): number {
    return this.active;
  }
}

/**
 * Clients by address and user, reused across passes so a probe finds warm connections. Changed settings
 * (a rotated password, new TLS material) replace the client: new connections use them, and the old
 * client's connections are drained (its statements in flight finish, then it closes).
 */
export class SqlClientPool {
  private readonly clients = new Map<string, { client: SqlClient; settings: string }>();
  private readonly closing = new Set<Promise<void>>();
  private readonly lostListeners = new Set<(address: { host: string; port: number }) => void>();

  constructor(
    private readonly defaults: Pick<
      SqlClientOptions,
      'connectTimeoutMs' | 'queryTimeoutMs' | 'connectionLimit'
    > = {},
  ) {}

  static key(opts: Pick<SqlClientOptions, 'host' | 'port' | 'user'>): string {
    return `${opts.user}@${opts.host.toLowerCase()}:${opts.port}`;
  }

  get(opts: SqlClientOptions): SqlClient {
    const key = SqlClientPool.key(opts);
    const cached = this.clients.get(key);
    const settings = settingsKey(opts);
    if (cached && cached.settings === settings) return cached.client;
    if (cached) this.retire(cached.client);
    const address = { host: opts.host, port: opts.port };
    const client = new SqlClient({
      ...this.defaults,
      ...opts,
      onConnectionLost: () => {
        for (const listener of this.lostListeners) listener(address);
        opts.onConnectionLost?.();
      },
    });
    this.clients.set(key, { client, settings });
    return client;
  }

  /** Hears about every broken pooled connection, by the address the client connects to. */
  onConnectionLost(listener: (address: { host: string; port: number }) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Closes the client of one address (e.g. a member removed from the spec). */
  async close(opts: Pick<SqlClientOptions, 'host' | 'port' | 'user'>): Promise<void> {
    const key = SqlClientPool.key(opts);
    const cached = this.clients.get(key);
    this.clients.delete(key);
    if (cached) await cached.client.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.clients.values()].map((c) => c.client.close());
    this.clients.clear();
    await Promise.all([...all, ...this.closing]);
  }

  get size(): number {
    return this.clients.size;
  }

  /** Clients replaced and still draining. */
  get draining(): number {
    return this.closing.size;
  }

  private retire(client: SqlClient): void {
    const p = client.drain().finally(() => this.closing.delete(p));
    this.closing.add(p);
  }
}

export { SqlError };
