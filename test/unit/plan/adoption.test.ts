// Adoption as tables: a topology met for the first time (no credentials record) whose servers were
// verified to hold the replication Secret gets no statement; what differs gets only what it needs; what
// could not be verified is named, never "fixed". Plus which drift is connection-only, and its statements.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CredentialsStatus } from '../../../src/api/status.js';
import { credentialDigest, RefusedLogins } from '../../../src/observe/credentials-check.js';
import type { InstanceObservation, Observation } from '../../../src/observe/types.js';
import { describeAction } from '../../../src/plan/actions.js';
import { connectionOnlyDrift } from '../../../src/plan/connection-drift.js';
import { fingerprint, refusalMeansStale } from '../../../src/plan/credentials.js';
import { decidePass, type DecideInput } from '../../../src/plan/decide.js';
import { previewPasses } from '../../../src/plan/preview.js';
import { formatPlan } from '../../../src/report/plan-text.js';
import { mariadbDialect } from '../../../src/sql/dialects/mariadb.js';
import { mysqlDialect } from '../../../src/sql/dialects/mysql.js';
import { channel, converged, warehouse } from '../../fixtures/topology.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const SALT = '00112233445566778899aabbccddeeff';
const repl = { username: 'repl', password: 'r3pl-Secret' };
const FP = fingerprint(SALT, repl);

/** The converged warehouse with verification facts: every login as given, every channel's stored creds. */
function verified(login: Record<string, boolean | null>, stored: boolean | null): Observation {
  const o = converged();
  return {
    ...o,
    instances: o.instances.map((i): InstanceObservation => ({
      ...i,
      replicationLogin: i.member in login ? login[i.member]! : true,
      ...(i.channels.length
        ? { channelCredentials: Object.fromEntries(i.channels.map((c) => [c.name, stored])) }
        : {}),
    })),
  };
}

const input = (observation: Observation, credentials?: CredentialsStatus): DecideInput => ({
  spec: warehouse(),
  observation,
  previous: credentials ? { ...emptyReady(), credentials } : undefined,
  streaks: new Map(),
  nowMs: NOW,
  annotations: {},
  replication: { user: 'repl', salt: SALT, fingerprint: FP },
});
const emptyReady = () => ({
  phase: 'Ready' as const,
  conditions: [],
  groups: [],
  instances: [],
  channels: [],
  managedChannels: [],
  failovers: [],
});

describe('adoption on first contact', () => {
  it('everything verified: no statement, the record complete at once (nothing journaled), every line "adopted as is"', () => {
    const d = decidePass(input(verified({}, true)));
    expect(d.actions).toEqual([]);
    expect(d.credentialsStarted).toBe(false);
    expect(d.credentials?.replication).toMatchObject({
      complete: true,
      accounts: expect.arrayContaining(['a-0', 'b-0', 'dw-0']),
    });
    expect(d.conditions.map((c) => c.type)).not.toContain('CredentialsRotating');
    expect(d.conditions.map((c) => c.type)).not.toContain('CredentialsUnverified');
    expect(d.adoption?.map((l) => `${l.target}: ${l.changes}`)).toEqual([
      'a-0: false',
      'a-1: false',
      'b-0: false',
      'dw-0: false',
      'dw-1: false',
      "a-1/'': false",
      "dw-1/'': false",
      'dw-0/shard_a: false',
      'dw-0/shard_b: false',
    ]);
    const text = formatPlan('warehouse', previewPasses(input(verified({}, true))), repl);
    expect(text).toContain('nothing to do');
    expect(text).toContain(
      "dw-0/shard_a: adopted as is (from a-0; its stored user and password are the Secret's)",
    );
  });

  it('channel passwords unreadable (MariaDB): adopted without a restart, and named in CredentialsUnverified', () => {
    const d = decidePass(input(verified({}, null)));
    expect(d.actions).toEqual([]);
    expect(d.credentials?.replication?.complete).toBe(true);
    const c = d.conditions.find((x) => x.type === 'CredentialsUnverified');
    expect(c?.reason).toBe('ChannelPasswordUnreadable');
    for (const ch of ["a-1/''", "dw-1/''", 'dw-0/shard_a', 'dw-0/shard_b']) expect(c?.message).toContain(ch);
  });

  it("an account that refuses the Secret's password: ALTER USER there, then only the channels from it", () => {
    const passes = previewPasses(input(verified({ 'a-0': false }, null)));
    const all = passes.flatMap((p) => p.actions.map(describeAction));
    expect(all.filter((a) => /set the replication account/.test(a))).toEqual([
      expect.stringMatching(/^a-0: /),
    ]);
    expect(all.filter((a) => /give it the replication password/.test(a)).map((a) => a.split(':')[0])).toEqual(
      ["a-1/''", 'dw-0/shard_a'],
    );
    expect(passes[0]!.credentialsStarted).toBe(true);
  });

  it('an account that could not be checked is left alone and named (never changed on a guess)', () => {
    const d = decidePass(input(verified({ 'b-0': null }, true)));
    expect(d.actions.map(describeAction).filter((a) => a.startsWith('b-0'))).toEqual([]);
    const c = d.conditions.find((x) => x.type === 'CredentialsUnverified');
    expect(c?.reason).toBe('AccountUnchecked');
    expect(c?.message).toContain('b-0');
  });

  it('a channel read and found different says so: not "cannot be read", not in CredentialsUnverified', () => {
    // a-0's account could not be checked: its channels wait for it; the others follow their account.
    const d = decidePass(input(verified({ 'a-0': null }, false)));
    const lines = Object.fromEntries(d.adoption!.map((l) => [l.target, l]));
    for (const ch of ["a-1/''", 'dw-0/shard_a']) {
      expect(lines[ch]?.text).toBe(
        "not changed yet (from a-0; its stored password differs from the Secret's (or its user does): it gets the Secret's once a-0's account has it)",
      );
      expect(lines[ch]?.changes).toBe(false);
    }
    for (const ch of ["dw-1/''", 'dw-0/shard_b'])
      expect(lines[ch]?.text).toMatch(/^will give it the replication password because /);
    const c = d.conditions.find((x) => x.type === 'CredentialsUnverified');
    expect(c?.reason).toBe('AccountUnchecked');
    expect(c?.message).toContain('a-0');
    expect(c?.message).not.toMatch(/adopted without reading/);
  });

  it('a channel whose stored password could not be read is "unverified", naming why it may be', () => {
    const line = (o: Observation) => decidePass(input(o)).adoption!.find((l) => l.target === 'dw-0/shard_a');
    expect(line(verified({}, null))?.text).toBe(
      'adopted as is (from a-0; its stored password could not be read here (MariaDB keeps it in a file): unverified)',
    );
    const o = verified({}, null);
    const mysql = { ...o, instances: o.instances.map((i) => ({ ...i, flavor: 'mysql' as const })) };
    expect(line(mysql)?.text).toBe(
      'adopted as is (from a-0; its stored password could not be read here (no SELECT on mysql.slave_master_info, or the read failed): unverified)',
    );
  });

  it.each([
    ['first contact (no record)', undefined, false],
    ['the record adoption started, still open', { adopted: true, fingerprint: FP }, false],
    ['a rotation under way (same Secret, not adopted)', { fingerprint: FP }, true],
    ['the Secret changed since a record adoption started', { adopted: true, fingerprint: 'scrypt:00' }, true],
  ] as [string, { adopted?: boolean; fingerprint: string } | undefined, boolean][])(
    'a refused login alone means "differs": %s → %s',
    (_n, r, want) => {
      const stored: CredentialsStatus | undefined = r && {
        salt: SALT,
        replication: { since: 'x', accounts: [], channels: [], complete: false, ...r },
      };
      expect(refusalMeansStale(stored, { salt: SALT, fingerprint: FP })).toBe(want);
    },
  );

  it('a rotation (the record had another fingerprint) still gives unreadable channels the new password', () => {
    const old: CredentialsStatus = {
      salt: SALT,
      replication: {
        fingerprint: 'scrypt:00',
        since: 'x',
        accounts: ['a-0', 'b-0', 'dw-0'],
        channels: [],
        complete: true,
      },
    };
    const passes = previewPasses(input(verified({ 'a-0': false, 'b-0': false, 'dw-0': false }, null), old));
    const all = passes.flatMap((p) => p.actions.map(describeAction));
    expect(all.filter((a) => /give it the replication password/.test(a))).toHaveLength(4);
    expect(passes[0]!.adoption).toBeUndefined();
  });
});

describe('connection-only drift', () => {
  const desired = {
    member: 'dw-0',
    channel: 'c',
    fromGroup: 'shard-a',
    source: 'a-0',
    sourceHost: 'h',
    sourcePort: 1,
    delaySeconds: 0,
    filter: { doDatabases: ['Sales'], ignoreDatabases: [] },
    tls: { enabled: false, caFile: '', verifyServerCert: false },
  };
  const base = channel('c', 'a-0', { filter: { doDatabases: ['sales'], ignoreDatabases: [] } });
  it.each([
    ['connect retry, heartbeat or TLS only', { connectRetry: 60, sslAllowed: true }, true],
    ['the delay differs (the applier must stop: MySQL 3085)', { delaySeconds: 5 }, false],
    ['auto-position off (MySQL 3081)', { autoPosition: false }, false],
    ['a filter differs', { filter: { doDatabases: [], ignoreDatabases: [] } }, false],
  ] as [string, Partial<typeof base>, boolean][])('%s → %s', (_n, over, want) => {
    expect(connectionOnlyDrift({ ...base, ...over }, desired)).toBe(want);
  });

  it('MySQL restarts the receiver alone, with connection options only; MariaDB the whole channel', () => {
    const source = {
      host: 'h',
      port: 3306,
      user: 'repl',
      password: 'pw',
      connectRetry: 1,
      retryCount: 86400,
      heartbeatPeriod: 1,
      delaySeconds: 0,
    };
    const my = mysqlDialect('mysql')
      .reconfigureConnection('c', source)
      .map((s) => s.display);
    expect(my[0]).toBe("STOP REPLICA IO_THREAD FOR CHANNEL 'c'");
    expect(my[1]).toMatch(/^CHANGE REPLICATION SOURCE TO SOURCE_USER='repl', SOURCE_PASSWORD=<redacted>, /);
    expect(my[1]).not.toMatch(/SOURCE_DELAY|SOURCE_AUTO_POSITION|SOURCE_HOST/);
    expect(my[2]).toBe("START REPLICA IO_THREAD FOR CHANNEL 'c'");
    const maria = mariadbDialect.reconfigureConnection('c', source).map((s) => s.display);
    expect(maria[0]).toBe("STOP REPLICA 'c'");
    expect(maria[1]).toMatch(/^CHANGE MASTER 'c' TO .*MASTER_HEARTBEAT_PERIOD=1/);
    expect(maria[2]).toBe("START REPLICA 'c'");
  });

  it('MySQL: connection options are one list; changeSource adds where and how it applies', () => {
    const source = {
      host: 'h',
      port: 3306,
      user: 'repl',
      password: 'pw',
      connectRetry: 1,
      retryCount: 86400,
      heartbeatPeriod: 1,
      delaySeconds: 7,
    };
    const d = mysqlDialect('mysql');
    const options = d
      .reconfigureConnection('c', source)[1]!
      .display.replace(/^CHANGE REPLICATION SOURCE TO /, '');
    expect(d.changeSource('c', source).display).toBe(
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='h', SOURCE_PORT=3306, ${options.replace(/ FOR CHANNEL 'c'$/, '')}, SOURCE_AUTO_POSITION=1, SOURCE_DELAY=7 FOR CHANNEL 'c'`,
    );
    // MariaDB: a new password is a connection change like the others (the whole channel restarts).
    expect(mariadbDialect.setSourcePassword('c', source)).toEqual(
      mariadbDialect.reconfigureConnection('c', source),
    );
  });
});

describe('channel credentials read without sending the password', () => {
  const PW = `p\u00e4'"\\\u00df\u20ac-x`;
  it('the statement carries a nonce and no password, in what is sent and in what is shown', () => {
    const nonce = '00112233445566778899aabbccddeeff';
    const stmt = mysqlDialect('mysql').channelCredentialDigests(nonce)!;
    expect(stmt.sql).toBe(
      "SELECT Channel_name AS name, User_name AS user, SHA2(CONCAT('00112233445566778899aabbccddeeff', CONVERT(User_password USING utf8mb4)), 256) AS digest FROM mysql.slave_master_info",
    );
    expect(stmt.display).toBe(stmt.sql);
    expect(stmt.sql).not.toContain(PW);
    expect(mysqlDialect('mysql-legacy').channelCredentialDigests(nonce)?.sql).toBe(stmt.sql);
    expect(mariadbDialect.channelCredentialDigests(nonce)).toBeNull();
    for (const bad of ['', 'xyz', '00112233445566778899AABBCCDDEEFF', `${nonce}'`])
      expect(() => mysqlDialect('mysql').channelCredentialDigests(bad)).toThrow(/nonce/);
  });

  it("Node's digest equals the one MySQL 9.7.4 computed for a stored non-ASCII, quoted password", () => {
    // Measured on 9.7.4: SHA2(CONCAT('<nonce>', CONVERT(User_password USING utf8mb4)), 256) of a channel
    // given SOURCE_PASSWORD = pä'"\ß€ (stored bytes 70 C3A4 27 22 5C C39F E282AC).
    const nonce = '00112233445566778899aabbccddeeff';
    const measured = `p\u00e4'"\\\u00df\u20ac`;
    expect(credentialDigest(nonce, measured)).toBe(
      '2d5a18ea5b126d6a98ceaaabd0af2b109ea74cfb90e7a42c758aaab57d392ffb',
    );
    expect(credentialDigest(nonce.replace('0', '1'), measured)).not.toBe(credentialDigest(nonce, measured));
  });

  it('refused logins are remembered per credentials and address, under a key that holds no password', () => {
    const r = new RefusedLogins();
    const at = { host: '127.0.0.1', port: 3306 };
    const k = r.keyOf(at, { username: 'repl', password: PW });
    r.set('a-0', k, true);
    expect(r.has('a-0', k)).toBe(true);
    expect(r.has('a-1', k)).toBe(false);
    expect(r.has('a-0', r.keyOf(at, { username: 'repl', password: 'other' }))).toBe(false);
    expect(r.has('a-0', r.keyOf({ ...at, port: 3307 }, { username: 'repl', password: PW }))).toBe(false);
    expect(k).not.toContain(createHash('sha256').update(PW).digest('hex'));
    expect(new RefusedLogins().keyOf(at, { username: 'repl', password: PW })).not.toBe(k);
    r.set('a-0', k, false);
    expect(r.has('a-0', k)).toBe(false);
  });
});
