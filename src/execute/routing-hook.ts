// The routing hook: a command, configured by whoever runs the operator (never by a field of the resource:
// a resource editor must not run commands in the operator), given one JSON document on standard input per
// routing step. It moves whatever routes traffic outside Kubernetes (HAProxy, ProxySQL, DNS, a cloud load
// balancer). Its output goes to the log; no credential is ever in its input or its environment.
import { spawn } from 'node:child_process';
import { endpointNames, type RoutingStep } from '../plan/routing.js';
import { resolveHost } from '../util/resolve.js';
import type { Logger } from '../util/log.js';
import type { RoutedTopology, RoutingTarget } from './routing.js';

export const DEFAULT_ROUTING_HOOK_TIMEOUT_MS = 10_000;
/** Output kept per stream for the log: a hook that prints without end cannot fill the operator's memory. */
const OUTPUT_LIMIT = 8192;

/** The document the hook reads (docs/routing.md). */
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
}

/** Runs the command through the shell, as orchestrator's hooks do, once per step. */
export function routingHook(options: RoutingHookOptions): RoutingTarget {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ROUTING_HOOK_TIMEOUT_MS;
  return {
    name: 'hook',
    async apply(ref, step) {
      const input = await hookDocument(ref, step);
      const { code, signal, stdout, stderr, timedOut } = await run(options.command, input, timeoutMs);
      const fields = { topology: `${ref.namespace}/${ref.name}`, group: step.group, action: step.op };
      if (stdout.trim()) options.log.info({ ...fields, stdout: stdout.trim() }, 'routing hook output');
      if (stderr.trim()) options.log.warn({ ...fields, stderr: stderr.trim() }, 'routing hook error output');
      if (timedOut)
        throw new Error(`routing hook timed out after ${timeoutMs} ms (${step.op} ${step.group})`);
      if (code !== 0) {
        const last = stderr.trim().split('\n').at(-1) ?? '';
        throw new Error(
          `routing hook failed (${signal ? `signal ${signal}` : `exit ${code}`}) on ${step.op} ${step.group}${last ? `: ${last}` : ''}`,
        );
      }
    },
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
    // Its own process group: a timeout kills the shell and whatever it started.
    const child = spawn(command, { shell: true, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const keep = (acc: string, chunk: Buffer) => (acc.length < OUTPUT_LIMIT ? acc + chunk.toString() : acc);
    child.stdout.on('data', (c: Buffer) => (stdout = keep(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = keep(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${e.message}`, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: stdout.slice(0, OUTPUT_LIMIT),
        stderr: stderr.slice(0, OUTPUT_LIMIT),
        timedOut,
      });
    });
    // A hook that does not read its input must not fail the write (EPIPE).
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
