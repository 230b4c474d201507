// Observe and converge on five real servers of each flavor, through the real command line.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { channelNames, channelRow, FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';
import { BIN, cli, statusFile, warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const readStatus = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as TopologyStatus;

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(FLAVORS)('convergence of the warehouse topology on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });
  let file = '';
  let status = '';

  it('one `local --once` pass converges fresh servers and exits 0 (Ready)', async () => {
    file = writeManifests(join(sb().dir, 'warehouse.yaml'), warehouseDocs(sb()));
    status = statusFile(sb());
    const r = await cli(['local', '-f', file, '--once', '--status-out', status]);
    expect(r.stderr).not.toMatch(/replpass|adminpass/);
    expect(r.code, r.stderr).toBe(0);
    const s = readStatus(status);
    expect(s.phase).toBe('Ready');
    expect(s.groups.map((g) => [g.name, g.primary])).toEqual([
      ['shard-a', 'a-0'],
      ['shard-b', 'b-0'],
      ['dw', 'dw-0'],
    ]);
    const dw0 = s.channels
      .filter((c) => c.replica === 'dw-0')
      .map((c) => [c.name, c.source, c.state, c.managed]);
    expect(dw0).toEqual([
      ['shard_a', 'a-0', 'Running', true],
      ['shard_b', 'b-0', 'Running', true],
    ]);
    expect(s.instances.find((i) => i.name === 'dw-1')).toMatchObject({ role: 'replica', readOnly: true });
    expect(s.instances.find((i) => i.name === 'dw-1')?.flavor).toBe(f.family);
    // The sandbox starts every server read-only; the operator made exactly the three primaries writable.
    const writable = s.instances.filter((i) => i.readOnly === false).map((i) => i.name);
    expect(writable.sort()).toEqual(['a-0', 'b-0', 'dw-0']);
    expect(JSON.stringify(s)).not.toMatch(/replpass|adminpass/);
  });

  it('rows written on both shard primaries reach dw-0 and dw-1; the filter keeps other databases out', async () => {
    const a0 = sb().server('a-0');
    const b0 = sb().server('b-0');
    await a0.sql('CREATE DATABASE shop');
    await a0.sql('CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20))');
    await b0.sql('CREATE DATABASE sales');
    await b0.sql('USE sales; CREATE TABLE invoices (id INT PRIMARY KEY, amount INT)');
    await b0.sql('CREATE DATABASE scratch');
    await b0.sql('USE scratch; CREATE TABLE t (id INT PRIMARY KEY)');
    for (let i = 1; i <= 20; i++) {
      await a0.sql('INSERT INTO shop.orders VALUES (?, ?)', [i, `item-${i}`]);
      await b0.sql('INSERT INTO sales.invoices VALUES (?, ?)', [i, i * 10]);
    }
    await b0.sql('INSERT INTO scratch.t VALUES (1)');
    for (const m of ['dw-0', 'dw-1']) {
      const s = sb().server(m);
      const counts = await waitFor(
        async () => [
          await s.scalar('SELECT COUNT(*) FROM shop.orders').catch(() => -1),
          await s.scalar('SELECT COUNT(*) FROM sales.invoices').catch(() => -1),
        ],
        (v) => Number(v[0]) === 20 && Number(v[1]) === 20,
      );
      expect(counts.map(Number), m).toEqual([20, 20]);
      expect(
        Number(
          await s.scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'scratch'"),
        ),
        m,
      ).toBe(0);
    }
  });

  it('a second pass plans zero actions (`plan` exits 0)', async () => {
    const r = await cli(['plan', '-f', file, '--status-out', status]);
    expect(r.stdout).toContain('nothing to do');
    expect(r.code).toBe(0);
  });

  it('drift is repaired: a channel stopped by hand, one repointed by hand, read_only switched off on a replica', async () => {
    const dw0 = sb().server('dw-0');
    await dw0.sql(f.stopChannel('shard_a'));
    await dw0.sql(f.stopChannel('shard_b'));
    await dw0.sql(f.repoint('shard_b', sb().server('a-1').port));
    await sb().server('dw-1').sql(f.clearReadOnly);
    const plan = await cli(['plan', '-f', file, '--status-out', status]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/dw-0\/shard_a: start/);
    expect(plan.stdout).toMatch(/dw-0\/shard_b: repoint from b-0/);
    expect(plan.stdout).toMatch(/dw-1: make read-only/);
    expect(plan.stdout).toContain('<redacted>');
    expect(plan.stdout).not.toContain('replpass');
    const r = await cli(['local', '-f', file, '--once', '--status-out', status]);
    expect(r.code, r.stderr).toBe(0);
    const s = readStatus(status);
    const shardB = s.channels.find((c) => c.replica === 'dw-0' && c.name === 'shard_b')!;
    expect([shardB.source, shardB.state]).toEqual(['b-0', 'Running']);
    expect(s.instances.find((i) => i.name === 'dw-1')?.readOnly).toBe(true);
    // MySQL: the repair is super_read_only (which implies read_only), so the admin account is stopped too.
    if (f.readOnlyStopsAdmin)
      expect(Number(await sb().server('dw-1').scalar('SELECT @@super_read_only'))).toBe(1);
    expect(Number(await dw0.scalar('SELECT COUNT(*) FROM sales.invoices'))).toBe(20);
  });

  it('MySQL: a replica with super_read_only off but read_only on is fenced again (MariaDB has no super_read_only)', async () => {
    const dw1 = sb().server('dw-1');
    if (!f.readOnlyStopsAdmin) {
      // MariaDB: read_only is the only switch; there is nothing more to drift.
      expect((await dw1.sql("SHOW VARIABLES LIKE 'super_read_only'")).length).toBe(0);
      return;
    }
    await dw1.sql('SET GLOBAL super_read_only = OFF');
    expect(Number(await dw1.scalar('SELECT @@read_only'))).toBe(1);
    const plan = await cli(['plan', '-f', file, '--status-out', status]);
    expect(plan.stdout).toMatch(/dw-1: make read-only/);
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    expect(Number(await dw1.scalar('SELECT @@super_read_only'))).toBe(1);
  });

  it('a channel made by hand on dw-0 stays exactly as it was through every pass and shows managed: false', async () => {
    const dw0 = sb().server('dw-0');
    await dw0.sql(
      f.changeSource('manual', {
        port: sb().server('a-1').port,
        user: 'nobody',
        password: 'x',
        connectRetry: 77,
      }),
    );
    const before = (await channelRow(f, dw0, 'manual'))!;
    for (let i = 0; i < 2; i++)
      expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    const after = (await channelRow(f, dw0, 'manual'))!;
    const { host, port, user, connectRetry, io, sql } = f.col;
    for (const k of [host, port, user, connectRetry, io, sql]) expect(after[k], k).toEqual(before[k]);
    const s = readStatus(status);
    expect(s.channels.find((c) => c.replica === 'dw-0' && c.name === 'manual')).toMatchObject({
      managed: false,
      state: 'Stopped',
    });
    await dw0.sql(f.resetChannel('manual'));
  });

  it('a channel removed from the spec disappears from the server; the other keeps running', async () => {
    const smaller = writeManifests(
      join(sb().dir, 'smaller.yaml'),
      warehouseDocs(sb(), (spec) => (spec.groups[2].channels = spec.groups[2].channels.slice(0, 1))),
    );
    const r = await cli(['local', '-f', smaller, '--once', '--status-out', status]);
    expect(r.code, r.stderr).toBe(0);
    expect(await channelNames(f, sb().server('dw-0'))).toEqual(['shard_a']);
    const s = readStatus(status);
    expect(s.managedChannels.map((c) => c.name)).toEqual(['shard_a']);
    // Declared again: created again, resuming by GTID with no duplicate.
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    await sb().server('b-0').sql('INSERT INTO sales.invoices VALUES (21, 210)');
    const n = await waitFor(
      () => sb().server('dw-0').scalar('SELECT COUNT(*) FROM sales.invoices'),
      (v) => Number(v) === 21,
    );
    expect(Number(n)).toBe(21);
  });

  it('status -o tree draws dw-0 under each of its sources', async () => {
    const r = await cli(['status', '-f', file, '-o', 'tree', '--status-out', status]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const dw0Lines = lines.filter((l) => /dw-0 \[dw\].* via shard_/.test(l));
    expect(dw0Lines).toHaveLength(2);
    expect(r.stdout).toMatch(/a-0 \[shard-a\] primary/);
    expect(r.stdout).toMatch(/b-0 \[shard-b\] primary/);
    const json = await cli(['status', '-f', file, '-o', 'json']);
    expect(JSON.parse(json.stdout).phase).toBe('Ready');
  });

  it('paused: drift is reported, nothing is written, a switchover is refused; resuming repairs', async () => {
    const paused = writeManifests(
      join(sb().dir, 'paused.yaml'),
      warehouseDocs(sb(), (spec) => (spec.paused = true)),
    );
    const dw0 = sb().server('dw-0');
    await dw0.sql(f.stopChannel('shard_a'));
    const r = await cli(['local', '-f', paused, '--once', '--status-out', status]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/warehouse: Paused/);
    expect((await channelRow(f, dw0, 'shard_a'))?.[f.col.sql]).toBe('No');
    const sw = await cli([
      'switchover',
      '-f',
      paused,
      '--group',
      'shard-a',
      '--to',
      'a-1',
      '--status-out',
      status,
    ]);
    expect(sw.code).toBe(1);
    expect(sw.stderr).toMatch(/paused/);
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    expect((await channelRow(f, dw0, 'shard_a'))?.[f.col.sql]).toBe('Yes');
  });

  it('`local` without --once keeps reconciling, picks up edits of the file, and stops on SIGTERM', async () => {
    const live = writeManifests(join(sb().dir, 'live.yaml'), warehouseDocs(sb()));
    const liveStatus = statusFile(sb(), 'live-status.json');
    const op = spawn(process.execPath, [BIN, 'local', '-f', live, '--status-out', liveStatus], {
      stdio: 'ignore',
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent' },
    });
    const exited = new Promise<number | null>((r) => op.once('exit', (code) => r(code)));
    try {
      const dw0 = sb().server('dw-0');
      await dw0.sql(f.stopChannel('shard_a'));
      const repaired = await waitFor(
        async () => (await channelRow(f, dw0, 'shard_a'))?.[f.col.sql],
        (v) => v === 'Yes',
      );
      expect(repaired).toBe('Yes');
      writeManifests(
        live,
        warehouseDocs(sb(), (spec) => (spec.groups[2].channels = spec.groups[2].channels.slice(0, 1))),
      );
      const names = await waitFor(
        () => channelNames(f, dw0),
        (v) => v.length === 1,
      );
      expect(names).toEqual(['shard_a']);
      // The status file (local mode's memory) follows once the pass that removed the channel ends.
      const managed = await waitFor(
        async () => readStatus(liveStatus).managedChannels.map((c) => c.name),
        (v) => v.length === 1,
      );
      expect(managed).toEqual(['shard_a']);
    } finally {
      op.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
