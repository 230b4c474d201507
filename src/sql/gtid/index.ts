// GTID texts of both flavors: parsing, canonical format, algebra, and the flavor-neutral facade.
export { GtidParseError } from './errors.js';
export type { Interval, IntervalList } from './intervals.js';
export {
  EMPTY_GTID_SET,
  MAX_GNO,
  countGtidSet,
  formatGtidSet,
  gtidSetContains,
  gtidSetsEqual,
  intersectGtidSets,
  isEmptyGtidSet,
  parseGtidSet,
  subtractGtidSets,
  unionGtidSets,
  type GtidSet,
} from './mysql.js';
export {
  EMPTY_GTID_POS,
  behindDomains,
  errantEntries,
  extraDomains,
  formatGtidPos,
  gtidPosEqual,
  gtidPosFromEntries,
  isAtOrAhead,
  parseGtidPos,
  progressGtidPos,
  unionGtidPos,
  type BehindDomain,
  type GtidEntry,
  type GtidPos,
} from './mariadb.js';
export { gtidOps, type ErrantOptions, type GtidOps } from './ops.js';
