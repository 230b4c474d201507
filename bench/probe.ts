// bench:probe — how long reading every channel of one multi-source replica takes, per flavor, side by side.
//   npm run bench:probe [-- --flavor mysql|mariadb|both]      (default both)
//
// Setup per flavor (local sandbox, loopback only): two real sources and one replica. Channels c1 and c2 run
// from the two sources; the others are created and never started, each pointing at a port nobody listens
// on (MariaDB refuses two channels to one host:port, 1934; MySQL accepts them but the source would then
// drop the older connection). The replica grows 2 → 16 → 64 channels; each size is timed over a fixed
// number of iterations after a warm-up:
//   status    the dialect's showChannels() + parseChannels(), over one pooled connection;
//   probe     the whole probe of one member as the observe step runs it (probeMember: variables, channels,
//             account check and, on MySQL, the channel configuration from performance_schema, in
//             parallel over the client's two connections), the figure the target applies to.
// Prints figures only; the servers are removed at the end, also on error or Ctrl-C.
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  REPL_PASSWORD,
  REPL_USER,
  createSandbox,
  type SandboxFlavor,
} from '../src/sandbox/index.js';
import { probeMember } from '../src/observe/probe.js';
import type { ChannelSource } from '../src/sql/dialect.js';
import { SqlClient, SqlClientPool } from '../src/sql/client.js';
import { detectFlavor, dialectFor } from '../src/sql/flavor.js';
import {
  FLAVOR_LABEL,
  flavorsFromArgs,
  machineLine,
  mb,
  ms,
  printSideBySide,
  sleep,
  summarize,
  type Summary,
} from './common.js';

const SIZES = [2, 16, 64] as const;
const ITERATIONS = 300;
const WARMUP = 30;
/** Bound on one size's timed loops; a run that slow is reported as cut short. */
const SIZE_DEADLINE_MS = 60_000;
/** Ports the never-started channels point at (nothing is contacted there). */
const IDLE_PORT_BASE = 1024;
const TARGET_P50_MS = 5;

interface FlavorResult {
  version: string;
  setupMs: number;
  sizes: Map<number, { status: Summary; parseP50: number; probe: Summary }>;
  replicaRss: number;
  running: string[];
}

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
  };
}

async function timed(deadline: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let it = 0; it < WARMUP + ITERATIONS && Date.now() < deadline; it++) {
    const a = performance.now();
    await fn();
    if (it >= WARMUP) out.push(performance.now() - a);
  }
  return out;
}

async function measure(flavor: SandboxFlavor): Promise<FlavorResult> {
  const t0 = performance.now();
  const sandbox = await createSandbox({ flavor, names: ['src1', 'src2', 'replica'] });
  const setupMs = performance.now() - t0;
  const [src1, src2, replica] = sandbox.servers as [
    (typeof sandbox.servers)[number],
    (typeof sandbox.servers)[number],
    (typeof sandbox.servers)[number],
  ];
  // One pooled connection: the status read alone.
  const client = new SqlClient({
    host: replica.host,
    port: replica.port,
    user: ADMIN_USER,
    password: ADMIN_PASSWORD,
    label: 'replica',
    connectionLimit: 1,
  });
  // The observe step's pool (two connections per server) for whole probes.
  const pool = new SqlClientPool();
  const member = {
    name: 'replica',
    host: replica.host,
    port: replica.port,
    promotionRule: 'neutral' as const,
  };
  const probeOpts = {
    admin: { username: ADMIN_USER, password: ADMIN_PASSWORD },
    replicationUser: REPL_USER,
    pool,
  };
  try {
    const version = String(await replica.scalar('SELECT VERSION()'));
    const dialect = dialectFor(detectFlavor(version), version);
    for (const s of [src1, src2]) await s.setReadOnly(false);
    for (const [i, src] of [src1, src2].entries()) {
      const name = `c${i + 1}`;
      await client.query(dialect.changeSource(name, source(src.host, src.port)));
      await client.query(dialect.start(name));
    }
    for (let i = 0; ; i++) {
      const running = dialect
        .parseChannels(await client.query(dialect.showChannels()))
        .filter((c) => c.ioRunning === 'Yes' && c.sqlRunning === 'Yes');
      if (running.length === 2) break;
      if (i > 400) throw new Error('channels c1, c2 not running after 20 s');
      await sleep(50);
    }
    // Some traffic, so the running rows carry real positions and GTIDs.
    await src1.sql(
      'CREATE DATABASE b1; CREATE TABLE b1.t (id INT PRIMARY KEY); INSERT INTO b1.t VALUES (1), (2)',
    );
    await src2.sql(
      'CREATE DATABASE b2; CREATE TABLE b2.t (id INT PRIMARY KEY); INSERT INTO b2.t VALUES (1), (2)',
    );

    const sizes = new Map<number, { status: Summary; parseP50: number; probe: Summary }>();
    let created = 2;
    for (const size of SIZES) {
      for (; created < size; created++)
        await client.query(
          dialect.changeSource(`c${created + 1}`, source('127.0.0.1', IDLE_PORT_BASE + created)),
        );
      const vars = dialect.parseVariables((await client.query(dialect.showVariables()))[0] ?? {});
      const deadline = Date.now() + SIZE_DEADLINE_MS;
      const parse: number[] = [];
      const status = await timed(deadline, async () => {
        const rows = await client.query(dialect.showChannels());
        const b = performance.now();
        const channels = dialect.parseChannels(rows, vars);
        parse.push(performance.now() - b);
        if (channels.length !== size) throw new Error(`expected ${size} channels, read ${channels.length}`);
      });
      const probe = await timed(deadline, async () => {
        const obs = await probeMember('g', member, 'auto', probeOpts);
        if (!obs.reachable || obs.channels.length !== size)
          throw new Error(`probe: ${obs.error ?? `${obs.channels.length} channels, not ${size}`}`);
        if (flavor === 'mysql' && obs.channels.some((c) => c.heartbeatPeriod === null))
          throw new Error('probe: a MySQL channel without its heartbeat period');
      });
      sizes.set(size, { status: summarize(status), parseP50: summarize(parse).p50, probe: summarize(probe) });
    }
    const running = dialect
      .parseChannels(await client.query(dialect.showChannels()))
      .filter((c) => c.ioRunning === 'Yes')
      .map((c) => c.name);
    return { version, setupMs, sizes, replicaRss: replica.rssBytes() ?? NaN, running };
  } finally {
    await client.close();
    await pool.closeAll();
    await sandbox.destroy();
  }
}

function printFlavor(flavor: SandboxFlavor, r: FlavorResult): void {
  console.log('');
  console.log(
    `== ${FLAVOR_LABEL[flavor]} ${r.version}: sandbox of 3 servers ready in ${r.setupMs.toFixed(0)} ms; ${ITERATIONS} timed iterations per size after ${WARMUP} warm-up`,
  );
  console.log('channels  status p50   p95 ms   max ms  mean ms | parse p50 | probe p50   p95 ms   max ms');
  for (const [size, s] of r.sizes) {
    const cut =
      s.status.n < ITERATIONS || s.probe.n < ITERATIONS ? `  (cut short: ${s.status.n}/${s.probe.n})` : '';
    console.log(
      `${String(size).padStart(8)}  ${ms(s.status.p50)} ${ms(s.status.p95)} ${ms(s.status.max)} ${ms(s.status.mean)} | ${ms(s.parseP50)}  | ${ms(s.probe.p50)} ${ms(s.probe.p95)} ${ms(s.probe.max)}${cut}`,
    );
  }
  console.log(`running channels at the end: ${r.running.join(', ')}; replica RSS ${mb(r.replicaRss)} MB`);
}

async function main(): Promise<void> {
  const flavors = flavorsFromArgs();
  console.log(`bench:probe  Node ${process.version}, loopback; machine: ${machineLine()}`);
  const results = new Map<SandboxFlavor, FlavorResult>();
  for (const f of flavors) {
    const r = await measure(f);
    results.set(f, r);
    printFlavor(f, r);
  }
  const heads: Partial<Record<SandboxFlavor, string>> = {};
  for (const [f, r] of results) heads[f] = `${FLAVOR_LABEL[f]} ${r.version.split('-')[0]}`;
  const col = (fn: (r: FlavorResult) => string) =>
    Object.fromEntries([...results].map(([f, r]) => [f, fn(r)])) as Partial<Record<SandboxFlavor, string>>;
  const at16 = (r: FlavorResult) => r.sizes.get(16)!;
  printSideBySide('summary (same machine, one run)', heads, [
    [
      `whole probe p50 at 16 channels, ms (target ≤ ${TARGET_P50_MS})`,
      col((r) => at16(r).probe.p50.toFixed(2)),
    ],
    ['whole probe p95 at 16 channels, ms', col((r) => at16(r).probe.p95.toFixed(2))],
    ['status read p50 at 16 channels, ms', col((r) => at16(r).status.p50.toFixed(2))],
    ['status read p50 at 64 channels, ms', col((r) => r.sizes.get(64)!.status.p50.toFixed(2))],
    ['replica RSS with 64 channels, MB', col((r) => mb(r.replicaRss))],
    ['sandbox of 3 servers started, ms', col((r) => r.setupMs.toFixed(0))],
  ]);
  const missed = [...results].filter(([, r]) => at16(r).probe.p50 > TARGET_P50_MS);
  if (missed.length > 0) console.log(`target missed on ${missed.map(([f]) => f).join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(`bench:probe failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
