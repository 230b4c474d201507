import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GtidParseError,
  behindDomains,
  errantEntries,
  extraDomains,
  formatGtidPos,
  gtidPosEqual,
  isAtOrAhead,
  parseGtidPos,
  progressGtidPos,
  unionGtidPos,
  type GtidEntry,
} from '../../../src/sql/gtid/index.js';

const p = parseGtidPos;
const fmt = (text: string) => formatGtidPos(p(text));
const show = (entries: GtidEntry[]) => entries.map((e) => `${e.domain}-${e.server}-${e.seq}`).join(',');

describe('parseGtidPos / formatGtidPos on real strings (facts/mariadb-10.11.md)', () => {
  it.each([
    ['', ''],
    [' \n', ''],
    ['1-1-13,2-2-10,3-3-4', '1-1-13,2-2-10,3-3-4'],
    ['3-3-4,1-1-13,\n2-2-10', '1-1-13,2-2-10,3-3-4'],
    ['1-1-13,2-2-10,3-3-4,4-4-3', '1-1-13,2-2-10,3-3-4,4-4-3'],
    // @@gtid_binlog_state lists every (domain, server): the position keeps the highest seq per domain.
    ['0-1-10,0-2-7,1-1-3', '0-1-10,1-1-3'],
    ['1-1-9,1-4-11', '1-4-11'],
    ['0-0-18446744073709551615', '0-0-18446744073709551615'],
    ['4294967295-4294967295-1', '4294967295-4294967295-1'],
  ])('%j → %j', (input, canonical) => {
    expect(fmt(input)).toBe(canonical);
  });

  it.each([
    ['1-1', '"1-1" is not domain-server-seq'],
    ['1-1-x', '"1-1-x"'],
    ['1-1-13,,2-2-1', '"" is not domain-server-seq'],
    ['1-1-13,', '"" is not'],
    ['4294967296-1-1', 'domain 4294967296'],
    ['1-4294967296-1', 'server id 4294967296'],
    ['1-1-18446744073709551616', 'past 2^64-1'],
    ['3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 'is not domain-server-seq'],
  ])('%j is refused: %s', (input, message) => {
    expect(() => p(input)).toThrow(GtidParseError);
    expect(() => p(input)).toThrow(message);
  });
});

describe('position comparisons on tables', () => {
  it('isAtOrAhead compares seq per domain of the second position', () => {
    expect(isAtOrAhead(p('1-1-13,2-2-10'), p('1-1-13'))).toBe(true);
    expect(isAtOrAhead(p('1-1-13'), p('1-1-13,2-2-10'))).toBe(false);
    expect(isAtOrAhead(p('1-1-6,2-2-9,3-3-3'), p('1-1-4,2-2-4'))).toBe(true);
    expect(isAtOrAhead(p('1-1-6,2-2-3'), p('1-1-4,2-2-4'))).toBe(false);
    expect(isAtOrAhead(p(''), p(''))).toBe(true);
    // A later seq from another server (a failover happened in that domain) is still ahead.
    expect(isAtOrAhead(p('0-2-101'), p('0-1-100'))).toBe(true);
  });

  it('behindDomains lists both entries', () => {
    expect(behindDomains(p('1-1-6,2-2-9'), p('1-1-9,2-2-9,3-3-3'))).toEqual([
      { domain: 1, have: { domain: 1, server: 1, seq: 6n }, want: { domain: 1, server: 1, seq: 9n } },
      { domain: 3, have: null, want: { domain: 3, server: 3, seq: 3n } },
    ]);
  });

  it('extraDomains: the replica domains its source lacks (aggr2 current pos vs slave pos)', () => {
    expect(show(extraDomains(p('1-1-13,2-2-10,3-3-4,4-4-3'), p('1-1-13,2-2-10,3-3-4')))).toBe('4-4-3');
    expect(show(extraDomains(p('1-1-13'), p('1-1-13,2-2-10')))).toBe('');
  });

  it.each([
    ['local write in its own domain', '1-1-13,4-4-3', ['1-1-13'], '4-4-3'],
    ['local write in the source domain (1-4-11, source at 1-1-9)', '1-4-11', ['1-1-9'], '1-4-11'],
    ['same seq from another server: diverged', '1-4-11', ['1-1-11'], '1-4-11'],
    ['source overtook the local write: positions cannot tell', '1-4-11', ['1-1-12'], ''],
    ['behind the source is not errant', '1-1-6,2-2-9', ['1-1-9,2-2-9'], ''],
    ['covered by any one of several sources', '1-1-9,2-2-9', ['1-1-9', '2-2-9'], ''],
    ['equal seqs in two sources: the matching one counts', '0-1-101', ['0-2-101', '0-1-101'], ''],
    ['no source at all', '1-1-1', [], '1-1-1'],
  ])('errantEntries: %s', (_name, replica, sources, errant) => {
    expect(show(errantEntries(p(replica), ...sources.map(p)))).toBe(errant);
  });

  it('union keeps the highest seq per domain', () => {
    expect(formatGtidPos(unionGtidPos(p('1-1-6,2-2-9'), p('1-1-9,3-3-3')))).toBe('1-1-9,2-2-9,3-3-3');
    expect(formatGtidPos(unionGtidPos(p('0-1-5'), p('0-2-5')))).toBe('0-2-5');
  });

  it('progress is the seq sum', () => {
    expect(progressGtidPos(p('1-1-13,2-2-10,3-3-4'))).toBe(27n);
    expect(progressGtidPos(p(''))).toBe(0n);
  });
});

// Few domains and servers, small seqs: collisions (equal seqs, shared domains) happen often.
const entryText = fc
  .record({
    d: fc.integer({ min: 0, max: 3 }),
    s: fc.integer({ min: 1, max: 3 }),
    q: fc.integer({ min: 1, max: 12 }),
  })
  .map(({ d, s, q }) => `${d}-${s}-${q}`);
const textArb = fc
  .tuple(fc.array(entryText, { maxLength: 5 }), fc.constantFrom(',', ',\n'))
  .map(([e, sep]) => e.join(sep));
const posArb = textArb.map(p);

describe('position algebra (properties)', () => {
  it('isAtOrAhead is reflexive and transitive', () => {
    fc.assert(
      fc.property(posArb, posArb, posArb, (a, b, c) => {
        expect(isAtOrAhead(a, a)).toBe(true);
        if (isAtOrAhead(a, b) && isAtOrAhead(b, c)) expect(isAtOrAhead(a, c)).toBe(true);
        // The same, on chains built to satisfy the premise.
        const b2 = unionGtidPos(c, b);
        const a2 = unionGtidPos(b2, a);
        expect(isAtOrAhead(a2, b2) && isAtOrAhead(b2, c)).toBe(true);
        expect(isAtOrAhead(a2, c)).toBe(true);
      }),
    );
  });

  it('union is the least upper bound, commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(posArb, posArb, posArb, (a, b, c) => {
        const u = unionGtidPos(a, b);
        expect(isAtOrAhead(u, a) && isAtOrAhead(u, b)).toBe(true);
        if (isAtOrAhead(c, a) && isAtOrAhead(c, b)) expect(isAtOrAhead(c, u)).toBe(true);
        expect(gtidPosEqual(u, unionGtidPos(b, a))).toBe(true);
        expect(gtidPosEqual(unionGtidPos(u, c), unionGtidPos(a, unionGtidPos(b, c)))).toBe(true);
        expect(gtidPosEqual(unionGtidPos(a, a), a)).toBe(true);
      }),
    );
  });

  it('behindDomains is empty exactly when at or ahead; errant ⊇ extra domains', () => {
    fc.assert(
      fc.property(posArb, posArb, (a, b) => {
        expect(behindDomains(a, b).length === 0).toBe(isAtOrAhead(a, b));
        const errant = errantEntries(a, b);
        for (const e of extraDomains(a, b)) expect(errant).toContainEqual(e);
        expect(errantEntries(a, a)).toEqual([]);
        expect(errantEntries(a, b, a)).toEqual([]);
      }),
    );
  });

  it('format∘parse is idempotent; progress grows with isAtOrAhead', () => {
    fc.assert(
      fc.property(textArb, posArb, (text, b) => {
        const once = fmt(text);
        expect(fmt(once)).toBe(once);
        expect(gtidPosEqual(p(once), p(text))).toBe(true);
        const a = p(text);
        if (isAtOrAhead(a, b)) expect(progressGtidPos(a) >= progressGtidPos(b)).toBe(true);
        if (isAtOrAhead(a, b) && !isAtOrAhead(b, a))
          expect(progressGtidPos(a) > progressGtidPos(b)).toBe(true);
      }),
    );
  });
});
