// Failover as a reconciliation step, on real servers of both flavors with real kill -9.
// Where the flavors differ, the test says so in a table:
// | scenario                                   | MariaDB                           | MySQL                                  |
// | multi-source replica ahead of the candidate| fetched by GTID domain (DO_DOMAIN_IDS) | stranded: held until acknowledged  |
// | errant GTIDs as reported                   | domain-server-seq                 | uuid:n                                 |
// | writing on a read-only replica by hand     | admin writes anyway               | needs super_read_only lifted first     |
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { REPL_PASSWORD, type Sandbox } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { ANNOTATION_ACK_FAILOVER } from '../../src/store/store.js';
import { silentLogger } from '../../src/util/log.js';
import { driver, type Driver } from '../harness/passes.js';
import { ids, startLoad } from '../harness/load.js';
import { startProxy } from '../harness/proxy.js';
import { gtidOps } from '../../src/sql/gtid/index.js';
import { channelNames, channelRow, executed, FLAVORS, type FlavorFacts } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';
import { cli, warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  store: LocalStore;
  d: Driver;
  pool: SqlClientPool;
}

async function setup(
  sb: Sandbox,
  mutate?: (spec: Record<string, any>) => void,
  file = 'warehouse.yaml',
): Promise<Setup> {
  const path = writeManifests(join(sb.dir, file), warehouseDocs(sb, mutate));
  const store = new LocalStore({
    files: [path],
    statusOut: join(sb.dir, `${file}.status.json`),
    log: () => undefined,
  });
  const pool = new SqlClientPool();
  const reconcile = createReconciler({ pool, log: silentLogger() });
  const d = driver(store, (await store.list())[0]!, reconcile);
  await d.until((s) => s.phase === 'Ready');
  return { store, d, pool };
}

async function tables(sb: Sandbox): Promise<void> {
  await sb.server('a-0').sql('CREATE DATABASE shop');
  await sb.server('a-0').sql('CREATE TABLE shop.orders (id INT PRIMARY KEY, v VARCHAR(20))');
  await sb.server('b-0').sql('CREATE DATABASE sales');
  await sb.server('b-0').sql('USE sales; CREATE TABLE invoices (id INT PRIMARY KEY, v VARCHAR(20))');
}

async function waitRows(sb: Sandbox, member: string, table: string, n: number, ms = 15_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = Number(
      await sb
        .server(member)
        .scalar(`SELECT COUNT(*) FROM ${table}`)
        .catch(() => -1),
    );
    if (c === n || Date.now() > deadline) return c;
    await sleep(100);
  }
}

const channel = (s: TopologyStatus, replica: string, name: string) =>
  s.channels.find((c) => c.replica === replica && c.name === name);
const lastRecord = (s: TopologyStatus) => s.failovers.at(-1);

/** Polls a channel on a server as fast as it can while `fn` runs; returns every state seen. */
async function watchChannel(
  f: FlavorFacts,
  sb: Sandbox,
  member: string,
  name: string,
  fn: () => Promise<void>,
): Promise<string[]> {
  const seen = new Set<string>();
  let on = true;
  const poll = (async () => {
    while (on) {
      const row = await channelRow(f, sb.server(member), name);
      if (row) seen.add(`${row[f.col.io]}/${row[f.col.sql]}/${row[f.col.port]}`);
      await sleep(20);
    }
  })();
  try {
    await fn();
  } finally {
    on = false;
    await poll;
  }
  return [...seen];
}

describe.each(FLAVORS)(
  '$label: (a) shard-a primary dies under write load; (e) it returns; (h) a second failure inside the cooldown',
  (f) => {
    const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });
    let shared: Setup;

    it('promotes a-1, repoints dw-0/shard_a, never touches shard_b, keeps every row that reached a survivor', async () => {
      shared = await setup(sb());
      const { d, store } = shared;
      await tables(sb());
      const load = startLoad(sb().server('a-0'), 'shop.orders', { max: 100_000 });
      await load.acknowledged(20);
      const bPort = sb().server('b-0').port;
      const states = await watchChannel(f, sb(), 'dw-0', 'shard_b', async () => {
        await sb().server('a-0').kill9();
        await load.done;
        const s = await d.until((x) => lastRecord(x)?.phase === 'Done');
        expect(lastRecord(s)).toMatchObject({
          group: 'shard-a',
          from: 'a-0',
          to: 'a-1',
          reason: 'DeadPrimary',
        });
        expect(lastRecord(s)!.repointed).toContain('dw-0/shard_a');
      });
      expect(states).toEqual([`Yes/Yes/${bPort}`]);
      expect(load.acked.length).toBeGreaterThan(10);
      const s = await d.until(
        (x) =>
          x.groups.find((g) => g.name === 'shard-a')?.primary === 'a-1' &&
          channel(x, 'dw-0', 'shard_a')?.state === 'Running',
      );
      expect(channel(s, 'dw-0', 'shard_a')).toMatchObject({
        source: 'a-1',
        state: 'Running',
        lastSQLErrno: 0,
      });
      expect(s.instances.find((i) => i.name === 'a-1')).toMatchObject({ role: 'primary', readOnly: false });
      // Every row a survivor holds is on the new primary, and reaches every survivor once.
      const onA1 = await ids(sb().server('a-1'), 'shop.orders');
      const onDw0 = await ids(sb().server('dw-0'), 'shop.orders');
      expect(onDw0.filter((id) => !onA1.includes(id))).toEqual([]);
      await sb().server('a-1').sql("INSERT INTO shop.orders VALUES (1000000, 'after')");
      for (const m of ['dw-0', 'dw-1'])
        expect(await waitRows(sb(), m, 'shop.orders', onA1.length + 1), m).toBe(onA1.length + 1);
      expect(new Set(await ids(sb().server('dw-1'), 'shop.orders')).size).toBe(onA1.length + 1);
      expect(store.events().some((e) => e.reason === 'FailoverFinished')).toBe(true);
    });

    it('(e) the old primary returns: fenced at once, then rejoins as a replica of a-1', async () => {
      const { d } = shared;
      await sb().server('a-0').start();
      // It starts read-only (read_only=ON in its config: a documented requirement), and no pass makes it
      // writable again: the journal names a-1 as the primary.
      expect(Number(await sb().server('a-0').scalar('SELECT @@read_only'))).toBe(1);
      const first = await d.pass();
      expect(first.events.filter((e) => e.reason === 'PrimaryWritable')).toEqual([]);
      expect(Number(await sb().server('a-0').scalar('SELECT @@read_only'))).toBe(1);
      // A kill -9 under load can land after a-0 wrote a transaction to its binlog and before any replica
      // received it (seen on MySQL 9.7). Such an old primary holds GTIDs no survivor has: it must stay
      // fenced with them listed, until an administrator re-clones it (here: rebuild from the template).
      const ops = gtidOps(f.family);
      const held = ops.missing(await executed(f, sb().server('a-1')), await executed(f, sb().server('a-0')));
      if (held !== '') {
        const fenced = await d.until((x) =>
          x.conditions.some((c) => c.message.startsWith('a-0: errant transactions')),
        );
        expect(fenced.instances.find((i) => i.name === 'a-0')).toMatchObject({
          role: 'fenced',
          readOnly: true,
        });
        expect(await sb().server('a-0').sql(f.showAll)).toEqual([]);
        await sb().server('a-0').stop();
        await sb().server('a-0').rebuild();
        await sb().server('a-0').start();
      }
      const s = await d.until((x) => x.instances.find((i) => i.name === 'a-0')?.role === 'replica');
      expect(s.instances.find((i) => i.name === 'a-0')).toMatchObject({
        reachable: true,
        readOnly: true,
        role: 'replica',
      });
      expect(channel(s, 'a-0', '')).toMatchObject({ source: 'a-1', state: 'Running' });
      expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-1');
      await sb().server('a-1').sql("INSERT INTO shop.orders VALUES (1000001, 'rejoined')");
      // A rebuilt a-0 first replays a-1's whole history (the schema included), so wait for all of it.
      const onA1 = (await ids(sb().server('a-1'), 'shop.orders')).length;
      expect(await waitRows(sb(), 'a-0', 'shop.orders', onA1, 30_000)).toBe(onA1);
      expect(
        Number(await sb().server('a-0').scalar('SELECT COUNT(*) FROM shop.orders WHERE id = 1000001')),
      ).toBe(1);
    });

    it('(h) a second failure inside the cooldown: no automatic failover, reported; ack lifts it', async () => {
      const { d, store } = shared;
      await sb().server('a-1').kill9();
      const s = await d.until((x) =>
        x.conditions.some((c) => c.type === 'FailoverBlocked' && c.reason === 'FailoverCooldown'),
      );
      expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-1');
      expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
      store.setAnnotation(ANNOTATION_ACK_FAILOVER, 'shard-a');
      const after = await d.until((x) => lastRecord(x)?.phase === 'Done' && lastRecord(x)?.to === 'a-0');
      expect(after.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-0');
      expect(after.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(2);
    });
    it('(e) a returning old primary with an errant transaction stays fenced, with the errant GTIDs listed', async () => {
      const { d } = shared;
      await sb().server('a-1').start();
      // Written before the operator sees it back: a transaction the new primary a-0 lacks. It came back
      // read-only; on MySQL (super_read_only) the write needs that lifted by hand first, as a careless
      // administrator would.
      await sb().server('a-1').setReadOnly(false);
      await sb().server('a-1').sql("INSERT INTO shop.orders VALUES (2000000, 'errant')");
      const s = await d.until(
        (x) =>
          x.instances.find((i) => i.name === 'a-1')?.reachable === true &&
          x.conditions.some((c) => /errant/.test(c.message)),
      );
      expect(s.instances.find((i) => i.name === 'a-1')).toMatchObject({ role: 'fenced', readOnly: true });
      expect(s.conditions.find((c) => c.type === 'Degraded')?.message).toMatch(
        f.gtidDomains ? /a-1: errant transactions \d+-\d+-\d+/ : /a-1: errant transactions [0-9a-f-]{36}:\d+/,
      );
      for (let i = 0; i < 3; i++) await d.pass();
      expect(await sb().server('a-1').sql(f.showAll)).toEqual([]);
      expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    });
  },
);

describe.each(FLAVORS)('$label: (b) the multi-source replica dw-0 dies', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('promotes dw-1 with shard_a and shard_b created, resuming by GTID; checksums equal the sources', async () => {
    const { d } = await setup(sb());
    await tables(sb());
    const la = startLoad(sb().server('a-0'), 'shop.orders', { max: 300, pauseMs: 2 });
    const lb = startLoad(sb().server('b-0'), 'sales.invoices', { max: 300, pauseMs: 2 });
    await sleep(300);
    await sb().server('dw-0').kill9();
    // Before any pass: `tributary plan` shows the failover it would run, phase by phase, every statement
    // naming its channel, the replication password redacted.
    const plan = await cli([
      'plan',
      '-f',
      join(sb().dir, 'warehouse.yaml'),
      '--status-out',
      join(sb().dir, 'warehouse.yaml.status.json'),
    ]);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toMatch(/pass 1: failover of dw \(dw-0 → dw-1\): Decided/);
    expect(plan.stdout).toMatch(/failover of dw \(dw-0 → dw-1\): Promoting/);
    expect(plan.stdout).toMatch(/dw-1\/shard_b: create from b-0/);
    expect(plan.stdout).toContain('<redacted>');
    expect(plan.stdout).not.toContain(REPL_PASSWORD);
    const s = await d.until((x) => lastRecord(x)?.phase === 'Done');
    expect(lastRecord(s)).toMatchObject({ group: 'dw', from: 'dw-0', to: 'dw-1' });
    await la.stop();
    await lb.stop();
    const after = await d.until(
      (x) =>
        channel(x, 'dw-1', 'shard_a')?.state === 'Running' &&
        channel(x, 'dw-1', 'shard_b')?.state === 'Running',
    );
    expect(channel(after, 'dw-1', 'shard_a')?.source).toBe('a-0');
    expect(channel(after, 'dw-1', 'shard_b')?.source).toBe('b-0');
    expect(channel(after, 'dw-1', '')).toBeUndefined();
    for (const [src, table] of [
      ['a-0', 'shop.orders'],
      ['b-0', 'sales.invoices'],
    ] as const) {
      const n = Number(await sb().server(src).scalar(`SELECT COUNT(*) FROM ${table}`));
      expect(await waitRows(sb(), 'dw-1', table, n)).toBe(n);
      const sum = async (m: string) => (await sb().server(m).sql(`CHECKSUM TABLE ${table}`))[0]!.Checksum;
      expect(await sum('dw-1')).toEqual(await sum(src));
    }
  });
});

describe.each(FLAVORS)('$label: (c) only the operator is cut off from a primary', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('does not fail over while replicas still receive from it', async () => {
    const proxy = await startProxy(sb().server('a-0').port);
    try {
      const { d } = await setup(
        sb(),
        (spec) => (spec.groups[0].members[0].connect = { host: '127.0.0.1', port: proxy.port }),
        'proxied.yaml',
      );
      proxy.cut();
      // Past the declared window (1 s), the replicas still receive from a-0: the operator alone is cut off.
      const s = await d.until((x) =>
        x.conditions.some((c) => c.type === 'PrimaryUnreachable' && c.reason === 'OperatorCutOff'),
      );
      for (let i = 0; i < 3; i++) await d.pass();
      expect(s.failovers).toEqual([]);
      expect(s.groups.find((g) => g.name === 'shard-a')?.primary).toBe('a-0');
      expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});

describe.each(FLAVORS)('$label: (g) must_not and errant members are never promoted', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  it('must_not: the dead primary is reported, nobody promoted', async () => {
    const { d } = await setup(
      sb(),
      (spec) => (spec.groups[0].members[1].promotionRule = 'must_not'),
      'mustnot.yaml',
    );
    await sb().server('a-0').kill9();
    const s = await d.until((x) => x.conditions.some((c) => c.type === 'FailoverBlocked'));
    expect(s.conditions.find((c) => c.type === 'FailoverBlocked')?.reason).toBe('NoCandidate');
    expect(s.conditions.find((c) => c.type === 'FailoverBlocked')?.message).toMatch(/must_not/);
    expect(s.failovers).toEqual([]);
    expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
    await sb().server('a-0').start();
  });

  it('errant: a replica with a transaction of its own is not promoted', async () => {
    const { d } = await setup(sb(), undefined, 'errant.yaml');
    // A replica is read-only; the errant write needs that lifted by hand (on MySQL it would be refused).
    await sb().server('a-1').setReadOnly(false);
    await sb().server('a-1').sql('CREATE DATABASE errant_write');
    await sb().server('a-0').kill9();
    const s = await d.until((x) => x.conditions.some((c) => c.type === 'FailoverBlocked'));
    expect(s.conditions.find((c) => c.type === 'FailoverBlocked')?.message).toMatch(/errant/);
    expect(s.failovers).toEqual([]);
  });
});

describe.each(FLAVORS)('$label: (a) with the multi-source replica ahead of the candidate', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });

  // | flavor  | a-0's transactions only dw-0 holds                                            |
  // | MariaDB | fetched from dw-0 by GTID domain (DO_DOMAIN_IDS), then a-1 is promoted        |
  // | MySQL   | cannot be fetched without shard-b's data (IGNORE_SERVER_IDS is refused with   |
  // |         | GTID mode ON, 3139: docs/mysql.md): reported stranded, held until acknowledged |
  it('the dead shard’s transactions on dw-0: fetched by domain (MariaDB) or held as stranded (MySQL); nothing of shard-b leaks into shard-a', async () => {
    const { d, store } = await setup(sb());
    await tables(sb());
    await sb().server('b-0').sql("INSERT INTO sales.invoices VALUES (1, 'b')");
    // a-1 stops receiving (no pass runs in between); dw-0 keeps receiving from a-0.
    await sb().server('a-1').sql(f.stopChannel(''));
    for (let i = 1; i <= 20; i++)
      await sb().server('a-0').sql('INSERT INTO shop.orders VALUES (?, ?)', [i, 'x']);
    expect(await waitRows(sb(), 'dw-0', 'shop.orders', 20)).toBe(20);
    expect(Number(await sb().server('a-1').scalar('SELECT COUNT(*) FROM shop.orders'))).toBeLessThan(20);
    const beforeKill = Number(await sb().server('a-1').scalar('SELECT COUNT(*) FROM shop.orders'));
    const a0Uuid = f.gtidDomains ? '' : String(await sb().server('a-0').scalar('SELECT @@server_uuid'));
    await sb().server('a-0').kill9();
    if (!f.gtidDomains) {
      const held = await d.until((x) =>
        x.conditions.some((c) => c.type === 'FailoverHeld' && c.reason === 'StrandedTransactions'),
      );
      expect(lastRecord(held)?.stranded.find((x) => x.member === 'dw-0')?.missing).toContain(a0Uuid);
      expect(Number(await sb().server('a-1').scalar('SELECT @@read_only'))).toBe(1);
      store.setAnnotation(ANNOTATION_ACK_FAILOVER, 'shard-a');
    }
    const s = await d.until((x) => lastRecord(x)?.phase === 'Done');
    expect(lastRecord(s)).toMatchObject({ from: 'a-0', to: 'a-1' });
    const onA1 = f.gtidDomains ? 20 : beforeKill;
    expect(await waitRows(sb(), 'a-1', 'shop.orders', onA1)).toBe(onA1);
    const after = await d.until((x) => channel(x, 'dw-0', 'shard_a')?.state === 'Running');
    expect(channel(after, 'dw-0', 'shard_a')).toMatchObject({
      source: 'a-1',
      lastIOErrno: 0,
      lastSQLErrno: 0,
    });
    expect(await channelNames(f, sb().server('a-1'))).toEqual([]);
    expect(
      Number(
        await sb()
          .server('a-1')
          .scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'sales'"),
      ),
    ).toBe(0);
    await sb().server('a-1').sql("INSERT INTO shop.orders VALUES (21, 'new primary')");
    expect(await waitRows(sb(), 'dw-0', 'shop.orders', 21)).toBe(21);
  });
});
