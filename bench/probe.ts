// bench:probe — how long reading every channel of one MariaDB replica takes, over one pooled connection,
// as the observe step does it: the dialect's showChannels() (SHOW ALL REPLICAS STATUS) + parseChannels().
//
// Setup (local sandbox, loopback only): two real sources and one replica. Channels c1 and c2 run from the
// two sources; the others are created with CHANGE MASTER and never started (a named connection needs a
// distinct host:port — MariaDB refuses a duplicate with error 1934 — so each idle one points at a port
// nobody listens on). The replica grows 2 → 16 → 64 channels; each size is timed over a fixed number of
// iterations after a warm-up. Prints figures only.
import { ADMIN_PASSWORD, ADMIN_USER, REPL_PASSWORD, REPL_USER, createSandbox } from '../src/sandbox/index.js';
import type { ChannelSource } from '../src/sql/dialect.js';
import { SqlClient } from '../src/sql/client.js';
import { dialectFor } from '../src/sql/flavor.js';
import { mb, ms, percentile, sleep } from './common.js';

const SIZES = [2, 16, 64] as const;
const ITERATIONS = 300;
const WARMUP = 30;
/** Bound on one size's timed loop; a run that slow is reported as cut short. */
const SIZE_DEADLINE_MS = 60_000;
/** Ports the never-started channels point at (nothing is contacted there). */
const IDLE_PORT_BASE = 1024;

const dialect = dialectFor('mariadb');

function source(host: string, port: number): ChannelSource {
  return {
    host,
    port,
    user: REPL_USER,
    password: REPL_PASSWORD,
    connectRetry: 1,
    retryCount: 86_400,
    heartbeatPeriod: 2,
    delaySeconds: 0,
    ssl: false,
  };
}

async function waitRunning(client: SqlClient, names: string[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const channels = dialect.parseChannels(await client.query(dialect.showChannels()));
    const running = channels.filter(
      (c) => names.includes(c.name) && c.ioRunning === 'Yes' && c.sqlRunning === 'Yes',
    );
    if (running.length === names.length) return;
    if (Date.now() > end) throw new Error(`channels ${names.join(', ')} not running after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const sandbox = await createSandbox({ names: ['src1', 'src2', 'replica'] });
  const setupMs = performance.now() - t0;
  const [src1, src2, replica] = sandbox.servers as [
    (typeof sandbox.servers)[number],
    (typeof sandbox.servers)[number],
    (typeof sandbox.servers)[number],
  ];
  // One pooled connection: the observe step's client, limited to a single connection.
  const client = new SqlClient({
    host: replica.host,
    port: replica.port,
    user: ADMIN_USER,
    password: ADMIN_PASSWORD,
    label: 'replica',
    connectionLimit: 1,
  });
  try {
    const version = String(await replica.scalar('SELECT VERSION()'));
    console.log(`bench:probe  MariaDB ${version}, Node ${process.version}, loopback, one pooled connection`);
    console.log(
      `sandbox of 3 servers ready in ${setupMs.toFixed(0)} ms; ${ITERATIONS} timed iterations per size after ${WARMUP} warm-up`,
    );

    for (const [i, src] of [src1, src2].entries()) {
      const name = `c${i + 1}`;
      await client.query(dialect.changeSource(name, source(src.host, src.port)));
      await client.query(dialect.start(name));
    }
    await waitRunning(client, ['c1', 'c2'], 20_000);
    // Some traffic, so the running rows carry real positions and GTIDs.
    await src1.sql(
      'CREATE DATABASE b1; CREATE TABLE b1.t (id INT PRIMARY KEY); INSERT INTO b1.t VALUES (1), (2)',
    );
    await src2.sql(
      'CREATE DATABASE b2; CREATE TABLE b2.t (id INT PRIMARY KEY); INSERT INTO b2.t VALUES (1), (2)',
    );

    console.log('');
    console.log(
      'channels  iterations   p50 ms   p95 ms   max ms   mean ms  | parse p50 ms  | +variables p50 ms',
    );
    let created = 2;
    for (const size of SIZES) {
      for (; created < size; created++) {
        const name = `c${created + 1}`;
        await client.query(dialect.changeSource(name, source('127.0.0.1', IDLE_PORT_BASE + created)));
      }
      const vars = dialect.parseVariables((await client.query(dialect.showVariables()))[0] ?? {});

      const total: number[] = [];
      const parse: number[] = [];
      const withVars: number[] = [];
      const deadline = Date.now() + SIZE_DEADLINE_MS;
      for (let it = 0; it < WARMUP + ITERATIONS && Date.now() < deadline; it++) {
        const a = performance.now();
        const rows = await client.query(dialect.showChannels());
        const b = performance.now();
        const channels = dialect.parseChannels(rows, vars);
        const c = performance.now();
        if (channels.length !== size) throw new Error(`expected ${size} channels, read ${channels.length}`);
        if (it >= WARMUP) {
          total.push(c - a);
          parse.push(c - b);
        }
      }
      // The same read as a probe pairs it with the server variables (two statements, one connection).
      for (let it = 0; it < WARMUP + ITERATIONS && Date.now() < deadline; it++) {
        const a = performance.now();
        const v = dialect.parseVariables((await client.query(dialect.showVariables()))[0] ?? {});
        dialect.parseChannels(await client.query(dialect.showChannels()), v);
        if (it >= WARMUP) withVars.push(performance.now() - a);
      }
      total.sort((x, y) => x - y);
      parse.sort((x, y) => x - y);
      withVars.sort((x, y) => x - y);
      const mean = total.reduce((s, v) => s + v, 0) / (total.length || 1);
      const cut = total.length < ITERATIONS ? `  (cut short at ${total.length})` : '';
      console.log(
        `${String(size).padStart(8)}  ${String(total.length).padStart(10)} ${ms(percentile(total, 50))} ${ms(percentile(total, 95))} ${ms(total.at(-1) ?? NaN)} ${ms(mean)}  |  ${ms(percentile(parse, 50))}    |  ${ms(percentile(withVars, 50))}${cut}`,
      );
    }
    const running = dialect
      .parseChannels(await client.query(dialect.showChannels()))
      .filter((c) => c.ioRunning === 'Yes');
    console.log('');
    console.log(
      `running channels at the end: ${running.map((c) => c.name).join(', ')}; replica RSS ${mb(replica.rssBytes() ?? 0)} MB`,
    );
  } finally {
    await client.close();
    await sandbox.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(`bench:probe failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
