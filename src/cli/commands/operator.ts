// `tributary operator`: the same reconciler, with the Kubernetes API as its store.
import { createReconciler } from '../../controller/reconcile.js';
import { SqlClientPool } from '../../sql/client.js';
import type { TopologyRef } from '../../store/store.js';
import { createLogger } from '../../util/log.js';
import { runOperator } from '../operator.js';

export async function operatorCommand(o: {
  namespace?: string;
  metricsPort: number;
  healthPort: number;
  leaderElect: boolean;
}): Promise<void> {
  const log = createLogger();
  const pool = new SqlClientPool();
  let enqueue: ((ref: TopologyRef) => void) | undefined;
  try {
    await runOperator({
      ...(o.namespace ? { namespace: o.namespace } : {}),
      metricsPort: o.metricsPort,
      healthPort: o.healthPort,
      leaderElect: o.leaderElect,
      reconcile: createReconciler({ pool, log, wake: (ref) => enqueue?.(ref) }),
      onEnqueue: (fn) => (enqueue = fn),
      log,
    });
  } finally {
    await pool.closeAll();
  }
}
