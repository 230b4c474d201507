// One sandbox server (MariaDB 10.11 or 11.8, or MySQL): its directory, its process, and logins to it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type Connection, type ConnectionOptions } from 'mysql2/promise';
import { ADMIN_PASSWORD, ADMIN_USER, SANDBOX_HOST } from './constants.js';
import {
  instancePaths,
  renderServerCnf,
  sandboxFamily,
  type CnfValue,
  type InstancePaths,
  type SandboxFamily,
  type SandboxFlavor,
  type SandboxTls,
} from './config.js';
import { trackChild, untrackChild } from './cleanup.js';
import { pickFreePort, releasePort } from './ports.js';
import type { TemplateInfo } from './template.js';

const execFileP = promisify(execFile);

/** A row as mysql2 returns it: column name → value. */
export type Row = Record<string, unknown>;

export class SandboxStartError extends Error {
  constructor(
    message: string,
    /** The last lines of the server's error log. */
    readonly logTail: string,
  ) {
    super(logTail ? `${message}\n--- error log (last lines) ---\n${logTail}` : message);
    this.name = 'SandboxStartError';
  }
}

class PortInUseError extends SandboxStartError {}

export interface SandboxServerInit {
  name: string;
  dir: string;
  serverId: number;
  /** MariaDB's gtid_domain_id; null for MySQL. */
  gtidDomainId: number | null;
  template: TemplateInfo;
  slaveNetTimeout: number;
  config?: Record<string, CnfValue>;
  /** The server speaks TLS with these files: the sandbox's own logins use TLS and verify the CA. */
  tls?: SandboxTls;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  log: (msg: string) => void;
  /** Called synchronously whenever the pid changes (the sandbox rewrites its registry). */
  onPidChange: () => void;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PORT_IN_USE = /Address already in use|Bind on TCP\/IP port|errno: 98\b/;
const START_ATTEMPTS = 6;

export class SandboxServer {
  readonly name: string;
  readonly host = SANDBOX_HOST;
  readonly flavor: SandboxFlavor;
  /** The SQL it speaks: mariadb for both MariaDB versions. */
  readonly family: SandboxFamily;
  /** server_id; a rebuild() gives the server a new one. */
  serverId: number;
  /** MariaDB's gtid_domain_id (the server id); null for MySQL, which has no domains. */
  readonly gtidDomainId: number | null;
  /** The instance directory: data/, my.cnf, err.log, sock, server.pid. */
  readonly dir: string;
  readonly paths: InstancePaths;
  /** Milliseconds the last successful start took, spawn → first successful admin `SELECT 1`. */
  lastStartMs: number | null = null;

  readonly #init: SandboxServerInit;
  #port = 0;
  /** Once a server has run on a port, the port is its identity (channels point at it): never changed. */
  #portFixed = false;
  #child: ChildProcess | null = null;
  #exited: Promise<Exit> | null = null;
  #expectExit = false;
  #starting = false;
  #startPromise: Promise<void> | null = null;
  #conn: Promise<Connection> | null = null;
  #disposed = false;
  #frozen = false;

  constructor(init: SandboxServerInit) {
    this.#init = init;
    this.name = init.name;
    this.flavor = init.template.flavor;
    this.family = sandboxFamily(this.flavor);
    this.serverId = init.serverId;
    this.gtidDomainId = init.gtidDomainId;
    this.dir = init.dir;
    this.paths = instancePaths(init.dir);
  }

  /** The 127.0.0.1 port; assigned by prepare(), stable once the server has started. */
  get port(): number {
    return this.#port;
  }

  /** The running process id, or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  get errorLog(): string {
    return this.paths.errorLog;
  }

  /** The server program's name, for messages: mariadbd or mysqld. */
  get program(): string {
    return this.#init.template.program;
  }

  /**
   * Adds or overrides option-file settings (null removes one); they count from the next start. For tests
   * of what survives a restart (per-channel filters in the option file, a removed read-only setting).
   */
  configure(settings: Record<string, CnfValue>): void {
    this.#init.config = { ...this.#init.config, ...settings };
    this.#writeCnf();
  }

  /**
   * Switches read-only at run time, as the operator does for a primary (every sandbox server starts
   * read-only). MySQL: super_read_only (which implies read_only) and, when leaving it, read_only too.
   */
  async setReadOnly(readOnly: boolean): Promise<void> {
    const on = readOnly ? 'ON' : 'OFF';
    await this.sql(
      this.flavor === 'mysql'
        ? `SET GLOBAL super_read_only = ${on}${readOnly ? '' : ', GLOBAL read_only = OFF'}`
        : `SET GLOBAL read_only = ${on}`,
    );
  }

  /**
   * Copies the template datadir and picks a port (`preferredPort` is tried first, unchecked: when it is
   * taken, the first start moves to a free one). Called once by the sandbox before the first start.
   */
  async prepare(preferredPort?: number): Promise<void> {
    await mkdir(this.paths.tmpDir, { recursive: true });
    await this.#copyTemplate();
    this.#port = preferredPort ?? (await pickFreePort(this.host));
    this.#writeCnf();
  }

  async #copyTemplate(): Promise<void> {
    await execFileP('cp', ['-a', this.#init.template.dataDir, this.paths.dataDir], { timeout: 120_000 });
    // MySQL makes a new server_uuid when auto.cnf is missing; copies sharing one could not replicate.
    await rm(join(this.paths.dataDir, 'auto.cnf'), { force: true });
  }

  /** Offset of a rebuilt server's new server_id (sandbox ids stay far below it). */
  static readonly REBUILT_ID_OFFSET = 1000;

  /**
   * Replaces a stopped server's data with a fresh copy of the template, as an administrator re-clones a
   * member that holds transactions nobody else has: same name and port; no data, no GTIDs, (MySQL) a new
   * server_uuid, and a new server_id (+1000): with its old id it would skip, as its own, every transaction
   * it wrote before (replicate_same_server_id=OFF) when it receives them back. Start it afterwards.
   */
  async rebuild(): Promise<void> {
    if (this.#child || this.#startPromise) throw new Error(`${this.name}: stop it before rebuilding it`);
    await rm(this.paths.dataDir, { recursive: true, force: true });
    await this.#copyTemplate();
    this.serverId += SandboxServer.REBUILT_ID_OFFSET;
    this.#writeCnf();
  }

  #writeCnf(): void {
    writeFileSync(
      this.paths.cnf,
      renderServerCnf({
        files: this.#init.template,
        paths: this.paths,
        port: this.#port,
        serverId: this.serverId,
        gtidDomainId: this.gtidDomainId,
        slaveNetTimeout: this.#init.slaveNetTimeout,
        extra: this.#init.config,
      }),
    );
  }

  /** Starts the server and waits until an admin login over TCP runs `SELECT 1`. No-op when running. */
  start(): Promise<void> {
    if (this.#disposed) return Promise.reject(new Error(`sandbox server ${this.name} was destroyed`));
    if (this.#startPromise) return this.#startPromise;
    if (this.#child) return Promise.resolve();
    const p = this.#start().finally(() => {
      if (this.#startPromise === p) this.#startPromise = null;
    });
    this.#startPromise = p;
    return p;
  }

  async #start(): Promise<void> {
    const t0 = performance.now();
    const deadline = Date.now() + this.#init.startTimeoutMs;
    this.#starting = true;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#startOnce(deadline);
          break;
        } catch (e) {
          if (e instanceof PortInUseError && !this.#portFixed && attempt < START_ATTEMPTS) {
            const old = this.#port;
            this.#port = await pickFreePort(this.host);
            releasePort(old);
            this.#init.log(`${this.name}: port ${old} in use, retrying on ${this.#port}`);
            this.#writeCnf();
            continue;
          }
          throw e;
        }
      }
    } finally {
      this.#starting = false;
    }
    this.#portFixed = true;
    this.lastStartMs = Math.round(performance.now() - t0);
    this.#init.log(
      `${this.name}: ready on ${this.host}:${this.#port} (pid ${this.pid}, ${this.lastStartMs} ms)`,
    );
  }

  async #startOnce(deadline: number): Promise<void> {
    const logOffset = fileSize(this.paths.errorLog);
    const fd = openSync(this.paths.errorLog, 'a');
    let child: ChildProcess;
    try {
      const { command } = this.#init.template;
      // --defaults-file must be the server's first option; the registry also finds the process by it.
      child = spawn(command.file, [...command.args, `--defaults-file=${this.paths.cnf}`], {
        stdio: ['ignore', fd, fd],
        detached: false,
      });
    } finally {
      closeSync(fd);
    }
    // A forgotten sandbox must not keep its owner alive: the 'exit' hook kills the servers then.
    child.unref();
    this.#child = child;
    this.#expectExit = false;
    trackChild(child);
    const exited = new Promise<Exit>((resolve) => {
      const done = (x: Exit) => {
        if (child.pid !== undefined) untrackChild(child.pid);
        if (this.#child === child) {
          this.#child = null;
          this.#exited = null;
          this.#frozen = false;
          this.#dropConnection();
          this.#init.onPidChange();
          if (!this.#expectExit && !this.#starting)
            this.#init.log(
              `${this.name}: ${this.program} exited unexpectedly (${describeExit(x)}) on port ${this.#port}\n--- error log (last lines) ---\n${this.errorLogTail(30, logOffset)}`,
            );
        }
        resolve(x);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (error) => done({ code: null, signal: null, error }));
    });
    this.#exited = exited;
    this.#init.onPidChange();

    const state: { exit: Exit | null } = { exit: null };
    void exited.then((x) => (state.exit = x));
    const abandon = async (): Promise<void> => {
      this.#expectExit = true;
      child.kill('SIGKILL');
      await exited;
    };
    let lastError = '';
    for (;;) {
      if (state.exit) {
        const tail = this.errorLogTail(40, logOffset);
        const msg = `${this.name}: ${this.program} exited during start (${describeExit(state.exit)}) on port ${this.#port}`;
        if (PORT_IN_USE.test(tail)) throw new PortInUseError(msg, tail);
        throw new SandboxStartError(msg, tail);
      }
      if (Date.now() > deadline) {
        await abandon();
        throw new SandboxStartError(
          `${this.name}: no successful admin login on ${this.host}:${this.#port} within ${this.#init.startTimeoutMs} ms (last error: ${lastError})`,
          this.errorLogTail(40, logOffset),
        );
      }
      // A probe never outlives an exit: when the process dies while a login hangs (say, on a port some
      // other program accepted), the exit wins the race and is reported at once.
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        this.#probeLogin(),
        exited.then(() => null),
        new Promise<'deadline'>(
          (res) => (timer = setTimeout(() => res('deadline'), Math.max(0, deadline - Date.now()) + 1)),
        ),
      ]);
      clearTimeout(timer);
      if (r === null || r === 'deadline') continue;
      if (r.ok) {
        if (r.datadir === this.#realDataDir()) return;
        // Another server answered on this port: ours cannot have bound it and will fail; do not wait for that.
        await abandon();
        throw new PortInUseError(
          `${this.name}: another server (datadir ${r.datadir}) answers on port ${this.#port}`,
          this.errorLogTail(40, logOffset),
        );
      }
      lastError = r.error;
      await sleep(20);
    }
  }

  /** One admin login + `SELECT @@datadir`, bounded; never rejects. */
  async #probeLogin(): Promise<{ ok: true; datadir: string } | { ok: false; error: string }> {
    try {
      const conn = await this.connect(ADMIN_USER, ADMIN_PASSWORD, { connectTimeout: 2000 });
      try {
        const [rows] = await conn.query({ sql: 'SELECT @@datadir AS d', timeout: 2000 });
        const d = String((rows as Row[])[0]?.d ?? '');
        return { ok: true, datadir: d.replace(/\/+$/, '') };
      } finally {
        conn.destroy();
      }
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  #realDataDir(): string {
    try {
      return realpathSync(this.paths.dataDir).replace(/\/+$/, '');
    } catch {
      return this.paths.dataDir;
    }
  }

  /**
   * SIGSTOP: alive but frozen (a hung host, a stalled VM): its sockets stay open and nothing answers until
   * thaw(). stop() and kill9() thaw it as they signal it, so a frozen server still goes away.
   */
  freeze(): void {
    if (!this.#child) throw new Error(`${this.name}: not running, nothing to freeze`);
    this.#child.kill('SIGSTOP');
    this.#frozen = true;
  }

  /** SIGCONT after freeze(); no-op when not frozen. */
  thaw(): void {
    if (this.#frozen) this.#child?.kill('SIGCONT');
    this.#frozen = false;
  }

  /** SIGTERM, then wait for the process to exit (SIGKILL after the stop timeout). No-op when stopped. */
  async stop(): Promise<void> {
    await this.#signalAndWait('SIGTERM', this.#init.stopTimeoutMs);
  }

  /** SIGKILL, then wait for the process to exit. No-op when stopped. */
  async kill9(): Promise<void> {
    await this.#signalAndWait('SIGKILL', 10_000);
  }

  /** stop() then start(): same port, same data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async #signalAndWait(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    this.#expectExit = true;
    this.#dropConnection();
    child.kill(signal);
    // A stopped process keeps SIGTERM pending until it runs again.
    this.thaw();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#init.log(`${this.name}: no exit ${timeoutMs} ms after ${signal}; sending SIGKILL`);
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** host/port/user/password for this server (admin account unless told otherwise). */
  connectionOptions(
    user = ADMIN_USER,
    password = ADMIN_PASSWORD,
  ): { host: string; port: number; user: string; password: string } {
    return { host: this.host, port: this.#port, user, password };
  }

  /** A new mysql2/promise connection over TCP; the caller ends it. */
  connect(user: string, password: string, extra: ConnectionOptions = {}): Promise<Connection> {
    const tls = this.#init.tls;
    return createConnection({
      ...this.connectionOptions(user, password),
      connectTimeout: 5000,
      ...(tls ? { ssl: { ca: readFileSync(tls.ca, 'utf8') } } : {}),
      ...extra,
    });
  }

  /** The certificate files it serves TLS with, when it does. */
  get tls(): SandboxTls | undefined {
    return this.#init.tls;
  }

  /** A new admin connection (user admin over TCP); the caller ends it. */
  admin(extra: ConnectionOptions = {}): Promise<Connection> {
    return this.connect(ADMIN_USER, ADMIN_PASSWORD, extra);
  }

  /**
   * Runs SQL as admin on a connection kept per server (multiple statements allowed) and returns the rows of
   * the last result set ([] when there is none). The connection is dropped on stop/kill and after a fatal error.
   */
  async sql(text: string, values?: unknown[]): Promise<Row[]> {
    if (!this.#conn) {
      const p = this.admin({ multipleStatements: true });
      this.#conn = p;
      p.then(
        (c) => c.on('error', () => this.#conn === p && (this.#conn = null)),
        () => this.#conn === p && (this.#conn = null),
      );
    }
    const p = this.#conn;
    const conn = await p;
    try {
      const [result] = await conn.query(text, values);
      return rowsOf(result);
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal && this.#conn === p) {
        this.#conn = null;
        conn.destroy();
      }
      throw e;
    }
  }

  /** The first column of the first row of sql(text), or null. */
  async scalar(text: string, values?: unknown[]): Promise<unknown> {
    const rows = await this.sql(text, values);
    const first = rows[0];
    return first ? (Object.values(first)[0] ?? null) : null;
  }

  #dropConnection(): void {
    const p = this.#conn;
    this.#conn = null;
    // destroy() would leave a query in flight pending forever; the server's exit closes the socket, which
    // rejects it. end() queues a QUIT behind it instead: MySQL's shutdown waits about 2 s for an idle
    // client that stays connected. Destroy later only as a safety net for a socket that stays open.
    p?.then((c) => {
      c.end().catch(() => {});
      setTimeout(() => c.destroy(), 2000).unref();
    }).catch(() => {});
  }

  /** Resident memory of the running process in bytes (Linux), or null. */
  rssBytes(): number | null {
    const pid = this.pid;
    if (pid === null) return null;
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m?.[1] ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** The last `lines` lines of the error log (from byte `fromOffset` when given and non-empty there). */
  errorLogTail(lines = 40, fromOffset = 0): string {
    let text = '';
    try {
      text = readFileSync(this.paths.errorLog, 'utf8');
    } catch {
      return '';
    }
    const fresh = Buffer.from(text).subarray(fromOffset).toString('utf8');
    const chosen = fresh.trim() !== '' ? fresh : text;
    return chosen.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Kills the process (SIGKILL) and stops accepting calls; the sandbox removes the directory. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await this.kill9();
    if (this.#port) releasePort(this.#port);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function describeExit(x: Exit): string {
  if (x.error) return `spawn error: ${x.error.message}`;
  return x.signal ? `signal ${x.signal}` : `exit code ${x.code}`;
}

/** Rows of the last result set of a mysql2 query result (single or multiple statements). */
function rowsOf(result: unknown): Row[] {
  if (!Array.isArray(result)) return [];
  const isRowSet = (x: unknown) => Array.isArray(x);
  const isHeader = (x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && x.constructor?.name === 'ResultSetHeader';
  if (result.length > 0 && result.every((r) => isRowSet(r) || isHeader(r))) {
    for (let i = result.length - 1; i >= 0; i--) if (isRowSet(result[i])) return result[i] as Row[];
    return [];
  }
  return result as Row[];
}
