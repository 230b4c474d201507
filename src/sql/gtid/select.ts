// Parts of a GTID text chosen by origin: a MySQL set's entries of some servers, a MariaDB position's
// entries of some domains. Parsed and formatted by the flavor's own code, so the result is canonical.
import { formatGtidPos, gtidPosFromEntries, parseGtidPos } from './mariadb.js';
import { formatGtidSet, parseGtidSet } from './mysql.js';

/** The transactions of a MySQL GTID set that originated on these servers (by server_uuid, any case). */
export function ofServers(set: string, uuids: ReadonlySet<string>): string {
  const wanted = new Set([...uuids].map((u) => u.toLowerCase()));
  const parsed = parseGtidSet(set);
  return formatGtidSet(new Map([...parsed].filter(([key]) => wanted.has(key.split(':')[0]!.toLowerCase()))));
}

/** The entries of a MariaDB position in these GTID domains. */
export function inDomains(position: string, domains: readonly number[]): string {
  const entries = [...parseGtidPos(position).values()].filter((e) => domains.includes(e.domain));
  return formatGtidPos(gtidPosFromEntries(entries));
}
