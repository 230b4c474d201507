// `tributary operator`: the same reconciler, with the Kubernetes API as its store.
import { createReconciler } from '../../controller/reconcile.js';
import { SqlClientPool } from '../../sql/client.js';
import type { TopologyRef } from '../../store/store.js';
import { createLogger } from '../../util/log.js';
import { boardFromPasses, StatusBoard } from '../../ui/feed.js';
import { startUiServer } from '../../ui/server.js';
import { routingHookFromFlags } from '../context.js';
import { loadKubeConfig, runOperator } from '../operator.js';
import { createKubernetesEndpoints } from '../../store/endpoints.js';

/** Exit status when the Lease is lost: the process ends at once and its Deployment restarts it. */
export const EXIT_LEADERSHIP_LOST = 3;

export async function operatorCommand(o: {
  namespace?: string;
  metricsPort: number;
  healthPort: number;
  leaderElect: boolean;
  leaderElectLeaseDuration?: number;
  leaderElectRenewDeadline?: number;
  leaderElectRetryPeriod?: number;
  uiPort?: number;
  uiAddress?: string;
  routingHook?: string;
  routingHookTimeout?: number;
  routingHookPersistent?: boolean;
  maxConnectionsPerServer?: number;
}): Promise<void> {
  const log = createLogger();
  const hook = routingHookFromFlags(o, log);
  const pool = new SqlClientPool({ maxConnectionsPerServer: o.maxConnectionsPerServer });
  // The web view of every topology this replica reconciles (a standby shows them once it leads).
  const board = new StatusBoard();
  const ui =
    o.uiPort === undefined
      ? undefined
      : await startUiServer({
          feed: board,
          port: o.uiPort,
          host: o.uiAddress ?? '127.0.0.1',
          note: "tributary operator · this replica's passes · read-only",
        });
  if (ui) log.info({ url: ui.url }, 'web view listening (read-only)');
  let enqueue: ((ref: TopologyRef, options?: { urgent?: boolean }) => void) | undefined;
  const kubeConfig = loadKubeConfig();
  const endpoints = createKubernetesEndpoints(kubeConfig, {
    ...(o.namespace ? { namespace: o.namespace } : {}),
    log,
  });
  const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
  try {
    await runOperator({
      ...(o.namespace ? { namespace: o.namespace } : {}),
      metricsPort: o.metricsPort,
      healthPort: o.healthPort,
      leaderElect: o.leaderElect,
      leaderElection: {
        leaseDurationMs: ms(o.leaderElectLeaseDuration),
        renewDeadlineMs: ms(o.leaderElectRenewDeadline),
        retryPeriodMs: ms(o.leaderElectRetryPeriod),
      },
      kubeConfig,
      endpoints,
      reconcile: createReconciler({
        pool,
        log,
        // A member's connection broke (a primary may be dying): before every routine pass.
        wake: (ref) => enqueue?.(ref, { urgent: true }),
        // Writer and reader endpoints: EndpointSlices always (spec.routing.enabled decides per topology),
        // and the routing hook where whoever runs the operator configured one.
        routing: {
          targets: [endpoints, ...(hook ? [hook] : [])],
          observe: (ref, spec) => endpoints.observe(ref, spec.groups),
        },
      }),
      onEnqueue: (fn) => (enqueue = fn),
      onPass: boardFromPasses(board),
      // Like controller-runtime: no graceful stop once the Lease is gone (a pass still running must not go
      // on while a successor may be acting): the process ends now, and the Deployment restarts it.
      onLeadershipLost: (reason) => {
        log.error({ reason }, 'leader election lost: exiting');
        process.exit(EXIT_LEADERSHIP_LOST);
      },
      log,
    });
  } finally {
    await ui?.close();
    await hook?.close();
    await pool.closeAll();
  }
}
