// observe: the only step that reads servers. Parallel probes, each bounded by a deadline.
import type { Flavor, Member, TopologySpec } from '../api/spec.js';
import type { TlsMaterial } from '../api/validate.js';
import type { Credentials } from '../api/validate.js';
import type { SqlClient, SqlClientPool } from '../sql/client.js';
import { REFUSAL_KINDS, SqlError } from '../sql/errors.js';
import { REPLICATION_ACCOUNT_HOST, replicationAccountExists } from '../sql/grants.js';
import type { Dialect } from '../sql/dialect.js';
import { detectFlavor, dialectFor } from '../sql/flavor.js';
import { oneLine } from '../util/errors.js';
import type { InstanceObservation, Observation } from './types.js';

export interface ObserveOptions {
  admin: Credentials;
  /** The replication account, matched by user and host (default REPLICATION_ACCOUNT_HOST). */
  replicationUser: string;
  replicationHost?: string;
  pool: SqlClientPool;
  /** TLS of the operator's connections (spec.tls with its Secrets). */
  tls?: TlsMaterial;
  /** A whole probe (all its queries) must finish within this. */
  probeTimeoutMs?: number;
}

const versions = new WeakMap<SqlClient, string>();

/** The dialect of an observed server, for its exact version (MySQL 8.0.x differ in words and variables). */
export function dialectOf(obs: InstanceObservation): Dialect {
  if (!obs.flavor) throw new Error(`${obs.member} was not observed`);
  return dialectFor(obs.flavor, obs.vars?.version);
}

export async function observeTopology(spec: TopologySpec, opts: ObserveOptions): Promise<Observation> {
  const jobs = spec.groups.flatMap((g) => g.members.map((m) => probeMember(g.name, m, spec.flavor, opts)));
  const instances = await Promise.all(jobs);
  return { instances, observedAt: new Date().toISOString() };
}

export async function probeMember(
  group: string,
  member: Member,
  flavorSetting: Flavor | 'auto',
  opts: ObserveOptions,
): Promise<InstanceObservation> {
  const started = performance.now();
  const address = { host: member.host, port: member.port };
  const target = member.connect ?? address;
  const client = opts.pool.get({
    ...target,
    user: opts.admin.username,
    password: opts.admin.password,
    label: member.name,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const base = { member: member.name, group, address };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`probe timed out after ${opts.probeTimeoutMs ?? 3000} ms`)),
      opts.probeTimeoutMs ?? 3000,
    );
  });
  try {
    const result = await Promise.race([
      readInstance(client, flavorSetting, {
        user: opts.replicationUser,
        host: opts.replicationHost ?? REPLICATION_ACCOUNT_HOST,
      }),
      deadline,
    ]);
    return {
      ...base,
      reachable: true,
      ...result,
      ...(client.encrypted !== undefined ? { tls: client.encrypted } : {}),
      observedAt: new Date().toISOString(),
      durationMs: performance.now() - started,
    };
  } catch (e) {
    versions.delete(client);
    const err = e as { message?: string; errno?: number };
    const refused = e instanceof SqlError && REFUSAL_KINDS.has(e.kind) ? e.kind : undefined;
    return {
      ...base,
      reachable: false,
      error: oneLine(err.message ?? String(e), 300),
      ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
      ...(refused ? { refused: refused as InstanceObservation['refused'] } : {}),
      channels: [],
      observedAt: new Date().toISOString(),
      durationMs: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function readInstance(
  client: SqlClient,
  flavorSetting: Flavor | 'auto',
  replication: { user: string; host: string },
) {
  // VERSION() only changes with a restart, which drops the pooled connection: ask once per client.
  let version = versions.get(client);
  if (version === undefined) {
    const rows = await client.query<{ version: string }>('SELECT VERSION() AS version');
    version = String(rows[0]?.version ?? '');
    versions.set(client, version);
  }
  const flavor: Flavor = flavorSetting === 'auto' ? detectFlavor(version) : flavorSetting;
  const dialect = dialectFor(flavor, version);
  const configStatement = dialect.showChannelConfig();
  // In parallel over the client's connections (two by default): with the configuration read (MySQL), two
  // statements per connection. The replication account's existence rides on the variables row.
  const [varRows, channelRows, configRows] = await Promise.all([
    client.query<Record<string, unknown>>(dialect.showVariables(replication)),
    client.query<Record<string, unknown>>(dialect.showChannels()),
    // Optional detail (heartbeat periods): a server that refuses it is still observed, those fields null.
    configStatement
      ? client.query<Record<string, unknown>>(configStatement).catch(() => undefined)
      : undefined,
  ]);
  if (!varRows[0]) throw new Error('server returned no variables row');
  const vars = dialect.parseVariables(varRows[0]);
  const channels = dialect.parseChannels(channelRows, vars, configRows);
  return { flavor, vars, channels, replicationUserExists: replicationAccountExists(varRows[0]) ?? false };
}
