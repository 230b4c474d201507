// (d) the operator dies in the middle of a failover; (f) planned switchover under write load. Both flavors.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { failoverRecord } from '../fixtures/topology.js';
import { driver } from '../harness/passes.js';
import { ids } from '../harness/load.js';
import { FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';
import { BIN, cli, warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (f: string) =>
  existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as TopologyStatus) : undefined;

describe.each(FLAVORS)('$label: (d) the operator is killed in the middle of a failover', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('a restarted operator finishes the journaled failover; exactly one failover happens', async () => {
    const file = writeManifests(join(sb().dir, 'w.yaml'), warehouseDocs(sb()));
    const status = join(sb().dir, 'status.json');
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    // A journal written by an operator that died right after deciding to promote a-1 (phase Promoting).
    await sb().server('a-0').kill9();
    const s0 = read(status)!;
    const record = failoverRecord({
      id: 'shard-a-crashed',
      phase: 'Promoting',
      startedAt: new Date().toISOString(),
    });

    writeFileSync(status, JSON.stringify({ ...s0, phase: 'FailingOver', failovers: [record] }));
    const r = await cli(['local', '-f', file, '--once', '--status-out', status]);
    // Degraded (exit 2): a-0 is still down, but the failover it journaled is finished.
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/warehouse: Degraded/);
    const s = read(status)!;
    expect(s.failovers).toHaveLength(1);
    expect(s.failovers[0]).toMatchObject({ id: 'shard-a-crashed', phase: 'Done', to: 'a-1' });
    expect(s.channels.find((c) => c.replica === 'dw-0' && c.name === 'shard_a')).toMatchObject({
      source: 'a-1',
      state: 'Running',
    });
  });

  it('a real operator process killed -9 while failing over: the restart completes the same failover', async () => {
    await sb().server('a-0').start();
    const file = writeManifests(join(sb().dir, 'w2.yaml'), warehouseDocs(sb()));
    const status = join(sb().dir, 'status2.json');
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    expect(read(status)!.groups.find((g) => g.name === 'dw')?.primary).toBe('dw-0');
    const op = spawn(process.execPath, [BIN, 'local', '-f', file, '--status-out', status], {
      stdio: 'ignore',
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'silent' },
    });
    try {
      await sleep(1500);
      await sb().server('dw-0').kill9();
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(read(status)?.failovers.length ?? 0)) await sleep(5);
      op.kill('SIGKILL');
    } finally {
      if (op.exitCode === null) op.kill('SIGKILL');
    }
    const mid = read(status)!;
    expect(mid.failovers).toHaveLength(1);
    for (let i = 0; i < 10 && read(status)!.failovers[0]!.phase !== 'Done'; i++)
      await cli(['local', '-f', file, '--once', '--status-out', status]);
    const s = read(status)!;
    expect(s.failovers).toHaveLength(1);
    expect(s.failovers[0]).toMatchObject({ group: 'dw', to: 'dw-1', phase: 'Done' });
    expect(s.groups.find((g) => g.name === 'dw')?.primary).toBe('dw-1');
  });
});

describe.each(FLAVORS)('$label: (f) planned switchover under write load', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('loses nothing: every acknowledged write reaches the new primary; the old primary replicates from it', async () => {
    const file = writeManifests(join(sb().dir, 'w.yaml'), warehouseDocs(sb()));
    const status = join(sb().dir, 'status.json');
    expect((await cli(['local', '-f', file, '--once', '--status-out', status])).code).toBe(0);
    const a0 = sb().server('a-0');
    await a0.sql('CREATE DATABASE shop');
    await a0.sql('CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20))');
    // An application account: read_only stops it (the admin account would write anyway).
    await a0.sql("CREATE USER 'app'@'%' IDENTIFIED BY 'apppass'");
    await a0.sql("GRANT SELECT, INSERT ON shop.* TO 'app'@'%'");
    const app = await createConnection({
      host: '127.0.0.1',
      port: a0.port,
      user: 'app',
      password: 'apppass',
    });
    const acked: number[] = [];
    let stop = false;
    const load = (async () => {
      for (let id = 1; !stop && id < 100_000; id++) {
        try {
          await app.query('INSERT INTO shop.orders VALUES (?, ?)', [id, 'x']);
          acked.push(id);
        } catch {
          await sleep(5);
        }
      }
    })();
    await sleep(300);
    const store = new LocalStore({ files: [file], statusOut: status, log: () => undefined });
    const pool = new SqlClientPool();
    const d = driver(store, (await store.list())[0]!, createReconciler({ pool, log: silentLogger() }));
    const r = await d.pass({ switchover: { group: 'shard-a', to: 'a-1', timeoutSeconds: 20 } });
    expect(r.problems ?? []).toEqual([]);
    const s = await d.until((x) => x.failovers.at(-1)?.phase === 'Done');
    stop = true;
    await load;
    await app.end();
    await pool.closeAll();
    expect(s.failovers.at(-1)).toMatchObject({ reason: 'Switchover', from: 'a-0', to: 'a-1' });
    expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-1');
    const onA1 = new Set(await ids(sb().server('a-1'), 'shop.orders'));
    expect(acked.filter((id) => !onA1.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThan(10);
    const final = await d.until(
      (x) => x.channels.find((c) => c.replica === 'a-0' && c.name === '')?.state === 'Running',
    );
    expect(final.channels.find((c) => c.replica === 'a-0' && c.name === '')?.source).toBe('a-1');
    expect(final.channels.find((c) => c.replica === 'dw-0' && c.name === 'shard_a')?.source).toBe('a-1');
    expect(Number(await a0.scalar('SELECT @@read_only'))).toBe(1);
  });

  it('the command line refuses a bad target with one line, exit 1', async () => {
    const file = join(sb().dir, 'w.yaml');
    const r = await cli([
      'switchover',
      '-f',
      file,
      '--group',
      'shard-a',
      '--to',
      'b-0',
      '--status-out',
      join(sb().dir, 'status.json'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'tributary: switchover: "b-0" is not a member of group "shard-a"',
    ]);
  });

  it('switches back with the command line', async () => {
    const file = join(sb().dir, 'w.yaml');
    const r = await cli([
      'switchover',
      '-f',
      file,
      '--group',
      'shard-a',
      '--to',
      'a-0',
      '--status-out',
      join(sb().dir, 'status.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/shard-a: a-1 → a-0 done/);
  });
});
