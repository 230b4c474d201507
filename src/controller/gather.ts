// gather: everything a pass decides from — the resource and its Secrets from the store, then one
// observation of every member. The only reads of a pass (the report re-observes once it acted).
import type { TopologySpec } from '../api/spec.js';
import type { TopologyStatus } from '../api/status.js';
import { loadCredentials, validateTopology, type Credentials, type TlsMaterial } from '../api/validate.js';
import { observeTopology } from '../observe/probe.js';
import type { Observation } from '../observe/types.js';
import { verifyReplicationCredentials, type RefusedLogins } from '../observe/credentials-check.js';
import {
  accountsToVerify,
  fingerprint,
  newSalt,
  refusalMeansStale,
  type CredentialsInput,
} from '../plan/credentials.js';
import type { DecideInput } from '../plan/decide.js';
import type { SqlClientPool } from '../sql/client.js';
import type { Store, StoredTopology } from '../store/store.js';

/** Everything one pass needs to decide, once the resource is valid and its Secrets read. */
export interface PassInputs {
  spec: TopologySpec;
  admin: Credentials;
  replication: Credentials;
  /** The replication Secret's fingerprint under the topology's salt (a new salt until status has one). */
  credentials: CredentialsInput;
  /** TLS of the operator's connections; absent when spec.tls is absent or disabled. */
  tls?: TlsMaterial;
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
  const salt = stored.status?.credentials?.salt ?? newSalt();
  return {
    spec,
    admin: creds.admin,
    replication: creds.replication,
    credentials: { salt, fingerprint: fingerprint(salt, creds.replication) },
    ...(creds.tls ? { tls: creds.tls } : {}),
    previous: stored.status,
  };
}

/** What a pass decides about the replication Secret from (DecideInput.replication). */
export const replicationOf = (inputs: PassInputs): NonNullable<DecideInput['replication']> => ({
  user: inputs.replication.username,
  ...inputs.credentials,
});

/**
 * A pass's observation: the probe of every member, then — while the credentials record of status does not
 * cover the Secret (first contact, a rotation under way) — the Secret verified on the servers, so that
 * what already holds it is adopted, not changed (plan/credentials.ts). `refused`: the logins refused on
 * earlier passes of this process, not tried again (each counts toward the account's failed-login limit).
 */
export async function observeAndVerify(
  inputs: PassInputs,
  pool: SqlClientPool,
  probeTimeoutMs?: number,
  refused?: RefusedLogins,
): Promise<Observation> {
  const observation = await observe(inputs, pool, probeTimeoutMs);
  const accounts = accountsToVerify(inputs.previous?.credentials, inputs.credentials);
  if (!accounts) return observation;
  return verifyReplicationCredentials(inputs.spec, observation, {
    admin: inputs.admin,
    replication: inputs.replication,
    pool,
    accounts,
    refusalMeansStale: refusalMeansStale(inputs.previous?.credentials, inputs.credentials),
    ...(refused ? { refused } : {}),
    ...(inputs.tls ? { tls: inputs.tls } : {}),
    ...(probeTimeoutMs ? { timeoutMs: probeTimeoutMs } : {}),
  });
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
    ...(inputs.tls ? { tls: inputs.tls } : {}),
    ...(probeTimeoutMs ? { probeTimeoutMs } : {}),
  });
}
