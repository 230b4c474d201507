import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GtidParseError,
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
} from '../../../src/sql/gtid/index.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '896e7882-18fe-11ef-ab88-22222d34d411';
const U3 = '00000000-0000-0000-0000-00000000000f';

const fmt = (text: string) => formatGtidSet(parseGtidSet(text));

describe('parseGtidSet / formatGtidSet on real strings', () => {
  it.each([
    ['', ''],
    ['   \n ', ''],
    [`${U1.toUpperCase()}:1-5,\n${U1.toUpperCase()}:7-9`, `${U1}:1-5:7-9`],
    [`${U1}:1-5:6-9`, `${U1}:1-9`],
    [`${U1}:7-9:1-5:3`, `${U1}:1-5:7-9`],
    [`${U1}:5-5`, `${U1}:5`],
    [`${U2}:1-3,\n${U1}:1-10`, `${U1}:1-10,${U2}:1-3`],
    [` ${U1} : 1 - 3 , ${U2}:4 `, `${U1}:1-3,${U2}:4`],
    // MySQL 8.4 tagged GTIDs, as the server prints them back (bugs.mysql.com 116789).
    [
      `3E11FA47-71CA-11E1-9E33-C80AA9429562:Domain_1:1-3:15-21, 3E11FA47-71CA-11E1-9E33-C80AA9429562:Domain_2:8-52`,
      `${U1}:domain_1:1-3:15-21:domain_2:8-52`,
    ],
    [`${U2}:aaaa:1,${U2}:1-4`, `${U2}:1-4:aaaa:1`],
    [
      `${U2}:1-4:aaaa:1:abc:1-3:bbbbb:1:bbbbbb:1:x:1,896e7882-18fe-11ef-ab88-22222d34d412:1-2`,
      `${U2}:1-4:aaaa:1:abc:1-3:bbbbb:1:bbbbbb:1:x:1,896e7882-18fe-11ef-ab88-22222d34d412:1-2`,
    ],
    [`${U1}:1-${MAX_GNO}`, `${U1}:1-9223372036854775807`],
  ])('%j → %j', (input, canonical) => {
    expect(fmt(input)).toBe(canonical);
  });

  it('counts past 2^53 exactly', () => {
    expect(countGtidSet(parseGtidSet(`${U1}:1-${MAX_GNO}`))).toBe(MAX_GNO);
    expect(countGtidSet(parseGtidSet(`${U1}:1-5:7-9,${U2}:x:1-3`))).toBe(11n);
  });

  it.each([
    ['not-a-uuid:1-5', '"not-a-uuid" is not a UUID'],
    [`${U1}:5-3`, 'interval "5-3" ends before it starts'],
    [`${U1}:0`, 'sequence numbers start at 1'],
    [`${U1}:1-9223372036854775808`, 'past 2^63-1'],
    [`${U1}:1-5,`, 'empty entry'],
    [`${U1}:1-5,,${U2}:1`, 'empty entry'],
    [U1, 'has no intervals'],
    [`${U1}:tag`, 'ends without intervals'],
    [`${U1}:a:b:1`, 'tag "a"'],
    [`${U1}:1-x`, '"1-x" is neither an interval'],
    [`${U1}:1-3:`, '"" is neither'],
    [`${U1}:${'t'.repeat(33)}:1`, 'is neither'],
    ['1-1-13', 'is not a UUID'],
  ])('%j is refused: %s', (input, message) => {
    const run = () => parseGtidSet(input);
    expect(run).toThrow(GtidParseError);
    expect(run).toThrow(message);
  });

  it('names the bad part on the error', () => {
    try {
      parseGtidSet(`${U1}:1-5,${U2}:9-2`);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GtidParseError);
      expect((e as GtidParseError).part).toBe('9-2');
    }
  });
});

describe('GTID set operations on tables', () => {
  const s = parseGtidSet;
  it.each([
    [`${U1}:1-5`, `${U1}:3-9`, `${U1}:1-9`, `${U1}:1-2`, `${U1}:3-5`],
    [`${U1}:1-10`, `${U1}:3:5-6`, `${U1}:1-10`, `${U1}:1-2:4:7-10`, `${U1}:3:5-6`],
    [`${U1}:1-5`, `${U2}:1-5`, `${U1}:1-5,${U2}:1-5`, `${U1}:1-5`, ''],
    [`${U1}:1-5:t:1`, `${U1}:t:1-2`, `${U1}:1-5:t:1-2`, `${U1}:1-5`, `${U1}:t:1`],
    ['', `${U1}:1`, `${U1}:1`, '', ''],
  ])('%s with %s', (a, b, union, minus, inter) => {
    expect(formatGtidSet(unionGtidSets(s(a), s(b)))).toBe(union);
    expect(formatGtidSet(subtractGtidSets(s(a), s(b)))).toBe(minus);
    expect(formatGtidSet(intersectGtidSets(s(a), s(b)))).toBe(inter);
  });

  it('contains, equals and isEmpty', () => {
    expect(gtidSetContains(s(`${U1}:1-10,${U2}:1`), s(`${U1}:2-3:7`))).toBe(true);
    expect(gtidSetContains(s(`${U1}:1-10`), s(`${U1}:2-11`))).toBe(false);
    expect(gtidSetContains(s(`${U1}:1-10`), s(`${U1}:t:1`))).toBe(false);
    expect(gtidSetContains(s(''), s(''))).toBe(true);
    expect(gtidSetsEqual(s(`${U1}:1-3:4-5`), s(`${U1.toUpperCase()}:1-5`))).toBe(true);
    expect(gtidSetsEqual(s(`${U1}:1-5`), s(`${U1}:1-6`))).toBe(false);
    expect(isEmptyGtidSet(s(''))).toBe(true);
    expect(isEmptyGtidSet(subtractGtidSets(s(`${U1}:1-5`), s(`${U1}:1-9`)))).toBe(true);
  });
});

// Sets drawn from a small pool of sources and numbers, so that intervals overlap and touch often;
// written unnormalized, in mixed case and with the server's newlines, so parsing is exercised too.
const entryArb = fc.record({
  uuid: fc.constantFrom(U1, U2, U3),
  upper: fc.boolean(),
  tag: fc.constantFrom('', '', 'aa', 'B_1'),
  intervals: fc.array(
    fc.record({ start: fc.integer({ min: 1, max: 40 }), len: fc.integer({ min: 0, max: 8 }) }),
    { minLength: 1, maxLength: 3 },
  ),
});
const textArb = fc
  .tuple(fc.array(entryArb, { maxLength: 5 }), fc.constantFrom(',', ',\n', ', '))
  .map(([entries, sep]) =>
    entries
      .map((e) => {
        const uuid = e.upper ? e.uuid.toUpperCase() : e.uuid;
        const body = e.intervals
          .map((i) => (i.len === 0 ? `${i.start}` : `${i.start}-${i.start + i.len}`))
          .join(':');
        return e.tag ? `${uuid}:${e.tag}:${body}` : `${uuid}:${body}`;
      })
      .join(sep),
  );
const setArb = textArb.map(parseGtidSet);

/** A brute-force model: every GTID spelled out. */
function expand(set: GtidSet): Set<string> {
  const out = new Set<string>();
  for (const [tsid, list] of set)
    for (const iv of list) for (let n = iv.start; n <= iv.end; n++) out.add(`${tsid}#${n}`);
  return out;
}
const sorted = (x: Set<string>) => [...x].sort();

describe('GTID set algebra (properties)', () => {
  const eq = gtidSetsEqual;
  it('union is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(setArb, setArb, setArb, (a, b, c) => {
        expect(eq(unionGtidSets(a, b), unionGtidSets(b, a))).toBe(true);
        expect(eq(unionGtidSets(unionGtidSets(a, b), c), unionGtidSets(a, unionGtidSets(b, c)))).toBe(true);
        expect(eq(unionGtidSets(a, a), a)).toBe(true);
      }),
    );
  });

  it('subtract(a, a) is empty; a − b and a ∩ b split a', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        expect(isEmptyGtidSet(subtractGtidSets(a, a))).toBe(true);
        const minus = subtractGtidSets(a, b);
        const inter = intersectGtidSets(a, b);
        expect(eq(unionGtidSets(minus, inter), a)).toBe(true);
        expect(isEmptyGtidSet(intersectGtidSets(minus, b))).toBe(true);
      }),
    );
  });

  it('contains agrees with union and subtract', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        expect(gtidSetContains(unionGtidSets(a, b), a)).toBe(true);
        expect(gtidSetContains(a, subtractGtidSets(a, b))).toBe(true);
        const contains = gtidSetContains(a, b);
        expect(contains).toBe(isEmptyGtidSet(subtractGtidSets(b, a)));
        expect(contains).toBe(eq(unionGtidSets(a, b), a));
        expect(eq(a, b)).toBe(contains && gtidSetContains(b, a));
      }),
    );
  });

  it('format∘parse is idempotent and loses nothing', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const once = fmt(text);
        expect(fmt(once)).toBe(once);
        expect(eq(parseGtidSet(once), parseGtidSet(text))).toBe(true);
        expect(once).toBe(once.toLowerCase());
      }),
    );
  });

  it('counts: union at most the sum, inclusion-exclusion exact, strict superset counts more', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        const [ca, cb] = [countGtidSet(a), countGtidSet(b)];
        const cu = countGtidSet(unionGtidSets(a, b));
        expect(cu <= ca + cb).toBe(true);
        expect(cu + countGtidSet(intersectGtidSets(a, b))).toBe(ca + cb);
        if (gtidSetContains(a, b) && !gtidSetContains(b, a)) expect(ca > cb).toBe(true);
      }),
    );
  });

  it('matches a brute-force model of explicit GTIDs', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        const [ea, eb] = [expand(a), expand(b)];
        expect(sorted(expand(unionGtidSets(a, b)))).toEqual(sorted(new Set([...ea, ...eb])));
        expect(sorted(expand(subtractGtidSets(a, b)))).toEqual(
          sorted(new Set([...ea].filter((g) => !eb.has(g)))),
        );
        expect(sorted(expand(intersectGtidSets(a, b)))).toEqual(
          sorted(new Set([...ea].filter((g) => eb.has(g)))),
        );
        expect(countGtidSet(a)).toBe(BigInt(ea.size));
        expect(gtidSetContains(a, b)).toBe([...eb].every((g) => ea.has(g)));
      }),
    );
  });
});
