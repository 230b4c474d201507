// A set of local MariaDB (10.11 or 11.8) or MySQL servers in one temporary directory: for `tributary demo`,
// the integration tests and the benchmarks.
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SLAVE_NET_TIMEOUT, SANDBOX_DIR_PREFIX, SANDBOX_ROOT_ENV } from './constants.js';
import { trackDir, untrackDir, writeRegistry, type Registry } from './cleanup.js';
import {
  noTlsSettings,
  sandboxFamily,
  tlsSettings,
  type CnfValue,
  type SandboxFlavor,
  type SandboxTls,
} from './config.js';
import { SandboxServer } from './server.js';
import { ensureTemplate, type TemplateInfo } from './template.js';

export interface SandboxOptions {
  /**
   * mariadb (10.11, the host's mariadbd), mariadb11 (MariaDB 11.8 from its root folder) or mysql (MySQL 9.7
   * from its root folder). Default mariadb.
   */
  flavor?: SandboxFlavor;
  /** Parent directory; the sandbox makes its own fresh directory in it. Default $TRIBUTARY_SANDBOX_ROOT or os.tmpdir(). */
  baseDir?: string;
  /** Number of servers, named s1…sN (ignored when `names` is given). Default 0 when `names` is given, else 1. */
  count?: number;
  /** Server names (letters, digits, `_`, `-`; unique). */
  names?: string[];
  /** Progress messages (template build, starts, unexpected exits). Default: silent. */
  log?: (msg: string) => void;
  /** Server id (and MariaDB GTID domain id) of the first server; the next get +1 each. Default 1. */
  firstServerId?: number;
  /** `slave_net_timeout` / `replica_net_timeout` in seconds. Default 4 (fast failure detection). */
  slaveNetTimeout?: number;
  /**
   * Extra option-file settings for every server (null removes a default one). Every server starts
   * read-only (MariaDB read_only=ON, MySQL super_read_only=ON) and with performance_schema OFF.
   */
  config?: Record<string, CnfValue>;
  /**
   * Serve TLS with these certificate files (ssl_ca/ssl_cert/ssl_key) and, unless told otherwise, refuse
   * plaintext logins (require_secure_transport=ON); the sandbox's own logins then verify the CA.
   */
  tls?: SandboxTls;
  /** Start the servers (in parallel) before returning. Default true. */
  start?: boolean;
  /** Bound on one start: spawn → admin `SELECT 1`. Default 30 s. */
  startTimeoutMs?: number;
  /** Bound on a SIGTERM stop before SIGKILL. Default 60 s. */
  stopTimeoutMs?: number;
  /** Parent directory of the template cache (default $TRIBUTARY_TEMPLATE_CACHE or os.tmpdir()). */
  templateCacheDir?: string;
}

export interface AddOptions {
  /** Extra my.cnf settings for this server only (on top of the sandbox's). */
  config?: Record<string, CnfValue>;
  /** Start it before returning. Default true. */
  start?: boolean;
  /** Port to try first; when the server finds it taken, the first start moves to a free random port. */
  port?: number;
  /** TLS of this server instead of the sandbox's; null: none (a server that cannot do TLS, noTlsSettings). */
  tls?: SandboxTls | null;
}

export interface Sandbox {
  /** The sandbox's own directory (removed by destroy()). */
  readonly dir: string;
  readonly template: TemplateInfo;
  /** The servers, in creation order. */
  readonly servers: SandboxServer[];
  /** The server with this name; throws when there is none. */
  server(name: string): SandboxServer;
  /** Creates (and by default starts) one more server with the next server id (and MariaDB domain id). */
  add(name: string, opts?: AddOptions): Promise<SandboxServer>;
  /** Starts every stopped server, in parallel. */
  startAll(): Promise<void>;
  /** SIGTERM to every server, in parallel; waits for all to exit. */
  stopAll(): Promise<void>;
  /** SIGKILL every server, wait for them, remove the directory. Idempotent; never throws for a dead server. */
  destroy(): Promise<void>;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Creates a sandbox of local servers of one flavor (template datadir copied per server). */
export async function createSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const names = opts.names ?? Array.from({ length: opts.count ?? 1 }, (_, i) => `s${i + 1}`);
  for (const n of names) checkName(n);
  if (new Set(names).size !== names.length)
    throw new Error(`sandbox server names must be unique: ${names.join(', ')}`);
  const log = opts.log ?? (() => {});
  const template = await ensureTemplate({
    flavor: opts.flavor ?? 'mariadb',
    cacheDir: opts.templateCacheDir,
    log,
  });
  const baseDir = opts.baseDir ?? process.env[SANDBOX_ROOT_ENV] ?? tmpdir();
  await mkdir(baseDir, { recursive: true });
  const dir = mkdtempSync(join(baseDir, SANDBOX_DIR_PREFIX));
  trackDir(dir);
  const sandbox = new SandboxImpl(dir, template, opts, log);
  sandbox.writeRegistry();
  try {
    await Promise.all(names.map((n) => sandbox.add(n, { start: false })));
    if (opts.start !== false) await sandbox.startAll();
  } catch (e) {
    await sandbox.destroy().catch(() => {});
    throw e;
  }
  return sandbox;
}

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new Error(`invalid sandbox server name ${JSON.stringify(name)}: use 1-64 letters, digits, _ or -`);
}

class SandboxImpl implements Sandbox {
  readonly servers: SandboxServer[] = [];
  #nextId: number;
  #destroyed = false;
  readonly #createdAt = new Date().toISOString();

  constructor(
    readonly dir: string,
    readonly template: TemplateInfo,
    private readonly opts: SandboxOptions,
    private readonly log: (msg: string) => void,
  ) {
    this.#nextId = opts.firstServerId ?? 1;
  }

  server(name: string): SandboxServer {
    const s = this.servers.find((x) => x.name === name);
    if (!s)
      throw new Error(
        `no sandbox server named ${name} (have: ${this.servers.map((x) => x.name).join(', ')})`,
      );
    return s;
  }

  async add(name: string, opts: AddOptions = {}): Promise<SandboxServer> {
    if (this.#destroyed) throw new Error('sandbox was destroyed');
    checkName(name);
    if (this.servers.some((s) => s.name === name)) throw new Error(`sandbox server ${name} exists already`);
    const id = this.#nextId++;
    const tls = opts.tls === undefined ? this.opts.tls : (opts.tls ?? undefined);
    const server = new SandboxServer({
      name,
      dir: join(this.dir, name),
      serverId: id,
      gtidDomainId: sandboxFamily(this.template.flavor) === 'mariadb' ? id : null,
      template: this.template,
      slaveNetTimeout: this.opts.slaveNetTimeout ?? DEFAULT_SLAVE_NET_TIMEOUT,
      config: {
        ...(tls ? tlsSettings(tls) : opts.tls === null ? noTlsSettings(this.template.flavor) : {}),
        ...this.opts.config,
        ...opts.config,
      },
      ...(tls ? { tls } : {}),
      startTimeoutMs: this.opts.startTimeoutMs ?? 30_000,
      stopTimeoutMs: this.opts.stopTimeoutMs ?? 60_000,
      log: this.log,
      onPidChange: () => this.writeRegistry(),
    });
    this.servers.push(server);
    await server.prepare(opts.port);
    if (opts.start !== false) await server.start();
    return server;
  }

  async startAll(): Promise<void> {
    const results = await Promise.allSettled(this.servers.map((s) => s.start()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 1) throw failed[0]!.reason;
    if (failed.length > 1)
      throw new AggregateError(
        failed.map((f) => f.reason),
        `${failed.length} sandbox servers failed to start: ${failed.map((f) => (f.reason as Error).message.split('\n')[0]).join('; ')}`,
      );
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.allSettled(this.servers.map((s) => s.dispose()));
    try {
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    } catch {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
    untrackDir(this.dir);
  }

  writeRegistry(): void {
    if (this.#destroyed) return;
    const reg: Registry = {
      ownerPid: process.pid,
      createdAt: this.#createdAt,
      servers: this.servers.flatMap((s) =>
        s.pid === null ? [] : [{ name: s.name, pid: s.pid, cnf: s.paths.cnf }],
      ),
    };
    try {
      writeRegistry(this.dir, reg);
    } catch (e) {
      this.log(`cannot write the sandbox registry in ${this.dir}: ${(e as Error).message}`);
    }
  }
}
