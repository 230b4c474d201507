// The routing hook: a command, configured by whoever runs the operator (never by a field of the resource:
// a resource editor must not run commands in the operator), given one JSON document per routing step. It
// moves whatever routes traffic outside Kubernetes (HAProxy, ProxySQL, DNS, a cloud load balancer). Its
// output goes to the log; no credential is ever in its input or its environment. Two modes, one document
// (docs/routing.md):
//   per step    a process per step, the document on stdin; exit 0 = taken.
//   persistent  one long-running process, started at the first step; the document as one line on stdin,
//               answered by one line on stdout. No process start on the failover path, where a per-step
//               hook pays one twice (the drain before the promotion, the route after it).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { endpointNames, type RoutingStep } from '../plan/routing.js';
import { resolveHost } from '../util/resolve.js';
import type { Logger } from '../util/log.js';
import type { RoutedTopology, RoutingTarget } from './routing.js';

export const DEFAULT_ROUTING_HOOK_TIMEOUT_MS = 10_000;
/** Output kept per stream for the log: a hook that prints without end cannot fill the operator's memory. */
const OUTPUT_LIMIT = 8192;
/** On close, how long a persistent hook has to exit once its stdin ended, before its group is killed. */
const CLOSE_GRACE_MS = 2000;
/** Once a persistent hook exited, how long its output may still drain (a child of it holding the pipes). */
const EXIT_DRAIN_MS = 500;

/** The document the hook reads (docs/routing.md): one line, JSON.stringify has no newline. */
export async function hookDocument(ref: RoutedTopology, step: RoutingStep): Promise<string> {
  const members = await Promise.all(
    step.members.map(async (m) => ({ ...m, addresses: await resolveHost(m.host) })),
  );
  return JSON.stringify({
    topology: { namespace: ref.namespace, name: ref.name },
    group: step.group,
    action: step.op,
    members,
    failover: step.failover ?? null,
    ...endpointNames(ref.name, step.group),
  });
}

export interface RoutingHookOptions {
  command: string;
  timeoutMs?: number;
  log: Logger;
  /** One long-running process answering one line per step (--routing-hook-persistent); default per step. */
  persistent?: boolean;
}

/** A routing hook of either mode; close() ends a persistent hook's process (nothing for a per-step one). */
export type RoutingHook = RoutingTarget & { close(): Promise<void> };

export function routingHook(options: RoutingHookOptions): RoutingHook {
  return options.persistent ? persistentRoutingHook(options) : perStepRoutingHook(options);
}

// ---- what both modes share ---------------------------------------------------------------------------

const stepName = (step: RoutingStep) => `${step.op} ${step.group}`;
const how = (code: number | null, signal: NodeJS.Signals | null) =>
  signal ? `signal ${signal}` : `exit ${code}`;
const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
const withDetail = (message: string, detail: string) => (detail ? `${message}: ${detail}` : message);
const timedOut = (timeoutMs: number, step: RoutingStep) =>
  new Error(`routing hook timed out after ${timeoutMs} ms (${stepName(step)})`);
const keep = (acc: string, more: string) => (acc.length < OUTPUT_LIMIT ? acc + more : acc);

/** The hook's output, in the log with the step it came with (or none: a persistent hook between steps). */
function logOutput(
  log: Logger,
  at: { ref: RoutedTopology; step: RoutingStep } | undefined,
  stdout: string,
  stderr: string,
): void {
  const fields = at
    ? { topology: `${at.ref.namespace}/${at.ref.name}`, group: at.step.group, action: at.step.op }
    : {};
  const out = stdout.slice(0, OUTPUT_LIMIT).trim();
  const err = stderr.slice(0, OUTPUT_LIMIT).trim();
  if (out) log.info({ ...fields, stdout: out }, 'routing hook output');
  if (err) log.warn({ ...fields, stderr: err }, 'routing hook error output');
}

/** CMD through the shell, as orchestrator's hooks run: its own process group, so a kill reaches what it started. */
function startCommand(command: string): ChildProcessWithoutNullStreams {
  const child = spawn(command, { shell: true, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  // A hook that does not read its input (or is gone) must not fail the write (EPIPE).
  child.stdin.on('error', () => undefined);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  return child;
}

function killGroup(child: ChildProcessWithoutNullStreams): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

// ---- per step ------------------------------------------------------------------------------------------

/** Runs the command through the shell once per step, the document on stdin; exit 0 = taken. */
function perStepRoutingHook(options: RoutingHookOptions): RoutingHook {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ROUTING_HOOK_TIMEOUT_MS;
  return {
    name: 'hook',
    async apply(ref, step) {
      const input = await hookDocument(ref, step);
      const { code, signal, stdout, stderr, timedOut: late } = await run(options.command, input, timeoutMs);
      logOutput(options.log, { ref, step }, stdout, stderr);
      if (late) throw timedOut(timeoutMs, step);
      if (code !== 0)
        throw new Error(
          withDetail(`routing hook failed (${how(code, signal)}) on ${stepName(step)}`, lastLine(stderr)),
        );
    },
    close: async () => undefined,
  };
}

interface HookRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(command: string, input: string, timeoutMs: number): Promise<HookRun> {
  return new Promise((resolve) => {
    const child = startCommand(command);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: string) => (stdout = keep(stdout, c)));
    child.stderr.on('data', (c: string) => (stderr = keep(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${e.message}`, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.end(input);
  });
}

// ---- persistent ----------------------------------------------------------------------------------------

/**
 * One long-running process for every step: started lazily at the first step, given each document as one
 * line, answering `{"ok":true}` or `{"ok":false,"error":"…"}` on a line of its own. Steps go one at a time
 * (a queue: answers match in order). A timeout kills its group; an exit fails the step waiting; either way
 * the next step starts a fresh process. close() ends its stdin, then kills its group after a grace.
 */
export function persistentRoutingHook(options: RoutingHookOptions): RoutingHook {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ROUTING_HOOK_TIMEOUT_MS;
  let current: HookServer | undefined;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  async function send(ref: RoutedTopology, step: RoutingStep): Promise<void> {
    if (closed) throw new Error(`routing hook is closed: Tributary is stopping (${stepName(step)})`);
    const line = await hookDocument(ref, step);
    if (!current?.alive) current = new HookServer(options.command, options.log);
    const server = current;
    const outcome = await server.ask(line, timeoutMs);
    server.flushLog({ ref, step });
    if (outcome.kind === 'timeout') {
      killGroup(server.child);
      if (current === server) current = undefined;
      throw timedOut(timeoutMs, step);
    }
    if (outcome.kind === 'exit')
      throw new Error(
        withDetail(
          `routing hook exited (${how(outcome.code, outcome.signal)}) on ${stepName(step)}`,
          server.lastStderr,
        ),
      );
    if (!outcome.ok)
      throw new Error(withDetail(`routing hook failed on ${stepName(step)}`, outcome.error ?? ''));
  }

  return {
    name: 'hook',
    apply(ref, step) {
      const result = queue.then(() => send(ref, step));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      closed = true;
      const server = current;
      current = undefined;
      await server?.stop(CLOSE_GRACE_MS);
    },
  };
}

type Outcome =
  | { kind: 'answer'; ok: boolean; error?: string }
  | { kind: 'timeout' }
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null };

/** `{"ok":true}` or `{"ok":false,"error":"…"}`; anything else is output for the log. */
function answerOf(line: string): Outcome | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(text) as { ok?: unknown; error?: unknown };
    if (typeof v !== 'object' || v === null || typeof v.ok !== 'boolean') return undefined;
    return { kind: 'answer', ok: v.ok, ...(typeof v.error === 'string' ? { error: v.error } : {}) };
  } catch {
    return undefined;
  }
}

/** Splits a stream into lines; a line longer than the limit is cut there and the rest of it dropped. */
function lines(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  let dropping = false;
  return {
    push(chunk) {
      const parts = chunk.split('\n');
      const tail = parts.pop()!;
      for (const part of parts) {
        if (!dropping) onLine((rest + part).slice(0, OUTPUT_LIMIT));
        rest = '';
        dropping = false;
      }
      if (dropping) return;
      rest += tail;
      if (rest.length > OUTPUT_LIMIT) {
        onLine(rest.slice(0, OUTPUT_LIMIT));
        rest = '';
        dropping = true;
      }
    },
    end() {
      if (rest && !dropping) onLine(rest);
      rest = '';
    },
  };
}

/** The process of a persistent hook, from its start to its end; never reused once it is not alive. */
class HookServer {
  readonly child: ChildProcessWithoutNullStreams;
  /** False from a timeout kill, a stop or its exit on: the next step starts a new process. */
  alive = true;
  lastStderr = '';
  private stdout = '';
  private stderr = '';
  private waiter: ((o: Outcome) => void) | undefined;
  private ended: Extract<Outcome, { kind: 'exit' }> | undefined;
  private readonly done: Promise<void>;
  /** The operator exits without close() (a lost Lease): the hook's group goes with it. */
  private readonly onExit = () => killGroup(this.child);

  constructor(
    command: string,
    private readonly log: Logger,
  ) {
    this.child = startCommand(command);
    const out = lines((l) => {
      const answer = answerOf(l);
      const waiter = this.waiter;
      if (answer && waiter) {
        this.waiter = undefined;
        waiter(answer);
      } else this.stdout = keep(this.stdout, `${l}\n`);
    });
    const err = lines((l) => {
      this.stderr = keep(this.stderr, `${l}\n`);
      if (l.trim()) this.lastStderr = l.trim();
    });
    this.child.stdout.on('data', (c: string) => out.push(c));
    this.child.stderr.on('data', (c: string) => err.push(c));
    process.on('exit', this.onExit);
    this.done = new Promise((resolve) => {
      let drain: NodeJS.Timeout | undefined;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.ended) return;
        clearTimeout(drain);
        out.end();
        err.end();
        // Not alive already: it was killed (timeout) or stopped on purpose; that exit is no news.
        const unexpected = this.alive;
        this.alive = false;
        this.ended = { kind: 'exit', code, signal };
        process.off('exit', this.onExit);
        const waiter = this.waiter;
        this.waiter = undefined;
        if (waiter) waiter(this.ended);
        else {
          // Between steps (or stopped): said now, with whatever it printed.
          this.flushLog(undefined);
          if (unexpected)
            log.warn(
              { code, signal, stderr: this.lastStderr },
              'routing hook exited between steps; the next step starts it again',
            );
        }
        resolve();
      };
      this.child.on('error', (e) => {
        this.lastStderr = e.message;
        finish(127, null);
      });
      this.child.on('exit', (code, signal) => {
        // What it left behind in its group goes too; its output may still be in the pipes, briefly.
        killGroup(this.child);
        drain = setTimeout(() => finish(code, signal), EXIT_DRAIN_MS);
      });
      this.child.on('close', (code, signal) => finish(code, signal));
    });
    this.log.info({ pid: this.child.pid }, 'routing hook started (persistent)');
  }

  /** Sends one document and waits for its answer, the process's end or the timeout, whichever is first. */
  ask(line: string, timeoutMs: number): Promise<Outcome> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.alive = false;
        this.waiter = undefined;
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
      this.child.stdin.write(`${line}\n`);
    });
  }

  flushLog(at: { ref: RoutedTopology; step: RoutingStep } | undefined): void {
    logOutput(this.log, at, this.stdout, this.stderr);
    this.stdout = '';
    this.stderr = '';
  }

  /** Ends its stdin (a hook exits at the end of its input); kills its group if it is still there after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.alive = false;
    this.child.stdin.end();
    const bounded = (ms: number) =>
      Promise.race([this.done, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    await bounded(graceMs);
    if (!this.ended) killGroup(this.child);
    await bounded(graceMs);
  }
}
