import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GtidParseError, gtidOps } from '../../../src/sql/gtid/index.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '896e7882-18fe-11ef-ab88-22222d34d411';

describe('gtidOps(mysql)', () => {
  const ops = gtidOps('mysql');

  it('is shared with mysql-legacy', () => {
    expect(gtidOps('mysql-legacy')).toBe(ops);
  });

  it('works on text', () => {
    expect(ops.normalize(`${U1.toUpperCase()}:1-5,\n${U1}:7-9`)).toBe(`${U1}:1-5:7-9`);
    expect(ops.isEmpty('')).toBe(true);
    expect(ops.isEmpty(`${U1}:1`)).toBe(false);
    expect(ops.equals(`${U1}:1-3:4`, `${U1}:1-4`)).toBe(true);
    expect(ops.contains(`${U1}:1-10`, `${U1}:3-4`)).toBe(true);
    expect(ops.ahead(`${U1}:1-10`, `${U1}:3-4`)).toBe(true);
    expect(ops.ahead(`${U1}:1-10`, `${U1}:1-10`)).toBe(false);
    expect(ops.ahead(`${U1}:1-10`, `${U2}:1`)).toBe(false);
    expect(ops.union(`${U1}:1-3`, `${U1}:4-5`, `${U2}:1`)).toBe(`${U1}:1-5,${U2}:1`);
    expect(ops.union()).toBe('');
    expect(ops.missing(`${U1}:1-5`, `${U1}:1-9,${U2}:1`)).toBe(`${U1}:6-9,${U2}:1`);
    expect(ops.missing(`${U1}:1-9`, `${U1}:1-5`)).toBe('');
    expect(ops.progress(`${U1}:1-5:7-9`)).toBe(8n);
  });

  it('errant: the replica minus its source and everything else legitimate', () => {
    expect(ops.errant(`${U1}:1-10,${U2}:1-2`, `${U1}:1-8`)).toBe(`${U1}:9-10,${U2}:1-2`);
    // The replica's read may be newer than the source's: what it received is legitimate.
    expect(ops.errant(`${U1}:1-10,${U2}:1-2`, `${U1}:1-8`, { alsoLegit: [`${U1}:5-10`] })).toBe(`${U2}:1-2`);
    expect(ops.errant('', `${U1}:1-8`)).toBe('');
  });

  it('throws GtidParseError on malformed text', () => {
    expect(() => ops.contains('garbage', '')).toThrow(GtidParseError);
  });
});

describe('gtidOps(mariadb)', () => {
  const ops = gtidOps('mariadb');

  it('works on text', () => {
    expect(ops.normalize('2-2-10,1-1-13')).toBe('1-1-13,2-2-10');
    expect(ops.isEmpty('')).toBe(true);
    expect(ops.equals('1-1-13,2-2-10', '2-2-10,1-1-13')).toBe(true);
    expect(ops.equals('1-1-13', '1-2-13')).toBe(false);
    expect(ops.contains('1-1-13,2-2-10,3-3-4', '1-1-13,2-2-10')).toBe(true);
    expect(ops.ahead('1-1-13,2-2-10,3-3-4', '1-1-13,2-2-10')).toBe(true);
    expect(ops.ahead('1-1-13,2-2-9', '1-1-12,2-2-10')).toBe(false);
    expect(ops.union('1-1-13,2-2-9', '1-1-12,2-2-10')).toBe('1-1-13,2-2-10');
    // missing: want's entries where have is behind, which is the position to wait for.
    expect(ops.missing('1-1-6,2-2-9', '1-1-9,2-2-9,3-3-3')).toBe('1-1-9,3-3-3');
    expect(ops.progress('1-1-13,2-2-10')).toBe(23n);
  });

  it('errant: extra domains, seqs past the source, diverged seqs', () => {
    expect(ops.errant('1-1-13,2-2-10,3-3-4,4-4-3', '1-1-13,2-2-10,3-3-4')).toBe('4-4-3');
    expect(ops.errant('1-4-11,2-2-9', '1-1-9,2-2-9')).toBe('1-4-11');
    expect(ops.errant('1-1-11', '1-1-9', { alsoLegit: ['1-1-11'] })).toBe('');
    expect(ops.errant('1-1-6', '1-1-9')).toBe('');
  });
});

// Both flavors obey the facade's contract; texts drawn per flavor.
const U = [U1, U2];
const mysqlText = fc
  .array(fc.tuple(fc.constantFrom(...U), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 5 })), {
    maxLength: 4,
  })
  .map((es) => es.map(([u, s, l]) => `${u}:${s}-${s + l}`).join(','));
const mariadbText = fc
  .array(
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 9 })),
    { maxLength: 4 },
  )
  .map((es) => es.map(([d, s, q]) => `${d}-${s}-${q}`).join(','));

describe.each([
  ['mysql', mysqlText],
  ['mariadb', mariadbText],
] as const)('gtidOps(%s) contract (properties)', (flavor, text) => {
  const ops = gtidOps(flavor);
  it('missing is empty exactly when contains; ahead implies more progress; union contains both', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(ops.missing(a, b) === '').toBe(ops.contains(a, b));
        if (ops.ahead(a, b)) expect(ops.progress(a) > ops.progress(b)).toBe(true);
        const u = ops.union(a, b);
        expect(ops.contains(u, a) && ops.contains(u, b)).toBe(true);
        expect(ops.contains(ops.union(b, ops.missing(b, a)), a)).toBe(true);
        expect(ops.normalize(ops.normalize(a))).toBe(ops.normalize(a));
        expect(ops.errant(a, a)).toBe('');
        expect(ops.errant(a, b, { alsoLegit: [a] })).toBe('');
        // Nothing errant means the source holds it all; MySQL sets also say the converse.
        if (ops.isEmpty(ops.errant(a, b))) expect(ops.contains(b, a)).toBe(true);
        if (flavor === 'mysql') expect(ops.isEmpty(ops.errant(a, b))).toBe(ops.contains(b, a));
      }),
    );
  });
});
