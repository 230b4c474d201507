// Verifying the replication Secret on the servers instead of assuming (adoption, and the start of a
// rotation): does each member's replication account accept the Secret's password, and does each channel
// store the Secret's user and password? Reads only: one login as the replication account, and on MySQL one
// read of a salted digest of each channel's stored password. The Secret's password is never sent in a
// statement (MySQL keeps statement texts in performance_schema, its logs and SHOW PROCESSLIST). Bounded
// like a probe.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Member, TopologySpec } from '../api/spec.js';
import type { Credentials, TlsMaterial } from '../api/validate.js';
import type { SqlClientOptions, SqlClientPool } from '../sql/client.js';
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
  /**
   * A refused login means, by itself, that the account holds another password (a rotation: the operator
   * applied an earlier Secret). Otherwise, on MySQL, only a channel's stored password can confirm it.
   */
  refusalMeansStale?: boolean;
  /** Logins refused before, kept by the caller across passes: not tried again. */
  refused?: RefusedLogins;
  timeoutMs?: number;
}

/**
 * Members whose replication account refused the Secret's password, remembered by one process: every
 * refused login counts toward the account's FAILED_LOGIN_ATTEMPTS (MySQL) or max_password_errors
 * (MariaDB), so it is not tried again until the Secret or the member's address changes. Keyed by an HMAC
 * under a key of this process: neither the password nor a plain hash of it is kept.
 */
export class RefusedLogins {
  private readonly key = randomBytes(32);
  private readonly refused = new Map<string, string>();

  /** What a refusal is remembered under: the credentials and where they were tried. */
  keyOf(target: Pick<SqlClientOptions, 'host' | 'port'>, c: Credentials): string {
    return createHmac('sha256', this.key)
      .update(`${c.username}\u0000${c.password}\u0000${target.host}\u0000${target.port}`)
      .digest('hex');
  }
  has(member: string, key: string): boolean {
    return this.refused.get(member) === key;
  }
  set(member: string, key: string, refused: boolean): void {
    if (refused) this.refused.set(member, key);
    else this.refused.delete(member);
  }
}

/** A login's outcome: accepted, refused (access denied), or null (anything else: unknown). */
type Login = 'accepted' | 'refused' | null;

/** A channel's stored credentials against the Secret's; null: not read. */
type Stored = 'same' | 'password differs' | 'user differs' | null;

/**
 * The observation with `replicationLogin` and `channelCredentials` filled for every reachable member. A
 * refused login reads as `false` (the account holds another password) on MariaDB, in a rotation, and on
 * MySQL when a channel from that member stores the Secret's user with another password; otherwise as
 * `null`: access denied also means a host mismatch, REQUIRE SSL or an anonymous account shadowing the
 * account, none of which ALTER USER should "fix".
 */
export async function verifyReplicationCredentials(
  spec: TopologySpec,
  observation: Observation,
  opts: VerifyOptions,
): Promise<Observation> {
  const members = new Map(spec.groups.flatMap((g) => g.members.map((m) => [m.name, m] as const)));
  const read = await Promise.all(
    observation.instances.map(async (o) => {
      const m = members.get(o.member);
      if (!m || !o.reachable || !o.flavor) return { o };
      const target = { ...(m.connect ?? { host: m.host, port: m.port }), label: m.name };
      const [login, channels] = await Promise.all([
        (opts.accounts?.(o.member) ?? true) ? loginOnce(m.name, target, opts) : Promise.resolve(undefined),
        readChannels(o, target, opts),
      ]);
      return { o, login, channels };
    }),
  );
  // Channels by the member they receive from (the address they connect to is the member's spec address).
  const fromMember = (m: Member): Stored[] =>
    read.flatMap(({ o, channels }) =>
      o.channels
        .filter((c) => c.sourceHost.toLowerCase() === m.host.toLowerCase() && c.sourcePort === m.port)
        .map((c) => channels?.get(c.name.toLowerCase()) ?? null),
    );
  const verdict = (o: InstanceObservation, login: Login): boolean | null => {
    if (login !== 'refused') return login === 'accepted' ? true : null;
    if (o.flavor === 'mariadb' || opts.refusalMeansStale) return false;
    const stored = fromMember(members.get(o.member)!);
    return stored.includes('password differs') && !stored.includes('same') ? false : null;
  };
  const instances = read.map(({ o, login, channels }): InstanceObservation => {
    if (login === undefined && channels === undefined) return o;
    return {
      ...o,
      ...(login !== undefined ? { replicationLogin: verdict(o, login) } : {}),
      ...(channels
        ? {
            channelCredentials: Object.fromEntries(
              o.channels.map((c) => {
                const s = channels.get(c.name.toLowerCase()) ?? null;
                return [c.name, s === null ? null : s === 'same'];
              }),
            ),
          }
        : {}),
    };
  });
  return { ...observation, instances };
}

const within = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};

/** A login refused before under the same credentials and address is not tried again (see RefusedLogins). */
async function loginOnce(
  member: string,
  target: Pick<SqlClientOptions, 'host' | 'port' | 'label'>,
  opts: VerifyOptions,
): Promise<Login> {
  const key = opts.refused?.keyOf(target, opts.replication);
  if (key !== undefined && opts.refused!.has(member, key)) return 'refused';
  const login = await tryLogin(target, opts);
  if (key !== undefined && login !== null) opts.refused!.set(member, key, login === 'refused');
  return login;
}

/**
 * A login as the replication account with the Secret's password, over the operator's TLS settings, on a
 * connection of its own (closed at once) that counts toward the server's connection limit.
 */
async function tryLogin(
  target: Pick<SqlClientOptions, 'host' | 'port' | 'label'>,
  opts: VerifyOptions,
): Promise<Login> {
  const client = opts.pool.oneOffClient({
    ...target,
    user: opts.replication.username,
    password: opts.replication.password,
    connectTimeoutMs: opts.timeoutMs ?? 3000,
    queryTimeoutMs: opts.timeoutMs ?? 3000,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const attempt = client
    .query('SELECT 1 AS ok')
    .then((): Login => 'accepted')
    .catch((e: unknown): Login => (e instanceof SqlError && e.kind === 'auth' ? 'refused' : null));
  try {
    return await within(attempt, (opts.timeoutMs ?? 3000) + 1000, null);
  } finally {
    void client.close().catch(() => undefined);
  }
}

/** SHA-256 of the nonce's hex digits followed by the password, in UTF-8, as the server computes it (hex). */
export function credentialDigest(nonce: string, password: string): string {
  return createHash('sha256').update(nonce, 'utf8').update(password, 'utf8').digest('hex');
}

const sameHex = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Per channel of the member (by lower-cased name): its stored credentials against the Secret's. Undefined
 * without channels. A read that failed (no SELECT on the repository — an optional grant —, a timeout, an
 * error) or a channel without a row leaves the channel null: unknown, never "differs".
 */
async function readChannels(
  o: InstanceObservation,
  target: Pick<SqlClientOptions, 'host' | 'port' | 'label'>,
  opts: VerifyOptions,
): Promise<Map<string, Stored> | undefined> {
  if (o.channels.length === 0) return undefined;
  const out = new Map<string, Stored>(o.channels.map((c) => [c.name.toLowerCase(), null]));
  // A fresh nonce per query: the digest read back is good for this comparison only.
  const nonce = randomBytes(16).toString('hex');
  const stmt = dialectOf(o).channelCredentialDigests(nonce);
  if (!stmt) return out;
  const client = opts.pool.get({
    ...target,
    user: opts.admin.username,
    password: opts.admin.password,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  const rows = await within(
    client.query<{ name: unknown; user: unknown; digest: unknown }>(stmt).catch(() => undefined),
    (opts.timeoutMs ?? 3000) + 1000,
    undefined,
  );
  if (!rows) return out;
  const expected = credentialDigest(nonce, opts.replication.password);
  for (const r of rows) {
    const name = String(r.name).toLowerCase();
    if (!out.has(name)) continue;
    const digest = r.digest === null || r.digest === undefined ? '' : String(r.digest).toLowerCase();
    out.set(
      name,
      String(r.user) !== opts.replication.username
        ? 'user differs'
        : sameHex(digest, expected)
          ? 'same'
          : 'password differs',
    );
  }
  return out;
}
