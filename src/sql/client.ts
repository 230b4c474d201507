// The I/O shell over mysql2: a few connections per server, bounded in number whatever the login
// (server-connections.ts), bounded connect and query times, and errors as SqlError whose text never holds
// a password. Everything else in the SQL layer is pure.
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { createConnection, type Connection, type ConnectionOptions } from 'mysql2';
import type { TlsMaterial } from '../api/validate.js';
import type { Statement } from './dialect.js';
import { SqlError, toSqlError } from './errors.js';
import {
  DEFAULT_MAX_CONNECTIONS_PER_SERVER,
  MAX_CONNECTIONS_PER_SERVER,
  ServerConnections,
} from './server-connections.js';

export { DEFAULT_MAX_CONNECTIONS_PER_SERVER, MAX_CONNECTIONS_PER_SERVER };

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
  /**
   * Connections of a client made on its own, 1–16 (default 2): a probe runs a few queries at once, never
   * many. A client of a SqlClientPool shares its address's limit instead (maxConnectionsPerServer).
   */
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
export function sslOptions(tls: TlsMaterial | undefined): ConnectionOptions['ssl'] | undefined {
  if (!tls || tls.mode === 'disabled') return undefined;
  const verify = tls.mode === 'verify-ca' || tls.mode === 'verify-identity';
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    rejectUnauthorized: verify,
    ...(tls.mode === 'verify-identity' ? { verifyIdentity: true } : {}),
  } as ConnectionOptions['ssl'];
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
  /** Where it connects. */
  readonly address: { host: string; port: number };
  private readonly queryTimeoutMs: number;
  private readonly password: string;
  /** The connections of this client's server, shared with every other client of the address. */
  private readonly server: ServerConnections<Connection>;
  private readonly ready = new WeakSet<object>();
  private closed = false;
  /** Queries in flight: a retired client closes once they are done (drained). */
  private active = 0;
  private idle: (() => void) | undefined;
  /** preferred mode: the server offered no TLS, so this client fell back to plaintext. */
  private plaintextFallback = false;
  /** Whether the connection of the last query was encrypted (undefined before the first). */
  encrypted: boolean | undefined;

  /**
   * `server`: the connection limit of the address, shared with other clients (SqlClientPool); absent, the
   * client has its own of `connectionLimit`.
   */
  constructor(
    private readonly opts: SqlClientOptions,
    server?: ServerConnections<Connection>,
  ) {
    const address = `${opts.host}:${opts.port}`;
    this.address = { host: opts.host, port: opts.port };
    this.label = opts.label && opts.label !== address ? `${opts.label} (${address})` : address;
    this.password = opts.password;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    this.server = server ?? new ServerConnections(clampLimit(opts.connectionLimit ?? 2));
  }

  /** mysql2's connection settings; one connection each, the address's limit is kept by `server`. */
  private settings(ssl: ConnectionOptions['ssl'] | undefined): ConnectionOptions {
    const opts = this.opts;
    return {
      host: opts.host,
      port: opts.port,
      user: opts.user,
      password: opts.password,
      connectTimeout: opts.connectTimeoutMs ?? 3000,
      enableKeepAlive: true,
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
    };
  }

  /**
   * One new connection. preferred mode: a server that offers no TLS is used in plaintext from then on (a
   * new client, made when the settings change, tries TLS again).
   */
  private async open(): Promise<Connection> {
    const ssl = this.plaintextFallback ? undefined : sslOptions(this.opts.tls);
    try {
      return await connect(this.settings(ssl));
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (this.opts.tls?.mode !== 'preferred' || !ssl || code !== 'HANDSHAKE_NO_SSL_SUPPORT') throw e;
      this.plaintextFallback = true;
      return await connect(this.settings(undefined));
    }
  }

  /** A connection of this client: an idle one, or a new one once the address has room (a queue). */
  private async connection(): Promise<Connection> {
    const idle = await this.server.acquire(this);
    if (idle) return idle;
    let conn: Connection;
    try {
      conn = await this.open();
    } catch (e) {
      this.server.openFailed();
      throw e;
    }
    this.server.opened(this, conn, () => closeConnection(conn, true));
    // A broken idle connection emits 'error' (a killed server shows here within milliseconds, long before
    // the next probe: say so); a server that ends it emits 'end'. Either way its slot is free.
    conn.on('error', () => {
      this.server.gone(conn);
      if (!this.closed) this.opts.onConnectionLost?.();
    });
    conn.once('end', () => this.server.gone(conn));
    return conn;
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
    let conn: Connection;
    try {
      conn = await this.connection();
    } catch (e) {
      throw toSqlError(e, { ...context, statement: undefined });
    }
    // mysql2 swaps the socket for a TLSSocket once the handshake upgrades it.
    this.encrypted = (conn as unknown as { stream?: { encrypted?: boolean } }).stream?.encrypted === true;
    try {
      if (!this.ready.has(conn)) {
        await queryOn(conn, SESSION_SETUP, this.queryTimeoutMs);
        this.ready.add(conn);
      }
      const result = await queryOn(conn, statement.sql, timeout);
      this.done(conn);
      return Array.isArray(result) ? (result as T[]) : [];
    } catch (e) {
      const err = toSqlError(e, context);
      // A server error leaves the connection usable. Anything else (a timeout: the statement may still run
      // and would block the next one; a broken link) retires it.
      if (err.kind === 'server') this.done(conn);
      else void this.server.close(conn, () => closeConnection(conn, false));
      // A link that broke under a statement is news too (an idle one says so through its 'error').
      if (err.kind === 'connect' && !this.closed) this.opts.onConnectionLost?.();
      throw err;
    }
  }

  /** A connection back to the address's connections; a closed client's is closed. */
  private done(conn: Connection): void {
    if (this.closed) void this.server.close(conn);
    else this.server.release(conn);
  }

  /** Closes the idle connections now, the busy ones as their statements end; queued queries fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.closeOwner(this, new Error('client is closed'));
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

  /** Connections this client holds open now. */
  get connections(): number {
    return this.server.heldBy(this);
  }
}

const queryOn = (conn: Connection, sql: string, timeout: number) =>
  new Promise<unknown>((resolve, reject) =>
    conn.query({ sql, timeout }, (e, result) => (e ? reject(e) : resolve(result))),
  );

/** Bounds on closing a connection: past it the socket is destroyed. */
const CLOSE_WAIT_MS = 2000;

const clampLimit = (n: number) => Math.min(MAX_CONNECTIONS_PER_SERVER, Math.max(1, Math.trunc(n)));

/** One connection, its handshake done. A listener holds every later 'error' (none may go unheard). */
function connect(settings: ConnectionOptions): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(settings);
    const failed = (e: unknown) => reject(e as Error);
    conn.once('connect', () => {
      conn.removeListener('error', failed);
      resolve(conn);
    });
    conn.once('error', failed);
    conn.on('error', () => undefined);
  });
}

/**
 * Closes a connection and resolves once its socket is closed on this side (bounded): graceful sends
 * COM_QUIT (it follows a statement in flight), otherwise the socket is ended now.
 */
function closeConnection(conn: Connection, graceful: boolean): Promise<void> {
  const stream = (conn as unknown as { stream?: Socket }).stream;
  return new Promise<void>((resolve) => {
    if (!stream || stream.closed) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      stream.destroy();
      resolve();
    }, CLOSE_WAIT_MS);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (graceful) conn.end(() => undefined);
    else conn.destroy();
  });
}

/** The pool's settings: the clients' defaults and the limit of connections per server. */
export interface SqlClientPoolOptions extends Pick<SqlClientOptions, 'connectTimeoutMs' | 'queryTimeoutMs'> {
  /** The most connections open to one server (host:port) at once, whatever the login: 1–16, default 2. */
  maxConnectionsPerServer?: number;
}

/** What the pool holds now (for benchmarks and logs). */
export interface SqlPoolStats {
  /** Addresses with clients or connections. */
  servers: number;
  /** Connections open (or opening, or closing) to all of them. */
  connections: number;
  /** The most open to one address now. */
  busiest: number;
  maxPerServer: number;
}

type Address = Pick<SqlClientOptions, 'host' | 'port'>;

/**
 * Clients by address and user, reused across passes so a probe finds warm connections. Every client of
 * one address (host:port) shares its connections' limit: logins queue for room, never fail for it.
 * Changed settings (a rotated password, new TLS material) replace the client: new connections use them,
 * and the old client's connections are drained (its statements in flight finish, then it closes).
 */
export class SqlClientPool {
  private readonly clients = new Map<string, { client: SqlClient; settings: string }>();
  /** The connections of each address, by addressKey. */
  private readonly servers = new Map<string, ServerConnections<Connection>>();
  private readonly closing = new Set<Promise<void>>();
  private readonly lostListeners = new Set<(address: { host: string; port: number }) => void>();
  readonly maxConnectionsPerServer: number;
  private readonly defaults: Pick<SqlClientOptions, 'connectTimeoutMs' | 'queryTimeoutMs'>;

  constructor(opts: SqlClientPoolOptions = {}) {
    const { maxConnectionsPerServer, ...defaults } = opts;
    this.defaults = defaults;
    const max = maxConnectionsPerServer ?? DEFAULT_MAX_CONNECTIONS_PER_SERVER;
    if (!Number.isInteger(max) || max < 1 || max > MAX_CONNECTIONS_PER_SERVER)
      throw new RangeError(`maxConnectionsPerServer must be 1–${MAX_CONNECTIONS_PER_SERVER}, got ${max}`);
    this.maxConnectionsPerServer = max;
  }

  static key(opts: Pick<SqlClientOptions, 'host' | 'port' | 'user'>): string {
    return `${opts.user}@${addressKey(opts)}`;
  }

  get(opts: SqlClientOptions): SqlClient {
    const key = SqlClientPool.key(opts);
    const cached = this.clients.get(key);
    const settings = settingsKey(opts);
    if (cached && cached.settings === settings) return cached.client;
    if (cached) this.retire(cached.client);
    const address = { host: opts.host, port: opts.port };
    const client = new SqlClient(
      {
        ...this.defaults,
        ...opts,
        onConnectionLost: () => {
          for (const listener of this.lostListeners) listener(address);
          opts.onConnectionLost?.();
        },
      },
      this.serverOf(opts),
    );
    this.clients.set(key, { client, settings });
    return client;
  }

  /**
   * A client of its own (not reused, not replaced by `get`, no wake-ups) whose connections count toward
   * its address's limit: a one-off login such as the replication account's check. The caller closes it
   * (closeServer and closeAll do not).
   */
  oneOffClient(opts: SqlClientOptions): SqlClient {
    return new SqlClient({ ...this.defaults, ...opts }, this.serverOf(opts));
  }

  /** Hears about every broken pooled connection, by the address the client connects to. */
  onConnectionLost(listener: (address: { host: string; port: number }) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Closes the client of one login at one address. */
  async close(opts: Pick<SqlClientOptions, 'host' | 'port' | 'user'>): Promise<void> {
    const key = SqlClientPool.key(opts);
    const cached = this.clients.get(key);
    this.clients.delete(key);
    if (cached) await cached.client.close();
  }

  /**
   * Closes every client of one address, whatever the login (a member that left every topology's spec):
   * statements in flight finish first. Resolves once its connections are closed.
   */
  async closeServer(address: Address): Promise<void> {
    const at = addressKey(address);
    const clients: SqlClient[] = [];
    for (const [key, c] of this.clients)
      if (addressKey(c.client.address) === at) {
        this.clients.delete(key);
        clients.push(c.client);
      }
    await Promise.all(clients.map((c) => this.retire(c)));
    // Forgotten once idle, unless a client came back for it meanwhile (it shares this one).
    const server = this.servers.get(at);
    if (server && server.open === 0 && server.waiting === 0 && !this.inUse().has(at)) this.servers.delete(at);
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

  stats(): SqlPoolStats {
    let servers = 0;
    let connections = 0;
    let busiest = 0;
    const used = this.inUse();
    for (const [at, s] of this.servers) {
      if (s.open === 0 && !used.has(at)) continue;
      servers++;
      connections += s.open;
      busiest = Math.max(busiest, s.open);
    }
    return { servers, connections, busiest, maxPerServer: this.maxConnectionsPerServer };
  }

  private serverOf(address: Address): ServerConnections<Connection> {
    const at = addressKey(address);
    let server = this.servers.get(at);
    if (!server) {
      server = new ServerConnections(this.maxConnectionsPerServer);
      this.servers.set(at, server);
    }
    return server;
  }

  /** The addresses of the clients kept for reuse. */
  private inUse(): Set<string> {
    return new Set([...this.clients.values()].map((c) => addressKey(c.client.address)));
  }

  private retire(client: SqlClient): Promise<void> {
    const p = client.drain().finally(() => this.closing.delete(p));
    this.closing.add(p);
    return p;
  }
}

/** How the pool names an address: host names compare case-insensitively. */
const addressKey = (a: Address) => `${a.host.toLowerCase()}:${a.port}`;

export { SqlError };
