// `tributary operator`: the controller against the Kubernetes API.
//
// Wiring: KubeConfig (KUBECONFIG, ~/.kube/config or in-cluster) → KubernetesStore → watch → controller loop
// → metrics and health servers. With leader election the loop runs on every replica: a standby's passes
// observe (probe members, count each primary's downtime) and act on nothing (the loop lets a pass write
// only if it started while leading); taking the Lease asks for a pass of every topology at once, which
// re-reads the journal and decides from the downtime already counted. SIGTERM/SIGINT: writes stop at once
// (mayWrite false), the loop finishes its running passes, then the Lease is released, the watch stopped,
// the servers closed.
// Losing the Lease (not renewed within renewDeadline, or another holder) ends the operator at once with
// an error: `tributary operator` exits non-zero (onLeadershipLost), as controller-runtime does.
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Reconciler } from '../controller/pass.js';
import { runController, type Controller, type PassOutcome } from '../controller/loop.js';
import type { Log } from '../util/log-sink.js';
import { LeaderElector, DEFAULT_LEASE_NAME } from '../controller/leader.js';
import { OperatorMetrics } from '../controller/metrics.js';
import { StandbyMetrics } from '../controller/standby.js';
import { startHealthServer, startMetricsServer, type RunningServer } from '../controller/health.js';
import type { KubernetesEndpoints } from '../store/endpoints.js';
import { KubernetesStore } from '../store/kubernetes.js';
import type { TopologyRef } from '../store/store.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface OperatorOptions {
  /** Watch one namespace only; all namespaces when unset. */
  namespace?: string;
  /**
   * The routing target kept in EndpointSlices (createKubernetesEndpoints, same namespace): its informers run
   * beside the store's, its owner references take the topologies' uids from the store.
   */
  endpoints?: KubernetesEndpoints;
  metricsPort: number;
  healthPort: number;
  leaderElect: boolean;
  reconcile: Reconciler;
  log: Log;
  /** Defaults to loadKubeConfig(). */
  kubeConfig?: KubeConfig;
  /** Stops the operator when aborted (in addition to SIGTERM/SIGINT). */
  signal?: AbortSignal;
  /** Stop on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  /** Where the Lease lives: default POD_NAMESPACE, the in-cluster namespace, the kubeconfig context's, else "default". */
  leaseNamespace?: string;
  leaseName?: string;
  identity?: string;
  leaderElection?: LeaderElectionTimings;
  resyncIntervalMs?: number;
  /** Bind address of both servers (default all interfaces). */
  host?: string;
  /** Called once the servers listen (with their real ports, useful with port 0). */
  onStarted?: (info: { metricsPort: number; healthPort: number; identity?: string }) => void;
  /** Called after each pass of this replica's loop, besides the metrics (the web view's feed). */
  onPass?: (outcome: PassOutcome) => void;
  /** Receives the function that asks for a pass of a topology now (the reconciler's wake-ups use it). */
  onEnqueue?: (enqueue: (ref: TopologyRef, options?: { urgent?: boolean }) => void) => void;
  /**
   * Called the moment the Lease is lost; the CLI exits the process there (non-zero). Without it, runOperator
   * stops and rejects with LeadershipLostError.
   */
  onLeadershipLost?: (reason: string) => void;
}

/** The operator stopped because it lost its Lease. */
export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`leader election lost (${reason}): stopping`);
    this.name = 'LeadershipLostError';
  }
}

export interface LeaderElectionTimings {
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** KUBECONFIG or ~/.kube/config when present, else the in-cluster service account; a clear error otherwise. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  const hasFile = Boolean(process.env.KUBECONFIG) || existsSync(join(homedir(), '.kube', 'config'));
  const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(join(SA_DIR, 'token'));
  if (!hasFile && !inCluster) {
    throw new Error(
      'no Kubernetes configuration: set KUBECONFIG, or run inside a cluster with a service account',
    );
  }
  kc.loadFromDefault();
  if (!kc.getCurrentCluster())
    throw new Error(
      'the Kubernetes configuration has no current cluster (check KUBECONFIG and its current-context)',
    );
  return kc;
}

function leaseNamespaceOf(kc: KubeConfig, explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    const ns = readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim();
    if (ns) return ns;
  } catch {
    // not in a cluster
  }
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

/** Runs the operator until stopped; resolves after a graceful shutdown. */
export async function runOperator(opts: OperatorOptions): Promise<void> {
  const { log } = opts;
  const kc = opts.kubeConfig ?? loadKubeConfig();
  const root = new AbortController();
  const stop = () => root.abort();
  if (opts.signal) {
    if (opts.signal.aborted) stop();
    else opts.signal.addEventListener('abort', stop, { once: true });
  }
  const handleSignals = opts.handleSignals ?? true;
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping');
    stop();
  };
  if (handleSignals) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  let elector: LeaderElector | undefined;
  let lost: string | undefined;
  const mayWrite = () => !root.signal.aborted && (!opts.leaderElect || elector?.isLeader() === true);
  const store = new KubernetesStore({ kubeConfig: kc, namespace: opts.namespace, log, mayWrite });
  const metrics = new OperatorMetrics();
  const standbyMetrics = new StandbyMetrics(metrics.registry);
  metrics.setLeader(false);
  let loop: { ac: AbortController; controller: Controller } | undefined;

  const startLoop = () => {
    if (loop || root.signal.aborted) return;
    const ac = new AbortController();
    const controller = runController({
      store,
      reconcile: opts.reconcile,
      log,
      mayWrite,
      signal: ac.signal,
      resyncIntervalMs: opts.resyncIntervalMs,
      onPass: (o) => {
        if (o.observeOnly) standbyMetrics.observePass(o);
        else metrics.observePass(o);
        opts.onPass?.(o);
      },
    });
    loop = { ac, controller };
    log.info(
      { namespace: opts.namespace ?? '(all)' },
      opts.leaderElect ? 'observing as a standby until leading' : 'reconciling',
    );
  };
  /** The Lease is ours: every topology gets a pass now (its first one as leader re-reads the journal). */
  const startLeading = () => {
    metrics.setLeader(true);
    log.info({}, 'reconciling');
    void loop?.controller.resync();
  };
  const stopLoop = async () => {
    const l = loop;
    if (!l) return;
    loop = undefined;
    metrics.setLeader(false);
    l.ac.abort();
    await l.controller.done;
  };

  opts.onEnqueue?.((ref, options) => loop?.controller.enqueue(ref, options));
  const watchAc = new AbortController();
  const watch = store.watch({
    enqueue: (ref) => loop?.controller.enqueue(ref),
    onDeleted: (ref) => metrics.forget(ref),
    signal: watchAc.signal,
  });
  const endpointsWatch = opts.endpoints?.watch({
    enqueue: (ref) => loop?.controller.enqueue(ref),
    uidOf: async (ref) => (await store.get(ref))?.uid,
    signal: watchAc.signal,
  });

  const servers: RunningServer[] = [];
  const electorAc = new AbortController();
  let electorDone: Promise<void> = Promise.resolve();
  try {
    servers.push(
      await startMetricsServer({ port: opts.metricsPort, host: opts.host, render: () => metrics.render() }),
      await startHealthServer({
        port: opts.healthPort,
        host: opts.host,
        isReady: () => watch.synced() && !root.signal.aborted,
        notReadyReason: () =>
          root.signal.aborted ? 'stopping' : 'waiting for the first list of MySQLTopologies',
      }),
    );
    // Before the election starts: the loop is there when the Lease comes.
    startLoop();
    if (opts.leaderElect) {
      elector = new LeaderElector({
        kubeConfig: kc,
        namespace: leaseNamespaceOf(kc, opts.leaseNamespace),
        name: opts.leaseName ?? DEFAULT_LEASE_NAME,
        identity: opts.identity,
        log,
        ...opts.leaderElection,
        onStartedLeading: startLeading,
        onStoppedLeading: ({ lost: wasLost, reason }) => {
          if (!wasLost || root.signal.aborted) return;
          lost = reason;
          opts.onLeadershipLost?.(reason);
          stop();
        },
      });
      electorDone = elector.run(electorAc.signal);
      log.info(
        { lease: `${elector.namespace}/${elector.name}`, identity: elector.identity },
        'leader election: campaigning',
      );
    } else {
      metrics.setLeader(true);
    }
    opts.onStarted?.({
      metricsPort: servers[0]!.port,
      healthPort: servers[1]!.port,
      identity: elector?.identity,
    });
    log.info({ metricsPort: servers[0]!.port, healthPort: servers[1]!.port }, 'operator started');
    if (!root.signal.aborted)
      await new Promise<void>((resolve) =>
        root.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
  } finally {
    // Order matters: no pass may run once the Lease is released, or a successor could act at the same time.
    root.abort();
    await stopLoop();
    electorAc.abort();
    await electorDone;
    watchAc.abort();
    await watch.done;
    await endpointsWatch?.done;
    store.close();
    await Promise.all(servers.map((s) => s.close()));
    if (handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    log.info({}, 'operator stopped');
  }
  if (lost !== undefined) throw new LeadershipLostError(lost);
}
