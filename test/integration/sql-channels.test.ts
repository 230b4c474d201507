// The SQL layer on real servers of both flavors: one replica, two named channels from two sources plus the
// default channel from a third. Acting on one channel leaves the others running and keeps their positions.
// Where the flavors differ (a second channel from the same source), the test says what each does.
import { describe, expect, it } from 'vitest';
import { REPL_PASSWORD, REPL_USER, ADMIN_PASSWORD, ADMIN_USER } from '../../src/sandbox/index.js';
import type { ChannelSource } from '../../src/sql/dialect.js';
import { SqlClient } from '../../src/sql/client.js';
import { SqlError, isChannelRunning, isDuplicateSource, isUnknownChannel } from '../../src/sql/errors.js';
import { detectFlavor, dialectFor } from '../../src/sql/flavor.js';
import type { Dialect } from '../../src/sql/dialect.js';
import { channelRow, executed, FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(FLAVORS)('channel-scoped statements on a multi-source $label replica', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['s1', 's2', 's3', 'replica'] });
  let client: SqlClient;
  let d: Dialect;
  const source = (name: string): ChannelSource => ({
    host: '127.0.0.1',
    port: sb().server(name).port,
    user: REPL_USER,
    password: REPL_PASSWORD,
    connectRetry: 1,
    retryCount: 100,
    heartbeatPeriod: 1,
    delaySeconds: 0,
  });
  // As the probe reads them: variables, channels, and (MySQL) the channel configuration table.
  const channels = async () => {
    const vars = d.parseVariables((await client.query<Record<string, unknown>>(d.showVariables()))[0]!);
    const config = d.showChannelConfig();
    return d.parseChannels(
      await client.query(d.showChannels()),
      vars,
      config ? await client.query(config) : undefined,
    );
  };
  const states = async () =>
    Object.fromEntries((await channels()).map((c) => [c.name, `${c.ioRunning}/${c.sqlRunning}`]));
  const until = async (pred: () => Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await pred()) && Date.now() < end) await sleep(50);
    return pred();
  };
  const count = async (db: string) =>
    Number(
      await sb()
        .server('replica')
        .scalar(`SELECT COUNT(*) FROM ${db}.t`)
        .catch(() => -1),
    );
  const write = async (server: string, db: string, n: number) => {
    for (let i = 0; i < n; i++)
      await sb()
        .server(server)
        .sql(`INSERT INTO ${db}.t (v) VALUES (?)`, [`${server}-${i}`]);
  };

  it('creates named channels from s1 and s2 and the default channel from s3; rows from all three arrive', async () => {
    client = new SqlClient({
      host: '127.0.0.1',
      port: sb().server('replica').port,
      user: ADMIN_USER,
      password: ADMIN_PASSWORD,
      label: 'replica',
    });
    const version = String(await sb().server('replica').scalar('SELECT VERSION()'));
    d = dialectFor(detectFlavor(version), version);
    // Every sandbox server starts read-only: the sources are made writable here, as an operator would.
    for (const src of ['s1', 's2', 's3']) await sb().server(src).setReadOnly(false);
    for (const [ch, src] of [
      ['c1', 's1'],
      ['c2', 's2'],
      ['', 's3'],
    ] as const) {
      await client.query(d.changeSource(ch, source(src)));
      await client.query(d.start(ch));
    }
    for (const [src, db] of [
      ['s1', 'd1'],
      ['s2', 'd2'],
      ['s3', 'd3'],
    ] as const) {
      await sb().server(src).sql(`CREATE DATABASE ${db}`);
      await sb().server(src).sql(`CREATE TABLE ${db}.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))`);
      await write(src, db, 5);
    }
    expect(
      await until(
        async () => (await count('d1')) === 5 && (await count('d2')) === 5 && (await count('d3')) === 5,
      ),
    ).toBe(true);
    const cs = await channels();
    expect(cs.map((c) => [c.name, c.ioRunning, c.sqlRunning, c.sourcePort, c.autoPosition])).toEqual([
      ['', 'Yes', 'Yes', sb().server('s3').port, true],
      ['c1', 'Yes', 'Yes', sb().server('s1').port, true],
      ['c2', 'Yes', 'Yes', sb().server('s2').port, true],
    ]);
  });

  it('stopping one channel (also only its receiver or applier) leaves the others running', async () => {
    await client.query(d.stop('c1'));
    expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'No/No', c2: 'Yes/Yes' });
    await write('s2', 'd2', 3);
    await write('s1', 'd1', 3);
    expect(await until(async () => (await count('d2')) === 8)).toBe(true);
    expect(await count('d1')).toBe(5);
    await client.query(d.start('c1'));
    expect(await until(async () => (await count('d1')) === 8)).toBe(true);
    await client.query(d.stop('c2', 'receiver'));
    expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'Yes/Yes', c2: 'No/Yes' });
    await client.query(d.start('c2', 'receiver'));
    await client.query(d.stop('', 'applier'));
    // A receiver just started is Connecting for a moment: wait for the state instead of sampling it once.
    const want = { '': 'Yes/No', c1: 'Yes/Yes', c2: 'Yes/Yes' };
    await until(async () => JSON.stringify(await states()) === JSON.stringify(want));
    expect(await states()).toEqual(want);
    await client.query(d.start('', 'applier'));
    expect(await until(async () => Object.values(await states()).every((s) => s === 'Yes/Yes'))).toBe(true);
  });

  it('resetting one channel removes it alone; re-creating it resumes by GTID without a duplicate', async () => {
    await client.query(d.stop('c2'));
    await client.query(d.resetAll('c2'));
    expect(Object.keys(await states())).toEqual(['', 'c1']);
    await write('s2', 'd2', 2);
    await client.query(d.changeSource('c2', source('s2')));
    await client.query(d.start('c2'));
    expect(await until(async () => (await count('d2')) === 10)).toBe(true);
    const c2 = (await channels()).find((c) => c.name === 'c2')!;
    expect([c2.lastSQLErrno, c2.lastIOErrno]).toEqual([0, 0]);
  });

  it('repointing one channel to another source keeps the other channels and their positions', async () => {
    const before = (await channels()).find((c) => c.name === 'c1')!.retrievedGtidSet;
    await client.query(d.stop(''));
    await client.query(d.changeSource('', { ...source('s3'), heartbeatPeriod: 2 }));
    await client.query(d.start(''));
    const after = await channels();
    expect(after.find((c) => c.name === '')!.heartbeatPeriod).toBe(2);
    expect(after.find((c) => c.name === 'c1')).toMatchObject({
      ioRunning: 'Yes',
      sqlRunning: 'Yes',
      retrievedGtidSet: before,
    });
    await write('s3', 'd3', 1);
    expect(await until(async () => (await count('d3')) === 6)).toBe(true);
  });

  it('waits for a GTID position with a timeout', async () => {
    const pos = await executed(f, sb().server('s1'));
    const reached = (await client.query<Record<string, unknown>>(d.waitForGtid(pos, 5)))[0]!;
    expect(d.waitReached(Object.values(reached)[0])).toBe(true);
    const farSet = f.gtidDomains
      ? '1-1-999999'
      : `${String(await sb().server('s1').scalar('SELECT @@server_uuid'))}:1-999999`;
    const far = (await client.query<Record<string, unknown>>(d.waitForGtid(farSet, 1)))[0]!;
    expect(d.waitReached(Object.values(far)[0])).toBe(false);
  });

  it.each([
    ['unknown channel', () => client.query(d.start('nosuch')), isUnknownChannel, /nosuch/],
    [
      'changing a running channel',
      () => client.query(d.changeSource('c1', source('s1'))),
      isChannelRunning,
      /c1/,
    ],
  ] as const)('typed error: %s', async (_name, run, is, message) => {
    const e = await run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SqlError);
    expect(is(e), (e as SqlError).message).toBe(true);
    expect((e as SqlError).message).toMatch(message);
    expect((e as SqlError).message).toContain('replica');
    expect((e as SqlError).message).not.toContain(REPL_PASSWORD);
    expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'Yes/Yes', c2: 'Yes/Yes' });
  });

  // | flavor  | CHANGE … for a second channel from s1 | what happens to c1                          |
  // | MariaDB | refused, 1934 "conflicts with …"     | nothing                                       |
  // | MySQL   | accepted                              | once dup runs, s1 drops c1: IO errno 13114   |
  it('a second channel from the same source: refused on MariaDB; accepted on MySQL, where starting it breaks the first', async () => {
    const e = await client.query(d.changeSource('dup', source('s1'))).then(
      () => undefined,
      (err: unknown) => err,
    );
    if (f.refusesDuplicateSource) {
      expect((e as SqlError).errno).toBe(1934);
      expect(isDuplicateSource(e)).toBe(true);
      expect((e as SqlError).message).toMatch(/conflicts/);
      expect((e as SqlError).message).not.toContain(REPL_PASSWORD);
      expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'Yes/Yes', c2: 'Yes/Yes' });
      return;
    }
    expect(e).toBeUndefined();
    await client.query(d.start('dup'));
    // The source tells replicas apart by server_id/uuid only: the newer connection wins.
    const c1Errno = async () => (await channels()).find((c) => c.name === 'c1')?.lastIOErrno ?? 0;
    expect(await until(async () => (await c1Errno()) === 13114, 15_000)).toBe(true);
    await client.query(d.stop('dup'));
    await client.query(d.resetAll('dup'));
    await client.query(d.stop('c1'));
    await client.query(d.start('c1'));
    expect(await until(async () => (await states()).c1 === 'Yes/Yes')).toBe(true);
    expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'Yes/Yes', c2: 'Yes/Yes' });
  });

  it('closes', async () => {
    await client.close();
    await expect(client.query('SELECT 1')).rejects.toThrow();
  });
});

// What the operator relies on across restarts, and what it can fetch from a downstream multi-source
// replica, on each flavor (docs/mysql.md has the statements and results). Servers a and b are sources,
// m replicates from both (channels ca, cb), c is a candidate that may need a's transactions from m.
// Here the option files carry no read-only setting, so that what persists is seen on its own.
describe.each(FLAVORS)('restarts and downstream fetches on $label', (f) => {
  const readOnlyKey = f.flavor === 'mysql' ? 'super_read_only' : 'read_only';
  const sb = useSandbox({ flavor: f.flavor, names: ['a', 'b', 'm', 'c'], config: { [readOnlyKey]: null } });
  let d: Dialect;
  const src = (name: string, over: Partial<ChannelSource> = {}): ChannelSource => ({
    host: '127.0.0.1',
    port: sb().server(name).port,
    user: REPL_USER,
    password: REPL_PASSWORD,
    connectRetry: 1,
    retryCount: 100,
    heartbeatPeriod: 1,
    delaySeconds: 0,
    ...over,
  });
  const vars = async (name: string) =>
    d.parseVariables((await sb().server(name).sql(d.showVariables().sql))[0]!);
  const doDb = async (name: string) =>
    String((await channelRow(f, sb().server('m'), name))?.Replicate_Do_DB ?? '<no channel>');
  const waitFor = async (pred: () => Promise<boolean>, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!(await pred()) && Date.now() < end) await sleep(50);
    return pred();
  };

  it('sets up: m receives from a and b over two channels', async () => {
    const version = String(await sb().server('m').scalar('SELECT VERSION()'));
    d = dialectFor(detectFlavor(version), version);
    const m = sb().server('m');
    await m.sql(d.changeSource('ca', src('a')).sql);
    await m.sql(d.changeSource('cb', src('b')).sql);
    for (const ch of ['ca', 'cb']) await m.sql(d.start(ch).sql);
    for (const s of ['a', 'b'])
      await sb()
        .server(s)
        .sql(
          `CREATE DATABASE d_${s}; CREATE TABLE d_${s}.t (id INT PRIMARY KEY); INSERT INTO d_${s}.t VALUES (1), (2)`,
        );
    const both = async () =>
      Number(await m.scalar('SELECT COUNT(*) FROM d_a.t').catch(() => 0)) +
        Number(await m.scalar('SELECT COUNT(*) FROM d_b.t').catch(() => 0)) ===
      4;
    expect(await waitFor(both)).toBe(true);
  });

  // | flavor  | persistReadOnly()                     | SET … OFF now | after restart / kill -9 |
  // | MySQL   | SET PERSIST_ONLY super_read_only = ON | writable      | read-only (persisted)   |
  // | MariaDB | [] (nothing persists)                  | writable      | as the option file says |
  it('read-only survives a restart only where it can be persisted (MySQL)', async () => {
    const c = sb().server('c');
    expect((await vars('c')).superReadOnlyPersisted).toBe(f.flavor === 'mysql' ? false : null);
    for (const st of d.persistReadOnly()) await c.sql(st.sql);
    expect(d.persistReadOnly().length).toBe(f.flavor === 'mysql' ? 1 : 0);
    for (const st of d.setReadOnly(false)) await c.sql(st.sql);
    expect(await vars('c')).toMatchObject({
      readOnly: false,
      superReadOnlyPersisted: f.flavor === 'mysql' ? true : null,
    });
    await c.sql('CREATE DATABASE this_run_only');
    for (const stop of [() => c.stop(), () => c.kill9()]) {
      await stop();
      await c.start();
      expect((await vars('c')).readOnly, 'after a restart').toBe(f.flavor === 'mysql');
      if (f.flavor === 'mysql') {
        expect(await vars('c')).toMatchObject({ superReadOnly: true, superReadOnlyPersisted: true });
        const e = await c.sql('CREATE DATABASE refused').catch((x: { errno: number }) => x.errno);
        expect(e).toBe(1290);
        for (const st of d.setReadOnly(false)) await c.sql(st.sql);
        expect((await vars('c')).readOnly).toBe(false);
      }
    }
  });

  // | flavor  | set at run time (d.setFilter) | in the option file                        | channel made after start |
  // | MySQL   | lost on restart               | replicate-do-db=ca:db  → kept             | discarded (warning 11032) |
  // | MariaDB | lost on restart               | ca.replicate_do_db=db  → kept             | applied when created      |
  it('a per-channel filter set at run time is lost on restart; one in the option file is kept', async () => {
    const m = sb().server('m');
    await m.sql(d.stop('ca').sql);
    for (const st of d.setFilter('ca', { doDatabases: ['d_a'], ignoreDatabases: [] })) await m.sql(st.sql);
    expect(await doDb('ca')).toBe('d_a');
    await m.restart();
    expect(await doDb('ca')).toBe('');
    m.configure(
      f.flavor === 'mysql'
        ? { 'replicate-do-db': 'ca:d_a' }
        : { 'ca.replicate_do_db': 'd_a', 'later.replicate_do_db': 'd_x' },
    );
    if (f.flavor === 'mysql') {
      // One option line per filter; the channel named after the colon. A channel that does not exist yet
      // at start has its filter discarded.
      await m.stop();
      await m.start();
    } else await m.restart();
    expect(await doDb('ca')).toBe('d_a');
    expect(await doDb('cb')).toBe('');
    if (f.flavor === 'mysql') {
      m.configure({ 'replicate-do-db': null });
      m.configure({ 'replicate-do-db': 'later:d_x' });
      await m.restart();
      expect(m.errorLogTail(200)).toMatch(/filter\(s\) configured for channel 'later' which does not exist/);
    }
    await m.sql(d.changeSource('later', src('c')).sql);
    expect(await doDb('later')).toBe(f.flavor === 'mysql' ? '' : 'd_x');
    await m.sql(d.resetAll('later').sql);
    for (const ch of ['ca', 'cb']) await m.sql(d.start(ch).sql);
  });

  // | flavor  | fetch only a's transactions from m                                   |
  // | MariaDB | DO_DOMAIN_IDS=(a's domain): a's rows arrive, b's never               |
  // | MySQL   | IGNORE_SERVER_IDS with GTID auto-position refused: error 3139; no     |
  // |         | other statement filters by origin (docs/mysql.md)                    |
  it('a temporary channel that takes only one source’s transactions from the multi-source replica', async () => {
    const c = sb().server('c');
    const bId = sb().server('b').serverId;
    if (f.flavor === 'mysql') {
      const e = await c
        .sql(
          `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${sb().server('m').port}, SOURCE_USER='${REPL_USER}', SOURCE_PASSWORD='${REPL_PASSWORD}', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, IGNORE_SERVER_IDS=(${bId}) FOR CHANNEL 'catchup'`,
        )
        .then(
          () => undefined,
          (x: unknown) => x as { errno: number; message: string },
        );
      expect(e?.errno).toBe(3139);
      expect(e?.message).toMatch(
        /IGNORE_SERVER_IDS='\.\.\.' when @@GLOBAL\.GTID_MODE = ON cannot be performed on channel 'catchup'/,
      );
      expect(await c.sql(f.showAll)).toEqual([]);
      return;
    }
    const aDomain = sb().server('a').gtidDomainId!;
    await c.sql(d.changeSource('catchup', src('m', { doDomainIds: [aDomain] })).sql);
    await c.sql(d.start('catchup').sql);
    expect(
      await waitFor(async () => Number(await c.scalar('SELECT COUNT(*) FROM d_a.t').catch(() => 0)) === 2),
    ).toBe(true);
    expect(
      Number(await c.scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'd_b'")),
    ).toBe(0);
    expect(String(await c.scalar('SELECT @@gtid_slave_pos'))).toMatch(new RegExp(`^${aDomain}-`));
    await c.sql(d.stop('catchup').sql);
    await c.sql(d.resetAll('catchup').sql);
  });
});
