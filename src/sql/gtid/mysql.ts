// MySQL GTID sets: `uuid:1-5:7-9,uuid2:1-3`, and 8.3+ tagged GTIDs `uuid:1-5:tag:1-3`.
// A set maps each transaction source id (tsid: `uuid` or `uuid:tag`) to its intervals; a tagged tsid is
// a source of its own, as the server treats it.
import { GtidParseError } from './errors.js';
import {
  countIntervals,
  formatIntervals,
  intersectIntervals,
  intervalsEqual,
  normalizeIntervals,
  subtractIntervals,
  unionIntervals,
  type Interval,
  type IntervalList,
} from './intervals.js';

/** tsid → intervals. Never holds an empty list; iteration follows the canonical (sorted) order. */
export type GtidSet = ReadonlyMap<string, IntervalList>;

/** The largest sequence number the server accepts (a signed 64-bit integer). */
export const MAX_GNO = 2n ** 63n - 1n;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_LENGTH = 36;
/** Tags: a letter or underscore, then up to 31 letters, digits and underscores; case-insensitive. */
const TAG = /^[a-z_][a-z0-9_]{0,31}$/i;
const INTERVAL = /^(\d{1,19})(?:\s*-\s*(\d{1,19}))?$/;

export const EMPTY_GTID_SET: GtidSet = new Map();

/**
 * Reads a GTID set as the server prints it (@@gtid_executed, Retrieved_Gtid_Set…): entries separated by
 * commas (newlines and spaces around them are fine), UUIDs in any case. '' is the empty set.
 */
export function parseGtidSet(text: string): GtidSet {
  const acc = new Map<string, Interval[]>();
  if (text.trim() === '') return EMPTY_GTID_SET;
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') throw new GtidParseError(text, raw, 'empty entry (stray comma)');
    parseEntry(text, entry, acc);
  }
  return fromLists(acc);
}

/** One `uuid[:intervals][:tag:intervals]…` entry, added to acc. */
function parseEntry(text: string, entry: string, acc: Map<string, Interval[]>): void {
  const [uuid = '', ...parts] = entry.split(':').map((p) => p.trim());
  if (!UUID.test(uuid)) throw new GtidParseError(text, uuid, `"${uuid}" is not a UUID`);
  if (parts.length === 0) throw new GtidParseError(text, entry, `"${entry}" has no intervals`);
  let tsid = uuid.toLowerCase();
  let intervalsOfTsid = 0;
  for (const part of parts) {
    if (TAG.test(part)) {
      if (tsid.length > UUID_LENGTH && intervalsOfTsid === 0) {
        throw new GtidParseError(
          text,
          entry,
          `tag "${tsid.slice(UUID_LENGTH + 1)}" in "${entry}" has no intervals`,
        );
      }
      tsid = `${uuid.toLowerCase()}:${part.toLowerCase()}`;
      intervalsOfTsid = 0;
      continue;
    }
    const list = acc.get(tsid) ?? [];
    list.push(parseInterval(text, part));
    acc.set(tsid, list);
    intervalsOfTsid++;
  }
  if (intervalsOfTsid === 0) throw new GtidParseError(text, entry, `"${entry}" ends without intervals`);
}

function parseInterval(text: string, part: string): Interval {
  const m = INTERVAL.exec(part);
  if (!m) throw new GtidParseError(text, part, `"${part}" is neither an interval (n or n-m) nor a tag`);
  const start = BigInt(m[1]!);
  const end = m[2] === undefined ? start : BigInt(m[2]);
  if (start < 1n) throw new GtidParseError(text, part, `interval "${part}": sequence numbers start at 1`);
  if (end < start) throw new GtidParseError(text, part, `interval "${part}" ends before it starts`);
  if (end > MAX_GNO) throw new GtidParseError(text, part, `interval "${part}" goes past 2^63-1`);
  return { start, end };
}

/** Builds the canonical map: lists normalized, empty ones dropped, keys sorted (uuid, then untagged first). */
function fromLists(lists: Map<string, readonly Interval[]>): GtidSet {
  const out = new Map<string, IntervalList>();
  for (const key of [...lists.keys()].sort()) {
    const list = normalizeIntervals(lists.get(key)!);
    if (list.length > 0) out.set(key, list);
  }
  return out;
}

/**
 * Canonical text: lowercase, sorted by UUID, each UUID once with its untagged intervals first and then
 * each tag (sorted) with its intervals, merged intervals, single numbers as `n`; entries joined by ','
 * (the server adds a newline after each comma; single-line text suits status and logs).
 */
export function formatGtidSet(set: GtidSet): string {
  const byUuid = new Map<string, string[]>();
  for (const key of [...set.keys()].sort()) {
    const uuid = key.slice(0, UUID_LENGTH);
    const tag = key.slice(UUID_LENGTH + 1);
    const body = formatIntervals(set.get(key)!);
    byUuid.set(uuid, [...(byUuid.get(uuid) ?? []), tag === '' ? body : `${tag}:${body}`]);
  }
  return [...byUuid].map(([uuid, bodies]) => `${uuid}:${bodies.join(':')}`).join(',');
}

/** Applies an interval operation tsid by tsid over the tsids of both sets. */
function combine(a: GtidSet, b: GtidSet, op: (x: IntervalList, y: IntervalList) => Interval[]): GtidSet {
  const lists = new Map<string, Interval[]>();
  for (const key of new Set([...a.keys(), ...b.keys()]))
    lists.set(key, op(a.get(key) ?? [], b.get(key) ?? []));
  return fromLists(lists);
}

export function unionGtidSets(a: GtidSet, b: GtidSet): GtidSet {
  return combine(a, b, unionIntervals);
}

/** a − b: what a has and b lacks (errant transactions are replica − source). */
export function subtractGtidSets(a: GtidSet, b: GtidSet): GtidSet {
  return combine(a, b, subtractIntervals);
}

export function intersectGtidSets(a: GtidSet, b: GtidSet): GtidSet {
  return combine(a, b, intersectIntervals);
}

/** a ⊇ b (the server's GTID_SUBSET(b, a)). */
export function gtidSetContains(a: GtidSet, b: GtidSet): boolean {
  return [...b].every(([key, list]) => subtractIntervals(list, a.get(key) ?? []).length === 0);
}

export function gtidSetsEqual(a: GtidSet, b: GtidSet): boolean {
  return a.size === b.size && [...a].every(([key, list]) => intervalsEqual(list, b.get(key) ?? []));
}

/** Number of transactions in the set. */
export function countGtidSet(set: GtidSet): bigint {
  let sum = 0n;
  for (const list of set.values()) sum += countIntervals(list);
  return sum;
}

export function isEmptyGtidSet(set: GtidSet): boolean {
  return set.size === 0;
}
