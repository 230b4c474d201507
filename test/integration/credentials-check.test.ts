// The replication Secret verified on real servers (observe/credentials-check.ts): what each verdict is
// made of, that no statement the check sends holds the password (the servers' general log is read back),
// and that a refused login is tried once per Secret and never by a pass that may not write (a standby):
// each refused login counts toward the account's failed-login limit.
//
// | measured on the servers                                   | MariaDB 10.11 / 11.8 | MySQL 9.7        |
// | a channel's stored password compared                      | no (a file)          | yes (digest)     |
// | refused login, a channel from it stores another password  | differs (false)      | differs (false)  |
// | refused login (REQUIRE SSL), its channel stores the Secret | differs (false)      | unverified (null)|
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopologySpec } from '../../src/api/spec.js';
import { validateTopology } from '../../src/api/validate.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { verifyReplicationCredentials } from '../../src/observe/credentials-check.js';
import { observeTopology } from '../../src/observe/probe.js';
import type { Observation } from '../../src/observe/types.js';
import {
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  REPL_USER,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { createLogger } from '../../src/util/log.js';
import { FLAVORS, type FlavorFacts } from '../harness/flavors.js';
import { driver } from '../harness/passes.js';
import { useSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';

/** Non-ASCII and every quoting character; within MySQL's 32-character limit. */
const PW = `pä'"\\ß€-x \`1`;
const OTHER = 'another-Secret-2';
const operator = { username: OPERATOR_USER, password: OPERATOR_PASSWORD };

/** Two groups: ga (a) feeding gb (b) over the channel c1. */
function docs(sb: Sandbox, password: string, extra: Record<string, unknown> = {}): unknown[] {
  return sandboxManifests({
    name: 'creds',
    admin: operator,
    replication: { username: REPL_USER, password },
    spec: {
      ...extra,
      groups: [
        { name: 'ga', members: [sandboxMember(sb, 'a')] },
        { name: 'gb', members: [sandboxMember(sb, 'b')], channels: [{ name: 'c1', from: 'ga' }] },
      ],
    },
  });
}

function specOf(sb: Sandbox): TopologySpec {
  const r = validateTopology(docs(sb, PW)[0]);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.topology.spec;
}

/** A channel made by hand, stored, never started: only its stored credentials matter here. */
async function storeChannel(f: FlavorFacts, b: SandboxServer, port: number, password: string): Promise<void> {
  if (f.family === 'mysql')
    await b.sql(
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${port}, SOURCE_USER='${REPL_USER}', SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1 FOR CHANNEL 'c1'`,
      [password],
    );
  else
    await b.sql(
      `CHANGE MASTER 'c1' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='${REPL_USER}', MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos`,
      [password],
    );
}

const abortedConnects = async (s: SandboxServer) =>
  Number((await s.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects'"))[0]!.Value);

describe.each(FLAVORS)('verifying the replication Secret on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a', 'b'] });
  const s = (name: string) => sb().server(name);
  let pool: SqlClientPool;

  beforeAll(async () => {
    pool = new SqlClientPool();
    for (const m of ['a', 'b']) await s(m).setReadOnly(false);
    // Not replicated: a and b do not replicate (c1 is never started).
    await s('a').sql(`ALTER USER '${REPL_USER}'@'%' IDENTIFIED BY ?`, [PW]);
    await storeChannel(f, s('b'), s('a').port, PW);
    // MySQL: the optional grant that lets the operator read the channels' stored credentials.
    if (f.family === 'mysql')
      await s('b').sql(
        `GRANT SELECT (Channel_name, User_name, User_password) ON mysql.slave_master_info TO '${OPERATOR_USER}'@'%'`,
      );
  });
  afterAll(async () => {
    await pool?.closeAll();
  });

  async function verify(password: string): Promise<Observation> {
    const spec = specOf(sb());
    const observation = await observeTopology(spec, { admin: operator, replicationUser: REPL_USER, pool });
    expect(observation.instances.map((i) => [i.member, i.reachable])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    return verifyReplicationCredentials(spec, observation, {
      admin: operator,
      replication: { username: REPL_USER, password },
      pool,
    });
  }
  const of = (o: Observation, m: string) => o.instances.find((i) => i.member === m)!;

  it("the Secret's password: the login accepted; the channel's stored password the same (MySQL); no statement holds it", async () => {
    for (const m of ['a', 'b']) {
      await s(m).sql("SET GLOBAL log_output = 'TABLE'");
      await s(m).sql('SET GLOBAL general_log = ON');
    }
    const o = await verify(PW);
    for (const m of ['a', 'b']) await s(m).sql('SET GLOBAL general_log = OFF');
    expect(of(o, 'a').replicationLogin).toBe(true);
    expect(of(o, 'b').channelCredentials).toEqual({ c1: f.family === 'mysql' ? true : null });
    // Every statement the servers received meanwhile, as they logged it.
    const logged: string[] = [];
    for (const m of ['a', 'b'])
      for (const r of await s(m).sql(
        'SELECT command_type AS c, CONVERT(argument USING utf8mb4) AS t FROM mysql.general_log',
      ))
        logged.push(`${String(r.c)} ${String(r.t)}`);
    // The capture worked: the probe, the replication login, and (MySQL) the digest read are there.
    expect(logged.some((t) => t.includes('SELECT 1 AS ok'))).toBe(true);
    if (f.family === 'mysql')
      expect(logged.filter((t) => t.includes('mysql.slave_master_info'))).toEqual([
        expect.stringMatching(
          /SHA2\(CONCAT\('[0-9a-f]{32}', CONVERT\(User_password USING utf8mb4\)\), 256\)/,
        ),
      ]);
    const forms = [
      PW,
      "pä''\"", // PW as a quoted literal would start
      Buffer.from(PW).toString('hex'),
      createHash('sha256').update(PW).digest('hex'),
    ];
    for (const t of logged) for (const p of forms) expect(t.toLowerCase()).not.toContain(p.toLowerCase());
  });

  it("another Secret: refused, and a channel storing the account's user with another password confirms it", async () => {
    const o = await verify(OTHER);
    expect(of(o, 'a').replicationLogin).toBe(false);
    expect(of(o, 'b').channelCredentials).toEqual({ c1: f.family === 'mysql' ? false : null });
  });

  it("access denied for another reason (REQUIRE SSL): MySQL's channel holding the Secret says it is not the password", async () => {
    await s('a').sql(`ALTER USER '${REPL_USER}'@'%' REQUIRE SSL`);
    try {
      const o = await verify(PW);
      // MariaDB cannot read a channel's password: a refused login is taken to mean "differs" there.
      expect(of(o, 'a').replicationLogin).toBe(f.family === 'mysql' ? null : false);
      expect(of(o, 'b').channelCredentials).toEqual({ c1: f.family === 'mysql' ? true : null });
    } finally {
      await s('a').sql(`ALTER USER '${REPL_USER}'@'%' REQUIRE NONE`);
    }
  });

  it('a standby pass tries no login; a writing pass tries a refused one once per Secret', async () => {
    const file = writeManifests(join(sb().dir, 'creds.yaml'), docs(sb(), OTHER, { paused: true }));
    const store = new LocalStore({
      files: [file],
      statusOut: join(sb().dir, 'creds.json'),
      log: () => undefined,
    });
    const d = driver(
      store,
      (await store.list())[0]!,
      createReconciler({ pool, log: createLogger({ file: join(sb().dir, 'creds.log') }) }),
    );
    const failed = async () => [await abortedConnects(s('a')), await abortedConnects(s('b'))];
    const reachable = (r: Awaited<ReturnType<typeof d.pass>>) =>
      r.status.instances.map((i) => [i.name, i.reachable]);

    const before = await failed();
    const standby = await d.pass({ mayWrite: () => false });
    expect(reachable(standby)).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(await failed()).toEqual(before);

    // The same measure sees a writing pass's refused logins (a and b each: the Secret is not their password).
    const first = await d.pass();
    expect(reachable(first)).toEqual([
      ['a', true],
      ['b', true],
    ]);
    const afterFirst = await failed();
    expect(afterFirst.map((n, i) => n - before[i]!)).toEqual([1, 1]);

    // Remembered: the next pass, under the same Secret, does not try again.
    const second = await d.pass();
    expect(reachable(second)).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(await failed()).toEqual(afterFirst);
  });
});
