import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  dec,
  ident,
  int,
  join,
  kw,
  lit,
  quoteIdent,
  quoteString,
  secret,
  sourceFragments,
  sql,
  unquoteString,
  validateChannelName,
  validateDatabaseName,
  validateGtidSet,
  validateHost,
  validatePort,
  validateUser,
} from '../../../src/sql/escape.js';

/** Reads one MySQL string literal the way the server does with backslash escapes on; throws unless the
 * whole input is exactly one literal (so an early close would be caught as leftover text). */
function readLiteral(text: string): string {
  const unescape: Record<string, string> = {
    '0': '\0',
    n: '\n',
    r: '\r',
    Z: '\x1a',
    t: '\t',
    b: '\b',
    '\\': '\\',
    "'": "'",
    '"': '"',
  };
  if (text[0] !== "'") throw new Error('no opening quote');
  let out = '';
  let i = 1;
  for (;;) {
    if (i >= text.length) throw new Error('unterminated');
    const c = text[i]!;
    if (c === '\\') {
      const n = text[i + 1];
      if (n === undefined) throw new Error('dangling backslash');
      out += unescape[n] ?? n;
      i += 2;
    } else if (c === "'") {
      if (text[i + 1] === "'") {
        out += "'";
        i += 2;
      } else {
        if (i !== text.length - 1)
          throw new Error(`literal closed early at ${i}: ${JSON.stringify(text.slice(i))}`);
        return out;
      }
    } else {
      out += c;
      i++;
    }
  }
}

/** The same text under NO_BACKSLASH_ESCAPES: only '' is special. Must still be exactly one literal. */
function literalEndsWhereItShould(text: string): boolean {
  let i = 1;
  while (i < text.length) {
    if (text[i] === "'") {
      if (text[i + 1] === "'") i += 2;
      else return i === text.length - 1;
    } else i++;
  }
  return false;
}

const expectInvalid = (f: () => unknown, message: string | RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidInputError);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).not.toMatch(/[\r\n]/);
  expect((err as Error).name).toBe('InvalidInputError');
};

describe('validateChannelName', () => {
  it.each(['shard_a', 'a', 'A-b_9', 'x'.repeat(64), '123', 'Group_Replication'])('accepts %j', (name) => {
    expect(validateChannelName(name)).toBe(name);
  });

  it.each([
    ["a'b", `channel name "a'b": must be 1–64 of letters, digits, _ and -`],
    ['a`b', 'must be 1–64'],
    ['a\\b', 'must be 1–64'],
    ['a b', 'must be 1–64'],
    ['a\nb', /channel name "a\\nb": must be/],
    ['a.b', 'must be 1–64'],
    ['ü', 'must be 1–64'],
    ['x'.repeat(65), /"x{40}…" \(65 chars\): must be 1–64/],
    ['x'.repeat(200), /\(200 chars\)/],
    ['group_replication_applier', 'channel name "group_replication_applier": is a reserved channel name'],
    ['GROUP_REPLICATION_RECOVERY', 'is a reserved channel name'],
    ['', `channel name "": the default channel '' is not allowed here`],
  ])('rejects %j', (name, message) => expectInvalid(() => validateChannelName(name), message));

  it("allows the default channel '' only when asked", () => {
    expect(validateChannelName('', { allowDefault: true })).toBe('');
    expectInvalid(() => validateChannelName("'", { allowDefault: true }), 'must be 1–64');
  });

  it('names the field', () => {
    try {
      validateChannelName('a;b');
    } catch (e) {
      expect((e as InvalidInputError).field).toBe('channel name');
    }
  });
});

describe('validateHost / validateUser / validatePort / validateDatabaseName / validateGtidSet', () => {
  it.each(['a-0.shard-a.db.svc', '127.0.0.1', '::1', 'fe80::1', 'db1'])('host %j ok', (h) =>
    expect(validateHost(h)).toBe(h),
  );
  it.each(["a'b", 'a b', 'a\nb', '', '-a', 'a_b', 'x'.repeat(300), 'host;DROP'])('host %j rejected', (h) =>
    expectInvalid(() => validateHost(h), /^host ".*"( \(\d+ chars\))?: must be a hostname or IP address$/),
  );

  it.each(['repl', 'tributary-admin', 'a.b@c', 'U$er_1', 'x'.repeat(80)])('user %j ok', (u) =>
    expect(validateUser(u)).toBe(u),
  );
  it.each([
    "re'pl",
    're"pl',
    're`pl',
    're\\pl',
    're pl',
    're\npl',
    're\tpl',
    '',
    'x'.repeat(81),
    'rëpl',
    're\0pl',
  ])('user %j rejected', (u) =>
    expectInvalid(() => validateUser(u), /^user ".*"( \(\d+ chars\))?: must be 1–80 printable/),
  );

  it.each([1, 3306, 65535])('port %d ok', (p) => expect(validatePort(p)).toBe(p));
  it.each([0, -1, 65536, 3306.5, NaN, Infinity])('port %d rejected', (p) =>
    expectInvalid(() => validatePort(p), /^port .*: must be an integer 1–65535$/),
  );

  it.each(['sales', 'crm$1', 'A_b'])('database %j ok', (d) => expect(validateDatabaseName(d)).toBe(d));
  it.each(['a-b', 'a b', 'a`b', '', 'x'.repeat(65), "a'"])('database %j rejected', (d) =>
    expectInvalid(
      () => validateDatabaseName(d),
      /^database name ".*"( \(\d+ chars\))?: must be 1–64 of letters, digits, _ and \$$/,
    ),
  );

  it('GTID sets of both flavors pass, whitespace removed', () => {
    expect(
      validateGtidSet(
        '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3',
      ),
    ).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3');
    expect(validateGtidSet('1-1-13,2-2-10')).toBe('1-1-13,2-2-10');
    expect(validateGtidSet('')).toBe('');
    expectInvalid(() => validateGtidSet("1-1-1'; DROP"), /^GTID set ".*": must contain only/);
  });
});

describe('quoteString', () => {
  it.each([
    ['plain', "'plain'"],
    ['', "''"],
    ["it's", "'it''s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['nul\0', "'nul\\0'"],
    ['line\nfeed', "'line\\nfeed'"],
    ['carriage\rreturn', "'carriage\\rreturn'"],
    ['ctrl-z\x1a', "'ctrl-z\\Z'"],
    ['"double" `back`', '\'"double" `back`\''],
    ["\\'", "'\\\\'''"],
    ['ünïcödé 🎉', "'ünïcödé 🎉'"],
  ])('%j → %s', (input, expected) => {
    expect(quoteString(input)).toBe(expected);
    expect(readLiteral(expected)).toBe(input);
    expect(unquoteString(expected)).toBe(input);
  });

  it('rejects invalid UTF-16 (lone surrogates), and never echoes a secret', () => {
    expectInvalid(() => quoteString('a\uD800b'), 'string "a\\ud800b": is not valid Unicode');
    expectInvalid(() => quoteString('\uDC00'), 'is not valid Unicode');
    expectInvalid(
      () => quoteString('pw\uD800', { field: 'password', secret: true }),
      /^password: is not valid Unicode/,
    );
    expect(quoteString('😀')).toBe("'😀'");
  });

  it('any valid string round-trips and stays one literal, with or without NO_BACKSLASH_ESCAPES', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const q = quoteString(s);
        expect(readLiteral(q)).toBe(s);
        expect(unquoteString(q)).toBe(s);
        expect(literalEndsWhereItShould(q)).toBe(true);
        // eslint-disable-next-line no-control-regex -- raw control characters must never reach the SQL text
        expect(q).not.toMatch(/[\0\n\r\x1a]/);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("'", '\\', '"', '`', '\n', '\0', 'a', ';', '-') }),
        (s) => {
          expect(readLiteral(quoteString(s))).toBe(s);
          expect(literalEndsWhereItShould(quoteString(s))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('quoteIdent', () => {
  it.each([
    ['sales', '`sales`'],
    ['a`b', '`a``b`'],
    ['`; DROP TABLE t; --', '```; DROP TABLE t; --`'],
    ['shard-a', '`shard-a`'],
  ])('%j → %s', (input, expected) => expect(quoteIdent(input)).toBe(expected));
  it.each(['', 'a\0b', '\uD800'])('rejects %j', (s) =>
    expectInvalid(() => quoteIdent(s), 'must be a nonempty identifier'),
  );
});

describe('statement building', () => {
  it('the sql tag joins text and fragments; display shows secrets as <redacted>', () => {
    const s = sql`CHANGE X TO H=${lit('h')}, P=${secret("p'w")}, N=${int(5, 'n')}, D=${dec(1.5, 'd', 0, 10)}, I=${ident('db')}, K=${kw('slave_pos')}`;
    expect(s.sql).toBe("CHANGE X TO H='h', P='p''w', N=5, D=1.5, I=`db`, K=slave_pos");
    expect(s.display).toBe("CHANGE X TO H='h', P=<redacted>, N=5, D=1.5, I=`db`, K=slave_pos");
  });

  it('numbers are range-checked and never printed in exponent form', () => {
    expect(dec(0.0001, 'd', 0, 10).sql).toBe('0');
    expect(dec(2.12345, 'd', 0, 10).sql).toBe('2.123');
    expect(int(4294967295, 'n').sql).toBe('4294967295');
    expectInvalid(() => int(-1, 'delay'), /^delay -1: must be an integer 0–/);
    expectInvalid(() => int(1.5, 'delay'), /^delay 1.5: must be an integer/);
    expectInvalid(() => dec(NaN, 'heartbeat period', 0, 10), /^heartbeat period NaN/);
  });

  it('kw refuses anything but words (it is for the code’s own tables)', () => {
    expect(() => kw("REPLICA'")).toThrow(/not a SQL keyword/);
    expect(() => kw('A; B')).toThrow();
    expect(() => kw('')).toThrow();
    expect(kw('START REPLICA IO_THREAD').sql).toBe('START REPLICA IO_THREAD');
  });

  it('join keeps sql and display apart', () => {
    const j = join([lit('a'), secret('b')]);
    expect(j).toEqual({ sql: "'a', 'b'", display: "'a', <redacted>" });
  });

  it('sourceFragments validates every field and names it', () => {
    const ok = {
      host: 'h',
      port: 3306,
      user: 'repl',
      password: 'x',
      connectRetry: 1,
      retryCount: 0,
      heartbeatPeriod: 2,
      delaySeconds: 0,
      tls: { enabled: true, caFile: '', verifyServerCert: false },
    };
    const limits = { maxUser: 32, maxPassword: 32 };
    expect(sourceFragments(ok, limits).ssl.sql).toBe('1');
    expect(sourceFragments({ ...ok, password: '🎉'.repeat(32) }, limits).password.display).toBe('<redacted>');
    expectInvalid(
      () => sourceFragments({ ...ok, user: 'u'.repeat(33) }, limits),
      /^user "u{33}": must be at most 32 characters on this server$/,
    );
    expectInvalid(
      () => sourceFragments({ ...ok, password: 'p'.repeat(33) }, limits),
      /^password: must be at most 32 characters on this server$/,
    );
    expectInvalid(() => sourceFragments({ ...ok, host: "h'" }, limits), /^host /);
    expectInvalid(() => sourceFragments({ ...ok, user: 'a b' }, limits), /^user /);
    expectInvalid(() => sourceFragments({ ...ok, port: 0 }, limits), /^port /);
    expectInvalid(() => sourceFragments({ ...ok, connectRetry: 0 }, limits), /^connect retry 0/);
    expectInvalid(() => sourceFragments({ ...ok, heartbeatPeriod: -1 }, limits), /^heartbeat period -1/);
    expectInvalid(() => sourceFragments({ ...ok, delaySeconds: 2 ** 31 }, limits), /^delay /);
    expectInvalid(
      () => sourceFragments({ ...ok, password: '\uDFFF' }, limits),
      /^password: is not valid Unicode/,
    );
  });
});
