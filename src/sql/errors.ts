// Typed errors of the SQL layer, and the errno table they are matched on. Match on errno (server errors)
// or on the Node/driver code (network errors, which have no errno) — never on mysql2's `code` for a
// server error: it carries MySQL's names, and MariaDB-only errors (1934) have none (facts §7).
import type { Flavor } from '../api/spec.js';
import type { Statement } from './dialect.js';
import { REDACTED, unquoteString } from './escape.js';

/** Server error numbers the operator reacts to. MySQL-only and MariaDB-only numbers are named so. */
export const ER = {
  ACCESS_DENIED: 1045,
  /** Missing privilege, e.g. SHOW ALL REPLICAS STATUS without SLAVE MONITOR on MariaDB. */
  SPECIFIC_ACCESS_DENIED: 1227,
  DB_ACCESS_DENIED: 1044,
  TABLE_ACCESS_DENIED: 1142,
  COLUMN_ACCESS_DENIED: 1143,
  PROC_ACCESS_DENIED: 1370,
  /** MySQL: SET PERSIST_ONLY needs SYSTEM_VARIABLES_ADMIN and PERSIST_RO_VARIABLES_ADMIN. */
  MYSQL_PERSIST_ONLY_ACCESS_DENIED: 3630,
  /** A plaintext login while require_secure_transport=ON: MySQL and MariaDB 11.8 (10.11 answers 1045). */
  MYSQL_SECURE_TRANSPORT_REQUIRED: 3159,
  TOO_MANY_CONNECTIONS: 1040,
  UNKNOWN_SYSTEM_VARIABLE: 1193,
  /** Both: the channel's threads run. MariaDB: "…you have a running slave 'x'; run STOP SLAVE 'x' first". */
  REPLICA_MUST_STOP: 1198,
  REPLICA_NOT_RUNNING: 1199,
  /** START on a channel without a host ("Misconfigured slave: MASTER_HOST was not set"). */
  BAD_REPLICA: 1200,
  WRONG_ARGUMENTS: 1210,
  SOURCE_FATAL_ERROR_READING_BINLOG: 1236,
  /** read_only / super_read_only refused a write. */
  OPTION_PREVENTS_STATEMENT: 1290,
  /** MariaDB "There is no master connection 'x'"; MySQL's 1617 is the same idea (no connection metadata). */
  NO_MASTER_CONNECTION: 1617,
  /** MariaDB: "Connection 'x' conflicts with existing connection 'y'" — same host:port string already used. */
  MARIADB_CONNECTION_CONFLICT: 1934,
  /** MariaDB: "Could not parse GTID list". */
  MARIADB_GTID_PARSE: 1941,
  /** MySQL manuals: "Multiple channels exist…"; on MariaDB 1964 is ER_PRIOR_COMMIT_FAILED (flavor matters). */
  MYSQL_MULTIPLE_CHANNELS_DOCUMENTED: 1964,
  MYSQL_CHANNEL_IO_THREAD_MUST_STOP: 3021,
  MYSQL_CHANNEL_DOES_NOT_EXIST: 3074,
  MYSQL_CHANNEL_HOST_PORT_EXISTS: 3075,
  MYSQL_CHANNEL_NAME_INVALID: 3076,
  /** MySQL 5.7: "To have multiple channels, repository cannot be of type FILE". */
  MYSQL_NEW_CHANNEL_WRONG_REPOSITORY: 3077,
  /** MySQL: "The password provided for the replication user exceeds the maximum length of 32 characters". */
  MYSQL_REPLICATION_PASSWORD_TOO_LONG: 3056,
  /** The number MySQL 5.7–9.x servers really send for "Multiple channels exist" (mysql2's table). */
  MYSQL_MULTIPLE_CHANNELS_CMD: 3079,
  MYSQL_MAX_CHANNELS_EXCEEDED: 3080,
  MYSQL_CHANNEL_MUST_STOP: 3081,
  MYSQL_CHANNEL_SQL_THREAD_MUST_STOP: 3085,
  /** Client-library numbers a receiver reports in Last_IO_Errno. */
  CR_CONNECTION_ERROR: 2002,
  CR_CONN_HOST_ERROR: 2003,
  CR_UNKNOWN_HOST: 2005,
  CR_SERVER_GONE: 2006,
  CR_SERVER_LOST: 2013,
  CR_AUTH_NEEDS_SECURE_CONNECTION: 2061,
} as const;

/** Last_IO_Errno values meaning the receiver cannot reach its source (as opposed to being refused by it). */
export const IO_UNREACHABLE_ERRNOS: ReadonlySet<number> = new Set([
  ER.CR_CONNECTION_ERROR,
  ER.CR_CONN_HOST_ERROR,
  ER.CR_UNKNOWN_HOST,
  ER.CR_SERVER_GONE,
  ER.CR_SERVER_LOST,
]);

/** Driver/Node codes (no errno) meaning the server could not be reached or the link broke. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT']);
const CONNECT_ERRNOS = new Set<number>([
  ER.TOO_MANY_CONNECTIONS,
  1129 /* host blocked */,
  1203 /* user connections */,
  ...IO_UNREACHABLE_ERRNOS,
]);
const AUTH_ERRNOS = new Set<number>([ER.ACCESS_DENIED, 1698 /* access denied, no password plugin */]);
/** A statement the operator's account may not run. */
const PRIVILEGE_ERRNOS = new Set<number>([
  ER.DB_ACCESS_DENIED,
  ER.TABLE_ACCESS_DENIED,
  ER.COLUMN_ACCESS_DENIED,
  ER.SPECIFIC_ACCESS_DENIED,
  ER.PROC_ACCESS_DENIED,
  ER.MYSQL_PERSIST_ONLY_ACCESS_DENIED,
]);
/** mysql2's codes for a TLS handshake that failed, and Node's for a certificate that does not verify. */
const TLS_CODES = new Set([
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);
const isTlsCode = (code: string) => TLS_CODES.has(code) || /^ERR_(TLS|SSL|OSSL)_/.test(code);

/**
 * connect: the server was not reached or the link broke; auth: it refused the login; tls: no TLS where it
 * is required (either end), or a certificate that does not verify; privilege: the account may not run the
 * statement; timeout: no answer in time (connect or query); server: it ran the statement and returned an
 * error; client: anything else. auth, tls and privilege mean the server answered: it is not down.
 */
export type SqlErrorKind = 'connect' | 'auth' | 'tls' | 'privilege' | 'timeout' | 'server' | 'client';

/** Kinds that mean the server answered but the operator cannot use it (never a sign it is down). */
export const REFUSAL_KINDS: ReadonlySet<SqlErrorKind> = new Set(['auth', 'tls', 'privilege']);

export class SqlError extends Error {
  override readonly name = 'SqlError';
  constructor(
    /** Server error number, or null for network/driver errors. */
    readonly errno: number | null,
    readonly sqlState: string | null,
    /** Node or driver code for errors without errno (ECONNREFUSED, PROTOCOL_SEQUENCE_TIMEOUT…). */
    readonly code: string | null,
    readonly kind: SqlErrorKind,
    /** The server's (or driver's) message, one line, secrets removed. */
    readonly serverMessage: string,
    /** Display form of the statement (password shown as <redacted>), when there was one. */
    readonly statement: string | null,
    /** Which server: the client's label, e.g. "a-0 (10.0.0.5:3306)". */
    readonly server: string,
  ) {
    const errnoText = errno !== null ? ` (errno ${errno})` : code !== null ? ` (${code})` : '';
    super(
      `${server}: ${headline(kind, serverMessage)}${serverMessage}${errnoText}${statement ? ` in: ${statement}` : ''}`,
    );
  }
}

export interface ErrorContext {
  /** The server label for messages. */
  server: string;
  statement?: Statement | string;
  /** Further secrets to scrub from messages (the client's own password). */
  secrets?: readonly string[];
}

/**
 * The quoted secret literal a statement carries: `sql` and `display` are equal except where one literal
 * was replaced by <redacted>, so the differing middle is exactly that literal.
 */
export function secretOf(stmt: Statement): string | null {
  const { sql, display } = stmt;
  if (sql === display) return null;
  let p = 0;
  while (p < sql.length && p < display.length && sql[p] === display[p]) p++;
  let q = 0;
  while (
    q < sql.length - p &&
    q < display.length - p &&
    sql[sql.length - 1 - q] === display[display.length - 1 - q]
  )
    q++;
  return sql.slice(p, sql.length - q) || null;
}

/** Shortest run of a secret that counts as a leak when a server echoes a truncated prefix of it. */
const MIN_LEAK = 6;

/**
 * Removes every form a secret may take in a message: the literal as sent, its escaped text, its raw text,
 * and any run of ≥ 6 characters of them (servers quote a truncated prefix: MariaDB 1470 "String 'ppp…' is
 * too long for MASTER_PASSWORD").
 */
export function scrub(message: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    if (s.length > 2 && s.startsWith("'") && s.endsWith("'")) {
      forms.add(s.slice(1, -1));
      forms.add(unquoteString(s));
    }
  }
  let out = message;
  // Longest first, so a literal is replaced whole before its inner text is.
  for (const f of [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(f).join(REDACTED);
    // Prefix runs of the unquoted forms only, so a quoting apostrophe stays in the message.
    if (f.length > MIN_LEAK && !(f.startsWith("'") && f.endsWith("'"))) out = redactPrefixes(out, f);
  }
  return out;
}

/** Replaces every run in `text` that equals a prefix of `secret` at least MIN_LEAK long. */
function redactPrefixes(text: string, secret: string): string {
  const head = secret.slice(0, MIN_LEAK);
  let out = '';
  let i = 0;
  for (let at = text.indexOf(head); at !== -1; at = text.indexOf(head, i)) {
    let n = MIN_LEAK;
    while (n < secret.length && at + n < text.length && text[at + n] === secret[n]) n++;
    out += text.slice(i, at) + REDACTED;
    i = at + n;
  }
  return out + text.slice(i);
}

interface DriverError {
  errno?: unknown;
  sqlState?: unknown;
  code?: unknown;
  message?: unknown;
  sqlMessage?: unknown;
}

/**
 * Any error from mysql2 (or elsewhere) → SqlError. The original is not kept as `cause`: mysql2 attaches
 * the full SQL text (password included) to its errors.
 */
export function toSqlError(e: unknown, ctx: ErrorContext): SqlError {
  if (e instanceof SqlError) return e;
  const d: DriverError = typeof e === 'object' && e !== null ? (e as DriverError) : { message: String(e) };
  const stmt =
    typeof ctx.statement === 'string' ? { sql: ctx.statement, display: ctx.statement } : ctx.statement;
  const secrets = [...(ctx.secrets ?? [])];
  const literal = stmt ? secretOf(stmt) : null;
  if (literal) secrets.push(literal);
  // Node system errors carry a negative errno (-111 for ECONNREFUSED): not a server error number.
  const errno = typeof d.errno === 'number' && d.errno > 0 ? d.errno : null;
  const sqlState = typeof d.sqlState === 'string' ? d.sqlState : null;
  const code = errno === null && typeof d.code === 'string' ? d.code : null;
  const raw = String(d.sqlMessage ?? d.message ?? 'unknown error');
  const message = scrub(raw, secrets)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim();
  return new SqlError(
    errno,
    sqlState,
    code,
    kindOf(errno, code, stmt !== undefined),
    message,
    stmt ? scrub(stmt.display, secrets) : null,
    ctx.server,
  );
}

function kindOf(errno: number | null, code: string | null, atStatement: boolean): SqlErrorKind {
  if (errno !== null) {
    if (PRIVILEGE_ERRNOS.has(errno)) return 'privilege';
    // 1045 to a statement (GRANT without GRANT OPTION) is a privilege; to a login, a refused login.
    if (AUTH_ERRNOS.has(errno)) return atStatement ? 'privilege' : 'auth';
    if (errno === ER.MYSQL_SECURE_TRANSPORT_REQUIRED) return 'tls';
    if (CONNECT_ERRNOS.has(errno)) return 'connect';
    return 'server';
  }
  if (code !== null && isTlsCode(code)) return 'tls';
  if (code !== null && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code !== null && CONNECT_CODES.has(code)) return 'connect';
  return 'client';
}

/**
 * What a refusal means, in front of the server's own words: the missing privilege named (MySQL and MariaDB
 * name it in 1227, the command and table in 1142/1143), a refused login, a TLS failure.
 */
function headline(kind: SqlErrorKind, message: string): string {
  if (kind === 'auth') return "refused the operator's login: ";
  if (kind === 'tls') return 'TLS: ';
  if (kind !== 'privilege') return '';
  return `missing privilege ${privilegeNamed(message)} (docs/security.md lists the grants): `;
}

/** The privilege a refusal names: `SLAVE MONITOR`, `SELECT on replication_connection_configuration`… */
export function privilegeNamed(message: string): string {
  const anyOf = /need \(at least one of\) the (.+?) privilege/i.exec(message);
  if (anyOf) {
    // SUPER is always one of them where a finer privilege exists: name the finer ones.
    const names = anyOf[1]!.split(/,\s*/);
    const finer = names.filter((n) => n.toUpperCase() !== 'SUPER');
    return (finer.length > 0 ? finer : names).join(' or ');
  }
  const both = /you need (.+?) privileges/i.exec(message);
  if (both) return both[1]!;
  const table =
    /^(\w+) command denied to user .*? for (table|column) '([^']+)'(?: in table '([^']+)')?/i.exec(message);
  if (table) return `${table[1]!.toUpperCase()} on ${table[2]} ${table[4] ? `${table[4]}.` : ''}${table[3]}`;
  const db = /to database '([^']+)'/i.exec(message);
  if (db) return `on database ${db[1]}`;
  if (/^Access denied for user/i.test(message)) return 'GRANT OPTION';
  return '(unnamed)';
}

// ---- predicates ----------------------------------------------------------------------------------

// Work on SqlError and on raw driver errors alike (both carry errno and code).
const errnoOf = (e: unknown): number | null => {
  const n = (e as DriverError | null)?.errno;
  return typeof n === 'number' && n > 0 ? n : null;
};
const codeOf = (e: unknown): string | null => {
  const c = (e as DriverError | null)?.code;
  return typeof c === 'string' ? c : null;
};

const hasErrno = (e: unknown, ...numbers: number[]): boolean => {
  const n = errnoOf(e);
  return n !== null && numbers.includes(n);
};

/** The named channel does not exist (MariaDB 1617, MySQL 3074). */
export const isUnknownChannel = (e: unknown): boolean =>
  hasErrno(e, ER.NO_MASTER_CONNECTION, ER.MYSQL_CHANNEL_DOES_NOT_EXIST);

/** The statement needs the channel (or one of its threads) stopped. */
export const isChannelRunning = (e: unknown): boolean =>
  hasErrno(
    e,
    ER.REPLICA_MUST_STOP,
    ER.MYSQL_CHANNEL_MUST_STOP,
    ER.MYSQL_CHANNEL_SQL_THREAD_MUST_STOP,
    ER.MYSQL_CHANNEL_IO_THREAD_MUST_STOP,
  );

/** Another channel already replicates from the same host:port (MariaDB 1934; MySQL 3075). */
export const isDuplicateSource = (e: unknown): boolean =>
  hasErrno(e, ER.MARIADB_CONNECTION_CONFLICT, ER.MYSQL_CHANNEL_HOST_PORT_EXISTS);

/** A statement without a channel hit a multi-channel MySQL replica (a bug: every statement names its channel). */
export function isMultipleChannels(e: unknown, flavor: Flavor): boolean {
  const n = errnoOf(e);
  return (
    n === ER.MYSQL_MULTIPLE_CHANNELS_CMD ||
    (flavor !== 'mariadb' && n === ER.MYSQL_MULTIPLE_CHANNELS_DOCUMENTED)
  );
}

/** MySQL 5.7 with FILE repositories cannot hold a second channel. */
export const isFileRepository = (e: unknown): boolean => hasErrno(e, ER.MYSQL_NEW_CHANNEL_WRONG_REPOSITORY);

export const isAccessDenied = (e: unknown): boolean => {
  const n = errnoOf(e);
  return n !== null && (AUTH_ERRNOS.has(n) || PRIVILEGE_ERRNOS.has(n));
};

/** The server could not be reached, or the link broke (including a connect timeout). */
export const isConnectionError = (e: unknown): boolean => {
  if (e instanceof SqlError) return e.kind === 'connect' || (e.kind === 'timeout' && e.code === 'ETIMEDOUT');
  const n = errnoOf(e);
  const c = codeOf(e);
  return (n !== null && CONNECT_ERRNOS.has(n)) || (n === null && c !== null && CONNECT_CODES.has(c));
};

export const isTimeout = (e: unknown): boolean => {
  const c = codeOf(e);
  return errnoOf(e) === null && c !== null && TIMEOUT_CODES.has(c);
};

// ---- errors raised before any SQL runs -----------------------------------------------------------

/** The flavor cannot express a per-channel database filter (MySQL 5.7). */
export class FilterUnsupportedError extends Error {
  override readonly name = 'FilterUnsupportedError';
  constructor(
    readonly flavor: Flavor,
    readonly channel: string,
    reason: string,
  ) {
    super(`channel "${channel}": ${reason}`);
  }
}

/** VERSION() names a server Tributary does not drive (MySQL < 5.7, MariaDB < 10.5, unreadable). */
export class UnsupportedServerError extends Error {
  override readonly name = 'UnsupportedServerError';
  constructor(
    readonly version: string,
    message: string,
  ) {
    super(message);
  }
}
