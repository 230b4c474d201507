// MariaDB GTID positions: `domain-server-seq` lists such as `1-1-13,2-2-10`.
// A position is not a set: it holds the last transaction applied in each replication domain, and
// everything before it in that domain counts as applied. So comparisons are per domain, by seq.
import { GtidParseError } from './errors.js';

export interface GtidEntry {
  readonly domain: number;
  readonly server: number;
  readonly seq: bigint;
}

/** domain → its entry; iteration follows domain order. */
export type GtidPos = ReadonlyMap<number, GtidEntry>;

export const EMPTY_GTID_POS: GtidPos = new Map();

const ENTRY = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;
const MAX_U32 = 2 ** 32 - 1;
const MAX_SEQ = 2n ** 64n - 1n;

/**
 * Reads @@gtid_slave_pos, @@gtid_current_pos, Gtid_IO_Pos… ('' is the empty position). Also reads
 * @@gtid_binlog_state, which lists the last GTID of every (domain, server): the position keeps the
 * highest seq per domain (the binlog state does not say which came last; with gtid_strict_mode it is
 * the highest).
 */
export function parseGtidPos(text: string): GtidPos {
  if (text.trim() === '') return EMPTY_GTID_POS;
  const acc = new Map<number, GtidEntry>();
  for (const raw of text.split(',')) {
    const entry = parseEntry(text, raw.trim());
    const held = acc.get(entry.domain);
    acc.set(entry.domain, held === undefined ? entry : later(held, entry));
  }
  return sorted(acc.values());
}

function parseEntry(text: string, part: string): GtidEntry {
  const m = ENTRY.exec(part);
  if (!m) throw new GtidParseError(text, part, `"${part}" is not domain-server-seq`);
  const domain = Number(m[1]);
  const server = Number(m[2]);
  const seq = BigInt(m[3]!);
  if (domain > MAX_U32) throw new GtidParseError(text, part, `domain ${m[1]} in "${part}" is past 2^32-1`);
  if (server > MAX_U32) throw new GtidParseError(text, part, `server id ${m[2]} in "${part}" is past 2^32-1`);
  if (seq > MAX_SEQ) throw new GtidParseError(text, part, `seq ${m[3]} in "${part}" is past 2^64-1`);
  return { domain, server, seq };
}

/**
 * The entry further along. Equal seqs from different servers mean the domain diverged; the higher
 * server id wins only so that union stays commutative.
 */
function later(a: GtidEntry, b: GtidEntry): GtidEntry {
  if (a.seq !== b.seq) return a.seq > b.seq ? a : b;
  return a.server >= b.server ? a : b;
}

function sorted(entries: Iterable<GtidEntry>): GtidPos {
  return new Map([...entries].sort((x, y) => x.domain - y.domain).map((e) => [e.domain, e]));
}

/** Canonical text: sorted by domain, `domain-server-seq` joined by ','. */
export function formatGtidPos(pos: GtidPos): string {
  return [...sorted(pos.values()).values()].map((e) => `${e.domain}-${e.server}-${e.seq}`).join(',');
}

export function gtidPosFromEntries(entries: Iterable<GtidEntry>): GtidPos {
  return sorted(entries);
}

/** Per-domain maximum: the least position at or ahead of both. */
export function unionGtidPos(a: GtidPos, b: GtidPos): GtidPos {
  const acc = new Map(a);
  for (const e of b.values()) {
    const held = acc.get(e.domain);
    acc.set(e.domain, held === undefined ? e : later(held, e));
  }
  return sorted(acc.values());
}

/** True when a has, in every domain of b, a seq at least b's: a has applied everything b has. */
export function isAtOrAhead(a: GtidPos, b: GtidPos): boolean {
  return behindDomains(a, b).length === 0;
}

export interface BehindDomain {
  domain: number;
  /** a's entry, null when a lacks the domain. */
  have: GtidEntry | null;
  /** b's entry, the one a must reach. */
  want: GtidEntry;
}

/** Domains of b where a is behind (or absent), with both entries, in domain order. */
export function behindDomains(a: GtidPos, b: GtidPos): BehindDomain[] {
  const out: BehindDomain[] = [];
  for (const want of b.values()) {
    const have = a.get(want.domain) ?? null;
    if (have === null || have.seq < want.seq) out.push({ domain: want.domain, have, want });
  }
  return out;
}

/** The replica's entries in domains the source lacks (typically local writes in the replica's own domain). */
export function extraDomains(replica: GtidPos, source: GtidPos): GtidEntry[] {
  return [...replica.values()].filter((e) => !source.has(e.domain));
}

/**
 * The replica's entries that show transactions none of the sources has. Positions cannot list
 * transactions, so this rule is what they can tell; an entry is errant when no source has its domain
 * - at a higher seq (the source went past it: assumed applied there, see the blind spot), or
 * - at the same seq from the same server (the same transaction).
 * So errant are: a domain no source has (a local write in the replica's own domain, an ANALYZE or FLUSH
 * without NO_WRITE_TO_BINLOG…); a seq past every source's (a local write in a source's domain); the same
 * seq as a source but from another server (both applied a transaction numbered seq, not the same one).
 * Each source is checked on its own: a union would keep one of two equal seqs and lose the other.
 * Blind spot: a local write in a source's domain that the source has since overtaken in seq looks like
 * an ordinary older position. Only gtid_strict_mode prevents that on the server.
 */
export function errantEntries(replica: GtidPos, ...sources: GtidPos[]): GtidEntry[] {
  const covers = (s: GtidEntry | undefined, e: GtidEntry) =>
    s !== undefined && (s.seq > e.seq || (s.seq === e.seq && s.server === e.server));
  return [...replica.values()].filter((e) => !sources.some((source) => covers(source.get(e.domain), e)));
}

export function gtidPosEqual(a: GtidPos, b: GtidPos): boolean {
  return (
    a.size === b.size &&
    [...a.values()].every((e) => {
      const o = b.get(e.domain);
      return o !== undefined && o.server === e.server && o.seq === e.seq;
    })
  );
}

/**
 * Sum of seqs over domains: a seq grows by one per transaction in its domain, so this approximates how
 * many transactions the position covers. Being strictly ahead means a larger sum (seq 0 entries aside),
 * so it orders positions consistently with isAtOrAhead; between incomparable positions it is a guess.
 */
export function progressGtidPos(pos: GtidPos): bigint {
  let sum = 0n;
  for (const e of pos.values()) sum += e.seq;
  return sum;
}
