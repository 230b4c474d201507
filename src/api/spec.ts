// The MySQLTopology spec (v1alpha1). Types are inferred from these schemas, never written twice.
import { z } from 'zod';

export const API_GROUP = 'tributary.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'MySQLTopology';

/** Channel names the servers reserve (MySQL Group Replication). */
export const RESERVED_CHANNEL_NAMES = ['group_replication_applier', 'group_replication_recovery'];
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Kubernetes-style names for groups and members: they end up in status, events and logs. */
export const OBJECT_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Hostnames and IPv4/IPv6 literals; nothing that could close a SQL string. */
export const HOST_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9.:-]{0,253}[A-Za-z0-9])?$/;
export const MAX_CHANNELS_PER_GROUP = 256;

export const Flavor = z.enum(['mysql', 'mysql-legacy', 'mariadb']);
export type Flavor = z.infer<typeof Flavor>;
export const FlavorSetting = z.enum(['auto', 'mysql', 'mysql-legacy', 'mariadb']);

export const PromotionRule = z.enum(['prefer', 'neutral', 'prefer_not', 'must_not']);
export type PromotionRule = z.infer<typeof PromotionRule>;

const port = z.number().int().min(1, 'must be 1–65535').max(65535, 'must be 1–65535');
const host = z.string().regex(HOST_PATTERN, 'must be a hostname or IP address');

export const Address = z.strictObject({ host, port });
export type Address = z.infer<typeof Address>;

export const Member = z.strictObject({
  name: z.string().regex(OBJECT_NAME_PATTERN, 'must be a lowercase DNS label (a-z, 0-9, -; at most 63)'),
  host,
  port: port.default(3306),
  promotionRule: PromotionRule.default('neutral'),
  /** Where the operator itself connects, when that differs from host/port (port-forward, proxy). */
  connect: Address.optional(),
});
export type Member = z.infer<typeof Member>;

const databaseName = z.string().regex(/^[A-Za-z0-9_$]{1,64}$/, 'must be 1–64 of letters, digits, _ and $');
export const ChannelFilter = z.strictObject({
  doDatabases: z.array(databaseName).max(256).default([]),
  ignoreDatabases: z.array(databaseName).max(256).default([]),
});
export type ChannelFilter = z.infer<typeof ChannelFilter>;

export const ChannelSpec = z.strictObject({
  name: z
    .string()
    .regex(CHANNEL_NAME_PATTERN, 'must be 1–64 of letters, digits, _ and -')
    .refine((n) => !RESERVED_CHANNEL_NAMES.includes(n.toLowerCase()), 'is a reserved channel name'),
  from: z.string().min(1),
  delaySeconds: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  filter: ChannelFilter.optional(),
});
export type ChannelSpec = z.infer<typeof ChannelSpec>;

export const GroupSpec = z.strictObject({
  name: z.string().regex(OBJECT_NAME_PATTERN, 'must be a lowercase DNS label (a-z, 0-9, -; at most 63)'),
  members: z.array(Member).min(1, 'a group needs at least one member'),
  channels: z.array(ChannelSpec).max(MAX_CHANNELS_PER_GROUP, `at most ${MAX_CHANNELS_PER_GROUP} channels per group`).default([]),
});
export type GroupSpec = z.infer<typeof GroupSpec>;

export const SecretRef = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'must be a Secret name (lowercase DNS subdomain)'),
});

export const FailoverSpec = z.strictObject({
  enabled: z.boolean().default(true),
  pollIntervalSeconds: z.number().min(0.1).max(3600).default(1),
  failureThreshold: z.number().int().min(1).max(100).default(3),
  cooldownSeconds: z.number().int().min(0).max(86400 * 7).default(300),
});
export type FailoverSpec = z.infer<typeof FailoverSpec>;

const TopologySpecObject = z.strictObject({
  flavor: FlavorSetting.default('auto'),
  adminSecretRef: SecretRef,
  replicationSecretRef: SecretRef,
  paused: z.boolean().default(false),
  failover: FailoverSpec.default(FailoverSpec.parse({})),
  groups: z.array(GroupSpec).min(1, 'at least one group is needed'),
});

/** Cross-field rules: uniqueness, references, cycles. Each issue names its field path. */
export const TopologySpec = TopologySpecObject.superRefine((spec, ctx) => {
  const groupIndex = new Map<string, number>();
  spec.groups.forEach((g, gi) => {
    if (groupIndex.has(g.name)) {
      ctx.addIssue({ code: 'custom', path: ['groups', gi, 'name'], message: `group name "${g.name}" is used twice` });
    } else groupIndex.set(g.name, gi);
  });
  const memberNames = new Map<string, string>();
  const addresses = new Map<string, string>();
  spec.groups.forEach((g, gi) =>
    g.members.forEach((m, mi) => {
      const where = `groups[${gi}].members[${mi}]`;
      if (memberNames.has(m.name)) {
        ctx.addIssue({ code: 'custom', path: ['groups', gi, 'members', mi, 'name'], message: `member name "${m.name}" is used twice` });
      } else memberNames.set(m.name, where);
      const addr = `${m.host.toLowerCase()}:${m.port}`;
      if (addresses.has(addr)) {
        ctx.addIssue({
          code: 'custom',
          path: ['groups', gi, 'members', mi, 'host'],
          message: `address ${addr} is also used by member "${addresses.get(addr)}"`,
        });
      } else addresses.set(addr, m.name);
    }),
  );
  const edges = new Map<string, string[]>();
  spec.groups.forEach((g, gi) => {
    const names = new Map<string, number>();
    const froms = new Map<string, string>();
    g.channels.forEach((c, ci) => {
      const path = ['groups', gi, 'channels', ci];
      const lower = c.name.toLowerCase();
      if (names.has(lower)) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `channel name "${c.name}" is used twice in group "${g.name}" (names are case-insensitive)` });
      else names.set(lower, ci);
      if (c.from === g.name) ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: `a channel cannot come from its own group "${g.name}"` });
      else if (!groupIndex.has(c.from)) ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: `group "${c.from}" does not exist` });
      else if (froms.has(c.from)) ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: `group "${c.from}" already feeds group "${g.name}" over channel "${froms.get(c.from)}"` });
      else {
        froms.set(c.from, c.name);
        edges.set(c.from, [...(edges.get(c.from) ?? []), g.name]);
      }
    });
  });
  const cycle = findCycle(edges);
  if (cycle) {
    const gi = groupIndex.get(cycle[0]!) ?? 0;
    ctx.addIssue({ code: 'custom', path: ['groups', gi, 'channels'], message: `channels form a cycle: ${cycle.join(' -> ')}` });
  }
});
export type TopologySpec = z.infer<typeof TopologySpec>;
export type TopologySpecInput = z.input<typeof TopologySpec>;

/** Depth-first search for a cycle in the group feed graph (from → to). */
function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const next of edges.get(n) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...edges.keys()].sort()) {
    const found = visit(n);
    if (found) return found;
  }
  return undefined;
}

export const ObjectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  deletionTimestamp: z.string().optional(),
});
