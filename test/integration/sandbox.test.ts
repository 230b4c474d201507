// The sandbox itself: real mariadbd processes, their identities, logins, crash/restart, and cleanup.
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
} from '../../src/sandbox/index.js';
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

describe('sandbox of three servers', () => {
  const sb = useSandbox({ count: 3 });

  it('lives under the run root the global setup made', () => {
    const root = process.env[SANDBOX_ROOT_ENV];
    expect(root, 'global setup sets the run root').toBeTruthy();
    expect(sb().dir.startsWith(root + '/')).toBe(true);
    expect(JSON.parse(readFileSync(join(sb().dir, 'sandbox.json'), 'utf8')).servers).toHaveLength(3);
  });

  it('gives each server its own id, domain and port, an empty binlog position and the configured settings', async () => {
    const servers = sb().servers;
    expect(servers.map((s) => s.name)).toEqual(['s1', 's2', 's3']);
    expect(servers.map((s) => s.serverId)).toEqual([1, 2, 3]);
    expect(servers.map((s) => s.gtidDomainId)).toEqual([1, 2, 3]);
    expect(new Set(servers.map((s) => s.port)).size).toBe(3);
    expect(new Set(servers.map((s) => s.pid)).size).toBe(3);
    for (const s of servers) {
      expect(s.host).toBe('127.0.0.1');
      const [row] = await s.sql(
        `SELECT @@server_id AS sid, @@gtid_domain_id AS dom, @@port AS port, @@gtid_binlog_pos AS pos,
                @@gtid_slave_pos AS slave_pos, @@log_bin AS log_bin, @@log_slave_updates AS lsu,
                @@binlog_format AS fmt, @@slave_net_timeout AS snt, @@bind_address AS bind,
                @@skip_name_resolve AS snr, @@performance_schema AS pfs, @@version AS version`,
      );
      expect(row).toMatchObject({
        sid: s.serverId,
        dom: s.gtidDomainId,
        port: s.port,
        pos: '',
        slave_pos: '',
        log_bin: 1,
        lsu: 1,
        fmt: 'ROW',
        snt: 4,
        bind: '127.0.0.1',
        snr: 1,
        pfs: 0,
      });
      expect(String(row!.version)).toMatch(/MariaDB/);
      expect(await s.sql('SHOW ALL REPLICAS STATUS')).toEqual([]);
    }
  });

  it('lets admin and repl log in over TCP with the right privileges', async () => {
    const s = sb().servers[1]!;
    const admin = await s.admin();
    try {
      const [grants] = await admin.query('SHOW GRANTS');
      const text = JSON.stringify(grants);
      expect(text).toContain(`GRANT ALL PRIVILEGES ON *.* TO \`${ADMIN_USER}\`@\`%\``);
      expect(text).toContain('WITH GRANT OPTION');
    } finally {
      await admin.end();
    }
    const repl = await s.connect(REPL_USER, REPL_PASSWORD);
    try {
      const [grants] = await repl.query('SHOW GRANTS');
      expect(JSON.stringify(grants)).toContain('GRANT REPLICATION SLAVE ON *.*');
      await expect(repl.query('CREATE DATABASE nope')).rejects.toMatchObject({ errno: 1044 });
    } finally {
      await repl.end();
    }
    await expect(s.connect(REPL_USER, 'wrong')).rejects.toMatchObject({ errno: 1045 });
  });

  it('replicates s1 → s3 over a named connection with the repl account', async () => {
    const [s1, , s3] = sb().servers;
    await s3!.sql(
      `CHANGE MASTER 'from_s1' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${s1!.port}, MASTER_USER='${REPL_USER}',
       MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START REPLICA 'from_s1'`,
    );
    await s1!.sql(
      'CREATE DATABASE d1; CREATE TABLE d1.t (id INT PRIMARY KEY); INSERT INTO d1.t VALUES (1), (2)',
    );
    const pos = String(await s1!.scalar('SELECT @@gtid_binlog_pos'));
    expect(pos).toMatch(/^1-1-\d+$/);
    expect(await s3!.scalar(`SELECT MASTER_GTID_WAIT(?, 10)`, [pos])).toBe(0);
    expect(await s3!.scalar('SELECT COUNT(*) FROM d1.t')).toBe(2);
    const [ch] = await s3!.sql("SHOW REPLICA 'from_s1' STATUS");
    expect(ch).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Master_Server_Id: 1 });
  });

  it('recovers a server after kill9 then start: same port, same data, new pid', async () => {
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
    // The replica's channel reconnects by itself (MASTER_CONNECT_RETRY=1) and gets new writes.
    await s1.sql('INSERT INTO d1.t VALUES (3)');
    const pos = String(await s1.scalar('SELECT @@gtid_binlog_pos'));
    expect(await sb().servers[2]!.scalar('SELECT MASTER_GTID_WAIT(?, 20)', [pos])).toBe(0);
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

  it('adds a server with the next id and domain; a taken port makes it move to a free one', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const s4 = await sb().add('s4', { port: taken });
      expect(s4.serverId).toBe(4);
      expect(s4.gtidDomainId).toBe(4);
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

describe('sandbox failure and cleanup paths', () => {
  const base = mkdtempSync(join(process.env[SANDBOX_ROOT_ENV] ?? tmpdir(), 'cleanup-'));
  afterAll(() => {
    reapSandboxes(base);
    rmSync(base, { recursive: true, force: true });
  });

  it('surfaces the error log when a server cannot start, and leaves nothing behind', async () => {
    const err = await createSandbox({
      baseDir: base,
      names: ['bad'],
      config: { innodb_buffer_pool_size: '2M' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as SandboxStartError).message).toMatch(/bad: mariadbd exited during start/);
    expect((err as SandboxStartError).logTail).toMatch(/innodb_buffer_pool_size/);
    expect(readdirSync(base)).toEqual([]);
  });

  it('bounds the wait for a start and kills the server that missed it', async () => {
    const err = await createSandbox({ baseDir: base, names: ['slow'], startTimeoutMs: 30 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    expect((err as Error).message).toMatch(
      /slow: no successful admin login on 127\.0\.0\.1:\d+ within 30 ms/,
    );
    expect(readdirSync(base)).toEqual([]);
  });

  it('validates names', async () => {
    await expect(createSandbox({ baseDir: base, names: ['a b'] })).rejects.toThrow(
      /invalid sandbox server name/,
    );
    await expect(createSandbox({ baseDir: base, names: ['x', 'x'] })).rejects.toThrow(/unique/);
  });

  function startChild(
    count: number,
  ): Promise<{ child: ReturnType<typeof spawn>; dir: string; pids: number[] }> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/harness/sandbox-child.ts', base, String(count)],
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
