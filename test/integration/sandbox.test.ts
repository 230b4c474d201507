// The sandbox itself, on both flavors: real mariadbd / mysqld processes, their identities, logins,
// read-only starts, crash/restart, and cleanup.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_USER,
  createSandbox,
  REPL_PASSWORD,
  REPL_USER,
  reapSandboxes,
  SANDBOX_ROOT_ENV,
  SandboxStartError,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import type { ChannelSource } from '../../src/sql/dialect.js';
import { dialectFor } from '../../src/sql/flavor.js';
import { channelRow, executed, FLAVORS, type FlavorFacts } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What every sandbox server of a flavor must report (read with one SELECT). */
const SETTINGS: Record<FlavorFacts['family'], { query: string; want: (s: SandboxServer) => object }> = {
  mariadb: {
    query: `SELECT @@server_id AS sid, @@gtid_domain_id AS dom, @@port AS port, @@gtid_binlog_pos AS executed,
              @@gtid_slave_pos AS slave_pos, @@log_bin AS log_bin, @@log_slave_updates AS lsu,
              @@binlog_format AS fmt, @@slave_net_timeout AS snt, @@bind_address AS bind,
              @@skip_name_resolve AS snr, @@performance_schema AS pfs, @@read_only AS ro`,
    want: (s) => ({ sid: s.serverId, dom: s.gtidDomainId, slave_pos: '', lsu: 1, snt: 4 }),
  },
  mysql: {
    query: `SELECT @@server_id AS sid, @@port AS port, @@gtid_executed AS executed, @@log_bin AS log_bin,
              @@log_replica_updates AS lsu, @@binlog_format AS fmt, @@replica_net_timeout AS snt,
              @@bind_address AS bind, @@skip_name_resolve AS snr, @@performance_schema AS pfs,
              @@read_only AS ro, @@super_read_only AS sro, @@gtid_mode AS gtid_mode,
              @@enforce_gtid_consistency AS egc, @@secure_file_priv AS sfp, @@server_uuid AS uuid`,
    want: (s) => ({ sid: s.serverId, lsu: 1, snt: 4, sro: 1, gtid_mode: 'ON', egc: 'ON', sfp: 'NULL' }),
  },
};

describe.each(FLAVORS)('sandbox of three $label servers', (f) => {
  const sb = useSandbox({ flavor: f.flavor, count: 3 });
  const d = dialectFor(f.flavor === 'mysql' ? 'mysql' : 'mariadb');
  const source = (s: SandboxServer): ChannelSource => ({
    host: s.host,
    port: s.port,
    user: REPL_USER,
    password: REPL_PASSWORD,
    connectRetry: 1,
    retryCount: 100,
    heartbeatPeriod: 1,
    delaySeconds: 0,
  });

  it('lives under the run root the global setup made', () => {
    const root = process.env[SANDBOX_ROOT_ENV];
    expect(root, 'global setup sets the run root').toBeTruthy();
    expect(sb().dir.startsWith(root + '/')).toBe(true);
    expect(JSON.parse(readFileSync(join(sb().dir, 'sandbox.json'), 'utf8')).servers).toHaveLength(3);
    expect(sb().template.flavor).toBe(f.flavor);
  });

  it('gives each server its own id and port, no GTIDs yet, read-only, and the configured settings', async () => {
    const servers = sb().servers;
    expect(servers.map((s) => s.name)).toEqual(['s1', 's2', 's3']);
    expect(servers.map((s) => s.serverId)).toEqual([1, 2, 3]);
    expect(servers.map((s) => s.gtidDomainId)).toEqual(f.gtidDomains ? [1, 2, 3] : [null, null, null]);
    expect(new Set(servers.map((s) => s.port)).size).toBe(3);
    expect(new Set(servers.map((s) => s.pid)).size).toBe(3);
    const uuids = new Set<unknown>();
    for (const s of servers) {
      expect(s.host).toBe('127.0.0.1');
      expect(s.flavor).toBe(f.flavor);
      const [row] = await s.sql(SETTINGS[f.family].query);
      expect(row).toMatchObject({
        port: s.port,
        executed: '',
        log_bin: 1,
        fmt: 'ROW',
        bind: '127.0.0.1',
        snr: 1,
        pfs: 0,
        ro: 1,
        ...SETTINGS[f.family].want(s),
      });
      uuids.add(row!.uuid);
      expect(String(await s.scalar('SELECT VERSION()'))).toMatch(f.version);
      expect(await s.sql(f.showAll)).toEqual([]);
      // Its own tmpdir: a starting server deletes every #sql* file in its tmpdir, another server's too.
      expect(String(await s.scalar('SELECT @@GLOBAL.tmpdir'))).toBe(join(s.dir, 'tmp'));
    }
    // MySQL: every copy made its own server_uuid (auto.cnf is not copied from the template).
    expect(uuids.size).toBe(f.flavor === 'mysql' ? 3 : 1);
  });

  it('lets admin and repl log in over TCP with the right privileges', async () => {
    const s = sb().servers[1]!;
    const admin = await s.admin();
    try {
      const [grants] = await admin.query('SHOW GRANTS');
      const text = JSON.stringify(grants);
      // MySQL spells ALL out as the list of static privileges; MariaDB keeps the word.
      expect(text).toContain(
        f.flavor === 'mysql'
          ? 'SUPER, CREATE TEMPORARY TABLES'
          : `GRANT ALL PRIVILEGES ON *.* TO \`${ADMIN_USER}\`@\`%\``,
      );
      expect(text).toContain('WITH GRANT OPTION');
    } finally {
      await admin.end();
    }
    const repl = await s.connect(REPL_USER, REPL_PASSWORD);
    try {
      const [grants] = await repl.query('SHOW GRANTS');
      expect(JSON.stringify(grants)).toContain('GRANT REPLICATION SLAVE ON *.*');
      // Refused for lack of privilege (1044) or, first, because the server is read-only (1290).
      const e = await repl.query('CREATE DATABASE nope').catch((x: { errno: number }) => x);
      expect([1044, 1290]).toContain((e as { errno?: number }).errno);
    } finally {
      await repl.end();
    }
    await expect(s.connect(REPL_USER, 'wrong')).rejects.toMatchObject({ errno: 1045 });
  });

  it('starts read-only: the admin account is stopped on MySQL only (super_read_only); setReadOnly(false) lifts it', async () => {
    const s = sb().servers[0]!;
    const write = () =>
      s.sql('CREATE DATABASE IF NOT EXISTS ro_probe').then(
        () => 'written',
        (e: { errno: number }) => e.errno,
      );
    // | flavor  | option file          | admin writes while read-only     |
    // | MariaDB | read_only=ON         | yes (ALL includes READ ONLY ADMIN) |
    // | MySQL   | super_read_only=ON   | no, 1290                          |
    expect(await write()).toBe(f.readOnlyStopsAdmin ? 1290 : 'written');
    await s.setReadOnly(false);
    expect(Number(await s.scalar('SELECT @@read_only'))).toBe(0);
    expect(await write()).toBe('written');
    await s.sql('DROP DATABASE ro_probe');
  });

  it('replicates s1 → s3 over a named channel with the repl account', async () => {
    const [s1, , s3] = sb().servers;
    await s3!.sql(d.changeSource('from_s1', source(s1!)).sql);
    await s3!.sql(d.start('from_s1').sql);
    await s1!.sql(
      'CREATE DATABASE d1; CREATE TABLE d1.t (id INT PRIMARY KEY); INSERT INTO d1.t VALUES (1), (2)',
    );
    const pos = await executed(f, s1!);
    expect(pos).not.toBe('');
    if (f.gtidDomains) expect(pos).toMatch(/^1-1-\d+$/);
    else expect(pos).toMatch(new RegExp(`^${String(await s1!.scalar('SELECT @@server_uuid'))}:1-\\d+$`));
    expect(Number(await s3!.scalar(f.waitQuery(pos, 10)))).toBe(0);
    expect(await s3!.scalar('SELECT COUNT(*) FROM d1.t')).toBe(2);
    expect(await channelRow(f, s3!, 'from_s1')).toMatchObject({
      [f.col.io]: 'Yes',
      [f.col.sql]: 'Yes',
      [f.flavor === 'mysql' ? 'Source_Server_Id' : 'Master_Server_Id']: 1,
    });
  });

  it('recovers a server after kill9 then start: same port, same data, new pid, read-only again', async () => {
    const s1 = sb().servers[0]!;
    const { port } = s1;
    const oldPid = s1.pid!;
    await s1.kill9();
    expect(s1.pid).toBeNull();
    expect(s1.running).toBe(false);
    expect(alive(oldPid)).toBe(false);
    await expect(s1.connect(ADMIN_USER, 'adminpass', { connectTimeout: 1000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    const reg = JSON.parse(readFileSync(join(sb().dir, 'sandbox.json'), 'utf8')) as {
      servers: { name: string }[];
    };
    expect(reg.servers.map((x) => x.name)).not.toContain('s1');

    await s1.start();
    expect(s1.port).toBe(port);
    expect(s1.pid).not.toBeNull();
    expect(s1.pid).not.toBe(oldPid);
    expect(s1.lastStartMs).toBeGreaterThan(0);
    expect(await s1.scalar('SELECT COUNT(*) FROM d1.t')).toBe(2);
    expect(await s1.scalar('SELECT @@server_id')).toBe(1);
    // It was made writable before the kill; it comes back read-only (the option file says so).
    expect(Number(await s1.scalar('SELECT @@read_only'))).toBe(1);
    await s1.setReadOnly(false);
    // The replica's channel reconnects by itself (connect retry 1 s) and gets new writes.
    await s1.sql('INSERT INTO d1.t VALUES (3)');
    const pos = await executed(f, s1);
    expect(Number(await sb().servers[2]!.scalar(f.waitQuery(pos, 20)))).toBe(0);
  });

  it('stops with SIGTERM (clean shutdown) and restarts', async () => {
    const s2 = sb().servers[1]!;
    const pid = s2.pid!;
    await s2.stop();
    expect(alive(pid)).toBe(false);
    expect(s2.errorLogTail(20)).toMatch(/Shutdown complete/);
    await s2.restart();
    expect(await s2.scalar('SELECT 1')).toBe(1);
    await s2.restart();
    expect(s2.pid).not.toBe(pid);
    expect(await s2.scalar('SELECT @@server_id')).toBe(2);
  });

  it('adds a server with the next id; a taken port makes it move to a free one', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const s4 = await sb().add('s4', { port: taken });
      expect(s4.serverId).toBe(4);
      expect(s4.gtidDomainId).toBe(f.gtidDomains ? 4 : null);
      expect(s4.port).not.toBe(taken);
      expect(await s4.scalar('SELECT @@port')).toBe(s4.port);
      expect(readFileSync(s4.errorLog, 'utf8')).toMatch(/Address already in use/);
      expect(sb().server('s4')).toBe(s4);
    } finally {
      blocker.close();
    }
  });

  it('never mistakes another server on its port for itself', async () => {
    const s1 = sb().server('s1');
    const s5 = await sb().add('s5', { port: s1.port });
    expect(s5.port).not.toBe(s1.port);
    expect(await s5.scalar('SELECT @@server_id')).toBe(5);
    expect(await s1.scalar('SELECT @@server_id')).toBe(1);
  });

  it('concurrent start() calls share one start', async () => {
    const s2 = sb().server('s2');
    await s2.kill9();
    await Promise.all([s2.start(), s2.start(), s2.start()]);
    expect(await s2.scalar('SELECT @@server_id')).toBe(2);
    const reg = JSON.parse(readFileSync(join(sb().dir, 'sandbox.json'), 'utf8')) as {
      servers: { name: string; pid: number }[];
    };
    expect(reg.servers.find((x) => x.name === 's2')?.pid).toBe(s2.pid);
  });

  it('destroy kills every server and removes the directory', async () => {
    const sandbox = sb();
    const pids = sandbox.servers.map((s) => s.pid!);
    expect(pids.every(alive)).toBe(true);
    await sandbox.destroy();
    expect(pids.some(alive)).toBe(false);
    expect(existsSync(sandbox.dir)).toBe(false);
    await sandbox.destroy(); // idempotent
    await expect(sandbox.add('late')).rejects.toThrow(/destroyed/);
  });
});

describe.each(FLAVORS)('$label sandbox failure and cleanup paths', (f) => {
  const base = mkdtempSync(join(process.env[SANDBOX_ROOT_ENV] ?? tmpdir(), `cleanup-${f.flavor}-`));
  afterAll(() => {
    reapSandboxes(base);
    rmSync(base, { recursive: true, force: true });
  });

  it('surfaces the error log when a server cannot start, and leaves nothing behind', async () => {
    const err = await createSandbox({
      flavor: f.flavor,
      baseDir: base,
      names: ['bad'],
      config: { 'no-such-option': 1 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as SandboxStartError).message).toMatch(new RegExp(`bad: ${f.program} exited during start`));
    expect((err as SandboxStartError).logTail).toMatch(/unknown variable 'no-such-option=1'/);
    expect(readdirSync(base)).toEqual([]);
  });

  it('bounds the wait for a start and kills the server that missed it', async () => {
    const err = await createSandbox({
      flavor: f.flavor,
      baseDir: base,
      names: ['slow'],
      startTimeoutMs: 30,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as Error).message).toMatch(
      /slow: no successful admin login on 127\.0\.0\.1:\d+ within 30 ms/,
    );
    expect(readdirSync(base)).toEqual([]);
  });

  it('validates names', async () => {
    await expect(createSandbox({ flavor: f.flavor, baseDir: base, names: ['a b'] })).rejects.toThrow(
      /invalid sandbox server name/,
    );
    await expect(createSandbox({ flavor: f.flavor, baseDir: base, names: ['x', 'x'] })).rejects.toThrow(
      /unique/,
    );
  });

  function startChild(
    count: number,
  ): Promise<{ child: ReturnType<typeof spawn>; dir: string; pids: number[] }> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/harness/sandbox-child.ts', base, String(count), f.flavor],
      {
        cwd: process.cwd(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (l) => resolve({ child, ...(JSON.parse(l) as { dir: string; pids: number[] }) }));
      child.once('exit', (code, sig) => reject(new Error(`child exited early (${code ?? sig})`)));
    });
  }

  it('a process killed by SIGTERM takes its servers and directory with it', async () => {
    const { child, dir, pids } = await startChild(2);
    expect(pids.every(alive)).toBe(true);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM'); // the signal is re-raised after cleanup
    await waitFor(() => !pids.some(alive), 5000, 'servers to die');
    expect(existsSync(dir)).toBe(false);
  });

  it('servers of a SIGKILLed process are found through the registry and reaped', async () => {
    const { child, dir, pids } = await startChild(1);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    expect(pids.every(alive)).toBe(true); // nothing could run in the killed process
    const r = reapSandboxes(base, { onlyStale: true });
    expect(r.killed.sort()).toEqual([...pids].sort());
    expect(r.removed).toEqual([dir]);
    expect(pids.some(alive)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
