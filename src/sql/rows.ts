// Reading result rows: typed getters that tolerate both column spellings (Source/Master, Replica/Slave,
// Channel_Name/Connection_name), numbers as numbers or strings, and SQL NULL. The channel fields every
// flavor shares are read here once; dialects add their GTID fields.
import type { ChannelStatus } from '../api/status.js';

export type Row = Record<string, unknown>;

/** The value of the first of `names` the row has (exact name first, then case-insensitively). */
export function pick(row: Row, names: readonly string[]): unknown {
  for (const n of names) if (n in row) return row[n];
  const lower = new Map(Object.keys(row).map((k) => [k.toLowerCase(), k]));
  for (const n of names) {
    const k = lower.get(n.toLowerCase());
    if (k !== undefined) return row[k];
  }
  return undefined;
}

/** Text; NULL and absent become ''. */
export function str(row: Row, names: readonly string[]): string {
  const v = pick(row, names);
  if (v === null || v === undefined) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** Text, or null when NULL, absent or empty. */
export function strOrNull(row: Row, names: readonly string[]): string | null {
  return str(row, names) || null;
}

/** A finite number, or null when NULL, absent, empty or not numeric. */
export function numOrNull(row: Row, names: readonly string[]): number | null {
  const v = pick(row, names);
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number(String(v).trim());
  return Number.isFinite(n) ? n : null;
}

/** An integer; null/absent/garbage count as 0 (errno and delay columns are 0 when nothing happened). */
export function int(row: Row, names: readonly string[]): number {
  return Math.trunc(numOrNull(row, names) ?? 0);
}

/** Server booleans: 1/'1', ON, YES, TRUE (any case) and MariaDB 11's non-OFF read_only levels count as true. */
export function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (v === null || v === undefined) return false;
  const s = String(v).trim().toUpperCase();
  return !['', '0', 'OFF', 'NO', 'FALSE'].includes(s);
}

/** True only for ON / 1 (any case); false for anything else, null for SQL NULL. For three-valued settings
 * such as enforce_gtid_consistency (ON | WARN | OFF), where toBool would count WARN as on. */
export function exactlyOn(v: unknown): boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) === 1;
  const s = (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)).trim().toUpperCase();
  return s === 'ON' || s === '1';
}

export function bool(row: Row, names: readonly string[]): boolean {
  return toBool(pick(row, names));
}

export function boolOrNull(row: Row, names: readonly string[]): boolean | null {
  const v = pick(row, names);
  return v === null || v === undefined ? null : toBool(v);
}

/** A comma list column (Replicate_Do_DB): trimmed, empties dropped. */
export function list(row: Row, names: readonly string[]): string[] {
  return str(row, names)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** GTID text with the whitespace MySQL inserts after commas (newlines) removed. */
export function gtidText(row: Row, names: readonly string[]): string {
  return str(row, names).replace(/\s+/g, '');
}

/**
 * The value of a GTID wait query: both flavors return 0 once the set is applied (MySQL 1 and MariaDB -1 on
 * timeout; NULL on error). Numbers may arrive as strings with bigNumberStrings.
 */
export function waitReached(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  return Number(value) === 0;
}

/** Status columns by meaning; each lists the new (8.0.22+) MySQL name, the old one, and MariaDB's. */
export const COL = {
  name: ['Channel_Name', 'Connection_name'],
  sourceHost: ['Source_Host', 'Master_Host'],
  sourcePort: ['Source_Port', 'Master_Port'],
  sourceUser: ['Source_User', 'Master_User'],
  sourceServerId: ['Source_Server_Id', 'Master_Server_Id'],
  sourceUuid: ['Source_UUID', 'Master_UUID'],
  ioRunning: ['Replica_IO_Running', 'Slave_IO_Running'],
  sqlRunning: ['Replica_SQL_Running', 'Slave_SQL_Running'],
  ioState: ['Replica_IO_State', 'Slave_IO_State'],
  // MariaDB's SHOW ALL also has Slave_SQL_State (same text); the single-row SHOW has only this one.
  sqlState: ['Replica_SQL_Running_State', 'Slave_SQL_Running_State', 'Slave_SQL_State'],
  secondsBehind: ['Seconds_Behind_Source', 'Seconds_Behind_Master'],
  lastIOErrno: ['Last_IO_Errno'],
  lastIOError: ['Last_IO_Error'],
  lastIOErrorTimestamp: ['Last_IO_Error_Timestamp'],
  lastSQLErrno: ['Last_SQL_Errno'],
  lastSQLError: ['Last_SQL_Error'],
  lastSQLErrorTimestamp: ['Last_SQL_Error_Timestamp'],
  delay: ['SQL_Delay'],
  connectRetry: ['Connect_Retry'],
  /** MariaDB SHOW ALL only; MySQL keeps it in performance_schema.replication_connection_configuration. */
  heartbeatPeriod: ['Slave_heartbeat_period'],
  /** MySQL only (MariaDB has the server-wide startup option --master-retry-count, not readable). */
  retryCount: ['Source_Retry_Count', 'Master_Retry_Count'],
  sslAllowed: ['Source_SSL_Allowed', 'Master_SSL_Allowed'],
  sslCaFile: ['Source_SSL_CA_File', 'Master_SSL_CA_File'],
  sslCaPath: ['Source_SSL_CA_Path', 'Master_SSL_CA_Path'],
  sslVerifyServerCert: ['Source_SSL_Verify_Server_Cert', 'Master_SSL_Verify_Server_Cert'],
  /** MySQL 8.0.4+ only (0/1); MariaDB has no such column. */
  getSourcePublicKey: ['Get_Source_public_key', 'Get_master_public_key'],
  doDatabases: ['Replicate_Do_DB'],
  ignoreDatabases: ['Replicate_Ignore_DB'],
  // Flavor-specific GTID columns.
  retrievedGtidSet: ['Retrieved_Gtid_Set'],
  executedGtidSet: ['Executed_Gtid_Set'],
  autoPosition: ['Auto_Position'],
  usingGtid: ['Using_Gtid'],
  gtidIoPos: ['Gtid_IO_Pos'],
} as const;

/** Yes | Connecting | No. A running receiver that is not (yet) connected reports other words on some versions
 * (MariaDB's "Preparing"): anything nonempty other than Yes/No is treated as Connecting. */
function ioRunning(v: string): ChannelStatus['ioRunning'] {
  if (v === 'Yes' || v === 'No') return v;
  return v === '' ? 'No' : 'Connecting';
}

export type GtidFields = 'retrievedGtidSet' | 'executedGtidSet' | 'autoPosition' | 'gtidMode';

/** Every ChannelStatus field that reads the same way on all flavors. */
export function commonChannelFields(row: Row): Omit<ChannelStatus, GtidFields> {
  // A source never has server_id 0 (it could not serve replicas): 0 means "not connected yet".
  const serverId = numOrNull(row, COL.sourceServerId);
  return {
    name: str(row, COL.name),
    sourceHost: str(row, COL.sourceHost),
    sourcePort: int(row, COL.sourcePort),
    sourceUser: str(row, COL.sourceUser),
    sourceServerId: serverId ? Math.trunc(serverId) : null,
    sourceUuid: strOrNull(row, COL.sourceUuid),
    ioRunning: ioRunning(str(row, COL.ioRunning)),
    sqlRunning: str(row, COL.sqlRunning) === 'Yes' ? 'Yes' : 'No',
    ioState: str(row, COL.ioState),
    sqlState: str(row, COL.sqlState),
    secondsBehindSource: numOrNull(row, COL.secondsBehind),
    lastIOErrno: int(row, COL.lastIOErrno),
    lastIOError: str(row, COL.lastIOError),
    lastIOErrorTimestamp: strOrNull(row, COL.lastIOErrorTimestamp),
    lastSQLErrno: int(row, COL.lastSQLErrno),
    lastSQLError: str(row, COL.lastSQLError),
    lastSQLErrorTimestamp: strOrNull(row, COL.lastSQLErrorTimestamp),
    delaySeconds: int(row, COL.delay),
    connectRetry: int(row, COL.connectRetry),
    heartbeatPeriod: numOrNull(row, COL.heartbeatPeriod),
    retryCount: numOrNull(row, COL.retryCount),
    // MySQL also reports "Ignored" (SSL requested, client lacks it): not allowed.
    sslAllowed: str(row, COL.sslAllowed) === 'Yes',
    sslCaFile: str(row, COL.sslCaFile),
    sslCaPath: str(row, COL.sslCaPath),
    sslVerifyServerCert: bool(row, COL.sslVerifyServerCert),
    getSourcePublicKey: boolOrNull(row, COL.getSourcePublicKey),
    filter: { doDatabases: list(row, COL.doDatabases), ignoreDatabases: list(row, COL.ignoreDatabases) },
  };
}
