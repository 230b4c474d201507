// Verifying the replication Secret on the servers instead of assuming (adoption, and the start of a
// rotation): does each member's replication account accept the Secret's password, and does each channel
// store the Secret's user and password? Reads only: one login as the replication account, and on MySQL one
// comparison on the server (the stored password never comes back). Bounded like a probe.
import type { TopologySpec } from '../api/spec.js';
import type { Credentials, TlsMaterial } from '../api/validate.js';
import { SqlClient, type SqlClientOptions, type SqlClientPool } from '../sql/client.js';
import { SqlError } from '../sql/errors.js';
import { dialectOf } from './probe.js';
import type { InstanceObservation, Observation } from './types.js';

export interface VerifyOptions {
  admin: Credentials;
  replication: Credentials;
  pool: SqlClientPool;
  tls?: TlsMaterial;
  /** Members whose account is to be tried (the others are known from status): default all. */
  accounts?: (member: string) => boolean;
  timeoutMs?: number;
}

/** The observation with `replicationLogin` and `channelCredentials` filled for every reachable member. */
export async function verifyReplicationCredentials(
  spec: TopologySpec,
  observation: Observation,
  opts: VerifyOptions,
): Promise<Observation> {
  const members = new Map(spec.groups.flatMap((g) => g.members.map((m) => [m.name, m] as const)));
  const instances = await Promise.all(
    observation.instances.map(async (o): Promise<InstanceObservation> => {
      const m = members.get(o.member);
      if (!m || !o.reachable || !o.flavor) return o;
      const target = m.connect ?? { host: m.host, port: m.port };
      const [login, channels] = await Promise.all([
        (opts.accounts?.(o.member) ?? true)
          ? tryLogin({ ...target, label: m.name }, opts)
          : Promise.resolve(undefined),
        compareChannels(o, { ...target, label: m.name }, opts),
      ]);
      return {
        ...o,
        ...(login !== undefined ? { replicationLogin: login } : {}),
        ...(channels ? { channelCredentials: channels } : {}),
      };
    }),
  );
  return { ...observation, instances };
}

const within = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};

/**
 * A login as the replication account with the Secret's password, over the operator's TLS settings, on a
 * connection of its own (closed at once). Access denied: false; anything else that fails: null (unknown).
 */
async function tryLogin(
  target: Pick<SqlClientOptions, 'host' | 'port' | 'label'>,
  opts: VerifyOptions,
): Promise<boolean | null> {
  const client = new SqlClient({
    ...target,
    user: opts.replication.username,
    password: opts.replication.password,
    connectionLimit: 1,
    connectTimeoutMs: opts.timeoutMs ?? 3000,
    queryTimeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const attempt = client
    .query('SELECT 1 AS ok')
    .then(() => true as boolean | null)
    .catch((e: unknown) => (e instanceof SqlError && e.kind === 'auth' ? false : null));
  try {
    return await within(attempt, (opts.timeoutMs ?? 3000) + 1000, null);
  } finally {
    void client.close().catch(() => undefined);
  }
}

/** Per channel of the member: stored credentials equal the Secret's (true/false), or null (unreadable). */
async function compareChannels(
  o: InstanceObservation,
  target: Pick<SqlClientOptions, 'host' | 'port' | 'label'>,
  opts: VerifyOptions,
): Promise<Record<string, boolean | null> | undefined> {
  if (o.channels.length === 0) return undefined;
  const unknown = Object.fromEntries(o.channels.map((c) => [c.name, null]));
  const stmt = dialectOf(o).compareChannelCredentials(opts.replication.username, opts.replication.password);
  if (!stmt) return unknown;
  const client = opts.pool.get({
    ...target,
    user: opts.admin.username,
    password: opts.admin.password,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  // Without SELECT on the repository (an optional grant) every channel is unknown, never "differs".
  const rows = await within(
    client.query<{ name: string; same: unknown }>(stmt).catch(() => undefined),
    (opts.timeoutMs ?? 3000) + 1000,
    undefined,
  );
  if (!rows) return unknown;
  const same = new Map(rows.map((r) => [String(r.name).toLowerCase(), Number(r.same) === 1]));
  return Object.fromEntries(o.channels.map((c) => [c.name, same.get(c.name.toLowerCase()) ?? null]));
}
