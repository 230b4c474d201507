// The I/O shell over mysql2: one small pool per server, bounded connect and query times, and errors
// as SqlError whose text never holds a password. Everything else in the SQL layer is pure.
import { createPool, type Pool, type PoolConnection } from 'mysql2/promise';
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
  private readonly pool: Pool;
  private readonly queryTimeoutMs: number;
  private readonly password: string;
  private readonly ready = new WeakSet<object>();
  private closed = false;

  constructor(opts: SqlClientOptions) {
    const address = `${opts.host}:${opts.port}`;
    this.label = opts.label && opts.label !== address ? `${opts.label} (${address})` : address;
    this.password = opts.password;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    const limit = Math.min(4, Math.max(1, Math.trunc(opts.connectionLimit ?? 2)));
    this.pool = createPool({
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
    });
    // A broken idle connection emits 'error' on the pool's connection (mysql2 drops it). A kill -9 of the
    // server shows here within milliseconds, long before the next probe: say so.
    this.pool.on('connection', (c) =>
      c.on('error', () => {
        if (!this.closed) opts.onConnectionLost?.();
      }),
    );
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

    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      throw toSqlError(e, { ...context, statement: undefined });
    }
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
}

/**
 * Clients by address and user, reused across passes so a probe finds warm connections. A changed
 * password (rotated Secret) replaces the client.
 */
export class SqlClientPool {
  private readonly clients = new Map<string, { client: SqlClient; password: string }>();
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
    if (cached && cached.password === opts.password) return cached.client;
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
    this.clients.set(key, { client, password: opts.password });
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

  private retire(client: SqlClient): void {
    const p = client.close().finally(() => this.closing.delete(p));
    this.closing.add(p);
  }
}

export { SqlError };
