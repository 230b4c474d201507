// One set of GTID operations on text, whichever flavor: what analysis and failover planning use.
// Each call parses its arguments (sets are small and calls are few); GtidParseError on malformed text.
import type { Flavor } from '../../api/spec.js';
import {
  behindDomains,
  errantEntries,
  formatGtidPos,
  gtidPosEqual,
  gtidPosFromEntries,
  isAtOrAhead,
  parseGtidPos,
  progressGtidPos,
  unionGtidPos,
  type GtidPos,
} from './mariadb.js';
import {
  countGtidSet,
  formatGtidSet,
  gtidSetContains,
  gtidSetsEqual,
  isEmptyGtidSet,
  parseGtidSet,
  subtractGtidSets,
  unionGtidSets,
  type GtidSet,
} from './mysql.js';

export interface ErrantOptions {
  /**
   * More text whose transactions count as legitimate, besides the source's executed set: what the
   * replica received from the source (its read of the source may be older than the replica's), the
   * source's last known set, sets of other channels' sources.
   */
  alsoLegit?: readonly string[];
}

export interface GtidOps {
  /** Canonical text ('' for nothing). */
  normalize(text: string): string;
  isEmpty(text: string): boolean;
  /** Same canonical value (MariaDB: same server and seq in every domain). */
  equals(a: string, b: string): boolean;
  /** a holds everything b holds (MySQL: a ⊇ b; MariaDB: a at or ahead of b in every domain of b). */
  contains(a: string, b: string): boolean;
  /** a contains b and b does not contain a. */
  ahead(a: string, b: string): boolean;
  /** The least value containing every argument (MySQL: set union; MariaDB: per-domain max). */
  union(...texts: string[]): string;
  /**
   * What `have` lacks of `want`, as text ('' when have contains want). MySQL: want − have. MariaDB:
   * want's entries in the domains where have is behind, which is also the position to wait for.
   */
  missing(have: string, want: string): string;
  /**
   * Transactions on the replica that neither the source nor any `alsoLegit` text has ('' when none).
   * MariaDB: see errantEntries for what positions can tell.
   */
  errant(replicaExecuted: string, sourceExecuted: string, opts?: ErrantOptions): string;
  /**
   * A number that grows with what the text holds (MySQL: transaction count; MariaDB: sum of seqs).
   * If contains(a, b) and not contains(b, a), progress(a) > progress(b) (MariaDB: unless the only
   * difference is an extra domain at seq 0, which servers do not write); between incomparable values
   * it is the tie breaker "prefer the one with more".
   */
  progress(text: string): bigint;
}

/** The few primitives each flavor provides; everything in GtidOps derives from them. */
interface Algebra<T> {
  parse(text: string): T;
  format(value: T): string;
  empty(value: T): boolean;
  equals(a: T, b: T): boolean;
  contains(a: T, b: T): boolean;
  union(a: T, b: T): T;
  missing(have: T, want: T): T;
  /** What the replica holds that no source has (MySQL: replica − ∪ sources). */
  errant(replica: T, sources: readonly T[]): T;
  progress(value: T): bigint;
}

const mysqlAlgebra: Algebra<GtidSet> = {
  parse: parseGtidSet,
  format: formatGtidSet,
  empty: isEmptyGtidSet,
  equals: gtidSetsEqual,
  contains: gtidSetContains,
  union: unionGtidSets,
  missing: (have, want) => subtractGtidSets(want, have),
  errant: (replica, sources) => sources.reduce(subtractGtidSets, replica),
  progress: countGtidSet,
};

const mariadbAlgebra: Algebra<GtidPos> = {
  parse: parseGtidPos,
  format: formatGtidPos,
  empty: (pos) => pos.size === 0,
  equals: gtidPosEqual,
  contains: isAtOrAhead,
  union: unionGtidPos,
  missing: (have, want) => gtidPosFromEntries(behindDomains(have, want).map((d) => d.want)),
  errant: (replica, sources) => gtidPosFromEntries(errantEntries(replica, ...sources)),
  progress: progressGtidPos,
};

function opsOf<T>(alg: Algebra<T>): GtidOps {
  const unionAll = (texts: readonly string[]): T => {
    const [first = '', ...rest] = texts;
    return rest.reduce((acc, t) => alg.union(acc, alg.parse(t)), alg.parse(first));
  };
  const contains = (a: string, b: string): boolean => alg.contains(alg.parse(a), alg.parse(b));
  return {
    normalize: (text) => alg.format(alg.parse(text)),
    isEmpty: (text) => alg.empty(alg.parse(text)),
    equals: (a, b) => alg.equals(alg.parse(a), alg.parse(b)),
    contains,
    ahead: (a, b) => contains(a, b) && !contains(b, a),
    union: (...texts) => alg.format(unionAll(texts)),
    missing: (have, want) => alg.format(alg.missing(alg.parse(have), alg.parse(want))),
    errant: (replica, source, opts) =>
      alg.format(alg.errant(alg.parse(replica), [source, ...(opts?.alsoLegit ?? [])].map(alg.parse))),
    progress: (text) => alg.progress(alg.parse(text)),
  };
}

const MYSQL_OPS = opsOf(mysqlAlgebra);
const MARIADB_OPS = opsOf(mariadbAlgebra);

/** mysql and mysql-legacy share UUID sets; mariadb uses domain positions. */
export function gtidOps(flavor: Flavor): GtidOps {
  return flavor === 'mariadb' ? MARIADB_OPS : MYSQL_OPS;
}
