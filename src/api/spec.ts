// The MySQLTopology spec (v1alpha1). Types are inferred from these schemas, never written twice.
//
// Every message here reads after a field path: `spec.groups[0].members[1].port: must be 1–65535`.
// validate.ts adds the offending value, escaped and truncated. Messages of the cross-field rules name
// their culprits themselves, through quote(): zod runs them even on strings that failed a pattern.
import { z } from 'zod';

export const API_GROUP = 'tributary.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'MySQLTopology';

/** Channel names the servers reserve (MySQL Group Replication): no statement may use them. */
export const SERVER_RESERVED_CHANNEL_NAMES = ['group_replication_applier', 'group_replication_recovery'];
/** The temporary channel a failover candidate catches up over; never declared, always removed after. */
export const CATCHUP_CHANNEL = 'tributary_catchup';
/** Channel names a spec may not declare: the servers' reserved names, and Tributary's own catch-up channel. */
export const RESERVED_CHANNEL_NAMES = [...SERVER_RESERVED_CHANNEL_NAMES, CATCHUP_CHANNEL];
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Kubernetes-style names for groups and members: they end up in status, events and logs. */
export const OBJECT_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Hostnames and IPv4/IPv6 literals (`::1`, `fe80::1`); nothing that could close a SQL string or a line.
 * At most 255 characters: MySQL's limit for SOURCE_HOST.
 */
export const HOST_PATTERN = /^[A-Za-z0-9:]([A-Za-z0-9.:-]{0,253}[A-Za-z0-9:])?$/;
/** Kubernetes Secret names: lowercase DNS subdomains. */
export const SECRET_NAME_PATTERN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
export const DATABASE_NAME_PATTERN = /^[A-Za-z0-9_$]{1,64}$/;
/** MySQL's own limit on channels of one replica. */
export const MAX_CHANNELS_PER_GROUP = 256;
/**
 * Groups per topology. Bounded so that the CRD's CEL rules stay within the API server's cost budget;
 * as `from` names a distinct other group, a group can have at most MAX_GROUPS - 1 valid channels.
 */
export const MAX_GROUPS = 64;

export const Flavor = z.enum(['mysql', 'mysql-legacy', 'mariadb']);
export type Flavor = z.infer<typeof Flavor>;
export const FlavorSetting = z.enum(['auto', 'mysql', 'mysql-legacy', 'mariadb']).meta({
  description:
    'auto detects the flavor from VERSION(); mysql: 8.0.23+; mysql-legacy: 5.7 – 8.0.22; mariadb: 10.5+',
});

export const PromotionRule = z.enum(['prefer', 'neutral', 'prefer_not', 'must_not']);
export type PromotionRule = z.infer<typeof PromotionRule>;

/** A number schema whose type error, integer check and range share one message. */
function integer(min: number, max: number, rangeMessage = `must be ${min}–${max}`) {
  const typeMessage = `must be an integer ${min}–${max}`;
  return z
    .number({ error: (iss) => (iss.input === undefined ? undefined : typeMessage) })
    .int(typeMessage)
    .min(min, rangeMessage)
    .max(max, rangeMessage);
}

/** A string with a length limit (stops there: no pattern message on top) and a pattern. */
function patterned(pattern: RegExp, maxLength: number, patternMessage: string) {
  return z
    .string()
    .min(1, { message: 'must not be empty', abort: true })
    .max(maxLength, { message: `must be at most ${maxLength} characters`, abort: true })
    .regex(pattern, patternMessage);
}

const dnsLabel = () =>
  patterned(
    OBJECT_NAME_PATTERN,
    63,
    'must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit)',
  );

const port = integer(1, 65535);
const host = patterned(
  HOST_PATTERN,
  255,
  'must be a hostname or an IP address (letters, digits, ".", ":" and "-")',
);

export const Address = z.strictObject({
  host: host.meta({ description: 'Host name or IP address.' }),
  port: port.meta({ description: 'TCP port.' }),
});
export type Address = z.infer<typeof Address>;

export const Member = z.strictObject({
  name: dnsLabel().meta({ description: 'The member, unique in the topology (a DNS label).' }),
  host: host.meta({ description: 'The address replicas use (SOURCE_HOST).' }),
  port: port.default(3306).meta({ description: 'The port replicas use (SOURCE_PORT).' }),
  promotionRule: PromotionRule.default('neutral').meta({
    description: 'Failover preference: prefer, neutral, prefer_not, or must_not (never promoted).',
  }),
  /** Where the operator itself connects, when that differs from host/port (port-forward, proxy). */
  connect: Address.optional().meta({
    description:
      'Where the operator itself connects, when that differs from host/port (port-forward, proxy).',
  }),
});
export type Member = z.infer<typeof Member>;

const databaseName = patterned(DATABASE_NAME_PATTERN, 64, 'must be letters, digits, _ and $ only');
export const ChannelFilter = z.strictObject({
  doDatabases: z
    .array(databaseName)
    .max(256, 'at most 256 databases')
    .default([])
    .meta({ description: 'Replicate only these databases (empty: all).' }),
  ignoreDatabases: z
    .array(databaseName)
    .max(256, 'at most 256 databases')
    .default([])
    .meta({ description: 'Do not replicate these databases.' }),
});
export type ChannelFilter = z.infer<typeof ChannelFilter>;

export const ChannelSpec = z.strictObject({
  name: patterned(CHANNEL_NAME_PATTERN, 64, 'must be letters, digits, _ and - only')
    .refine(
      (n) => n.toLowerCase() !== CATCHUP_CHANNEL,
      "is reserved for Tributary's failover catch-up channel",
    )
    .refine(
      (n) => !SERVER_RESERVED_CHANNEL_NAMES.includes(n.toLowerCase()),
      'is a channel name reserved by MySQL Group Replication',
    )
    .meta({
      description:
        'The channel name on the server (FOR CHANNEL / MariaDB connection name); unique per group, case-insensitively.',
    }),
  from: dnsLabel().meta({ description: 'The group whose current primary feeds this channel.' }),
  delaySeconds: integer(0, 2 ** 31 - 1)
    .default(0)
    .meta({ description: 'Delayed replication: SOURCE_DELAY (seconds).' }),
  filter: ChannelFilter.optional().meta({ description: 'Which databases the channel replicates.' }),
});
export type ChannelSpec = z.infer<typeof ChannelSpec>;

export const GroupSpec = z.strictObject({
  name: dnsLabel().meta({ description: 'The group (a DNS label), unique in the topology.' }),
  members: z
    .array(Member)
    .min(1, 'a group needs at least one member')
    .meta({ description: 'The servers of the group: one primary, the others replicate from it.' }),
  channels: z
    .array(ChannelSpec)
    .max(MAX_CHANNELS_PER_GROUP, `at most ${MAX_CHANNELS_PER_GROUP} channels per group`)
    .default([])
    .meta({ description: "Named channels into this group's current primary, each from another group." }),
});
export type GroupSpec = z.infer<typeof GroupSpec>;

export const SecretRef = z.strictObject({
  name: patterned(SECRET_NAME_PATTERN, 253, 'must be a Secret name (a lowercase DNS subdomain)').meta({
    description: "The Secret's name, in the topology's namespace.",
  }),
});

/** A Secret reference with its own description. */
const SecretRefFor = (description: string) => SecretRef.meta({ description });

/** A number of seconds with a fractional part allowed (tests and benchmarks declare sub-second windows). */
function seconds(min: number, max: number) {
  const message = `must be a number ${min}–${max}`;
  return z
    .number({ error: (iss) => (iss.input === undefined ? undefined : message) })
    .min(min, `must be ${min}–${max}`)
    .max(max, `must be ${min}–${max}`);
}

/**
 * How long a primary must stay unreachable before it counts as dead (and its replicas agree). A clean
 * restart of mysqld/mariadbd with a modest buffer pool takes 2–5 s (measured: MariaDB 10.11 stops in
 * 1.5–2.1 s and answers 0.1–0.3 s after start; MySQL 9.7 starts in 1.6–2.4 s), so 10 s rides out a
 * restart and a few lost probes while keeping write downtime short. Servers with large buffer pools
 * restart slower: raise it for them.
 */
export const DEFAULT_DOWN_AFTER_SECONDS = 10;

export const FailoverSpec = z.strictObject({
  enabled: z.boolean().default(true).meta({ description: 'false: report a dead primary, never fail over.' }),
  pollIntervalSeconds: seconds(0.1, 3600)
    .default(1)
    .meta({ description: 'How often every member is probed (seconds).' }),
  downAfterSeconds: seconds(0.1, 3600).default(DEFAULT_DOWN_AFTER_SECONDS).meta({
    description:
      'How long the primary must stay unreachable, with every replica agreeing it receives nothing, before it counts as dead (seconds). A restart shorter than this causes no failover. Default 10: a clean mysqld restart takes 2–5 s.',
  }),
  failureThreshold: integer(1, 100).default(3).meta({
    description:
      'Consecutive failed probes needed besides downAfterSeconds; while a primary fails probes it is re-probed often enough to reach this count within the window.',
  }),
  cooldownSeconds: integer(0, 86400 * 7)
    .default(300)
    .meta({
      description:
        'No second automatic failover of a group within this many seconds of the last (acknowledge with the annotation tributary.dev/ack-failover to lift it).',
    }),
  catchUpTimeoutSeconds: integer(1, 3600).default(30).meta({
    description:
      'Bound on each wait of a failover or switchover for GTIDs (relay log apply, catch-up from a survivor, the switchover target).',
  }),
  requireDrain: z.boolean().default(false).meta({
    description:
      'true: a failover or switchover does not promote until the old primary has left the writer endpoints (Services and the routing hook); a failed drain holds it, reported. false: a failed drain is reported and the failover goes on.',
  }),
  deadlineSeconds: integer(10, 86400).default(300).meta({
    description:
      'An open failover that has not promoted by then is reported as stuck (condition and event) and waits for an acknowledgement; one that promoted is closed, its unfinished channels reported as ordinary drift.',
  }),
});
export type FailoverSpec = z.infer<typeof FailoverSpec>;

export const RoutingSpec = z.strictObject({
  enabled: z.boolean().default(true).meta({
    description:
      'Keep per-group writer and reader endpoints (Services <topology>-<group>-primary and -replicas with their EndpointSlices in the operator; the routing hook wherever one is configured) following the primary.',
  }),
  maxReplicaLagSeconds: integer(0, 86400).default(30).meta({
    description:
      'A replica lagging more than this many seconds behind its primary leaves the reader endpoints until it is back within the bound.',
  }),
});
export type RoutingSpec = z.infer<typeof RoutingSpec>;

/** TLS modes, as MySQL's client names them (--ssl-mode), from weakest to strongest. */
export const TlsMode = z.enum(['disabled', 'preferred', 'required', 'verify-ca', 'verify-identity']);
export type TlsMode = z.infer<typeof TlsMode>;
/** Modes that verify the server's certificate against a CA: they need the CA on both sides. */
export const VERIFYING_TLS_MODES: readonly TlsMode[] = ['verify-ca', 'verify-identity'];
/**
 * A file path on the servers (SOURCE_SSL_CA / MASTER_SSL_CA): absolute, without quotes, backslashes,
 * spaces or control characters (it reaches SQL and the replica's connection metadata). 511 characters:
 * MySQL's limit for the option.
 */
export const SERVER_PATH_PATTERN = /^\/[A-Za-z0-9._/+@=:,~-]{0,510}$/;

export const TlsSpec = z
  .strictObject({
    mode: TlsMode.default('preferred').meta({
      description:
        "How connections are encrypted, the operator's own and every managed channel's: disabled (never), preferred (when the server offers TLS; no verification), required (always; no verification), verify-ca (always; the server's certificate must be signed by the CA), verify-identity (verify-ca, and the certificate must name the host connected to).",
    }),
    caSecretRef: SecretRefFor(
      'Secret with the key ca.crt (PEM): the CA the operator verifies the servers it connects to with. Required by verify-ca and verify-identity.',
    ).optional(),
    clientCertSecretRef: SecretRefFor(
      "Secret with the keys tls.crt and tls.key (PEM, a kubernetes.io/tls Secret): the operator's client certificate, for servers that ask for one (REQUIRE X509).",
    ).optional(),
    channels: z
      .strictObject({
        caPath: patterned(
          SERVER_PATH_PATTERN,
          511,
          'must be an absolute path of letters, digits and . _ / + @ = : , ~ - only',
        )
          .optional()
          .meta({
            description:
              'A CA file ON the servers (SOURCE_SSL_CA / MASTER_SSL_CA): replicas verify their sources with it. Required by verify-ca and verify-identity; not sent in the other modes (MySQL would verify with it).',
          }),
      })
      .default({})
      .meta({ description: 'TLS of the replication channels (what replicas use to reach their sources).' }),
  })
  .meta({
    description:
      "TLS for the operator's connections and for every managed channel (SOURCE_SSL / MASTER_SSL). Absent: disabled.",
  });
export type TlsSpec = z.infer<typeof TlsSpec>;

/** The spec's TLS mode; a spec without `tls` is disabled. */
export const tlsModeOf = (spec: { tls?: TlsSpec | undefined }): TlsMode => spec.tls?.mode ?? 'disabled';

const TopologySpecObject = z.strictObject({
  flavor: FlavorSetting.default('auto').meta({
    description: "The servers' flavor: auto, mysql, mysql-legacy or mariadb.",
  }),
  adminSecretRef: SecretRef.meta({
    description: "Secret with keys username and password: the operator's login.",
  }),
  replicationSecretRef: SecretRef.meta({
    description: 'Secret with keys username and password: SOURCE_USER of the channels.',
  }),
  tls: TlsSpec.optional(),
  paused: z.boolean().default(false).meta({ description: 'true: observe and report only, write nothing.' }),
  failover: FailoverSpec.default(FailoverSpec.parse({})).meta({
    description: 'Probing and automatic failover of dead primaries.',
  }),
  routing: RoutingSpec.default(RoutingSpec.parse({})).meta({
    description: 'Traffic routing: writer and reader endpoints per group that follow the primary.',
  }),
  groups: z
    .array(GroupSpec)
    .min(1, 'at least one group is needed')
    .max(MAX_GROUPS, `at most ${MAX_GROUPS} groups`)
    .meta({ description: 'Groups of servers: each has one primary; channels connect groups.' }),
});

/** Cross-field rules: uniqueness, references, cycles. Each issue names its field path. */
export const TopologySpec = TopologySpecObject.superRefine((spec, ctx) => {
  const at = (...path: (string | number)[]) => `spec.${formatIssuePath(path)}`;
  if (spec.tls && VERIFYING_TLS_MODES.includes(spec.tls.mode)) {
    if (!spec.tls.caSecretRef)
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'caSecretRef'],
        message: `is required with mode ${spec.tls.mode} (the CA the operator verifies the servers with)`,
      });
    if (!spec.tls.channels.caPath)
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'channels', 'caPath'],
        message: `is required with mode ${spec.tls.mode} (the CA file on the servers that replicas verify their sources with)`,
      });
  }
  const groupIndex = new Map<string, number>();
  spec.groups.forEach((g, gi) => {
    const first = groupIndex.get(g.name);
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['groups', gi, 'name'],
        message: `group name ${quote(g.name)} is already used by ${at('groups', first)}`,
      });
    } else groupIndex.set(g.name, gi);
  });

  // Member names and addresses are unique across the whole topology: status, events and the
  // switchover annotation name members without their group, and one server cannot be two members.
  const memberNames = new Map<string, (string | number)[]>();
  const addresses = new Map<string, string>();
  const connectAddresses = new Map<string, string>();
  spec.groups.forEach((g, gi) =>
    g.members.forEach((m, mi) => {
      const path = ['groups', gi, 'members', mi];
      const first = memberNames.get(m.name);
      if (first) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'name'],
          message: `member name ${quote(m.name)} is already used by ${at(...first)}`,
        });
      } else memberNames.set(m.name, path);
      const addr = address(m.host, m.port);
      const owner = addresses.get(addr);
      if (owner !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `address ${addr} is already used by member ${quote(owner)}`,
        });
      } else addresses.set(addr, m.name);
      // Two members the operator would reach at the same place would be probed as one server.
      const connect = m.connect ? address(m.connect.host, m.connect.port) : addr;
      const connectOwner = connectAddresses.get(connect);
      if (connectOwner !== undefined && (m.connect || owner === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: m.connect ? [...path, 'connect'] : path,
          message: `the operator would connect to ${connect}, where it already connects to member ${quote(connectOwner)}`,
        });
      } else if (connectOwner === undefined) connectAddresses.set(connect, m.name);
    }),
  );

  // Edges of the feed graph: source group → replica group, with the channel that carries it.
  const edges = new Map<string, { to: string; path: (string | number)[] }[]>();
  spec.groups.forEach((g, gi) => {
    const names = new Map<string, number>();
    const froms = new Map<string, string>();
    g.channels.forEach((c, ci) => {
      const path = ['groups', gi, 'channels', ci];
      const lower = c.name.toLowerCase();
      const first = names.get(lower);
      if (first !== undefined) {
        const other = g.channels[first]!.name;
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'name'],
          message:
            other === c.name
              ? `channel name ${quote(c.name)} is already used by ${at('groups', gi, 'channels', first)}`
              : `channel name ${quote(c.name)} is already used by ${at('groups', gi, 'channels', first)} as ${quote(other)} (channel names are case-insensitive)`,
        });
      } else names.set(lower, ci);
      if (!OBJECT_NAME_PATTERN.test(c.from)) {
        // Reported by the field's own pattern; a reference check would repeat it.
      } else if (c.from === g.name) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'from'],
          message: `a channel cannot come from its own group ${quote(g.name)}`,
        });
      } else if (!groupIndex.has(c.from)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'from'],
          message: `group ${quote(c.from)} does not exist`,
        });
      } else if (froms.has(c.from)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'from'],
          message: `group ${quote(c.from)} already feeds group ${quote(g.name)} over channel ${quote(froms.get(c.from)!)} (one channel per source group)`,
        });
      } else {
        froms.set(c.from, c.name);
        edges.set(c.from, [...(edges.get(c.from) ?? []), { to: g.name, path: [...path, 'from'] }]);
      }
    });
  });

  const cycle = findCycle(
    edges,
    spec.groups.map((g) => g.name),
  );
  if (cycle) {
    ctx.addIssue({
      code: 'custom',
      path: cycle.path,
      message: `channels form a cycle: ${cycle.groups.map((g) => (OBJECT_NAME_PATTERN.test(g) ? g : quote(g))).join(' -> ')} (each group feeds the next)`,
    });
  }
});
export type TopologySpec = z.infer<typeof TopologySpec>;
export type TopologySpecInput = z.input<typeof TopologySpec>;

function address(host: string, port: number): string {
  return host.includes(':') ? `[${host.toLowerCase()}]:${port}` : `${host.toLowerCase()}:${port}`;
}

/**
 * Depth-first search for a cycle in the group feed graph (source → replica), visiting groups in spec order.
 * Returns the cycle starting and ending at the group listed first in the spec, and the path of the channel
 * that closes it (the `from` of that group's channel).
 */
function findCycle(
  edges: Map<string, { to: string; path: (string | number)[] }[]>,
  order: string[],
): { groups: string[]; path: (string | number)[] } | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return stack.slice(stack.indexOf(n));
    state.set(n, 'visiting');
    stack.push(n);
    for (const next of edges.get(n) ?? []) {
      const found = visit(next.to);
      if (found) return found;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of order) {
    const found = visit(n);
    if (!found) continue;
    // Rotate so that the cycle starts at the group listed first.
    const rank = (g: string) => order.indexOf(g);
    const start = found.reduce((best, g, i) => (rank(g) < rank(found[best]!) ? i : best), 0);
    const ring = [...found.slice(start), ...found.slice(0, start)];
    const last = ring[ring.length - 1]!;
    const closing = edges.get(last)!.find((e) => e.to === ring[0])!;
    return { groups: [...ring, ring[0]!], path: closing.path };
  }
  return undefined;
}

/** `groups[2].channels[0].from`; keys that are not plain identifiers are quoted (and escaped). */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/.test(key))
      out += out ? `.${key}` : key;
    else out += `[${quote(String(key))}]`;
  }
  return out;
}

/**
 * A value as it may appear in a one-line error: JSON-quoted, everything outside printable ASCII escaped
 * (no newline, no terminal escape, no bidi override survives), and cut after `max` characters.
 */
export function quote(value: string, max = 64): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  const escaped = JSON.stringify(cut).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return value.length > max ? `${escaped}… (${value.length} characters)` : escaped;
}

// Kubernetes object names: the topology's name is a DNS subdomain, its namespace a DNS label.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const ObjectMeta = z.looseObject({
  name: z
    .string()
    .min(1, { message: 'must not be empty', abort: true })
    .max(253, { message: 'must be at most 253 characters', abort: true })
    .regex(DNS_SUBDOMAIN, 'must be a lowercase DNS subdomain (a-z, 0-9, "-" and ".")'),
  namespace: dnsLabel().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  deletionTimestamp: z.string().optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;
