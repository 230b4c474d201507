// gather: everything a pass decides from — the resource and its Secrets from the store, then one
// observation of every member. The only reads of a pass (the report re-observes once it acted).
import type { TopologySpec } from '../api/spec.js';
import type { TopologyStatus } from '../api/status.js';
import { loadCredentials, validateTopology, type Credentials } from '../api/validate.js';
import { observeTopology } from '../observe/probe.js';
import type { Observation } from '../observe/types.js';
import type { SqlClientPool } from '../sql/client.js';
import type { Store, StoredTopology } from '../store/store.js';

/** Everything one pass needs to decide, once the resource is valid and its Secrets read. */
export interface PassInputs {
  spec: TopologySpec;
  admin: Credentials;
  replication: Credentials;
  previous: TopologyStatus | undefined;
}

/** Reads the resource and its Secrets; returns the problems (one line each) when it cannot be used. */
export async function loadInputs(
  store: Store,
  stored: StoredTopology,
): Promise<PassInputs | { errors: string[] }> {
  const resource = {
    apiVersion: 'tributary.dev/v1alpha1',
    kind: 'MySQLTopology',
    metadata: { name: stored.ref.name, namespace: stored.ref.namespace },
    spec: stored.spec,
  };
  const result = validateTopology(resource);
  if (!result.ok) return { errors: result.errors };
  const spec = result.topology.spec;
  const creds = await loadCredentials(spec, (name) => store.readSecret(stored.ref.namespace, name), {
    namespace: stored.ref.namespace,
  });
  if (!creds.ok) return { errors: creds.errors };
  return { spec, admin: creds.admin, replication: creds.replication, previous: stored.status };
}

/** One parallel, bounded probe of every member. */
export function observe(
  inputs: PassInputs,
  pool: SqlClientPool,
  probeTimeoutMs?: number,
): Promise<Observation> {
  return observeTopology(inputs.spec, {
    admin: inputs.admin,
    replicationUser: inputs.replication.username,
    pool,
    ...(probeTimeoutMs ? { probeTimeoutMs } : {}),
  });
}
