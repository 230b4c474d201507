// The MySQLTopology status, and the normalized per-channel status every flavor parses into.
import { z } from 'zod';
import { Flavor, formatIssuePath, quote } from './spec.js';

export const IoState = z.enum(['Yes', 'No', 'Connecting']);
export const SqlState = z.enum(['Yes', 'No']);

/**
 * One replication channel as a server reports it, the same shape for every flavor.
 * GTID fields: MySQL's Retrieved_Gtid_Set / Executed_Gtid_Set; MariaDB's Gtid_IO_Pos (received) and the
 * server's @@gtid_slave_pos (executed; MariaDB's Gtid_Slave_Pos column really holds gtid_current_pos).
 */
export const ChannelStatus = z.object({
  name: z.string().meta({ description: 'The channel name on the server ("" is the default channel).' }),
  sourceHost: z.string().meta({ description: 'SOURCE_HOST the channel connects to.' }),
  sourcePort: z.number().int().meta({ description: 'SOURCE_PORT the channel connects to.' }),
  sourceUser: z.string().meta({ description: 'SOURCE_USER of the channel (the account name only).' }),
  sourceServerId: z
    .number()
    .int()
    .nullable()
    .default(null)
    .meta({ description: 'server_id of the source it last connected to; absent or null when unknown.' }),
  sourceUuid: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: 'server_uuid of the source (MySQL); absent or null when unknown.' }),
  ioRunning: IoState.meta({ description: 'Receiver (I/O) thread: "Yes", "No" or "Connecting".' }),
  sqlRunning: SqlState.meta({ description: 'Applier (SQL) thread: "Yes" or "No".' }),
  ioState: z.string().meta({ description: "The receiver thread's state, as the server words it." }),
  sqlState: z.string().meta({ description: "The applier thread's state, as the server words it." }),
  secondsBehindSource: z
    .number()
    .nullable()
    .default(null)
    .meta({ description: 'Seconds_Behind_Source; absent or null while the server reports NULL.' }),
  lastIOErrno: z.number().int().meta({ description: "The receiver's last error number (0: none)." }),
  lastIOError: z.string().meta({ description: "The receiver's last error message." }),
  lastIOErrorTimestamp: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: "When the receiver's last error happened; absent or null when none." }),
  lastSQLErrno: z.number().int().meta({ description: "The applier's last error number (0: none)." }),
  lastSQLError: z.string().meta({ description: "The applier's last error message." }),
  lastSQLErrorTimestamp: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: "When the applier's last error happened; absent or null when none." }),
  retrievedGtidSet: z
    .string()
    .meta({ description: 'GTIDs received (MySQL Retrieved_Gtid_Set; MariaDB Gtid_IO_Pos).' }),
  executedGtidSet: z.string().meta({
    description: 'GTIDs applied by the server (MySQL Executed_Gtid_Set; MariaDB @@gtid_slave_pos).',
  }),
  autoPosition: z.boolean().meta({ description: 'The channel positions itself by GTID.' }),
  /** MariaDB Using_Gtid (No | Slave_Pos | Current_Pos); MySQL: Auto_Position ? 'Auto' : 'No'. */
  gtidMode: z.string().meta({
    description:
      'MariaDB Using_Gtid (No, Slave_Pos, Current_Pos); MySQL: Auto when auto-positioned, else No.',
  }),
  delaySeconds: z.number().int().meta({ description: 'SOURCE_DELAY of the channel (seconds).' }),
  connectRetry: z.number().int().meta({ description: 'SOURCE_CONNECT_RETRY of the channel (seconds).' }),
  heartbeatPeriod: z
    .number()
    .nullable()
    .default(null)
    .meta({ description: 'SOURCE_HEARTBEAT_PERIOD (seconds); absent or null when unknown.' }),
  retryCount: z.number().int().nullable().default(null).meta({
    description:
      'SOURCE_RETRY_COUNT of the channel (MySQL); absent or null when unknown (MariaDB has only the server-wide startup option).',
  }),
  sslAllowed: z.boolean().meta({
    description: 'The channel is configured for TLS (Source_SSL_Allowed / Master_SSL_Allowed).',
  }),
  sslCaFile: z
    .string()
    .default('')
    .meta({ description: 'The CA file on the replica its source is verified with ("" when none).' }),
  sslCaPath: z
    .string()
    .default('')
    .meta({ description: 'The CA directory on the replica ("" when none; the operator sets none).' }),
  sslVerifyServerCert: z.boolean().default(false).meta({
    description: "The source's certificate must name the host the channel connects to.",
  }),
  getSourcePublicKey: z.boolean().nullable().default(null).meta({
    description:
      'MySQL: the channel asks the source for its RSA key (caching_sha2_password without TLS); absent or null on MariaDB.',
  }),
  filter: z
    .object({
      doDatabases: z.array(z.string()).meta({ description: 'Databases replicated (empty: all).' }),
      ignoreDatabases: z.array(z.string()).meta({ description: 'Databases not replicated.' }),
    })
    .meta({ description: "The channel's replication filter." }),
});
export type ChannelStatus = z.infer<typeof ChannelStatus>;

export const Phase = z.enum(['Ready', 'Degraded', 'FailingOver', 'Paused', 'Invalid']);
export type Phase = z.infer<typeof Phase>;

export const Condition = z.object({
  type: z.string().meta({ description: 'The kind of condition (e.g. Ready, FailoverBlocked).' }),
  status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
  reason: z.string().meta({ description: 'A CamelCase word saying why.' }),
  message: z.string().meta({ description: 'One line for humans.' }),
  lastTransitionTime: z.string().meta({ description: 'When status last changed.' }),
  observedGeneration: z
    .number()
    .int()
    .optional()
    .meta({ description: 'The generation of the spec the condition was computed from.' }),
});
export type Condition = z.infer<typeof Condition>;

export const Role = z.enum(['primary', 'replica', 'fenced', 'unknown']);
export type Role = z.infer<typeof Role>;

/** What the routing targets (EndpointSlices, the routing hook) were last given for a group. */
export const GroupRouting = z.object({
  writer: z.string().nullable().default(null).meta({
    description: 'The member in the writer endpoints; null while drained (a failover before promotion).',
  }),
  writerReady: z
    .boolean()
    .default(false)
    .meta({ description: 'The writer is marked ready: it is writable and reachable.' }),
  readers: z.array(z.string()).default([]).meta({
    description: 'Replicas in the reader endpoints: reachable, replicating, within maxReplicaLagSeconds.',
  }),
  changedAt: z.string().optional().meta({ description: 'When the routing last changed.' }),
});
export type GroupRouting = z.infer<typeof GroupRouting>;

export const GroupStatus = z.object({
  name: z.string().meta({ description: 'The group.' }),
  primary: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: 'The member that is its primary; absent or null when none is known.' }),
  members: z.number().int().meta({ description: 'Members declared.' }),
  ready: z.number().int().meta({ description: 'Members reachable and replicating as they should.' }),
  routing: GroupRouting.optional().meta({
    description: 'Where traffic is routed: the writer and the readers, as last applied.',
  }),
});

export const InstanceStatus = z.object({
  name: z.string().meta({ description: 'The member.' }),
  group: z.string().meta({ description: 'Its group.' }),
  reachable: z.boolean().meta({ description: 'The operator could connect to it at the last probe.' }),
  role: Role.meta({ description: 'primary, replica, fenced (a demoted primary made read-only) or unknown.' }),
  readOnly: z.boolean().optional().meta({ description: '@@read_only.' }),
  superReadOnly: z.boolean().optional().meta({ description: '@@super_read_only (MySQL).' }),
  flavor: Flavor.optional().meta({ description: 'mysql, mysql-legacy or mariadb, detected from VERSION().' }),
  version: z.string().optional().meta({ description: 'VERSION().' }),
  serverId: z.number().int().optional().meta({ description: '@@server_id.' }),
  serverUuid: z.string().optional().meta({ description: '@@server_uuid (MySQL).' }),
  gtidDomainId: z.number().int().optional().meta({ description: '@@gtid_domain_id (MariaDB).' }),
  gtidExecuted: z.string().optional().meta({ description: 'GTIDs the server has executed.' }),
  lastError: z.string().optional().meta({ description: 'Why the last probe failed.' }),
  refused: z.enum(['auth', 'privilege', 'tls']).optional().meta({
    description:
      "The server answered but the probe could not use it: auth (login refused), privilege (the operator's account lacks one), tls (no TLS where the spec requires it, or a certificate that does not verify). Never counts toward a dead primary.",
  }),
  tls: z
    .boolean()
    .optional()
    .meta({ description: "The operator's own connection to it is encrypted (TLS)." }),
  lastSeen: z.string().optional().meta({ description: 'When the last probe succeeded.' }),
});
export type InstanceStatus = z.infer<typeof InstanceStatus>;

export const ChannelReport = ChannelStatus.extend({
  replica: z.string().meta({ description: 'The member the channel runs on.' }),
  from: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: 'The group feeding it; absent or null for an undeclared channel.' }),
  source: z
    .string()
    .nullable()
    .default(null)
    .meta({ description: 'The member it replicates from; absent or null when unknown.' }),
  managed: z.boolean().meta({ description: 'Declared in the spec now or before (the operator manages it).' }),
  state: z
    .enum(['Running', 'Connecting', 'Stopped', 'Broken', 'Missing'])
    .meta({ description: 'Running, Connecting, Stopped, Broken or Missing.' }),
  /** Why the operator cannot bring this channel where it should be (a conflict, a failed statement, errant GTIDs). */
  problem: z
    .string()
    .optional()
    .meta({ description: 'Why the operator cannot bring this channel where it should be.' }),
});
export type ChannelReport = z.infer<typeof ChannelReport>;

export const FailoverPhase = z.enum(['Decided', 'CatchingUp', 'Promoting', 'Repointing', 'Done', 'Aborted']);
export type FailoverPhase = z.infer<typeof FailoverPhase>;

/** Transactions only one member holds and the new primary lacks (a stranded or an at-risk set). */
const MemberLoss = z.object({
  member: z.string().meta({ description: 'A member holding transactions the new primary lacks.' }),
  missing: z.string().meta({ description: 'Those transactions (a GTID set).' }),
});

export const FailoverRecord = z.object({
  id: z.string().meta({ description: 'Identifies the record.' }),
  group: z.string().meta({ description: 'The group whose primary changes.' }),
  from: z.string().meta({ description: 'The primary before.' }),
  to: z.string().meta({ description: 'The member promoted.' }),
  reason: z
    .enum(['DeadPrimary', 'Switchover'])
    .meta({ description: 'DeadPrimary (failover) or Switchover (asked for).' }),
  phase: FailoverPhase.meta({ description: 'Decided, CatchingUp, Promoting, Repointing, Done or Aborted.' }),
  startedAt: z.string().meta({ description: 'When it was decided.' }),
  finishedAt: z.string().optional().meta({ description: 'When it ended.' }),
  phaseTimes: z
    .record(z.string(), z.string())
    .default({})
    .meta({ description: 'When each phase was entered.' }),
  repointed: z
    .array(z.string())
    .default([])
    .meta({ description: 'Channels moved to the new primary (replica/channel).' }),
  passedOver: z
    .array(
      z.object({
        member: z.string().meta({ description: 'A member not promoted.' }),
        reason: z.string().meta({ description: 'Why.' }),
      }),
    )
    .default([])
    .meta({ description: 'Members considered and not promoted, and why.' }),
  /** A member ahead of the candidate that may not be promoted: the candidate first catches up from it. */
  donor: z.string().optional().meta({
    description:
      'A member ahead of the candidate that may not be promoted: the candidate catches up from it first.',
  }),
  drainedAt: z.string().optional().meta({
    description: 'When the old primary left the writer endpoints (before promotion).',
  }),
  drainProblem: z.string().optional().meta({
    description:
      'Why the drain failed, when the failover went on without it (spec.failover.requireDrain: false).',
  }),
  routedAt: z.string().optional().meta({
    description: 'When the new primary entered the writer endpoints (once writable).',
  }),
  /** The GTID position the candidate must reach before it is promoted. */
  catchUpTo: z
    .string()
    .optional()
    .meta({ description: 'The GTID position the candidate must reach before it is promoted.' }),
  /** Transactions that did not reach the new primary, per member (reported, never silently dropped). */
  stranded: z
    .array(MemberLoss)
    .default([])
    .meta({ description: 'Transactions that did not reach the new primary, per member.' }),
  /**
   * An operator acknowledged it (annotation tributary.dev/ack-failover): a finished record no longer
   * holds the cooldown; an open record held for a human (stranded transactions, deadline) goes on.
   */
  acknowledged: z
    .boolean()
    .optional()
    .meta({ description: 'Acknowledged with the annotation tributary.dev/ack-failover.' }),
  /**
   * What promoting now would lose, per member, while the record waits for an acknowledgement: exactly the
   * loss an acknowledgement accepts.
   */
  atRisk: z
    .array(MemberLoss)
    .optional()
    .meta({ description: 'What promoting now would lose, per member: the loss an acknowledgement accepts.' }),
  /** The loss the acknowledgement accepted (from atRisk); withdrawn, with it, when what would be lost grows. */
  acknowledgedLoss: z
    .array(MemberLoss)
    .optional()
    .meta({ description: 'The loss the acknowledgement accepted, per member (a GTID set each).' }),
  /**
   * What each survivor's channel from the dead primary had received, as seen since the receivers were
   * stopped (it only grows): a relay log that vanishes later (a restart) is a loss, never unseen.
   */
  received: z
    .array(
      z.object({
        member: z.string().meta({ description: 'A survivor.' }),
        channel: z.string().meta({ description: 'Its channel from the dead primary.' }),
        position: z.string().meta({ description: 'What the channel had received (a GTID set).' }),
      }),
    )
    .optional()
    .meta({ description: 'What each survivor had received from the dead primary, per channel.' }),
  /** Survivors unreachable when the candidate was promoted: a possible loss (their sets were unknown). */
  unreachable: z.array(z.string()).optional().meta({
    description: 'Survivors unreachable when it was promoted: they may hold transactions it lacks.',
  }),
  message: z.string().optional().meta({ description: 'What happened, in one line.' }),
  /** When the record counts as stuck if it has not promoted (startedAt + spec.failover.deadlineSeconds). */
  deadline: z
    .string()
    .optional()
    .meta({ description: 'When the record counts as stuck if it has not promoted.' }),
  /** Bound on each GTID wait of this record (seconds): a resumed operator keeps the same bound. */
  waitSeconds: z
    .number()
    .optional()
    .meta({ description: 'Bound on each GTID wait of this record (seconds).' }),
  /** What the record waits for before it can go on, when that needs a human (empty when nothing). */
  waitingFor: z.string().optional().meta({ description: 'What it waits for when that needs a human.' }),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;

/**
 * The replication credentials the operator applies, as a fingerprint (never the password): a salted
 * scrypt hash of the account and its password. A Secret whose fingerprint differs starts a rotation;
 * the record is journaled before anything is changed, so a restarted operator resumes it.
 */
export const CredentialsRecord = z.object({
  fingerprint: z.string().meta({
    description: 'scrypt(salt, account and password) of the credentials applied (hex); not reversible.',
  }),
  since: z.string().meta({ description: 'When the operator started applying them.' }),
  accounts: z
    .array(z.string())
    .default([])
    .meta({ description: 'Members whose replication account the operator set to them (primaries).' }),
  channels: z
    .array(z.string())
    .default([])
    .meta({ description: 'Managed channels (replica/channel) given them while the rotation runs.' }),
  complete: z.boolean().default(false).meta({
    description:
      "Every group's primary and every managed channel has them: the rotation is over (channels made later get them when they are made).",
  }),
  completedAt: z.string().optional().meta({ description: 'When the rotation finished.' }),
  adopted: z.boolean().optional().meta({
    description:
      'Started on first contact (adoption), not by a change of the Secret: a refused login alone does not make the operator change an account.',
  }),
});
export type CredentialsRecord = z.infer<typeof CredentialsRecord>;

export const CredentialsStatus = z.object({
  salt: z.string().meta({ description: 'Random per topology (hex): the salt of the fingerprints.' }),
  replication: CredentialsRecord.optional().meta({
    description: 'The replication Secret (SOURCE_USER / SOURCE_PASSWORD of the channels).',
  }),
});
export type CredentialsStatus = z.infer<typeof CredentialsStatus>;

export const TopologyStatus = z.object({
  observedGeneration: z
    .number()
    .int()
    .optional()
    .meta({ description: 'The generation of the spec this status was computed from.' }),
  phase: Phase.meta({ description: 'Ready, Degraded, FailingOver, Paused or Invalid.' }),
  conditions: z.array(Condition).default([]).meta({ description: 'Conditions, one per type.' }),
  groups: z.array(GroupStatus).default([]).meta({ description: 'Each group and its primary.' }),
  instances: z.array(InstanceStatus).default([]).meta({ description: 'Each member as last probed.' }),
  channels: z
    .array(ChannelReport)
    .default([])
    .meta({ description: 'Every replication channel of every member, managed or not.' }),
  /** Channels the operator manages (declared now or before): the memory that tells managed from unmanaged. */
  managedChannels: z
    .array(
      z.object({
        group: z.string().meta({ description: 'The group the channel feeds.' }),
        name: z.string().meta({ description: 'The channel.' }),
        from: z.string().meta({ description: 'The group it comes from.' }),
      }),
    )
    .default([])
    .meta({ description: 'Channels the operator manages (declared now or before).' }),
  failovers: z
    .array(FailoverRecord)
    .default([])
    .meta({ description: 'The failover journal: open records, and the last finished ones.' }),
  credentials: CredentialsStatus.optional().meta({
    description:
      'Fingerprints of the credentials the operator applied, and the rotation under way: journaled like a failover.',
  }),
  summary: z
    .object({
      channelsRunning: z.number().int().meta({ description: 'Managed channels running.' }),
      channelsTotal: z.number().int().meta({ description: 'Managed channels.' }),
      lastFailover: z.string().optional().meta({ description: 'The last failover, in one line.' }),
      /** Number of groups: the CRD's Groups printer column. */
      groups: z.number().int().optional().meta({ description: 'Number of groups.' }),
      /** "running/total" managed channels: the CRD's Channels printer column (JSONPath cannot divide). */
      channels: z.string().optional().meta({ description: 'Managed channels running/total.' }),
    })
    .optional()
    .meta({ description: 'What kubectl get shows.' }),
  /**
   * Local mode only: annotations already acted on (key → the value acted on). Manifest files are the user's
   * and never rewritten, so the local store remembers here, across restarts, that e.g. a switchover was done.
   */
  handledAnnotations: z
    .record(z.string(), z.string())
    .optional()
    .meta({ description: 'Local mode only: annotations already acted on (key: the value acted on).' }),
});
export type TopologyStatus = z.infer<typeof TopologyStatus>;

/** A status with nothing observed yet: the base of the first journal write and of an invalid resource. */
export const emptyStatus = (phase: Phase): TopologyStatus => TopologyStatus.parse({ phase });

/** A channel nothing is known about (declared, but missing on its server). */
export function emptyChannelStatus(name: string): ChannelStatus {
  return {
    name,
    sourceHost: '',
    sourcePort: 0,
    sourceUser: '',
    sourceServerId: null,
    sourceUuid: null,
    ioRunning: 'No',
    sqlRunning: 'No',
    ioState: '',
    sqlState: '',
    secondsBehindSource: null,
    lastIOErrno: 0,
    lastIOError: '',
    lastIOErrorTimestamp: null,
    lastSQLErrno: 0,
    lastSQLError: '',
    lastSQLErrorTimestamp: null,
    retrievedGtidSet: '',
    executedGtidSet: '',
    autoPosition: false,
    gtidMode: 'No',
    delaySeconds: 0,
    connectRetry: 0,
    heartbeatPeriod: null,
    retryCount: null,
    sslAllowed: false,
    sslCaFile: '',
    sslCaPath: '',
    sslVerifyServerCert: false,
    getSourcePublicKey: null,
    filter: { doDatabases: [], ignoreDatabases: [] },
  };
}

/**
 * A stored status (status subresource, local status file) as far as it can be read. When the whole does
 * not parse, what can be read is kept and every part left out is named, one line each: failover records
 * one by one first (the journal above all), then managed channels and the other lists entry by entry, then
 * the remaining fields. A phase that cannot be read reads as Degraded (every pass recomputes it).
 */
export function parseStoredStatus(raw: unknown): { status?: TopologyStatus; problems: string[] } {
  if (raw === undefined || raw === null) return { problems: [] };
  const whole = TopologyStatus.safeParse(raw);
  if (whole.success) return { status: whole.data, problems: [] };
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { problems: ['status: not an object; nothing could be read'] };
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];
  const kept: Record<string, unknown> = {};
  const shape: Record<string, z.ZodType> = TopologyStatus.shape;
  const first = ['failovers', 'credentials', 'managedChannels'];
  const keys = [...first, ...Object.keys(shape).filter((k) => !first.includes(k))];
  for (const key of keys) {
    if (input[key] === undefined) continue;
    const field = shape[key]!;
    const element = listElement(field);
    const value = input[key];
    if (element && Array.isArray(value)) {
      kept[key] = value.flatMap((entry, i) => {
        const r = element.safeParse(entry);
        if (r.success) return [r.data];
        problems.push(`status.${key}[${i}]${entryLabel(entry)}: ${firstIssue(r.error)}; left out`);
        return [];
      });
      continue;
    }
    const r = field.safeParse(value);
    if (r.success) kept[key] = r.data;
    else problems.push(`status.${key}: ${firstIssue(r.error)}; left out`);
  }
  if (kept['phase'] === undefined) {
    kept['phase'] = 'Degraded';
    if (input['phase'] === undefined) problems.push('status.phase: missing; read as Degraded');
  }
  const salvaged = TopologyStatus.safeParse(kept);
  if (!salvaged.success) return { problems: [...problems, `status: ${firstIssue(salvaged.error)}`] };
  return { status: salvaged.data, problems };
}

/** The element schema of a (possibly defaulted or optional) list field. */
function listElement(field: z.ZodType): z.ZodType | undefined {
  let f: z.ZodType = field;
  while (f instanceof z.ZodDefault || f instanceof z.ZodOptional) f = f.unwrap() as z.ZodType;
  return f instanceof z.ZodArray ? (f.element as z.ZodType) : undefined;
}

function entryLabel(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null) return '';
  const { id, name } = entry as { id?: unknown; name?: unknown };
  const label = typeof id === 'string' ? id : typeof name === 'string' ? name : undefined;
  return label === undefined ? '' : ` (${quote(label)})`;
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not parse';
  const path = formatIssuePath(issue.path);
  return path ? `${path}: ${issue.message}` : issue.message;
}
