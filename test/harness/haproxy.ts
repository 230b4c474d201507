// A real HAProxy (Debian's /usr/sbin/haproxy) in front of sandbox servers, for the routing hook's tests.
//   const h = await startHaproxy({ backends: [{ writer: 'w-g-primary', readers: 'w-g-replicas' }] });
//   mysql → 127.0.0.1:h.writerPort('w-g-primary'); HAPROXY_RUNTIME=h.runtime; … await h.stop();
// The configuration is the sample's (deploy/routing/haproxy/haproxy.cfg.example): its `defaults` and its
// first group's writer and reader backends, taken from the file, so the tests run what users copy; only the
// global section (the runtime API sockets in a temp dir, no user/chroot/syslog) and the frontends (random
// free ports on 127.0.0.1) are made here. HAProxy runs in the foreground (-db); it is killed and its
// directory removed by stop(), and by the sandbox's exit and signal hooks when a test run ends without it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild, trackDir, untrackChild, untrackDir } from '../../src/sandbox/cleanup.js';
import { pickFreePort, releasePort } from '../../src/sandbox/ports.js';

export const SAMPLE_CONFIG = fileURLToPath(
  new URL('../../deploy/routing/haproxy/haproxy.cfg.example', import.meta.url),
);
export const HOOK_SCRIPT = fileURLToPath(
  new URL('../../deploy/routing/haproxy/tributary-haproxy-hook.mjs', import.meta.url),
);

const INSTALL_HINT = 'haproxy not found: install it with `apt-get install -y haproxy` (.ci/run does)';
const START_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

/** The haproxy program: /usr/sbin/haproxy, else `haproxy` on PATH; throws one line saying how to install it. */
export function haproxyBinary(): string {
  const candidates = [
    '/usr/sbin/haproxy',
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'haproxy')),
  ];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) throw new Error(INSTALL_HINT);
  return found;
}

export interface HaproxyBackends {
  /** The writer backend's name (`<topology>-<group>-primary`). */
  writer: string;
  /** The reader backend's name (`<topology>-<group>-replicas`). */
  readers: string;
}

export interface HaproxyOptions {
  backends: HaproxyBackends[];
  /** Reader slots per reader backend (r1..rN). Default 8, as in the sample. */
  slots?: number;
}

export type SlotState = 'ready' | 'maint' | 'drain';

export interface ServerState {
  name: string;
  addr: string;
  port: number;
  state: SlotState;
}

export interface Haproxy {
  /** The 127.0.0.1 port of a writer backend's frontend. */
  writerPort(writerBackend: string): number;
  /** The 127.0.0.1 port of a reader backend's frontend. */
  readerPort(readersBackend: string): number;
  /** HAPROXY_RUNTIME for the hook: the runtime API's unix socket. */
  runtime: string;
  /** The same runtime API on 127.0.0.1:PORT (the hook's host:port form). */
  runtimeTcp: string;
  /** A runtime API socket at HAProxy's default level, `operator`: it may look but not `set server`. */
  runtimeOperator: string;
  /** One runtime API command; resolves with HAProxy's answer text. */
  command(cmd: string): Promise<string>;
  /** A backend's slots from `show servers state <backend>`, in server id order. */
  serverStates(backend: string): Promise<ServerState[]>;
  /** What haproxy wrote (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

// ---- the configuration -----------------------------------------------------------------------------------

/** Top-level sections of a configuration: `keyword name` → body lines (comments dropped). */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let body: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || /^\s*#/.test(line)) continue;
    if (!/^\s/.test(line)) out.set(line.trim(), (body = []));
    else body?.push(line);
  }
  return out;
}

/** The sample's defaults and its first group's writer and reader backend bodies. */
function sampleParts(slots: number): { defaults: string[]; writer: string[]; readers: string[] } {
  const parts = sections(readFileSync(SAMPLE_CONFIG, 'utf8'));
  const pick = (re: RegExp) => {
    const key = [...parts.keys()].find((k) => re.test(k));
    if (!key) throw new Error(`${SAMPLE_CONFIG}: no section matching ${re}`);
    return parts.get(key)!;
  };
  const readers = pick(/^backend \S+-replicas$/).map((l) =>
    l.replace(/server-template (\S+) 1-\d+/, `server-template $1 1-${slots}`),
  );
  if (!readers.some((l) => l.includes(`1-${slots}`)))
    throw new Error(`${SAMPLE_CONFIG}: the reader backend has no server-template line`);
  return { defaults: pick(/^defaults$/), writer: pick(/^backend \S+-primary$/), readers };
}

interface Ports {
  runtimeTcp: number;
  writer: Map<string, number>;
  readers: Map<string, number>;
}

function renderConfig(dir: string, opts: HaproxyOptions, ports: Ports): string {
  const sample = sampleParts(opts.slots ?? 8);
  const lines = [
    'global',
    `    stats socket ${join(dir, 'admin.sock')} mode 600 level admin`,
    `    stats socket ipv4@127.0.0.1:${ports.runtimeTcp} level admin`,
    `    stats socket ${join(dir, 'operator.sock')} mode 600 level operator`,
    '    stats timeout 30s',
    '',
    'defaults',
    ...sample.defaults,
  ];
  for (const b of opts.backends)
    lines.push(
      '',
      `frontend ${b.writer}`,
      `    bind 127.0.0.1:${ports.writer.get(b.writer)}`,
      `    default_backend ${b.writer}`,
      `backend ${b.writer}`,
      ...sample.writer,
      `frontend ${b.readers}`,
      `    bind 127.0.0.1:${ports.readers.get(b.readers)}`,
      `    default_backend ${b.readers}`,
      `backend ${b.readers}`,
      ...sample.readers,
    );
  return lines.join('\n') + '\n';
}

// ---- the runtime API -------------------------------------------------------------------------------------

/** One command on its own connection; HAProxy answers and closes. */
export function runtimeCommand(socketPath: string, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`HAProxy runtime API did not answer "${cmd}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(`${cmd}\n`));
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/** Parses `show servers state <backend>` (format 1) by its header line. */
export function parseServersState(answer: string, backend: string): ServerState[] {
  const lines = answer.split('\n').filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== '1' || !lines[1]?.startsWith('#'))
    throw new Error(`show servers state ${backend}: ${lines[0] ?? '(empty answer)'}`);
  const header = lines[1].slice(1).trim().split(/\s+/);
  return lines
    .slice(2)
    .map((l) => l.trim().split(/\s+/))
    .map((row) => (name: string) => row[header.indexOf(name)] ?? '')
    .filter((col) => col('be_name') === backend)
    .sort((a, b) => Number(a('srv_id')) - Number(b('srv_id')))
    .map((col) => {
      const admin = Number(col('srv_admin_state'));
      // 0x23: forced, inherited or DNS maintenance; 0x04 (started `disabled`) stays set once ready.
      const state: SlotState = admin & 0x23 ? 'maint' : admin & 0x18 ? 'drain' : 'ready';
      return { name: col('srv_name'), addr: col('srv_addr'), port: Number(col('srv_port')), state };
    });
}

// ---- the process -----------------------------------------------------------------------------------------

/** Starts HAProxy with the sample's backends for `opts.backends`; resolves once its runtime API answers. */
export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
  const bin = haproxyBinary();
  const names = opts.backends.flatMap((b) => [b.writer, b.readers]);
  if (new Set(names).size !== names.length)
    throw new Error(`backend names must be unique: ${names.join(', ')}`);
  // A port picked free can be taken by another test's server before HAProxy binds it: such a start fails
  // at once ("cannot bind socket"), and the next attempt picks other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, opts);
    } catch (e) {
      if (attempt === START_ATTEMPTS || !/cannot bind|Address already in use/i.test((e as Error).message))
        throw e;
    }
  }
}

async function startOnce(bin: string, opts: HaproxyOptions): Promise<Haproxy> {
  const dir = mkdtempSync(join(process.env.TRIBUTARY_SANDBOX_ROOT ?? tmpdir(), 'haproxy-'));
  trackDir(dir);
  const pick = () => pickFreePort('127.0.0.1');
  const ports: Ports = { runtimeTcp: await pick(), writer: new Map(), readers: new Map() };
  for (const b of opts.backends) {
    ports.writer.set(b.writer, await pick());
    ports.readers.set(b.readers, await pick());
  }
  const allPorts = [ports.runtimeTcp, ...ports.writer.values(), ...ports.readers.values()];
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, renderConfig(dir, opts, ports));
  const socketPath = join(dir, 'admin.sock');

  const child: ChildProcess = spawn(bin, ['-f', cfg, '-db'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      resolve();
    }),
  );

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exitCode === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    if (child.pid !== undefined) untrackChild(child.pid);
    rmSync(dir, { recursive: true, force: true });
    untrackDir(dir);
    for (const p of allPorts) releasePort(p);
  };

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exitCode !== undefined)
        throw new Error(`haproxy exited (${exitCode}) before it was ready: ${output}`);
      const answer = await runtimeCommand(socketPath, 'show info', 1000).catch(() => '');
      if (answer.startsWith('Name: HAProxy')) break;
      if (Date.now() > deadline)
        throw new Error(`haproxy's runtime API did not answer within ${START_TIMEOUT_MS} ms: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const port = (map: Map<string, number>, name: string) => {
    const p = map.get(name);
    if (p === undefined) throw new Error(`no HAProxy backend ${name}: ${[...map.keys()].join(', ')}`);
    return p;
  };
  return {
    writerPort: (name) => port(ports.writer, name),
    readerPort: (name) => port(ports.readers, name),
    runtime: socketPath,
    runtimeTcp: `127.0.0.1:${ports.runtimeTcp}`,
    runtimeOperator: join(dir, 'operator.sock'),
    command: (cmd) => runtimeCommand(socketPath, cmd),
    serverStates: async (backend) =>
      parseServersState(await runtimeCommand(socketPath, `show servers state ${backend}`), backend),
    log: () => output,
    stop,
  };
}
