// The HAProxy routing hook (deploy/routing/haproxy/) against a real HAProxy in front of real servers: the
// hook is run as the operator runs it (a shell command, one JSON document on stdin, HAPROXY_RUNTIME in the
// environment), and a MySQL client connecting through HAProxy's ports says where it landed (@@port).
import { spawn, spawnSync } from 'node:child_process';
import { createConnection, type Connection } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routingHook } from '../../src/execute/routing-hook.js';
import { ADMIN_PASSWORD, ADMIN_USER, type SandboxServer } from '../../src/sandbox/index.js';
import { FLAVORS } from '../harness/flavors.js';
import {
  haproxyBinary,
  HOOK_SCRIPT,
  SAMPLE_CONFIG,
  startHaproxy,
  type Haproxy,
  type ServerState,
} from '../harness/haproxy.js';
import { useSandbox } from '../harness/sandbox.js';

const TOPOLOGY = 'warehouse';
const names = (group: string) => ({
  writer: `${TOPOLOGY}-${group}-primary`,
  readers: `${TOPOLOGY}-${group}-replicas`,
});
/** Reader slots per reader backend: small, so "more readers than slots" needs only three servers. */
const SLOTS = 2;

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the hook as the operator does: a shell command (`HAPROXY_RUNTIME=… node …/tributary-haproxy-hook.mjs`)
 * given the document on stdin. `runtime` null: the variable is not set at all.
 */
function runHook(runtime: string | null, input: unknown): Promise<HookRun> {
  return runCommand(runtime, '', typeof input === 'string' ? input : JSON.stringify(input));
}

/** Runs `--serve` as a persistent hook is run: the lines on its stdin, then the end of its input. */
function runServe(runtime: string, lines: string[]): Promise<HookRun> {
  return runCommand(runtime, ' --serve', lines.map((l) => `${l}\n`).join(''));
}

function runCommand(runtime: string | null, args: string, stdin: string): Promise<HookRun> {
  const env = { ...process.env };
  delete env.HAPROXY_RUNTIME;
  const command = `${runtime === null ? '' : `HAPROXY_RUNTIME=${q(runtime)} `}${q(process.execPath)} ${q(HOOK_SCRIPT)}${args}`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

interface Member {
  name: string;
  host: string;
  port: number;
  ready: boolean;
  addresses: string[];
}

const member = (s: SandboxServer, ready = true): Member => ({
  name: s.name,
  host: s.host,
  port: s.port,
  ready,
  addresses: [s.host],
});

/** The document the operator gives the hook (docs: the routing contract). */
const doc = (group: string, action: 'route' | 'drain' | 'readers', members: Member[]) => ({
  topology: { namespace: 'default', name: TOPOLOGY },
  group,
  action,
  members,
  failover: null,
  ...names(group),
});

/** A failed run: exit 1, nothing on stdout, exactly one line on stderr (returned). */
function failedWithOneLine(r: HookRun): string {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tributary-haproxy-hook: \S/);
  return lines[0]!;
}

const slot = (name: string, s: { port: number } | null, state: ServerState['state']) => ({
  name,
  addr: '127.0.0.1',
  port: s ? s.port : 1,
  state,
});

describe('the sample HAProxy configuration', () => {
  it('is accepted by haproxy -c, with a writer and a reader backend per group', () => {
    const r = spawnSync(haproxyBinary(), ['-c', '-f', SAMPLE_CONFIG], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
  });
});

describe('tributary-haproxy-hook: bad input changes nothing', () => {
  const group = 'bad';
  let hp: Haproxy;
  beforeAll(async () => {
    hp = await startHaproxy({ backends: [names(group)], slots: SLOTS });
  });
  afterAll(async () => {
    await hp?.stop();
  });
  const target = { name: 'a-0', host: '127.0.0.1', port: 4000, ready: true, addresses: ['127.0.0.1'] };

  it('routes a well-formed document (the state the bad ones must leave alone)', async () => {
    const r = await runHook(hp.runtime, doc(group, 'route', [target]));
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(
      /^warehouse-bad-primary\/writer: 127\.0\.0\.1:4000 ready \(was 127\.0\.0\.1:1 maint/,
    );
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', target, 'ready')]);
  });

  const good = doc(group, 'route', [{ ...target, port: 4001 }]);
  const cases: [string, unknown, RegExp][] = [
    ['not JSON', '{"action": "route",', /input is not JSON/],
    ['an array', [good], /expected one JSON object/],
    ['an unknown action', { ...good, action: 'promote' }, /action: expected route, drain or readers/],
    ['a route with two members', { ...good, members: [target, target] }, /route takes exactly one member/],
    ['a port out of range', { ...good, members: [{ ...target, port: 70000 }] }, /members\[0\]\.port \(a-0\)/],
    ['a port as a string', { ...good, members: [{ ...target, port: '4001' }] }, /members\[0\]\.port \(a-0\)/],
    ['no ready', { ...good, members: [{ ...target, ready: undefined }] }, /members\[0\]\.ready \(a-0\)/],
    [
      'an address that is no IP',
      { ...good, members: [{ ...target, addresses: ['127.0.0.1; shutdown sessions'] }] },
      /members\[0\]\.addresses \(a-0\)/,
    ],
    [
      'a DNS name with no address',
      { ...good, members: [{ ...target, host: 'db.example', addresses: [] }] },
      /no IPv4 address, and host "db\.example" is not an IP address/,
    ],
    [
      'a backend name carrying a second command',
      { ...good, writer: 'warehouse-bad-primary; set server warehouse-bad-primary/writer state maint' },
      /^tributary-haproxy-hook: writer: expected a backend name/,
    ],
    ['no members', { ...good, members: undefined }, /members: expected an array/],
  ];
  it.each(cases)('%s: exit 1, one line on stderr', async (_, input, message) => {
    const line = failedWithOneLine(await runHook(hp.runtime, input));
    expect(line).toMatch(message);
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', target, 'ready')]);
  });

  it('an unknown backend: exit 1, one line naming it', async () => {
    const line = failedWithOneLine(await runHook(hp.runtime, { ...good, writer: 'warehouse-nope-primary' }));
    expect(line).toContain('warehouse-nope-primary');
    const readers = failedWithOneLine(
      await runHook(hp.runtime, { ...doc(group, 'readers', []), readers: 'warehouse-nope-replicas' }),
    );
    expect(readers).toContain('warehouse-nope-replicas');
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', target, 'ready')]);
  });

  it('a writer backend without a `writer` slot: exit 1, one line', async () => {
    const line = failedWithOneLine(await runHook(hp.runtime, { ...good, writer: names(group).readers }));
    expect(line).toContain('has no server named writer');
    expect((await hp.serverStates(names(group).readers)).map((s) => s.state)).toEqual(['maint', 'maint']);
  });

  it('a runtime API that refuses the command (level operator): exit 1, one line with its answer', async () => {
    const line = failedWithOneLine(await runHook(hp.runtimeOperator, good));
    expect(line).toContain(
      'HAProxy refused "set server warehouse-bad-primary/writer state maint": Permission denied (the runtime API socket needs `level admin`)',
    );
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', target, 'ready')]);
  });

  it('no runtime API, or one that is not there: exit 1, one line', async () => {
    expect(failedWithOneLine(await runHook(null, good))).toContain('HAPROXY_RUNTIME is not set');
    expect(failedWithOneLine(await runHook(`${hp.runtime}.missing`, good))).toMatch(/ENOENT/);
    expect(failedWithOneLine(await runHook('no-port-here', good))).toMatch(
      /expected a unix socket path or host:port/,
    );
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', target, 'ready')]);
  });

  it('--serve: one answer line per input line; a failure answers ok:false and it keeps serving', async () => {
    const lines = [
      JSON.stringify({ ...good, writer: 'warehouse-nope-primary' }),
      '{"action": "route",',
      JSON.stringify(good),
    ];
    const r = await runServe(hp.runtime, lines);
    const answers = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { ok: boolean; error?: string });
    expect(answers).toHaveLength(3);
    expect(answers[0]).toMatchObject({ ok: false });
    expect(answers[0]!.error).toMatch(/^tributary-haproxy-hook: .*warehouse-nope-primary/);
    expect(answers[1]).toMatchObject({ ok: false, error: expect.stringMatching(/input is not JSON/) });
    expect(answers[2]).toEqual({ ok: true });
    // The change line comes before its answer; it ends with its input, exit 0.
    expect(r.stdout).toMatch(/warehouse-bad-primary\/writer: 127\.0\.0\.1:4001 ready .*\n\{"ok":true\}\n$/);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(await hp.serverStates(names(group).writer)).toEqual([slot('writer', { port: 4001 }, 'ready')]);
  });
});

describe.each(FLAVORS)('tributary-haproxy-hook through HAProxy on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a-0', 'a-1', 'a-2'] });
  const groups = ['route', 'drain', 'readers', 'runner', 'serve'];
  let hp: Haproxy;
  beforeAll(async () => {
    hp = await startHaproxy({ backends: groups.map(names), slots: SLOTS });
  });
  afterAll(async () => {
    await hp?.stop();
  });

  const open = new Set<Connection>();
  afterEach(() => {
    for (const c of open) c.destroy();
    open.clear();
  });

  /** A client through HAProxy (the admin login: what matters is where it lands). */
  async function connect(port: number): Promise<Connection> {
    const c = await createConnection({
      host: '127.0.0.1',
      port,
      user: ADMIN_USER,
      password: ADMIN_PASSWORD,
      connectTimeout: 10_000,
    });
    c.on('error', () => undefined);
    open.add(c);
    return c;
  }
  const landedOn = async (c: Connection) => {
    const [rows] = await c.query('SELECT @@port AS port');
    return Number((rows as { port: number }[])[0]!.port);
  };
  /** Resolves with the error code when the server side (HAProxy) closes the connection. */
  const closed = (c: Connection) =>
    new Promise<string>((resolve) => c.once('error', (e: NodeJS.ErrnoException) => resolve(String(e.code))));
  /** A new connection through `port` fails (HAProxy has no server for it) while `alive` answers directly. */
  async function refused(port: number, alive: SandboxServer[]) {
    await expect(connect(port)).rejects.toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' });
    for (const s of alive) expect(await s.scalar('SELECT 1')).toBe(1);
  }

  it('route: the writer port reaches the routed server; routing elsewhere cuts the old sessions', async () => {
    const [a0, a1] = [sb().server('a-0'), sb().server('a-1')];
    const { writer } = names('route');
    const port = hp.writerPort(writer);
    // Nothing routed yet: the slot starts in maintenance.
    await refused(port, [a0]);

    const first = await runHook(hp.runtime, doc('route', 'route', [member(a0)]));
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    expect(await hp.serverStates(writer)).toEqual([slot('writer', a0, 'ready')]);
    const c0 = await connect(port);
    expect(await landedOn(c0)).toBe(a0.port);

    // The same step again (the operator repeats steps after a crash): nothing changes, the session lives.
    const again = await runHook(hp.runtime, doc('route', 'route', [member(a0)]));
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toContain('nothing changed');
    expect(await landedOn(c0)).toBe(a0.port);

    // To a-1, through the runtime API's TCP form: a-0's session is cut, new ones reach a-1.
    const lost = closed(c0);
    const moved = await runHook(hp.runtimeTcp, doc('route', 'route', [member(a1)]));
    expect(moved).toMatchObject({ code: 0, stderr: '' });
    expect(moved.stdout).toContain(
      `127.0.0.1:${a1.port} ready (was 127.0.0.1:${a0.port} ready, sessions cut)`,
    );
    expect(await lost).toBe('PROTOCOL_CONNECTION_LOST');
    await expect(c0.query('SELECT 1')).rejects.toThrow();
    const c1 = await connect(port);
    expect(await landedOn(c1)).toBe(a1.port);
    expect(await a0.scalar('SELECT 1')).toBe(1);

    // Routed but not ready (not writable, or unreachable): no new connection gets through.
    const notReady = await runHook(hp.runtime, doc('route', 'route', [member(a1, false)]));
    expect(notReady).toMatchObject({ code: 0, stderr: '' });
    expect(await hp.serverStates(writer)).toEqual([slot('writer', a1, 'maint')]);
    await refused(port, [a1]);
  });

  it('drain: new connections to the writer port fail and an open one through it is closed', async () => {
    const a0 = sb().server('a-0');
    const { writer } = names('drain');
    const port = hp.writerPort(writer);
    expect((await runHook(hp.runtime, doc('drain', 'route', [member(a0)]))).code).toBe(0);
    const c = await connect(port);
    expect(await landedOn(c)).toBe(a0.port);

    const lost = closed(c);
    const r = await runHook(hp.runtime, doc('drain', 'drain', [member(a0, false)]));
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      `${writer}/writer: maint, sessions cut (was 127.0.0.1:${a0.port} ready) (drain a-0)`,
    );
    expect(await lost).toBe('PROTOCOL_CONNECTION_LOST');
    await expect(c.query('INSERT INTO mysql.nothing VALUES (1)')).rejects.toThrow();
    expect(await hp.serverStates(writer)).toEqual([slot('writer', a0, 'maint')]);
    await refused(port, [a0]);

    // Repeated: still drained, still succeeds.
    expect(await runHook(hp.runtime, doc('drain', 'drain', [member(a0, false)]))).toMatchObject({ code: 0 });
    await refused(port, [a0]);
  });

  it('readers: connections land on every reader; one leaving is cut, the others keep their sessions', async () => {
    const [a0, a1, a2] = ['a-0', 'a-1', 'a-2'].map((n) => sb().server(n)) as [
      SandboxServer,
      SandboxServer,
      SandboxServer,
    ];
    const { readers } = names('readers');
    const port = hp.readerPort(readers);

    const two = await runHook(hp.runtime, doc('readers', 'readers', [member(a1), member(a2)]));
    expect(two).toMatchObject({ code: 0, stderr: '' });
    expect(two.stdout.trim().split('\n')).toHaveLength(2);
    expect(await hp.serverStates(readers)).toEqual([slot('r1', a1, 'ready'), slot('r2', a2, 'ready')]);
    // Held open, so leastconn spreads them: both readers get connections.
    const conns = [];
    for (let i = 0; i < 4; i++) conns.push(await connect(port));
    const ports = await Promise.all(conns.map(landedOn));
    expect(new Set(ports)).toEqual(new Set([a1.port, a2.port]));

    // a-1 leaves: its sessions are cut; a-2 keeps its slot and its sessions.
    const onA1 = conns.filter((_, i) => ports[i] === a1.port);
    const onA2 = conns.filter((_, i) => ports[i] === a2.port);
    const lost = onA1.map(closed);
    const one = await runHook(hp.runtime, doc('readers', 'readers', [member(a2)]));
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(await Promise.all(lost)).toEqual(onA1.map(() => 'PROTOCOL_CONNECTION_LOST'));
    for (const c of onA2) expect(await landedOn(c)).toBe(a2.port);
    expect(await hp.serverStates(readers)).toEqual([slot('r1', a1, 'maint'), slot('r2', a2, 'ready')]);
    expect(await landedOn(await connect(port))).toBe(a2.port);
    expect(await a1.scalar('SELECT 1')).toBe(1);

    // More readers than slots: refused with one line, nothing changed.
    const before = await hp.serverStates(readers);
    const tooMany = await runHook(
      hp.runtime,
      doc('readers', 'readers', [member(a0), member(a1), member(a2)]),
    );
    expect(failedWithOneLine(tooMany)).toContain(`${readers} has 2 server slots for 3 readers`);
    expect(await hp.serverStates(readers)).toEqual(before);
    for (const c of onA2) expect(await landedOn(c)).toBe(a2.port);

    // Nobody: every session is cut and new connections are refused.
    const cut = onA2.map(closed);
    const none = await runHook(hp.runtime, doc('readers', 'readers', []));
    expect(none).toMatchObject({ code: 0, stderr: '' });
    expect(await Promise.all(cut)).toEqual(onA2.map(() => 'PROTOCOL_CONNECTION_LOST'));
    expect((await hp.serverStates(readers)).map((s) => s.state)).toEqual(['maint', 'maint']);
    await refused(port, [a1, a2]);
  });

  it("the operator's hook runner drives it with the documented command line", async () => {
    const a2 = sb().server('a-2');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const hook = routingHook({
      command: `HAPROXY_RUNTIME=${q(hp.runtime)} node ${q(HOOK_SCRIPT)}`,
      log,
    });
    const ref = { namespace: 'default', name: TOPOLOGY };
    const m = { name: 'a-2', host: a2.host, port: a2.port, ready: true };
    await hook.apply(ref, { group: 'runner', op: 'route', members: [m], reason: 'test' });
    expect(await landedOn(await connect(hp.writerPort(names('runner').writer)))).toBe(a2.port);
    expect(lines.join('')).toContain(`${names('runner').writer}/writer: 127.0.0.1:${a2.port} ready`);

    const three = [m, { ...m, name: 'x', port: 1 }, { ...m, name: 'y', port: 2 }];
    await expect(
      hook.apply(ref, { group: 'runner', op: 'readers', members: three, reason: 'test' }),
    ).rejects.toThrow(/routing hook failed \(exit 1\) on readers runner: .*2 server slots for 3 readers/);
  });

  it('the persistent runner drives `--serve`: one process moves the writer slot, answers an error, keeps serving', async () => {
    const [a0, a1] = [sb().server('a-0'), sb().server('a-1')];
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const hook = routingHook({
      command: `HAPROXY_RUNTIME=${q(hp.runtime)} node ${q(HOOK_SCRIPT)} --serve`,
      persistent: true,
      log,
    });
    const { writer } = names('serve');
    const port = hp.writerPort(writer);
    const ref = { namespace: 'default', name: TOPOLOGY };
    const m = (s: SandboxServer, ready = true) => ({ name: s.name, host: s.host, port: s.port, ready });
    try {
      await hook.apply(ref, { group: 'serve', op: 'route', members: [m(a0)], reason: 'test' });
      const c0 = await connect(port);
      expect(await landedOn(c0)).toBe(a0.port);
      // Drain, then route to a-1: a-0's session is cut, new connections reach a-1.
      const lost = closed(c0);
      await hook.apply(ref, { group: 'serve', op: 'drain', members: [m(a0, false)], reason: 'test' });
      expect(await lost).toBe('PROTOCOL_CONNECTION_LOST');
      await hook.apply(ref, { group: 'serve', op: 'route', members: [m(a1)], reason: 'test' });
      expect(await hp.serverStates(writer)).toEqual([slot('writer', a1, 'ready')]);
      expect(await landedOn(await connect(port))).toBe(a1.port);
      // A group HAProxy has no backend for: the step fails with the hook's line; the next step still works.
      await expect(
        hook.apply(ref, { group: 'nope', op: 'route', members: [m(a0)], reason: 'test' }),
      ).rejects.toThrow(
        /^routing hook failed on route nope: tributary-haproxy-hook: .*warehouse-nope-primary/,
      );
      await hook.apply(ref, { group: 'serve', op: 'route', members: [m(a1)], reason: 'test' });
      expect(await landedOn(await connect(port))).toBe(a1.port);
      const output = lines.join('');
      expect(output).toContain(`${writer}/writer: 127.0.0.1:${a1.port} ready`);
      // One process served every step.
      expect(lines.filter((l) => l.includes('routing hook started (persistent)'))).toHaveLength(1);
    } finally {
      await hook.close();
    }
  });
});
