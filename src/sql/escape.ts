// Validation and escaping: the only way a value reaches SQL. Statements are written with the `sql` tag,
// whose interpolations must be fragments made here (lit, secret, ident, int, dec, kw, join), so a raw
// string cannot slip into a statement. Odd identifiers (hosts, users, channel names) are rejected, not
// escaped: they end up in server files and error logs where escaping does not help.
import {
  CHANNEL_NAME_PATTERN,
  HOST_PATTERN,
  SERVER_PATH_PATTERN,
  SERVER_RESERVED_CHANNEL_NAMES,
} from '../api/spec.js';
import { NO_CHANNEL_TLS, type ChannelSource, type Statement } from './dialect.js';

/** A value the caller passed that no statement may carry. The message is one line naming the field. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What `display` shows instead of a secret; unquoted so a pasted display never sets a real password. */
export const REDACTED = '<redacted>';

/** JSON-quoted, one line, at most ~40 characters: safe to put in an error message or a log. */
function shown(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(cut) + (value.length > 40 ? ` (${value.length} chars)` : '');
}

function invalid(field: string, value: string | number, rule: string): InvalidInputError {
  const v = typeof value === 'string' ? shown(value) : String(value);
  return new InvalidInputError(field, `${field} ${v}: ${rule}`);
}

// ---- validation ----------------------------------------------------------------------------------

/**
 * Channel names: 1–64 of [A-Za-z0-9_-], not reserved. MariaDB would take far more (spaces, quotes,
 * newlines — a newline corrupts multi-master.info), so the operator enforces the portable subset.
 * The default channel '' only where the caller says it is meant (allowDefault).
 */
export function validateChannelName(name: string, opts: { allowDefault?: boolean } = {}): string {
  if (name === '') {
    if (opts.allowDefault) return name;
    throw new InvalidInputError(
      'channel name',
      `channel name "": the default channel '' is not allowed here`,
    );
  }
  if (typeof name !== 'string' || !CHANNEL_NAME_PATTERN.test(name)) {
    throw invalid('channel name', String(name), 'must be 1–64 of letters, digits, _ and -');
  }
  if (SERVER_RESERVED_CHANNEL_NAMES.includes(name.toLowerCase()))
    throw invalid('channel name', name, 'is a reserved channel name');
  return name;
}

export function validateHost(host: string): string {
  if (typeof host !== 'string' || !HOST_PATTERN.test(host))
    throw invalid('host', String(host), 'must be a hostname or IP address');
  return host;
}

// Printable ASCII without quotes, backtick, backslash and whitespace: every account name seen in practice,
// and nothing that behaves differently between servers, sql_modes or the replica's master.info file.
const USER_PATTERN = /^[\x21\x23-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]{1,80}$/;

export function validateUser(user: string): string {
  if (typeof user !== 'string' || !USER_PATTERN.test(user)) {
    throw invalid(
      'user',
      String(user),
      'must be 1–80 printable ASCII characters without quotes, backslash or spaces',
    );
  }
  return user;
}

export function validatePort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid('port', port, 'must be an integer 1–65535');
  return port;
}

/** Database names in filters (same rule as the spec): unquoted-identifier characters only. */
export function validateDatabaseName(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_$]{1,64}$/.test(name)) {
    throw invalid('database name', String(name), 'must be 1–64 of letters, digits, _ and $');
  }
  return name;
}

/** GTID sets of either flavor (`uuid[:tag]:1-5:7,…` or `1-1-13,2-2-10`); whitespace (MySQL's newlines) removed. */
export function validateGtidSet(set: string): string {
  if (typeof set !== 'string' || !/^[0-9A-Za-z_:,\-\s]*$/.test(set)) {
    throw invalid('GTID set', String(set), 'must contain only letters, digits, :, -, _ and commas');
  }
  return set.replace(/\s+/g, '');
}

function validateNumber(n: number, field: string, min: number, max: number, integer: boolean): number {
  if (
    typeof n !== 'number' ||
    !Number.isFinite(n) ||
    (integer && !Number.isInteger(n)) ||
    n < min ||
    n > max
  ) {
    throw invalid(
      field,
      typeof n === 'number' ? n : String(n),
      `must be ${integer ? 'an integer' : 'a number'} ${min}–${max}`,
    );
  }
  return n;
}

// ---- escaping ------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const STRING_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  // '' rather than \': a quote doubled ends the literal correctly even if a session ran with
  // NO_BACKSLASH_ESCAPES (SqlClient also clears that mode, so the backslash escapes below mean what they say).
  "'": "''",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
};

/**
 * A single-quoted SQL string literal, read back identically by MySQL and MariaDB. Rejects text that is
 * not valid UTF-16 (a lone surrogate cannot be encoded as utf8mb4). `secret`: never echo the value.
 */
export function quoteString(s: string, opts: { field?: string; secret?: boolean } = {}): string {
  const field = opts.field ?? 'string';
  if (typeof s !== 'string') throw new InvalidInputError(field, `${field}: must be a string`);
  if (LONE_SURROGATE.test(s)) {
    throw opts.secret
      ? new InvalidInputError(field, `${field}: is not valid Unicode (lone surrogate)`)
      : invalid(field, s, 'is not valid Unicode (lone surrogate)');
  }
  // eslint-disable-next-line no-control-regex -- NUL and Ctrl-Z are exactly what must be escaped
  return `'${s.replace(/[\\'\0\n\r\x1a]/g, (c) => STRING_ESCAPES[c]!)}'`;
}

/** Inverse of quoteString, for scrubbing a secret's raw text out of server messages. */
export function unquoteString(literal: string): string {
  const inner = literal.startsWith("'") && literal.endsWith("'") ? literal.slice(1, -1) : literal;
  const back: Record<string, string> = { '\\': '\\', "'": "'", '0': '\0', n: '\n', r: '\r', Z: '\x1a' };
  return inner.replace(/''|\\([\s\S])/g, (m, c: string | undefined) => (m === "''" ? "'" : (back[c!] ?? c!)));
}

/** A backtick-quoted identifier; backticks inside are doubled. Empty, NUL and lone surrogates are refused. */
export function quoteIdent(s: string, field = 'identifier'): string {
  if (typeof s !== 'string' || s === '' || s.includes('\0') || LONE_SURROGATE.test(s)) {
    throw invalid(field, String(s), 'must be a nonempty identifier without NUL');
  }
  return '`' + s.replace(/`/g, '``') + '`';
}

// ---- statement building --------------------------------------------------------------------------

/** A piece of a statement: the text sent, and the text shown. Only the constructors below make them. */
export interface SqlFragment {
  readonly sql: string;
  readonly display: string;
}

const frag = (sql: string, display = sql): SqlFragment => ({ sql, display });

/** A string literal. */
export const lit = (s: string, field?: string): SqlFragment =>
  frag(quoteString(s, field === undefined ? {} : { field }));
/** A string literal shown as <redacted>. */
export const secret = (s: string, field = 'password'): SqlFragment =>
  frag(quoteString(s, { field, secret: true }), REDACTED);
export const ident = (s: string, field?: string): SqlFragment => frag(quoteIdent(s, field));
export const int = (n: number, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): SqlFragment =>
  frag(String(validateNumber(n, field, min, max, true)));
/** A decimal with at most `digits` fraction digits, never in exponent notation. */
export const dec = (n: number, field: string, min: number, max: number, digits = 3): SqlFragment =>
  frag(String(Number(validateNumber(n, field, min, max, false).toFixed(digits))));
/** A keyword or variable name from the code's own word tables (never user input): words of letters and _. */
export const kw = (word: string): SqlFragment => {
  if (!/^[A-Za-z][A-Za-z_]*( [A-Za-z][A-Za-z_]*)*$/.test(word))
    throw new Error(`internal: "${word}" is not a SQL keyword`);
  return frag(word);
};
/** `name=value`: one option of a CHANGE … TO list. */
export const opt = (name: string, value: SqlFragment): SqlFragment =>
  frag(`${kw(name).sql}=${value.sql}`, `${name}=${value.display}`);
export const join = (parts: readonly SqlFragment[], sep = ', '): SqlFragment =>
  frag(parts.map((p) => p.sql).join(sep), parts.map((p) => p.display).join(sep));
/** Nothing: for optional clauses. */
export const empty: SqlFragment = frag('');
/** A parenthesized list, e.g. DO_DOMAIN_IDS=(1, 2); `()` when empty. */
export const parens = (parts: readonly SqlFragment[]): SqlFragment => {
  const inner = join(parts);
  return frag(`(${inner.sql})`, `(${inner.display})`);
};

/** Tagged template: literal SQL text with fragments in the gaps. */
export function sql(strings: TemplateStringsArray, ...parts: SqlFragment[]): Statement {
  let text = strings[0]!;
  let display = strings[0]!;
  parts.forEach((p, i) => {
    text += p.sql + strings[i + 1]!;
    display += p.display + strings[i + 1]!;
  });
  return { sql: text, display };
}

// ---- a whole channel source ----------------------------------------------------------------------

/** Every field of a ChannelSource, validated and turned into fragments, for the dialects to arrange. */
export interface SourceFragments {
  host: SqlFragment;
  port: SqlFragment;
  user: SqlFragment;
  password: SqlFragment;
  connectRetry: SqlFragment;
  retryCount: SqlFragment;
  heartbeatPeriod: SqlFragment;
  delaySeconds: SqlFragment;
  /** SOURCE_SSL / MASTER_SSL: 1 or 0. */
  ssl: SqlFragment;
  /** SOURCE_SSL_CA: a path on the replica, or '' (none). */
  sslCa: SqlFragment;
  /** SOURCE_SSL_VERIFY_SERVER_CERT: 1 or 0. */
  sslVerifyServerCert: SqlFragment;
}

/** Account limits of the flavor's CHANGE statement (checked up front: the servers' own errors echo the text). */
export interface SourceLimits {
  /** Characters of SOURCE_USER / MASTER_USER. */
  maxUser: number;
  /** Characters of the password (MySQL 32: error 3056; MariaDB 96: error 1470, which quotes the password). */
  maxPassword: number;
}

/** A replication password as a secret literal, within the flavor's length limit (never echoed). */
export function passwordFragment(password: string, limits: Pick<SourceLimits, 'maxPassword'>): SqlFragment {
  if (typeof password === 'string' && [...password].length > limits.maxPassword) {
    throw new InvalidInputError(
      'password',
      `password: must be at most ${limits.maxPassword} characters on this server`,
    );
  }
  return secret(password);
}

/** A file path on a server (SOURCE_SSL_CA): absolute and plain, or '' for none. */
export function validateServerPath(path: string, field = 'path'): string {
  if (typeof path !== 'string' || (path !== '' && !SERVER_PATH_PATTERN.test(path)))
    throw invalid(field, String(path), 'must be an absolute path of letters, digits and . _ / + @ = : , ~ -');
  return path;
}

export function sourceFragments(s: ChannelSource, limits: SourceLimits): SourceFragments {
  const user = validateUser(s.user);
  if (user.length > limits.maxUser)
    throw invalid('user', user, `must be at most ${limits.maxUser} characters on this server`);
  const tls = s.tls ?? NO_CHANNEL_TLS;
  return {
    host: lit(validateHost(s.host), 'host'),
    port: int(validatePort(s.port), 'port', 1, 65535),
    user: lit(user, 'user'),
    password: passwordFragment(s.password, limits),
    // Ranges are the servers' own (MySQL CHANGE REPLICATION SOURCE TO; MariaDB takes the same).
    connectRetry: int(s.connectRetry, 'connect retry', 1, 31_536_000),
    retryCount: int(s.retryCount, 'retry count', 0),
    heartbeatPeriod: dec(s.heartbeatPeriod, 'heartbeat period', 0, 4_294_967),
    delaySeconds: int(s.delaySeconds, 'delay', 0, 2 ** 31 - 1),
    ssl: int(tls.enabled ? 1 : 0, 'ssl', 0, 1),
    sslCa: lit(validateServerPath(tls.caFile, 'SSL CA file'), 'SSL CA file'),
    sslVerifyServerCert: int(tls.verifyServerCert ? 1 : 0, 'verify server certificate', 0, 1),
  };
}
