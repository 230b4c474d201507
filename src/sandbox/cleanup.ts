// Keeping sandbox processes from outliving their owner.
//  - In process: every live mariadbd child is tracked; on 'exit' they get SIGKILL synchronously; on
//    SIGINT/SIGTERM/SIGHUP they are killed and the sandbox directories removed, then the signal is re-raised.
//  - Across processes: each sandbox directory holds a registry file (sandbox.json) naming its owner and the
//    pids it started, so a teardown (the test run's global teardown, or reapStaleSandboxes) can kill what a
//    crashed or SIGKILLed process left behind. A pid is only killed while /proc/<pid>/cmdline still names
//    that server's my.cnf, so a recycled pid is never hit.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_FILE, SANDBOX_DIR_PREFIX } from './constants.js';

export interface RegistryEntry {
  name: string;
  pid: number;
  /** The server's my.cnf path: the process is ours only while its command line names this file. */
  cnf: string;
}

export interface Registry {
  ownerPid: number;
  createdAt: string;
  servers: RegistryEntry[];
}

const liveChildren = new Map<number, ChildProcess>();
/** Sandbox directories to remove when the process is interrupted (or exits without destroy()). */
const liveDirs = new Set<string>();
let hooksInstalled = false;

export function trackChild(child: ChildProcess): void {
  installHooks();
  if (child.pid !== undefined) liveChildren.set(child.pid, child);
}

export function untrackChild(pid: number): void {
  liveChildren.delete(pid);
}

export function trackDir(dir: string): void {
  installHooks();
  liveDirs.add(dir);
}

export function untrackDir(dir: string): void {
  liveDirs.delete(dir);
}

function killTrackedSync(): void {
  for (const [pid, child] of liveChildren) {
    try {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function removeTrackedDirsSync(): void {
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    } catch {
      /* best effort while exiting */
    }
  }
  liveDirs.clear();
}

function onExit(): void {
  killTrackedSync();
  if (liveDirs.size > 0) for (const pid of liveChildren.keys()) waitGoneSync(pid, 2000);
  removeTrackedDirsSync();
}

function onSignal(signal: NodeJS.Signals): void {
  killTrackedSync();
  // SIGKILL is asynchronous: give the kernel a moment so rm does not race the dying servers' last writes.
  for (const pid of liveChildren.keys()) waitGoneSync(pid, 2000);
  removeTrackedDirsSync();
  liveChildren.clear();
  process.removeListener(signal, onSignal);
  // Re-raise only when nobody else handles the signal: then the default action ends the process with the
  // right status. Other listeners (a CLI's own handler, the test runner) decide for themselves.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (killed, not yet reaped by its parent) counts as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

function waitGoneSync(pid: number, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > end) return false;
    sleepSync(10);
  }
  return true;
}

/** True while `pid` is a process whose command line names `cnf` (Linux /proc; elsewhere: alive). */
export function isOurServer(pid: number, cnf: string): boolean {
  if (!existsSync('/proc/self/cmdline')) return isAlive(pid);
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').some((arg) => arg === `--defaults-file=${cnf}`);
  } catch {
    return false;
  }
}

export function writeRegistry(dir: string, reg: Registry): void {
  const file = join(dir, REGISTRY_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(reg, null, 2) + '\n');
  renameSync(tmp, file);
}

export function readRegistry(dir: string): Registry | null {
  try {
    return JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8')) as Registry;
  } catch {
    return null;
  }
}

export interface ReapResult {
  /** Pids that were still running and got SIGKILL. */
  killed: number[];
  /** Directories removed. */
  removed: string[];
}

/** Kills every registered server of one sandbox directory that still runs, then removes the directory. */
export function reapSandboxDir(dir: string): ReapResult {
  const result: ReapResult = { killed: [], removed: [] };
  const reg = readRegistry(dir);
  for (const s of reg?.servers ?? []) {
    if (!isOurServer(s.pid, s.cnf)) continue;
    try {
      process.kill(s.pid, 'SIGKILL');
      result.killed.push(s.pid);
    } catch {
      /* gone meanwhile */
    }
  }
  for (const pid of result.killed) waitGoneSync(pid, 5000);
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    result.removed.push(dir);
  } catch {
    /* reported by absence */
  }
  return result;
}

/**
 * Reaps every sandbox directory directly under `root` (directories holding a registry file); with
 * `onlyStale`, only those whose owner process is gone. The test run's global teardown calls this on its
 * run directory; `tributary demo` can call it on its base directory to clean up after a crashed run.
 */
export function reapSandboxes(root: string, opts: { onlyStale?: boolean } = {}): ReapResult {
  const total: ReapResult = { killed: [], removed: [] };
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return total;
  }
  for (const e of entries) {
    const dir = join(root, e);
    if (!e.startsWith(SANDBOX_DIR_PREFIX)) continue;
    try {
      if (!statSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    const reg = readRegistry(dir);
    if (opts.onlyStale) {
      // No registry yet: only reap when old enough that no live creator can still be writing it.
      if (reg ? isAlive(reg.ownerPid) : Date.now() - statSync(dir).mtimeMs < 60_000) continue;
    }
    const r = reapSandboxDir(dir);
    total.killed.push(...r.killed);
    total.removed.push(...r.removed);
  }
  return total;
}
