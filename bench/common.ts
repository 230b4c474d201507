// Helpers the benchmarks share: percentiles and formatting, process RSS/CPU sampling, starting sandbox
// servers in batches, and MySQLTopology manifests for sandbox servers. No I/O beyond loopback and the
// benchmark's own temporary files.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify } from 'yaml';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  REPL_PASSWORD,
  REPL_USER,
  SANDBOX_FLAVORS,
  type SandboxFlavor,
  type SandboxServer,
} from '../src/sandbox/index.js';

// ---- figures ------------------------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** n, p50, p95, max and mean of the samples (in their unit). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted.at(-1) ?? NaN,
    mean: sorted.length ? mean : NaN,
  };
}

/** Milliseconds, two decimals, right-aligned in 8 columns (the tables of bench:probe). */
export const ms = (v: number): string => v.toFixed(2).padStart(8);

/** Bytes as MB (2^20), one decimal. */
export const mb = (bytes: number): string => (bytes / 1_048_576).toFixed(1);

/** `figure` beside its target: `12.3 ms  (target ≤ 15 ms: ok)`. */
export function againstTarget(value: number, target: number, unit: string, digits = 1): string {
  const verdict = value <= target ? 'ok' : 'MISSED';
  return `${value.toFixed(digits)} ${unit}  (target ≤ ${target} ${unit}: ${verdict})`;
}

export const sleep = (msec: number): Promise<void> => new Promise((r) => setTimeout(r, msec));

/** Polls `fn` every `everyMs` until it holds; after `timeoutMs`, throws naming `what`. */
export async function until(
  what: string,
  timeoutMs: number,
  fn: () => Promise<boolean> | boolean,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Waits until every one of `servers` has the schema (replicated from where it was created). */
export async function untilSchemaOn(
  servers: readonly SandboxServer[],
  schema: string,
  timeoutMs: number,
): Promise<void> {
  const has = async (s: SandboxServer) =>
    Number(
      await s
        .scalar('SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?', [schema])
        .catch(() => 0),
    ) > 0;
  await until(`${schema} replicated`, timeoutMs, async () =>
    (await Promise.all(servers.map(has))).every(Boolean),
  );
}

/** A positive number from the environment, or the default (a bad value is an error, not ignored). */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return v;
}

/** `2 cores (model), 23.5 GiB, load average 0.52`: the machine a figure was measured on. */
export function machineLine(): string {
  const model = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  return `${availableParallelism()} cores (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${loadavg()[0]!.toFixed(2)}`;
}

// ---- this process: RSS and CPU ------------------------------------------------------------------------

/** Resident set size of this process now (bytes). */
export const rss = (): number => process.memoryUsage().rss;

let gcFn: (() => void) | undefined;
/**
 * A full garbage collection, so the heap figures that follow are live memory, not garbage V8 has not
 * collected yet. Exposed at run time (the same as `node --expose-gc`, without changing the npm scripts).
 */
export function fullGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** RSS and heap now, and live heap after a full GC (bytes). RSS is read first: GC does not change it. */
export function memoryFigures(): { rss: number; heapUsed: number; heapTotal: number; liveHeap: number } {
  const before = process.memoryUsage();
  fullGc();
  return {
    rss: before.rss,
    heapUsed: before.heapUsed,
    heapTotal: before.heapTotal,
    liveHeap: process.memoryUsage().heapUsed,
  };
}

/** CPU time (user + system, seconds) this process spent since the meter was made. */
export class CpuMeter {
  private readonly start = process.cpuUsage();
  private readonly startedAt = performance.now();

  /** CPU seconds (and its kernel part), wall-clock seconds, CPU seconds per wall-clock minute, since creation. */
  read(): { cpuSeconds: number; systemSeconds: number; wallSeconds: number; perMinute: number } {
    const d = process.cpuUsage(this.start);
    const cpuSeconds = (d.user + d.system) / 1e6;
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    return {
      cpuSeconds,
      systemSeconds: d.system / 1e6,
      wallSeconds,
      perMinute: wallSeconds > 0 ? (cpuSeconds / wallSeconds) * 60 : NaN,
    };
  }
}

/** Samples this process's RSS every `everyMs` until stopped; the timer never keeps the process alive. */
export class RssSampler {
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 1000) {
    this.samples.push(rss());
    this.timer = setInterval(() => this.samples.push(rss()), everyMs);
    this.timer.unref();
  }

  stop(): Summary & { last: number } {
    clearInterval(this.timer);
    this.samples.push(rss());
    return { ...summarize(this.samples), last: this.samples.at(-1)! };
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined when unknown. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3; utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}
/** Resident memory of a process (bytes), from /proc (Linux); undefined when unknown. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** Total CPU seconds of the servers that are running (those without a pid count 0). */
export function serversCpuSeconds(servers: readonly SandboxServer[]): number {
  let total = 0;
  for (const s of servers) total += (s.pid !== null ? processCpuSeconds(s.pid) : undefined) ?? 0;
  return total;
}

/** Total RSS of the servers (bytes), as the sandbox reads it. */
export function serversRss(servers: readonly SandboxServer[]): number {
  return servers.reduce((sum, s) => sum + (s.rssBytes() ?? 0), 0);
}

// ---- sandbox servers ----------------------------------------------------------------------------------

/**
 * Starts the servers `batchSize` at a time (each batch in parallel); returns how long each batch took (ms).
 * Two cores cannot start 50 servers at once without start timeouts; batches keep each start short.
 */
export async function startInBatches(
  servers: readonly SandboxServer[],
  batchSize: number,
  onBatch?: (done: number, total: number, batchMs: number) => void,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < servers.length; i += batchSize) {
    const t = performance.now();
    const results = await Promise.allSettled(servers.slice(i, i + batchSize).map((s) => s.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    times.push(performance.now() - t);
    onBatch?.(Math.min(servers.length, i + batchSize), servers.length, times.at(-1)!);
  }
  return times;
}

// ---- manifests ----------------------------------------------------------------------------------------

export interface GroupLayout {
  name: string;
  /** Sandbox servers, in spec order: the first becomes the primary on fresh servers. */
  members: SandboxServer[];
  channels?: { name: string; from: string }[];
}

/**
 * A MySQLTopology over sandbox servers and the two Secrets it names (sandbox accounts), in `namespace`.
 * Member names are the servers' names; everything points at 127.0.0.1.
 */
export function topologyManifests(
  name: string,
  namespace: string,
  groups: readonly GroupLayout[],
  failover: { pollIntervalSeconds?: number } = {},
): unknown[] {
  const secret = (secretName: string, username: string, password: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, namespace },
    stringData: { username, password },
  });
  return [
    {
      apiVersion: 'tributary.dev/v1alpha1',
      kind: 'MySQLTopology',
      metadata: { name, namespace },
      spec: {
        flavor: 'auto',
        adminSecretRef: { name: 'tributary-admin' },
        replicationSecretRef: { name: 'tributary-repl' },
        failover: {
          enabled: true,
          pollIntervalSeconds: failover.pollIntervalSeconds ?? 1,
          failureThreshold: 3,
          cooldownSeconds: 300,
        },
        groups: groups.map((g) => ({
          name: g.name,
          members: g.members.map((s) => ({ name: s.name, host: s.host, port: s.port })),
          ...(g.channels?.length ? { channels: g.channels } : {}),
        })),
      },
    },
    secret('tributary-admin', ADMIN_USER, ADMIN_PASSWORD),
    secret('tributary-repl', REPL_USER, REPL_PASSWORD),
  ];
}

/** Writes manifests as one multi-document YAML file (as `kubectl apply -f` takes them). */
export function writeManifestFile(file: string, docs: readonly unknown[]): string {
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  return file;
}

// ---- what changed -------------------------------------------------------------------------------------

/**
 * The JSON paths where two JSON-like values differ (`channels[3].ioState`), with both values, up to
 * `limit` entries. Arrays are compared index by index; object keys holding undefined count as absent.
 */
export function diffPaths(
  a: unknown,
  b: unknown,
  limit = 20,
): { path: string; before: unknown; after: unknown }[] {
  const out: { path: string; before: unknown; after: unknown }[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length >= limit || x === y) return;
    const objects = typeof x === 'object' && x !== null && typeof y === 'object' && y !== null;
    if (!objects || Array.isArray(x) !== Array.isArray(y)) {
      out.push({ path: path || '(root)', before: x, after: y });
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      for (let i = 0; i < Math.max(x.length, y.length); i++) walk(x[i], y[i], `${path}[${i}]`);
      return;
    }
    const xo = x as Record<string, unknown>;
    const yo = y as Record<string, unknown>;
    const keys = new Set([...Object.keys(xo), ...Object.keys(yo)]);
    for (const k of keys) walk(xo[k], yo[k], path ? `${path}.${k}` : k);
  };
  walk(a, b, '');
  return out;
}

/** `a.b[3].c` → `a.b[].c`: paths of different array items counted together. */
export const pathShape = (path: string): string => path.replace(/\[\d+\]/g, '[]');

/** Names the status item a diff path points into: `channels[2].ioState` → `channels[2] (dw-0/shard_a).ioState`. */
export function labelStatusPath(status: unknown, path: string): string {
  const m = /^(channels|instances|groups)\[(\d+)\]/.exec(path);
  if (!m || typeof status !== 'object' || status === null) return path;
  const item = (status as Record<string, unknown[]>)[m[1]!]?.[Number(m[2])] as
    { name?: string; replica?: string } | undefined;
  if (!item) return path;
  const label =
    m[1] === 'channels'
      ? `${item.replica ?? '?'}/${item.name === '' ? "''" : (item.name ?? '?')}`
      : item.name;
  return `${m[0]} (${label})${path.slice(m[0].length)}`;
}

// ---- flavors ------------------------------------------------------------------------------------------

/**
 * The flavors a benchmark runs on: `--flavor mysql|mariadb|both` (or `--flavor=…`) on the command line,
 * default both. A bad value is an error naming the option.
 */
export function flavorsFromArgs(argv: readonly string[] = process.argv.slice(2)): SandboxFlavor[] {
  let value = 'both';
  argv.forEach((a, i) => {
    if (a === '--flavor') value = argv[i + 1] ?? '';
    else if (a.startsWith('--flavor=')) value = a.slice('--flavor='.length);
  });
  if (value === 'both') return [...SANDBOX_FLAVORS];
  if ((SANDBOX_FLAVORS as readonly string[]).includes(value)) return [value as SandboxFlavor];
  throw new Error(`--flavor must be mysql, mariadb or both, not ${JSON.stringify(value)}`);
}

/**
 * The cells of one side-by-side summary row: per flavor that ran, `fn` of its trials that ended without an
 * error and of all of them.
 */
export function summaryCells<T extends { error?: unknown }>(
  flavors: readonly SandboxFlavor[],
  results: Partial<Record<SandboxFlavor, T[]>>,
): (fn: (ok: T[], all: T[]) => string) => Partial<Record<SandboxFlavor, string>> {
  return (fn) =>
    Object.fromEntries(
      flavors.flatMap((f) => {
        const all = results[f];
        return all
          ? [
              [
                f,
                fn(
                  all.filter((x) => !x.error),
                  all,
                ),
              ],
            ]
          : [];
      }),
    );
}

export const FLAVOR_LABEL: Record<SandboxFlavor, string> = {
  mariadb: 'MariaDB',
  mariadb11: 'MariaDB 11.8',
  mysql: 'MySQL',
};

/**
 * A table with one column per flavor: `rows` are [label, value per flavor]; a flavor without a value shows
 * '-'. `heads` names each column (e.g. `MariaDB 10.11.19`).
 */
export function printSideBySide(
  title: string,
  heads: Partial<Record<SandboxFlavor, string>>,
  rows: readonly [string, Partial<Record<SandboxFlavor, string>>][],
): void {
  const flavors = SANDBOX_FLAVORS.filter((f) => heads[f] !== undefined);
  const labelWidth = Math.max(title.length, ...rows.map(([l]) => l.length)) + 2;
  const width = (f: SandboxFlavor) =>
    Math.max(heads[f]!.length, ...rows.map(([, v]) => (v[f] ?? '-').length)) + 3;
  console.log('');
  console.log(title.padEnd(labelWidth) + flavors.map((f) => heads[f]!.padStart(width(f))).join(''));
  for (const [label, v] of rows)
    console.log(label.padEnd(labelWidth) + flavors.map((f) => (v[f] ?? '-').padStart(width(f))).join(''));
}
