// Manifests for a topology over sandbox servers: the MySQLTopology and the two login Secrets it names, as
// `kubectl apply -f` and `tributary local -f` take them (the demo, the tests, the chaos runner).
import { ADMIN_PASSWORD, ADMIN_USER, REPL_PASSWORD, REPL_USER, SANDBOX_HOST } from './constants.js';
import type { Sandbox } from './sandbox.js';

export interface Login {
  username: string;
  password: string;
}

/** A member as a spec lists it: the sandbox server of that name, on 127.0.0.1. */
export function sandboxMember(sb: Sandbox, name: string, extra: Record<string, unknown> = {}) {
  return { name, host: SANDBOX_HOST, port: sb.server(name).port, ...extra };
}

/** A Secret holding a login (keys username and password). */
export function loginSecret(name: string, namespace: string, login: Login) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { username: login.username, password: login.password },
  };
}

/**
 * A MySQLTopology with `spec` (its Secret references added) and the Secrets it names: the admin login
 * (the sandbox's admin unless told otherwise) and the replication login.
 */
export function sandboxManifests(opts: {
  name: string;
  namespace?: string;
  spec: Record<string, unknown>;
  admin?: Login;
  replication?: Login;
}): unknown[] {
  const namespace = opts.namespace ?? 'db';
  return [
    {
      apiVersion: 'tributary.dev/v1alpha1',
      kind: 'MySQLTopology',
      metadata: { name: opts.name, namespace },
      spec: {
        adminSecretRef: { name: 'tributary-admin' },
        replicationSecretRef: { name: 'tributary-repl' },
        ...opts.spec,
      },
    },
    loginSecret(
      'tributary-admin',
      namespace,
      opts.admin ?? { username: ADMIN_USER, password: ADMIN_PASSWORD },
    ),
    loginSecret(
      'tributary-repl',
      namespace,
      opts.replication ?? { username: REPL_USER, password: REPL_PASSWORD },
    ),
  ];
}
