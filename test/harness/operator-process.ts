// `tributary operator` as a process, as it runs in a cluster: a kubeconfig, its metrics and health ports,
// silent logs. Tests and benchmarks start it here and read how many passes it finished from its metrics
// (the event a test of "nothing happened" waits on).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './net.js';
import { BIN } from './topology.js';

export interface OperatorProcess {
  proc: ChildProcess;
  exited: Promise<number | null>;
  metricsPort: number;
  healthPort: number;
  /** The sum of a metric's samples whose labels include every `labels` pair (NaN when /metrics fails). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Passes it finished (its reconcile-duration histogram's count, over every topology and result). */
  passes(): Promise<number>;
}

export async function startOperatorProcess(opts: {
  kubeconfig: string;
  /** Flags after `operator` (the ports are added). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Run the TypeScript source through tsx instead of the built CLI (benchmarks). */
  source?: string;
  /** `--leader-elect` with these timings (seconds), as pod `name` in `namespace`. */
  leaderElection?: { name: string; namespace: string; leaseS: number; renewS: number; retryS: number };
}): Promise<OperatorProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const le = opts.leaderElection;
  const electionArgs = le
    ? [
        '--leader-elect',
        `--leader-elect-lease-duration=${le.leaseS}`,
        `--leader-elect-renew-deadline=${le.renewS}`,
        `--leader-elect-retry-period=${le.retryS}`,
      ]
    : [];
  const electionEnv = le ? { POD_NAME: le.name, POD_NAMESPACE: le.namespace } : {};
  const cli = opts.source ? ['--import', 'tsx', opts.source] : [BIN];
  const proc = spawn(
    process.execPath,
    [
      ...cli,
      'operator',
      ...electionArgs,
      ...(opts.args ?? []),
      `--metrics-port=${metricsPort}`,
      `--health-port=${healthPort}`,
    ],
    {
      stdio: 'ignore',
      env: {
        ...process.env,
        KUBECONFIG: opts.kubeconfig,
        TRIBUTARY_LOG_LEVEL: 'silent',
        ...electionEnv,
        ...opts.env,
      },
    },
  );
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        signal: AbortSignal.timeout(2000),
      });
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      return (await res.text())
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .filter((l) => pairs.every((p) => l.includes(p)))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    } catch {
      return NaN;
    }
  };
  const passes = () => metric('tributary_reconcile_duration_seconds_count');
  return { proc, exited, metricsPort, healthPort, metric, passes };
}
