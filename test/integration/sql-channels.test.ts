// The SQL layer on real MariaDB 10.11: one replica, two named channels from two sources plus the default
// channel from a third. Acting on one channel leaves the others running and keeps their positions.
import { describe, expect, it } from 'vitest';
import { REPL_PASSWORD, REPL_USER, ADMIN_PASSWORD, ADMIN_USER } from '../../src/sandbox/index.js';
import type { ChannelSource } from '../../src/sql/dialect.js';
import { SqlClient } from '../../src/sql/client.js';
import { SqlError, isChannelRunning, isDuplicateSource, isUnknownChannel } from '../../src/sql/errors.js';
import { dialectFor } from '../../src/sql/flavor.js';
import { useSandbox } from '../harness/sandbox.js';

const d = dialectFor('mariadb', '10.11.19-MariaDB');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('channel-scoped statements on a multi-source MariaDB replica', () => {
  const sb = useSandbox({ names: ['s1', 's2', 's3', 'replica'] });
  let client: SqlClient;
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
  const channels = async () => {
    const vars = d.parseVariables((await client.query<Record<string, unknown>>(d.showVariables()))[0]!);
    return d.parseChannels(await client.query(d.showChannels()), vars);
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
    const pos = String(await sb().server('s1').scalar('SELECT @@gtid_binlog_pos'));
    const reached = (await client.query<Record<string, unknown>>(d.waitForGtid(pos, 5)))[0]!;
    expect(d.waitReached(Object.values(reached)[0])).toBe(true);
    const far = (await client.query<Record<string, unknown>>(d.waitForGtid('1-1-999999', 0.3)))[0]!;
    expect(d.waitReached(Object.values(far)[0])).toBe(false);
  });

  it.each([
    ['1617 unknown channel', () => client.query(d.start('nosuch')), 1617, isUnknownChannel, /nosuch/],
    [
      '1934 a second channel from the same source',
      () => client.query(d.changeSource('dup', source('s1'))),
      1934,
      isDuplicateSource,
      /conflicts/,
    ],
    [
      '1198 changing a running channel',
      () => client.query(d.changeSource('c1', source('s1'))),
      1198,
      isChannelRunning,
      /c1/,
    ],
  ] as const)('typed error: %s', async (_name, run, errno, is, message) => {
    const e = await run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SqlError);
    expect((e as SqlError).errno).toBe(errno);
    expect(is(e)).toBe(true);
    expect((e as SqlError).message).toMatch(message);
    expect((e as SqlError).message).toContain('replica');
    expect((e as SqlError).message).not.toContain(REPL_PASSWORD);
    expect(await states()).toEqual({ '': 'Yes/Yes', c1: 'Yes/Yes', c2: 'Yes/Yes' });
  });

  it('closes', async () => {
    await client.close();
    await expect(client.query('SELECT 1')).rejects.toThrow();
  });
});
