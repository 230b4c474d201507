// The MySQLTopology status, and the normalized per-channel status every flavor parses into.
import { z } from 'zod';
import { Flavor } from './spec.js';

export const IoState = z.enum(['Yes', 'No', 'Connecting']);
export const SqlState = z.enum(['Yes', 'No']);

/**
 * One replication channel as a server reports it, the same shape for every flavor.
 * GTID fields: MySQL's Retrieved_Gtid_Set / Executed_Gtid_Set; MariaDB's Gtid_IO_Pos (received) and the
 * server's @@gtid_slave_pos (executed; MariaDB's Gtid_Slave_Pos column really holds gtid_current_pos).
 */
export const ChannelStatus = z.object({
  name: z.string(),
  sourceHost: z.string(),
  sourcePort: z.number().int(),
  sourceUser: z.string(),
  sourceServerId: z.number().int().nullable(),
  sourceUuid: z.string().nullable(),
  ioRunning: IoState,
  sqlRunning: SqlState,
  ioState: z.string(),
  sqlState: z.string(),
  secondsBehindSource: z.number().nullable(),
  lastIOErrno: z.number().int(),
  lastIOError: z.string(),
  lastIOErrorTimestamp: z.string().nullable(),
  lastSQLErrno: z.number().int(),
  lastSQLError: z.string(),
  lastSQLErrorTimestamp: z.string().nullable(),
  retrievedGtidSet: z.string(),
  executedGtidSet: z.string(),
  autoPosition: z.boolean(),
  /** MariaDB Using_Gtid (No | Slave_Pos | Current_Pos); MySQL: Auto_Position ? 'Auto' : 'No'. */
  gtidMode: z.string(),
  delaySeconds: z.number().int(),
  connectRetry: z.number().int(),
  heartbeatPeriod: z.number().nullable(),
  sslAllowed: z.boolean(),
  filter: z.object({
    doDatabases: z.array(z.string()),
    ignoreDatabases: z.array(z.string()),
  }),
});
export type ChannelStatus = z.infer<typeof ChannelStatus>;

export const Phase = z.enum(['Ready', 'Degraded', 'FailingOver', 'Paused', 'Invalid']);
export type Phase = z.infer<typeof Phase>;

export const Condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

export const Role = z.enum(['primary', 'replica', 'fenced', 'unknown']);
export type Role = z.infer<typeof Role>;

export const GroupStatus = z.object({
  name: z.string(),
  primary: z.string().nullable(),
  members: z.number().int(),
  ready: z.number().int(),
});

export const InstanceStatus = z.object({
  name: z.string(),
  group: z.string(),
  reachable: z.boolean(),
  role: Role,
  readOnly: z.boolean().optional(),
  superReadOnly: z.boolean().optional(),
  flavor: Flavor.optional(),
  version: z.string().optional(),
  serverId: z.number().int().optional(),
  serverUuid: z.string().optional(),
  gtidDomainId: z.number().int().optional(),
  gtidExecuted: z.string().optional(),
  lastError: z.string().optional(),
  lastSeen: z.string().optional(),
});
export type InstanceStatus = z.infer<typeof InstanceStatus>;

export const ChannelReport = ChannelStatus.extend({
  replica: z.string(),
  from: z.string().nullable(),
  source: z.string().nullable(),
  managed: z.boolean(),
  state: z.enum(['Running', 'Connecting', 'Stopped', 'Broken', 'Missing']),
});
export type ChannelReport = z.infer<typeof ChannelReport>;

export const FailoverPhase = z.enum(['Decided', 'CatchingUp', 'Promoting', 'Repointing', 'Done', 'Aborted']);
export type FailoverPhase = z.infer<typeof FailoverPhase>;

export const FailoverRecord = z.object({
  id: z.string(),
  group: z.string(),
  from: z.string(),
  to: z.string(),
  reason: z.enum(['DeadPrimary', 'Switchover']),
  phase: FailoverPhase,
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  phaseTimes: z.record(z.string(), z.string()).default({}),
  repointed: z.array(z.string()).default([]),
  passedOver: z.array(z.object({ member: z.string(), reason: z.string() })).default([]),
  /** A member ahead of the candidate that may not be promoted: the candidate first catches up from it. */
  donor: z.string().optional(),
  /** The GTID position the candidate must reach before it is promoted. */
  catchUpTo: z.string().optional(),
  /** Transactions that did not reach the new primary, per member (reported, never silently dropped). */
  stranded: z.array(z.object({ member: z.string(), missing: z.string() })).default([]),
  /** An operator acknowledged it (annotation tributary.dev/ack-failover): the cooldown no longer applies. */
  acknowledged: z.boolean().optional(),
  message: z.string().optional(),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;

export const TopologyStatus = z.object({
  observedGeneration: z.number().int().optional(),
  phase: Phase,
  conditions: z.array(Condition).default([]),
  groups: z.array(GroupStatus).default([]),
  instances: z.array(InstanceStatus).default([]),
  channels: z.array(ChannelReport).default([]),
  /** Channels the operator manages (declared now or before): the memory that tells managed from unmanaged. */
  managedChannels: z.array(z.object({ group: z.string(), name: z.string(), from: z.string() })).default([]),
  failovers: z.array(FailoverRecord).default([]),
  summary: z
    .object({
      channelsRunning: z.number().int(),
      channelsTotal: z.number().int(),
      lastFailover: z.string().optional(),
      /** Number of groups: the CRD's Groups printer column. */
      groups: z.number().int().optional(),
      /** "running/total" managed channels: the CRD's Channels printer column (JSONPath cannot divide). */
      channels: z.string().optional(),
    })
    .optional(),
  /**
   * Local mode only: annotations already acted on (key → the value acted on). Manifest files are the user's
   * and never rewritten, so the local store remembers here, across restarts, that e.g. a switchover was done.
   */
  handledAnnotations: z.record(z.string(), z.string()).optional(),
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
    sslAllowed: false,
    filter: { doDatabases: [], ignoreDatabases: [] },
  };
}
