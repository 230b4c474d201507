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
import { executed, FLAVORS } from '../harness/flavors.js';
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
    ssl: false,
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
