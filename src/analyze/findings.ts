// Findings: what differs between the spec and what the servers do. Pure: spec × observation → findings.
import { CATCHUP_CHANNEL, type ChannelFilter, type Flavor, type TlsSpec } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';
import { NO_CHANNEL_TLS, type ChannelTls } from '../sql/dialect.js';
import { IO_UNREACHABLE_ERRNOS } from '../sql/errors.js';
import type { GtidOps } from '../sql/gtid/index.js';
import { declaredChannels } from './managed-channels.js';
import {
  channelSourceMember,
  failingOver,
  groupOf,
  type GroupView,
  type MemberView,
  type TopologyView,
} from './view.js';

/** Where a managed channel must point and how: the desired state of one channel. */
export interface DesiredChannel {
  member: string;
  channel: string;
  /** The group it comes from (the member's own group for the default channel ''). */
  fromGroup: string;
  source: string;
  sourceHost: string;
  sourcePort: number;
  delaySeconds: number;
  filter: ChannelFilter;
  /**
   * MariaDB only: a member that wrote locally (a former primary) must set gtid_slave_pos to what it holds
   * before a slave_pos channel starts, or the source would resend its own transactions.
   */
  alignReplicaPosition?: string;
  /** MariaDB only: receive just these GTID domains (failover catch-up from a downstream survivor). */
  doDomainIds?: number[];
  /** TLS of the channel, from spec.tls (and, in preferred mode, whether the source offers TLS). */
  tls: ChannelTls;
}

/**
 * A channel's TLS for a TLS spec: off when disabled; on otherwise, with the CA on the servers and
 * verification in the verifying modes only (MySQL verifies whenever a CA is given). preferred: off toward
 * a source seen offering no TLS (the operator's own connection to it fell back to plaintext); while that
 * is unknown, as the channel has it (nothing to repair on a guess).
 */
export function channelTls(
  tls: TlsSpec | undefined,
  sourceOffersTls: boolean | undefined,
  current?: Pick<ChannelStatus, 'sslAllowed'>,
): ChannelTls {
  const mode = tls?.mode ?? 'disabled';
  if (mode === 'disabled') return NO_CHANNEL_TLS;
  const verifying = mode === 'verify-ca' || mode === 'verify-identity';
  const enabled =
    mode !== 'preferred'
      ? true
      : sourceOffersTls !== undefined
        ? sourceOffersTls
        : (current?.sslAllowed ?? true);
  return {
    enabled,
    caFile: verifying ? (tls?.channels.caPath ?? '') : '',
    verifyServerCert: mode === 'verify-identity',
  };
}

/** The TLS a channel from `source` must have: the source member's observation tells whether it offers TLS. */
export function desiredTls(
  view: Pick<TopologyView, 'spec' | 'members'>,
  source: string,
  current?: Pick<ChannelStatus, 'sslAllowed'>,
): ChannelTls {
  const obs = view.members.get(source)?.obs;
  return channelTls(view.spec.tls, obs?.reachable ? obs.tls : undefined, current);
}

/** Replication settings the operator applies to every managed channel: fast failure detection. */
export const CHANNEL_DEFAULTS = { connectRetry: 1, retryCount: 86400, heartbeatPeriod: 1 } as const;

type At = { member: string; channel: string };
export type Finding =
  | ({ kind: 'ChannelMissing'; desired: DesiredChannel } & At)
  | ({ kind: 'ChannelPointsElsewhere'; desired: DesiredChannel; actual: string } & At)
  | ({ kind: 'ChannelConfigDrift'; desired: DesiredChannel; differences: string[] } & At)
  | ({ kind: 'ChannelStopped'; fromGroup: string; io: string; sql: string } & At)
  | ({
      kind: 'ChannelBroken';
      fromGroup: string;
      thread: 'receiver' | 'applier';
      errno: number;
      error: string;
    } & At)
  | ({ kind: 'ChannelRemovedFromSpec' } & At)
  | ({ kind: 'ChannelMisplaced'; reason: string } & At)
  | ({ kind: 'GtidDomainConflict'; domain: number; withMember: string } & At)
  | ({ kind: 'SourcePurgedNeededGtids'; missing: string } & At)
  | ({ kind: 'UnmanagedChannel' } & At)
  /** A managed channel that must be given the replication Secret's (rotated) password. */
  | ({ kind: 'ChannelPasswordStale'; desired: DesiredChannel } & At)
  /**
   * The channel's source already feeds another channel of the same replica: never created or repointed
   * there (MySQL would accept it and the source would then drop the older connection; MariaDB refuses it).
   */
  | ({ kind: 'ChannelSourceConflict'; otherChannel: string; source: string } & At)
  | { kind: 'ReplicaWritable'; member: string }
  /** MySQL: GTIDs are not fully on; never a candidate, never (re)pointed by auto-position, either end. */
  | { kind: 'GtidModeOff'; member: string; gtidMode: string; enforceGtidConsistency: boolean | null }
  /** MySQL: super_read_only=ON is not persisted, so a restart would come back writable. */
  | { kind: 'ReadOnlyNotPersisted'; member: string }
  | { kind: 'PrimaryReadOnly'; member: string }
  | { kind: 'TwoWritableMembers'; group: string; members: string[] }
  | { kind: 'ErrantTransactions'; member: string; errant: string }
  | { kind: 'LogReplicaUpdatesOff'; member: string }
  | { kind: 'LogBinOff'; member: string }
  | { kind: 'ReplicationUserMissing'; member: string }
  /** The replication account on a primary must be given the Secret's (rotated) password. */
  | { kind: 'ReplicationPasswordStale'; member: string }
  | { kind: 'InstanceUnreachable'; member: string; error: string }
  /** It answers but refuses the operator: a login, a privilege, TLS. Not down; nothing is done on it. */
  | { kind: 'InstanceRefused'; member: string; refused: 'auth' | 'privilege' | 'tls'; error: string }
  | { kind: 'NoPrimary'; group: string; reason: string };

export type FindingKind = Finding['kind'];

export interface AnalyzeContext {
  view: TopologyView;
  gtid: (flavor: Flavor) => GtidOps;
  /** Managed channels remembered from status: declared before, maybe not now. */
  remembered: { group: string; name: string; from: string }[];
  /** The replication account's user: a managed channel logging in as another is repointed. */
  replicationUser?: string;
  /** Where the replication Secret's password still has to go (a rotation); absent: nowhere. */
  credentials?: PasswordTargets;
}

/** What a rotation of the replication password has left to do (plan/credentials.ts). */
export interface PasswordTargets {
  /** The replication account on this member (a group's primary) must be given the password. */
  accountStale(member: string): boolean;
  /** This managed channel must be given the password; it is asked once its source's account has it. */
  channelStale(member: string, channel: string, source: string): boolean;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function analyze(ctx: AnalyzeContext): Finding[] {
  const out: Finding[] = [];
  for (const g of ctx.view.groups) analyzeGroup(ctx, g, out);
  return out;
}

function analyzeGroup(ctx: AnalyzeContext, g: GroupView, out: Finding[]): void {
  const { view } = ctx;
  const primary = g.members.find((m) => m.spec.name === g.primary);
  for (const m of g.members) {
    if (m.reachable) continue;
    const error = m.obs?.error ?? 'not probed';
    if (m.obs?.refused)
      out.push({ kind: 'InstanceRefused', member: m.spec.name, refused: m.obs.refused, error });
    else out.push({ kind: 'InstanceUnreachable', member: m.spec.name, error });
  }
  if (!primary) {
    out.push({ kind: 'NoPrimary', group: g.spec.name, reason: 'the group has no member' });
    return;
  }
  const writable = g.members.filter((m) => m.reachable && m.readOnly === false).map((m) => m.spec.name);
  if (writable.length > 1) out.push({ kind: 'TwoWritableMembers', group: g.spec.name, members: writable });
  for (const m of g.members) if (m.reachable && m.obs?.vars) analyzeServer(m, out);

  const feedsOthers = feedsReplicas(view, g);
  if (primary.reachable && primary.obs?.vars) {
    const v = primary.obs.vars;
    if (v.readOnly) out.push({ kind: 'PrimaryReadOnly', member: primary.spec.name });
    if (feedsOthers && !v.logBin) out.push({ kind: 'LogBinOff', member: primary.spec.name });
    if (
      feedsOthers &&
      v.logBin &&
      !v.logReplicaUpdates &&
      g.spec.channels.length > 0 &&
      g.members.length > 1
    ) {
      // A multi-source primary without log_replica_updates never passes its sources' rows to its replicas.
      out.push({ kind: 'LogReplicaUpdatesOff', member: primary.spec.name });
    }
    if (feedsOthers && primary.obs.replicationUserExists === false) {
      out.push({ kind: 'ReplicationUserMissing', member: primary.spec.name });
    } else if (feedsOthers && ctx.credentials?.accountStale(primary.spec.name)) {
      // Made writable first when it is not (PrimaryReadOnly, same pass): accounts are written on primaries only.
      out.push({ kind: 'ReplicationPasswordStale', member: primary.spec.name });
    }
  }

  for (const m of g.members) {
    if (!m.reachable || !m.obs?.vars) continue;
    if (m === primary) analyzePrimaryChannels(ctx, g, m, out);
    else analyzeReplica(ctx, g, primary, m, out);
  }
}

/** The group's primary has replicas (its own group's, or other groups' channels): it needs the account. */
export function feedsReplicas(view: Pick<TopologyView, 'spec'>, g: GroupView): boolean {
  return g.members.length > 1 || channelSources(view.spec).has(g.spec.name);
}

const sourceGroups = new WeakMap<TopologyView['spec'], Set<string>>();

/** The groups some channel receives from, once per spec (asked per group: a scan would be quadratic). */
function channelSources(spec: TopologyView['spec']): Set<string> {
  let out = sourceGroups.get(spec);
  if (!out) {
    out = new Set(spec.groups.flatMap((o) => o.channels.map((c) => c.from)));
    sourceGroups.set(spec, out);
  }
  return out;
}

/** Server-wide settings every member needs, whatever its role. */
function analyzeServer(m: MemberView, out: Finding[]): void {
  const v = m.obs!.vars!;
  if (gtidsOff(m))
    out.push({
      kind: 'GtidModeOff',
      member: m.spec.name,
      gtidMode: v.gtidMode ?? 'unknown',
      enforceGtidConsistency: v.enforceGtidConsistency,
    });
  if (v.superReadOnlyPersisted === false) out.push({ kind: 'ReadOnlyNotPersisted', member: m.spec.name });
}

/** MySQL with GTIDs not fully on (gtid_mode other than ON, or consistency not enforced); MariaDB never. */
export function gtidsOff(m: MemberView | undefined): boolean {
  const v = m?.obs?.vars;
  return (
    v !== undefined && v.gtidMode !== null && (v.gtidMode !== 'ON' || v.enforceGtidConsistency === false)
  );
}

/** A non-primary member: read-only, replicating from the primary over '', nothing else managed. */
function analyzeReplica(
  ctx: AnalyzeContext,
  g: GroupView,
  primary: MemberView,
  m: MemberView,
  out: Finding[],
): void {
  const name = m.spec.name;
  // MySQL replicas need super_read_only too: read_only alone does not stop accounts with SUPER.
  if (m.readOnly === false || m.obs?.vars?.superReadOnly === false)
    out.push({ kind: 'ReplicaWritable', member: name });
  for (const ch of m.obs!.channels) {
    if (ch.name === '') continue;
    if (leftoverCatchUp(ctx, g, name, ch, out)) continue;
    if (isManagedName(ctx, g, ch.name)) {
      out.push({
        kind: 'ChannelMisplaced',
        member: name,
        channel: ch.name,
        reason: `${name} is not the primary of ${g.spec.name}`,
      });
    } else out.push({ kind: 'UnmanagedChannel', member: name, channel: ch.name });
  }
  if (!primary.reachable || !primary.obs?.vars) return; // nothing to compare with or point at
  const flavor = m.obs!.flavor!;
  const current = m.obs!.channels.find((c) => c.name === '');
  // What it received from the primary counts as the primary's (the primary's row may be a moment older);
  // what a channel received from anywhere else (a dead old primary) does not.
  const fromPrimary = current && channelSourceMember(ctx.view, current) === primary.spec.name;
  const errant = ctx.gtid(flavor).errant(m.obs!.vars!.gtidExecuted, primary.obs.vars.gtidExecuted, {
    alsoLegit: fromPrimary ? [current.retrievedGtidSet] : [],
  });
  if (errant) {
    // Reported whether or not it replicates (it may never be promoted); a member that does not replicate
    // from the primary is not pointed at it: it stays fenced (read-only) for a human to look at.
    out.push({ kind: 'ErrantTransactions', member: name, errant });
    if (!fromPrimary) return;
  }
  const desired: DesiredChannel = {
    member: name,
    channel: '',
    fromGroup: g.spec.name,
    source: primary.spec.name,
    sourceHost: primary.spec.host,
    sourcePort: primary.spec.port,
    delaySeconds: 0,
    filter: { doDatabases: [], ignoreDatabases: [] },
    tls: desiredTls(ctx.view, primary.spec.name, current),
  };
  const v = m.obs!.vars!;
  if (
    flavor === 'mariadb' &&
    v.gtidBinlogPos &&
    ctx.gtid(flavor).missing(v.gtidSlavePos ?? '', v.gtidBinlogPos)
  ) {
    desired.alignReplicaPosition = v.gtidCurrentPos ?? v.gtidBinlogPos;
  }
  compareChannel(ctx, current, desired, out);
}

/**
 * Tributary's own catch-up channel: expected while its group fails over, a leftover to remove otherwise.
 * True when the channel is that one (nothing else is to be said about it).
 */
function leftoverCatchUp(
  ctx: AnalyzeContext,
  g: GroupView,
  member: string,
  ch: ChannelStatus,
  out: Finding[],
): boolean {
  if (ch.name.toLowerCase() !== CATCHUP_CHANNEL) return false;
  if (!failingOver(ctx.view, g.spec.name))
    out.push({
      kind: 'ChannelMisplaced',
      member,
      channel: ch.name,
      reason: 'a leftover failover catch-up channel',
    });
  return true;
}

function analyzePrimaryChannels(ctx: AnalyzeContext, g: GroupView, p: MemberView, out: Finding[]): void {
  const { view } = ctx;
  const name = p.spec.name;
  const channels = p.obs!.channels;
  for (const ch of channels) {
    if (leftoverCatchUp(ctx, g, name, ch, out)) continue;
    if (ch.name === '') {
      // A primary's default channel pointing into its own group is a leftover of a promotion or switchover.
      const src = channelSourceMember(view, ch);
      if (src && g.members.some((m) => m.spec.name === src)) {
        out.push({
          kind: 'ChannelMisplaced',
          member: name,
          channel: '',
          reason: `${name} is the primary of ${g.spec.name}`,
        });
      } else out.push({ kind: 'UnmanagedChannel', member: name, channel: '' });
      continue;
    }
    if (!isManagedName(ctx, g, ch.name))
      out.push({ kind: 'UnmanagedChannel', member: name, channel: ch.name });
    else if (!(declaredNames(view).get(g.spec.name)?.has(ch.name.toLowerCase()) ?? false))
      out.push({ kind: 'ChannelRemovedFromSpec', member: name, channel: ch.name });
  }
  const domains = new Map<number, string>();
  const ownDomain = p.obs!.vars!.gtidDomainId;
  if (ownDomain !== null && ownDomain !== undefined) domains.set(ownDomain, name);
  for (const { spec, name: channel, source, current } of declaredChannels(view, g)) {
    const desired: DesiredChannel = {
      member: name,
      channel,
      fromGroup: spec.from,
      source: source.spec.name,
      sourceHost: source.spec.host,
      sourcePort: source.spec.port,
      delaySeconds: spec.delaySeconds,
      filter: spec.filter ?? { doDatabases: [], ignoreDatabases: [] },
      tls: desiredTls(view, source.spec.name, current),
    };
    // MariaDB positions are per domain: two sources writing one domain would make the replica skip rows.
    const domain = source.obs?.vars?.gtidDomainId;
    if (domain !== null && domain !== undefined) {
      const holder = domains.get(domain);
      if (holder !== undefined) {
        out.push({
          kind: 'GtidDomainConflict',
          member: name,
          channel: spec.name,
          domain,
          withMember: holder,
        });
        continue;
      }
      domains.set(domain, source.spec.name);
    }
    const purged = source.obs?.vars?.gtidPurged;
    if (!current && purged && p.obs!.flavor !== 'mariadb') {
      const missing = ctx.gtid(p.obs!.flavor!).missing(p.obs!.vars!.gtidExecuted, purged);
      if (missing) {
        out.push({ kind: 'SourcePurgedNeededGtids', member: name, channel: spec.name, missing });
        continue;
      }
    }
    compareChannel(ctx, current, desired, out);
  }
}

function compareChannel(
  ctx: AnalyzeContext,
  current: ChannelStatus | undefined,
  desired: DesiredChannel,
  out: Finding[],
): void {
  const at = { member: desired.member, channel: desired.channel, fromGroup: desired.fromGroup };
  // Auto-position needs GTIDs on both ends: reported (GtidModeOff), never created or repointed.
  if (gtidsOff(ctx.view.members.get(desired.member)) || gtidsOff(ctx.view.members.get(desired.source)))
    return;
  const conflict = sourceConflict(ctx, current, desired);
  if (conflict) {
    out.push({ kind: 'ChannelSourceConflict', member: at.member, channel: at.channel, ...conflict });
    return;
  }
  if (!current) {
    out.push({ kind: 'ChannelMissing', member: at.member, channel: at.channel, desired });
    return;
  }
  const src = channelSourceMember(ctx.view, current);
  if (src !== desired.source || current.sourcePort !== desired.sourcePort) {
    out.push({
      kind: 'ChannelPointsElsewhere',
      ...at,
      desired,
      actual: `${current.sourceHost}:${current.sourcePort}`,
    });
    return;
  }
  const differences = configDifferences(current, desired);
  if (ctx.replicationUser !== undefined && current.sourceUser !== ctx.replicationUser)
    differences.push(`logs in as ${current.sourceUser || 'nobody'}, want ${ctx.replicationUser}`);
  if (differences.length > 0) {
    out.push({ kind: 'ChannelConfigDrift', member: at.member, channel: at.channel, desired, differences });
    return;
  }
  // A rotation gives it the new password (its receiver restarts with it: a stopped or refused one too).
  if (ctx.credentials?.channelStale(at.member, at.channel, desired.source)) {
    out.push({ kind: 'ChannelPasswordStale', member: at.member, channel: at.channel, desired });
    return;
  }
  if (current.lastSQLErrno !== 0 && current.sqlRunning === 'No') {
    out.push({
      kind: 'ChannelBroken',
      ...at,
      thread: 'applier',
      errno: current.lastSQLErrno,
      error: current.lastSQLError,
    });
  } else if (
    current.lastIOErrno !== 0 &&
    current.ioRunning === 'No' &&
    // A receiver stopped while it could not reach its source (by a failover, by hand, or out of retries)
    // only needs starting again; other receiver errors (refused, purged, diverged) need a human.
    !IO_UNREACHABLE_ERRNOS.has(current.lastIOErrno)
  ) {
    out.push({
      kind: 'ChannelBroken',
      ...at,
      thread: 'receiver',
      errno: current.lastIOErrno,
      error: current.lastIOError,
    });
  } else if (current.ioRunning === 'No' || current.sqlRunning === 'No') {
    out.push({ kind: 'ChannelStopped', ...at, io: current.ioRunning, sql: current.sqlRunning });
  }
}

/**
 * Another channel of the replica that already receives from the desired source (by member, or by the
 * literal address MariaDB compares): creating or repointing this one there would break one of the two.
 * A channel that already points there itself is no conflict with itself.
 */
function sourceConflict(
  ctx: AnalyzeContext,
  current: ChannelStatus | undefined,
  desired: DesiredChannel,
): { otherChannel: string; source: string } | undefined {
  const wanted = `${desired.sourceHost.toLowerCase()}:${desired.sourcePort}`;
  const index = sourceIndex(ctx.view, desired.member);
  // The first channel, in the server's order, that receives from the source by member or by address.
  const at = [...(index.get(`m:${desired.source}`) ?? []), ...(index.get(`a:${wanted}`) ?? [])]
    .filter(({ c }) => c !== current && !sameName(c.name, desired.channel))
    .sort((x, y) => x.i - y.i)[0];
  return at ? { otherChannel: at.c.name, source: `${desired.source} (${wanted})` } : undefined;
}

type SourceIndex = Map<string, { c: ChannelStatus; i: number }[]>;
const sourceIndexes = new WeakMap<TopologyView, Map<string, SourceIndex>>();

/**
 * A member's channels by what they receive from (`m:` its source member, `a:` host:port), built once per
 * view: every managed channel of a replica asks it, and a scan of its channels each time would be
 * quadratic in an aggregator's channels.
 */
function sourceIndex(view: TopologyView, member: string): SourceIndex {
  let perMember = sourceIndexes.get(view);
  if (!perMember) sourceIndexes.set(view, (perMember = new Map()));
  let index = perMember.get(member);
  if (index) return index;
  index = new Map();
  const add = (key: string, entry: { c: ChannelStatus; i: number }) => {
    const list = index!.get(key);
    if (list) list.push(entry);
    else index!.set(key, [entry]);
  };
  (view.members.get(member)?.obs?.channels ?? []).forEach((c, i) => {
    const src = channelSourceMember(view, c);
    if (src !== undefined) add(`m:${src}`, { c, i });
    add(`a:${c.sourceHost.toLowerCase()}:${c.sourcePort}`, { c, i });
  });
  perMember.set(member, index);
  return index;
}

const sortedLower = (xs: string[]) =>
  [...xs]
    .map((x) => x.toLowerCase())
    .sort()
    .join(',');

/** Settings that differ from the desired channel (a repoint with the same source fixes them). */
export function configDifferences(current: ChannelStatus, desired: DesiredChannel): string[] {
  const d: string[] = [];
  if (!current.autoPosition) d.push('GTID auto-position off');
  if (current.delaySeconds !== desired.delaySeconds)
    d.push(`delay ${current.delaySeconds}s, want ${desired.delaySeconds}s`);
  if (current.connectRetry !== CHANNEL_DEFAULTS.connectRetry)
    d.push(`connect retry ${current.connectRetry}s, want ${CHANNEL_DEFAULTS.connectRetry}s`);
  if (current.heartbeatPeriod !== null && current.heartbeatPeriod > 2)
    d.push(`heartbeat ${current.heartbeatPeriod}s, want ≤ 2s`);
  // MySQL only (MariaDB has no per-channel retry count: null): a receiver that gives up early stays down.
  if (
    current.retryCount !== null &&
    current.retryCount !== undefined &&
    current.retryCount < CHANNEL_DEFAULTS.retryCount
  )
    d.push(`retry count ${current.retryCount}, want ${CHANNEL_DEFAULTS.retryCount}`);
  if (sortedLower(current.filter.doDatabases) !== sortedLower(desired.filter.doDatabases))
    d.push('do-databases filter differs');
  if (sortedLower(current.filter.ignoreDatabases) !== sortedLower(desired.filter.ignoreDatabases))
    d.push('ignore-databases filter differs');
  d.push(...tlsDifferences(current, desired.tls));
  return d;
}

/** TLS settings of a channel that differ from what spec.tls asks for. */
export function tlsDifferences(current: ChannelStatus, tls: ChannelTls): string[] {
  const d: string[] = [];
  if (current.sslAllowed !== tls.enabled)
    d.push(`TLS ${current.sslAllowed ? 'on' : 'off'}, want ${tls.enabled ? 'on' : 'off'}`);
  if (current.sslCaFile !== tls.caFile)
    d.push(`TLS CA file ${current.sslCaFile || 'none'}, want ${tls.caFile || 'none'}`);
  if (current.sslCaPath !== '') d.push(`TLS CA directory ${current.sslCaPath}, want none`);
  if (current.sslVerifyServerCert !== tls.verifyServerCert)
    d.push(
      `server certificate ${current.sslVerifyServerCert ? '' : 'not '}verified, want ${tls.verifyServerCert ? '' : 'not '}verified`,
    );
  // MySQL: the source's RSA key is asked for over plaintext only (a man in the middle could send his own).
  if (current.getSourcePublicKey !== null && current.getSourcePublicKey === tls.enabled)
    d.push(
      tls.enabled ? 'asks the source for its RSA key over TLS' : 'does not ask the source for its RSA key',
    );
  return d;
}

/** Declared now, or declared before (status remembers): the operator's to act on. */
function isManagedName(
  ctx: Pick<AnalyzeContext, 'view' | 'remembered'>,
  g: GroupView,
  name: string,
): boolean {
  const lower = name.toLowerCase();
  return (
    (declaredNames(ctx.view).get(g.spec.name)?.has(lower) ?? false) ||
    (rememberedNames(ctx.remembered).get(g.spec.name)?.has(lower) ?? false)
  );
}

// Channel names per group, lower case, indexed once per view and per remembered list: every channel of
// every member asks whether it is managed, and a scan of the declarations each time would be quadratic.
const declaredIndexes = new WeakMap<TopologyView, Map<string, Set<string>>>();
const rememberedIndexes = new WeakMap<object, Map<string, Set<string>>>();

function namesByGroup(entries: Iterable<{ group: string; name: string }>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { group, name } of entries) {
    const names = out.get(group) ?? new Set<string>();
    names.add(name.toLowerCase());
    out.set(group, names);
  }
  return out;
}

function declaredNames(view: TopologyView): Map<string, Set<string>> {
  let index = declaredIndexes.get(view);
  if (!index) {
    index = namesByGroup(
      view.spec.groups.flatMap((g) => g.channels.map((c) => ({ group: g.name, name: c.name }))),
    );
    declaredIndexes.set(view, index);
  }
  return index;
}

function rememberedNames(remembered: AnalyzeContext['remembered']): Map<string, Set<string>> {
  let index = rememberedIndexes.get(remembered);
  if (!index) {
    index = namesByGroup(remembered);
    rememberedIndexes.set(remembered, index);
  }
  return index;
}

export function isManagedChannel(
  ctx: Pick<AnalyzeContext, 'view' | 'remembered'>,
  member: string,
  ch: ChannelStatus,
): boolean {
  const m = ctx.view.members.get(member);
  if (!m) return false;
  const g = groupOf(ctx.view, m.group)!;
  if (ch.name === '') {
    const src = channelSourceMember(ctx.view, ch);
    return g.primary !== member || (src !== undefined && g.members.some((x) => x.spec.name === src));
  }
  return isManagedName(ctx, g, ch.name);
}
