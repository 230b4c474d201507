// Captures the rows the SQL layer parses, from real servers, for the unit tests of src/sql
// (test/unit/sql/captured/<flavor>.json): every statement of the probe, as mysql2 delivers it through
// SqlClient (numbers as numbers, NULL as null). Run: npx tsx scripts/capture-sql-rows.ts [mysql|mariadb]
//
// Scene on each flavor (sandbox servers, loopback): sources s1 and s2, a replica with
//   c1  running from s1 (heartbeat 2 s, retry count 77, connect retry 1)
//   c2  from s2, which is then killed: the receiver is reconnecting with an error
//   ''  the default channel from s1's port + nothing, stopped, filtered (sales,crm / tmp), delay 3600
// and the replica's variables after persistReadOnly() and a run-time read_only switch-off.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  REPL_PASSWORD,
  REPL_USER,
  createSandbox,
  type SandboxFlavor,
} from '../src/sandbox/index.js';
import { SqlClient } from '../src/sql/client.js';
import type { ChannelSource, Statement } from '../src/sql/dialect.js';
import { detectFlavor, dialectFor } from '../src/sql/flavor.js';

const OUT = join(import.meta.dirname, '../test/unit/sql/captured');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function firstRow(
  opts: { host: string; port: number; user: string; password: string },
  stmt: Statement,
): Promise<Record<string, unknown> | undefined> {
  const c = new SqlClient(opts);
  try {
    return (await c.query<Record<string, unknown>>(stmt))[0];
  } finally {
    await c.close();
  }
}

async function capture(flavor: SandboxFlavor): Promise<void> {
  const sb = await createSandbox({ flavor, names: ['s1', 's2', 'replica'] });
  const replica = sb.server('replica');
  const client = new SqlClient({
    ...replica.connectionOptions(ADMIN_USER, ADMIN_PASSWORD),
    label: 'replica',
  });
  try {
    const version = String(await replica.scalar('SELECT VERSION()'));
    const d = dialectFor(detectFlavor(version), version);
    const source = (port: number, over: Partial<ChannelSource> = {}): ChannelSource => ({
      host: '127.0.0.1',
      port,
      user: REPL_USER,
      password: REPL_PASSWORD,
      connectRetry: 1,
      retryCount: 77,
      heartbeatPeriod: 2,
      delaySeconds: 0,
      ssl: false,
      ...over,
    });
    for (const s of ['s1', 's2']) {
      await sb.server(s).setReadOnly(false);
      await sb.server(s).sql(`CREATE DATABASE d_${s}`);
      await sb.server(s).sql(`CREATE TABLE d_${s}.t (id INT PRIMARY KEY)`);
      await sb.server(s).sql(`INSERT INTO d_${s}.t VALUES (1), (2)`);
    }
    await client.query(d.changeSource('c1', source(sb.server('s1').port)));
    await client.query(d.changeSource('c2', source(sb.server('s2').port, { heartbeatPeriod: 1.5 })));
    await client.query(
      d.changeSource('', source(sb.server('s2').port + 1, { heartbeatPeriod: 1, delaySeconds: 3600 })),
    );
    for (const st of d.setFilter('', { doDatabases: ['sales', 'crm'], ignoreDatabases: ['tmp'] }))
      await client.query(st);
    await client.query(d.start('c1'));
    await client.query(d.start('c2'));
    for (let i = 0; i < 100; i++) {
      const cs = d.parseChannels(await client.query(d.showChannels()));
      if (cs.filter((c) => c.ioRunning === 'Yes' && c.sqlRunning === 'Yes').length === 2) break;
      await sleep(100);
    }
    await sb.server('s2').kill9();
    // The receiver notices within replica_net_timeout / on its next read; wait for its error.
    for (let i = 0; i < 100; i++) {
      const cs = d.parseChannels(await client.query(d.showChannels()));
      if ((cs.find((c) => c.name === 'c2')?.lastIOErrno ?? 0) !== 0) break;
      await sleep(100);
    }
    for (const st of d.persistReadOnly()) await client.query(st);
    for (const st of d.setReadOnly(false)) await client.query(st);
    const config = d.showChannelConfig();
    const out = {
      capturedAt: new Date().toISOString(),
      version,
      how: 'scripts/capture-sql-rows.ts',
      statements: {
        showVariables: d.showVariables().sql,
        showChannels: d.showChannels().sql,
        showChannelConfig: config?.sql ?? null,
      },
      replica: {
        variables: (await client.query(d.showVariables()))[0],
        channels: await client.query(d.showChannels()),
        channelConfig: config ? await client.query(config) : null,
      },
      source: { variables: await firstRow(sb.server('s1').connectionOptions(), d.showVariables()) },
    };
    mkdirSync(OUT, { recursive: true });
    const file = join(OUT, `${flavor}.json`);
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`${flavor} ${version}: ${file}`);
  } finally {
    await client.close();
    await sb.destroy();
  }
}

const which = process.argv[2];
for (const f of ['mysql', 'mariadb'] as const) if (!which || which === f) await capture(f);
process.exit(0);
