import { describe, expect, it } from 'vitest';
import { checkSecrets, loadCredentials, validateSpec, validateTopology } from '../../../src/api/validate.js';

// Resources in these tests are deliberately loose: most of them are invalid.

type Loose = Record<string, any>;

// The design's example, as YAML would give it.
function warehouse() {
  return {
    apiVersion: 'tributary.dev/v1alpha1',
    kind: 'MySQLTopology',
    metadata: { name: 'warehouse', namespace: 'db' },
    spec: {
      flavor: 'auto',
      adminSecretRef: { name: 'tributary-admin' },
      replicationSecretRef: { name: 'tributary-repl' },
      paused: false,
      failover: { enabled: true, pollIntervalSeconds: 1, failureThreshold: 3, cooldownSeconds: 300 },
      groups: [
        {
          name: 'shard-a',
          members: [
            { name: 'a-0', host: 'a-0.shard-a.db.svc', port: 3306, promotionRule: 'prefer' },
            { name: 'a-1', host: 'a-1.shard-a.db.svc', port: 3306 },
          ] as Record<string, unknown>[],
          channels: [] as Record<string, unknown>[],
        },
        {
          name: 'shard-b',
          members: [{ name: 'b-0', host: 'b-0.shard-b.db.svc', port: 3306 }] as Record<string, unknown>[],
        },
        {
          name: 'dw',
          members: [
            { name: 'dw-0', host: 'dw-0.dw.db.svc', port: 3306 },
            { name: 'dw-1', host: 'dw-1.dw.db.svc', port: 3306 },
          ] as Record<string, unknown>[],
          channels: [
            { name: 'shard_a', from: 'shard-a' },
            { name: 'shard_b', from: 'shard-b', delaySeconds: 0, filter: { doDatabases: ['sales'] } },
          ] as Record<string, unknown>[],
        },
      ] as Loose[],
    } as Loose,
  } as Loose;
}

type Resource = ReturnType<typeof warehouse>;
const edit = (f: (r: Resource) => void): Resource => {
  const r = warehouse();
  f(r);
  return r;
};
const channelsOf = (r: Resource, gi: number) => r.spec.groups[gi]!.channels as Record<string, unknown>[];
const membersOf = (r: Resource, gi: number) => r.spec.groups[gi]!.members as Record<string, unknown>[];

/** Three groups x, y, z of one member each, for graph cases. */
function triangle(channels: Record<string, { name: string; from: string }[]>): Resource {
  return edit((r) => {
    r.spec.groups = ['x', 'y', 'z'].map((g) => ({
      name: g,
      members: [{ name: `${g}-0`, host: `${g}-0.db.svc` }],
      channels: channels[g] ?? [],
    }));
  });
}

const invalid: [string, Resource | unknown, string[]][] = [
  // Uniqueness of names and addresses
  [
    'duplicate group name',
    edit((r) => (r.spec.groups[1]!.name = 'shard-a')),
    [
      'spec.groups[1].name: group name "shard-a" is already used by spec.groups[0]',
      // shard-b is gone with its name: dw's channel from it is reported too.
      'spec.groups[2].channels[1].from: group "shard-b" does not exist',
    ],
  ],
  [
    'duplicate member name in another group',
    edit((r) => (membersOf(r, 1)[0]!.name = 'a-0')),
    ['spec.groups[1].members[0].name: member name "a-0" is already used by spec.groups[0].members[0]'],
  ],
  [
    'duplicate member name in the same group',
    edit((r) => (membersOf(r, 2)[1]!.name = 'dw-0')),
    ['spec.groups[2].members[1].name: member name "dw-0" is already used by spec.groups[2].members[0]'],
  ],
  [
    'two members with the same host:port',
    edit((r) => (membersOf(r, 2)[1]!.host = 'dw-0.dw.db.svc')),
    ['spec.groups[2].members[1]: address dw-0.dw.db.svc:3306 is already used by member "dw-0"'],
  ],
  [
    'same address by default port and host case',
    edit((r) => (membersOf(r, 1)[0] = { name: 'b-0', host: 'A-0.Shard-A.db.svc' })),
    ['spec.groups[1].members[0]: address a-0.shard-a.db.svc:3306 is already used by member "a-0"'],
  ],
  [
    'two members the operator reaches at the same connect address',
    edit((r) => {
      membersOf(r, 0)[0]!.connect = { host: '127.0.0.1', port: 13306 };
      membersOf(r, 0)[1]!.connect = { host: '127.0.0.1', port: 13306 };
    }),
    [
      'spec.groups[0].members[1].connect: the operator would connect to 127.0.0.1:13306, where it already connects to member "a-0"',
    ],
  ],
  // Channel names
  [
    'channel name with a dot',
    edit((r) => (channelsOf(r, 2)[0]!.name = 'shard.a')),
    ['spec.groups[2].channels[0].name: must be letters, digits, _ and - only (got "shard.a")'],
  ],
  [
    'channel name of 65 characters',
    edit((r) => (channelsOf(r, 2)[0]!.name = 'c'.repeat(65))),
    [
      `spec.groups[2].channels[0].name: must be at most 64 characters (got "${'c'.repeat(64)}"… (65 characters))`,
    ],
  ],
  [
    'empty channel name',
    edit((r) => (channelsOf(r, 2)[0]!.name = '')),
    ['spec.groups[2].channels[0].name: must not be empty (got "")'],
  ],
  [
    'reserved channel name',
    edit((r) => (channelsOf(r, 2)[0]!.name = 'group_replication_recovery')),
    [
      'spec.groups[2].channels[0].name: is a channel name reserved by MySQL Group Replication (got "group_replication_recovery")',
    ],
  ],
  [
    'reserved channel name in capitals',
    edit((r) => (channelsOf(r, 2)[1]!.name = 'GROUP_REPLICATION_APPLIER')),
    [
      'spec.groups[2].channels[1].name: is a channel name reserved by MySQL Group Replication (got "GROUP_REPLICATION_APPLIER")',
    ],
  ],
  [
    "Tributary's own catch-up channel name",
    edit((r) => (channelsOf(r, 2)[0]!.name = 'Tributary_CatchUp')),
    [
      'spec.groups[2].channels[0].name: is reserved for Tributary\'s failover catch-up channel (got "Tributary_CatchUp")',
    ],
  ],
  [
    'a timestamp where a string belongs (YAML 1.1 reads 2026-01-01 as a date)',
    edit((r) => (membersOf(r, 0)[0]!.host = new Date('2026-01-01T00:00:00Z'))),
    ['spec.groups[0].members[0].host: must be a string (got a timestamp (quote it to make it a string))'],
  ],
  [
    'channel names equal but for case',
    edit((r) => (channelsOf(r, 2)[1]!.name = 'Shard_A')),
    [
      'spec.groups[2].channels[1].name: channel name "Shard_A" is already used by spec.groups[2].channels[0] as "shard_a" (channel names are case-insensitive)',
    ],
  ],
  [
    'channel names equal',
    edit((r) => (channelsOf(r, 2)[1]!.name = 'shard_a')),
    ['spec.groups[2].channels[1].name: channel name "shard_a" is already used by spec.groups[2].channels[0]'],
  ],
  [
    'channel name that is a number',
    edit((r) => (channelsOf(r, 2)[0]!.name = 7)),
    ['spec.groups[2].channels[0].name: must be a string (got 7)'],
  ],
  // from
  [
    'from names no group',
    edit((r) => (channelsOf(r, 2)[0]!.from = 'shard-z')),
    ['spec.groups[2].channels[0].from: group "shard-z" does not exist'],
  ],
  [
    'from names its own group',
    edit((r) => (channelsOf(r, 2)[0]!.from = 'dw')),
    ['spec.groups[2].channels[0].from: a channel cannot come from its own group "dw"'],
  ],
  [
    'two channels from the same group',
    edit((r) => (channelsOf(r, 2)[1]!.from = 'shard-a')),
    [
      'spec.groups[2].channels[1].from: group "shard-a" already feeds group "dw" over channel "shard_a" (one channel per source group)',
    ],
  ],
  [
    'from missing',
    edit((r) => delete channelsOf(r, 2)[0]!.from),
    ['spec.groups[2].channels[0].from: is required'],
  ],
  [
    '257 channels in one group',
    edit(
      (r) =>
        (r.spec.groups[2]!.channels = Array.from({ length: 257 }, (_, i) => ({
          name: `c${i}`,
          from: 'shard-a',
        }))),
    ),
    ['spec.groups[2].channels: at most 256 channels per group (got 257 items)'],
  ],
  [
    '65 groups',
    edit(
      (r) =>
        (r.spec.groups = Array.from({ length: 65 }, (_, i) => ({
          name: `g${i}`,
          members: [{ name: `m${i}`, host: `h${i}` }],
        }))),
    ),
    ['spec.groups: at most 64 groups (got 65 items)'],
  ],
  // Cycles
  [
    'cycle of two groups',
    edit((r) => (r.spec.groups[0]!.channels = [{ name: 'from_dw', from: 'dw' }])),
    [
      'spec.groups[0].channels[0].from: channels form a cycle: shard-a -> dw -> shard-a (each group feeds the next)',
    ],
  ],
  [
    'cycle of three groups',
    triangle({ y: [{ name: 'x', from: 'x' }], z: [{ name: 'y', from: 'y' }], x: [{ name: 'z', from: 'z' }] }),
    ['spec.groups[0].channels[0].from: channels form a cycle: x -> y -> z -> x (each group feeds the next)'],
  ],
  [
    'cycle of three groups, listed from the middle',
    triangle({ y: [{ name: 'z', from: 'z' }], z: [{ name: 'x', from: 'x' }], x: [{ name: 'y', from: 'y' }] }),
    ['spec.groups[0].channels[0].from: channels form a cycle: x -> z -> y -> x (each group feeds the next)'],
  ],
  // Ports
  [
    'port 0',
    edit((r) => (membersOf(r, 0)[1]!.port = 0)),
    ['spec.groups[0].members[1].port: must be 1–65535 (got 0)'],
  ],
  [
    'port 65536',
    edit((r) => (membersOf(r, 0)[1]!.port = 65536)),
    ['spec.groups[0].members[1].port: must be 1–65535 (got 65536)'],
  ],
  [
    'port 70000',
    edit((r) => (membersOf(r, 0)[1]!.port = 70000)),
    ['spec.groups[0].members[1].port: must be 1–65535 (got 70000)'],
  ],
  [
    'port 3306.5',
    edit((r) => (membersOf(r, 0)[1]!.port = 3306.5)),
    ['spec.groups[0].members[1].port: must be an integer 1–65535 (got 3306.5)'],
  ],
  [
    'port as a string',
    edit((r) => (membersOf(r, 0)[1]!.port = '3306')),
    ['spec.groups[0].members[1].port: must be an integer 1–65535 (got "3306")'],
  ],
  [
    'connect port out of range, connect host missing',
    edit((r) => (membersOf(r, 0)[0]!.connect = { port: 70000 })),
    [
      'spec.groups[0].members[0].connect.host: is required',
      'spec.groups[0].members[0].connect.port: must be 1–65535 (got 70000)',
    ],
  ],
  // Secrets references
  ['adminSecretRef missing', edit((r) => delete r.spec.adminSecretRef), ['spec.adminSecretRef: is required']],
  [
    'replicationSecretRef without a name',
    edit((r) => (r.spec.replicationSecretRef = {})),
    ['spec.replicationSecretRef.name: is required'],
  ],
  [
    'secret name with capitals',
    edit((r) => (r.spec.adminSecretRef = { name: 'Tributary_Admin' })),
    ['spec.adminSecretRef.name: must be a Secret name (a lowercase DNS subdomain) (got "Tributary_Admin")'],
  ],
  // Unknown fields (strict)
  ['unknown field in spec', edit((r) => (r.spec.replicas = 3)), ['spec.replicas: unknown field']],
  [
    'unknown field in a member',
    edit((r) => (membersOf(r, 0)[0]!.weight = 2)),
    ['spec.groups[0].members[0].weight: unknown field'],
  ],
  [
    'misspelt field in a channel',
    edit((r) => {
      const c = channelsOf(r, 2)[0]!;
      c.From = c.from;
      delete c.from;
    }),
    ['spec.groups[2].channels[0].from: is required', 'spec.groups[2].channels[0].From: unknown field'],
  ],
  ['unknown top-level field', edit((r) => (r.specs = {})), ['specs: unknown field']],
  [
    'unknown field whose key holds a newline',
    edit((r) => (r.spec.failover['x\ny: injected'] = 1)),
    ['spec.failover["x\\ny: injected"]: unknown field'],
  ],
  // Kind, apiVersion, metadata
  [
    'wrong kind',
    edit((r) => (r.kind = 'MySQLCluster')),
    ['kind: must be MySQLTopology (got "MySQLCluster")'],
  ],
  [
    'wrong apiVersion',
    edit((r) => (r.apiVersion = 'tributary.dev/v1')),
    ['apiVersion: must be tributary.dev/v1alpha1 (got "tributary.dev/v1")'],
  ],
  ['kind missing', edit((r) => delete r.kind), ['kind: is required']],
  ['metadata.name missing', edit((r) => (r.metadata = { namespace: 'db' })), ['metadata.name: is required']],
  [
    'metadata.name with capitals',
    edit((r) => (r.metadata.name = 'Warehouse')),
    ['metadata.name: must be a lowercase DNS subdomain (a-z, 0-9, "-" and ".") (got "Warehouse")'],
  ],
  ['spec missing', edit((r) => delete r.spec), ['spec: is required']],
  ['not an object', 'kind: MySQLTopology', ['resource: must be an object (got "kind: MySQLTopology")']],
  ['null', null, ['resource: must be an object (got null)']],
  // Hostile names
  [
    'group name with a double quote',
    edit((r) => (r.spec.groups[1]!.name = 'shard"b')),
    [
      'spec.groups[1].name: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "shard\\"b")',
      'spec.groups[2].channels[1].from: group "shard-b" does not exist',
    ],
  ],
  [
    'member name with a backtick',
    edit((r) => (membersOf(r, 1)[0]!.name = 'b-0`; DROP TABLE t; --')),
    [
      'spec.groups[1].members[0].name: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "b-0`; DROP TABLE t; --")',
    ],
  ],
  [
    'channel name with a newline that fakes a second error line',
    edit((r) => (channelsOf(r, 2)[0]!.name = 'shard_a\nspec.groups[0].name: all good')),
    [
      'spec.groups[2].channels[0].name: must be letters, digits, _ and - only (got "shard_a\\nspec.groups[0].name: all good")',
    ],
  ],
  [
    'from with a terminal escape and a single quote',
    edit((r) => (channelsOf(r, 2)[0]!.from = "\u001b[2Kshard-a'")),
    [
      'spec.groups[2].channels[0].from: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "\\u001b[2Kshard-a\'")',
    ],
  ],
  [
    'two members with the same hostile name',
    edit((r) => {
      membersOf(r, 0)[0]!.name = 'x\ny';
      membersOf(r, 0)[1]!.name = 'x\ny';
    }),
    [
      'spec.groups[0].members[0].name: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "x\\ny")',
      'spec.groups[0].members[1].name: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "x\\ny")',
      // Cross-field rules still run on strings that broke a pattern; their messages quote and escape too.
      'spec.groups[0].members[1].name: member name "x\\ny" is already used by spec.groups[0].members[0]',
    ],
  ],
  [
    'member name of 200 characters',
    edit((r) => (membersOf(r, 0)[0]!.name = 'a'.repeat(200))),
    [
      `spec.groups[0].members[0].name: must be at most 63 characters (got "${'a'.repeat(64)}"… (200 characters))`,
    ],
  ],
  [
    'host that would close a SQL string',
    edit((r) => (membersOf(r, 0)[0]!.host = "a-0' OR '1'='1")),
    [
      `spec.groups[0].members[0].host: must be a hostname or an IP address (letters, digits, ".", ":" and "-") (got "a-0' OR '1'='1")`,
    ],
  ],
  [
    'name with a right-to-left override',
    edit((r) => (membersOf(r, 0)[0]!.name = 'a-\u202e0')),
    [
      'spec.groups[0].members[0].name: must be a lowercase DNS label (a-z, 0-9 and -, starting and ending with a letter or digit) (got "a-\\u202e0")',
    ],
  ],
  // Enumerations
  [
    'promotionRule unknown',
    edit((r) => (membersOf(r, 0)[0]!.promotionRule = 'always')),
    [
      'spec.groups[0].members[0].promotionRule: must be one of prefer, neutral, prefer_not, must_not (got "always")',
    ],
  ],
  [
    'flavor unknown',
    edit((r) => (r.spec.flavor = 'percona')),
    ['spec.flavor: must be one of auto, mysql, mysql-legacy, mariadb (got "percona")'],
  ],
  // Failover numbers
  [
    'failureThreshold 0',
    edit((r) => (r.spec.failover.failureThreshold = 0)),
    ['spec.failover.failureThreshold: must be 1–100 (got 0)'],
  ],
  [
    'failureThreshold 101',
    edit((r) => (r.spec.failover.failureThreshold = 101)),
    ['spec.failover.failureThreshold: must be 1–100 (got 101)'],
  ],
  [
    'failureThreshold 2.5',
    edit((r) => (r.spec.failover.failureThreshold = 2.5)),
    ['spec.failover.failureThreshold: must be an integer 1–100 (got 2.5)'],
  ],
  [
    'downAfterSeconds 0',
    edit((r) => (r.spec.failover.downAfterSeconds = 0)),
    ['spec.failover.downAfterSeconds: must be 0.1–3600 (got 0)'],
  ],
  [
    'downAfterSeconds as text',
    edit((r) => (r.spec.failover.downAfterSeconds = '10s')),
    ['spec.failover.downAfterSeconds: must be a number 0.1–3600 (got "10s")'],
  ],
  [
    'catchUpTimeoutSeconds 0',
    edit((r) => (r.spec.failover.catchUpTimeoutSeconds = 0)),
    ['spec.failover.catchUpTimeoutSeconds: must be 1–3600 (got 0)'],
  ],
  [
    'deadlineSeconds 5',
    edit((r) => (r.spec.failover.deadlineSeconds = 5)),
    ['spec.failover.deadlineSeconds: must be 10–86400 (got 5)'],
  ],
  [
    'pollIntervalSeconds 0.05',
    edit((r) => (r.spec.failover.pollIntervalSeconds = 0.05)),
    ['spec.failover.pollIntervalSeconds: must be 0.1–3600 (got 0.05)'],
  ],
  [
    'pollIntervalSeconds 7200',
    edit((r) => (r.spec.failover.pollIntervalSeconds = 7200)),
    ['spec.failover.pollIntervalSeconds: must be 0.1–3600 (got 7200)'],
  ],
  [
    'cooldownSeconds -1',
    edit((r) => (r.spec.failover.cooldownSeconds = -1)),
    ['spec.failover.cooldownSeconds: must be 0–604800 (got -1)'],
  ],
  [
    'failover.enabled "yes"',
    edit((r) => (r.spec.failover.enabled = 'yes')),
    ['spec.failover.enabled: must be a boolean (true or false) (got "yes")'],
  ],
  [
    'delaySeconds -5',
    edit((r) => (channelsOf(r, 2)[1]!.delaySeconds = -5)),
    ['spec.groups[2].channels[1].delaySeconds: must be 0–2147483647 (got -5)'],
  ],
  // Filters
  [
    'filter database with a dash',
    edit((r) => (channelsOf(r, 2)[1]!.filter = { doDatabases: ['sales', 'sales-eu'] })),
    [
      'spec.groups[2].channels[1].filter.doDatabases[1]: must be letters, digits, _ and $ only (got "sales-eu")',
    ],
  ],
  [
    'filter database of 65 characters',
    edit((r) => (channelsOf(r, 2)[1]!.filter = { ignoreDatabases: ['d'.repeat(65)] })),
    [
      `spec.groups[2].channels[1].filter.ignoreDatabases[0]: must be at most 64 characters (got "${'d'.repeat(64)}"… (65 characters))`,
    ],
  ],
  [
    'filter database empty, unknown filter field',
    edit((r) => (channelsOf(r, 2)[1]!.filter = { doDatabases: [''], doTables: ['t'] })),
    [
      'spec.groups[2].channels[1].filter.doDatabases[0]: must not be empty (got "")',
      'spec.groups[2].channels[1].filter.doTables: unknown field',
    ],
  ],
  // Shape
  [
    'no groups',
    edit((r) => (r.spec.groups = [])),
    ['spec.groups: at least one group is needed (got 0 items)'],
  ],
  [
    'group without members',
    edit((r) => (r.spec.groups[1]!.members = [])),
    ['spec.groups[1].members: a group needs at least one member (got 0 items)'],
  ],
  [
    'groups as a map',
    edit((r) => (r.spec.groups = { 'shard-a': {} })),
    ['spec.groups: must be an array (got an object)'],
  ],
  [
    'several problems at once, in document order',
    edit((r) => {
      r.kind = 'Topology';
      membersOf(r, 0)[1]!.port = 0;
      r.spec.failover.failureThreshold = 0;
    }),
    [
      'kind: must be MySQLTopology (got "Topology")',
      'spec.failover.failureThreshold: must be 1–100 (got 0)',
      'spec.groups[0].members[1].port: must be 1–65535 (got 0)',
    ],
  ],
];

describe('validateTopology: invalid resources', () => {
  it('has a large table', () => expect(invalid.length).toBeGreaterThanOrEqual(35));

  it.each(invalid)('%s', (_name, resource, expected) => {
    const result = validateTopology(resource);
    expect(result).toEqual({ ok: false, errors: expected });
    if (!result.ok) {
      for (const line of result.errors) {
        // eslint-disable-next-line no-control-regex -- looking for control characters is the point
        expect(line).not.toMatch(/[\u0000-\u001f\u007f\u2028\u2029\u202a-\u202e]/);
        expect(line.length).toBeLessThan(400);
      }
    }
  });
});

describe('validateTopology: valid resources', () => {
  it('accepts the design example and fills defaults', () => {
    const result = validateTopology(warehouse());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.topology.metadata).toMatchObject({ name: 'warehouse', namespace: 'db' });
    const [a, b, dw] = result.topology.spec.groups;
    expect(a!.members[1]).toEqual({
      name: 'a-1',
      host: 'a-1.shard-a.db.svc',
      port: 3306,
      promotionRule: 'neutral',
    });
    expect(b!.channels).toEqual([]);
    expect(dw!.channels[0]).toEqual({ name: 'shard_a', from: 'shard-a', delaySeconds: 0 });
    expect(dw!.channels[1]!.filter).toEqual({ doDatabases: ['sales'], ignoreDatabases: [] });
  });

  it('accepts a minimal resource', () => {
    const result = validateTopology({
      apiVersion: 'tributary.dev/v1alpha1',
      kind: 'MySQLTopology',
      metadata: { name: 'tiny' },
      spec: {
        adminSecretRef: { name: 'a' },
        replicationSecretRef: { name: 'a' },
        groups: [{ name: 'g', members: [{ name: 'm', host: '::1' }] }],
      },
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.topology.spec.flavor).toBe('auto');
      expect(result.topology.spec.paused).toBe(false);
      expect(result.topology.spec.failover).toEqual({
        enabled: true,
        pollIntervalSeconds: 1,
        downAfterSeconds: 10,
        failureThreshold: 3,
        cooldownSeconds: 300,
        catchUpTimeoutSeconds: 30,
        requireDrain: false,
        deadlineSeconds: 300,
      });
      expect(result.topology.spec.routing).toEqual({ enabled: true, maxReplicaLagSeconds: 30 });
    }
  });

  it.each([
    [
      'ports 1 and 65535',
      (r: Resource) => ((membersOf(r, 0)[0]!.port = 1), (membersOf(r, 0)[1]!.port = 65535)),
    ],
    ['a channel name of 64 characters', (r: Resource) => (channelsOf(r, 2)[0]!.name = 'A'.repeat(64))],
    [
      'a chain of groups (a DAG, not a cycle)',
      (r: Resource) => (r.spec.groups[1]!.channels = [{ name: 'a', from: 'shard-a' }]),
    ],
    [
      'the same member address on another port',
      (r: Resource) => (membersOf(r, 0)[1] = { name: 'a-1', host: 'a-0.shard-a.db.svc', port: 3307 }),
    ],
    [
      'IPv4 and IPv6 hosts',
      (r: Resource) => ((membersOf(r, 0)[0]!.host = '10.0.0.1'), (membersOf(r, 0)[1]!.host = 'fe80::1')),
    ],
    [
      'distinct connect addresses',
      (r: Resource) => (
        (membersOf(r, 0)[0]!.connect = { host: '127.0.0.1', port: 13306 }),
        (membersOf(r, 0)[1]!.connect = { host: '127.0.0.1', port: 13307 })
      ),
    ],
    [
      'every promotionRule and flavor',
      (r: Resource) => ((membersOf(r, 0)[1]!.promotionRule = 'must_not'), (r.spec.flavor = 'mysql-legacy')),
    ],
    ['a status of any shape', (r: Resource) => (r.status = { phase: 'Ready', anything: [1] })],
    [
      'failover bounds',
      (r: Resource) =>
        (r.spec.failover = { pollIntervalSeconds: 0.1, failureThreshold: 100, cooldownSeconds: 604800 }),
    ],
  ])('accepts %s', (_name, f) => {
    const result = validateTopology(edit(f));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('accepts 64 groups where one group has 63 channels', () => {
    const r = edit((r) => {
      r.spec.groups = Array.from({ length: 64 }, (_, i) => ({
        name: `g${i}`,
        members: [{ name: `m${i}`, host: `h${i}` }],
      }));
      r.spec.groups[0]!.channels = Array.from({ length: 63 }, (_, i) => ({
        name: `c${i + 1}`,
        from: `g${i + 1}`,
      }));
    });
    expect(validateTopology(r).ok).toBe(true);
  });
});

describe('validateSpec', () => {
  it('prefixes paths with spec.', () => {
    expect(
      validateSpec({ adminSecretRef: { name: 'a' }, replicationSecretRef: { name: 'a' }, groups: [] }),
    ).toEqual({
      ok: false,
      errors: ['spec.groups: at least one group is needed (got 0 items)'],
    });
  });
});

describe('checkSecrets', () => {
  const spec = {
    adminSecretRef: { name: 'tributary-admin' },
    replicationSecretRef: { name: 'tributary-repl' },
  };
  const store = (secrets: Record<string, Record<string, string>>) => (name: string) => secrets[name];

  it('accepts Secrets with username and password (an empty password too)', () => {
    expect(
      checkSecrets(
        spec,
        store({
          'tributary-admin': { username: 'root', password: 's' },
          'tributary-repl': { username: 'repl', password: '' },
        }),
      ),
    ).toEqual([]);
  });

  it('names a Secret the store lacks', () => {
    expect(
      checkSecrets(spec, store({ 'tributary-admin': { username: 'root', password: 's' } }), {
        namespace: 'db',
      }),
    ).toEqual(['spec.replicationSecretRef.name: Secret "db/tributary-repl" does not exist']);
  });

  it('names missing keys, one line per Secret', () => {
    expect(
      checkSecrets(
        spec,
        store({ 'tributary-admin': { user: 'root' }, 'tributary-repl': { username: '', password: 'x' } }),
      ),
    ).toEqual([
      'spec.adminSecretRef.name: Secret "tributary-admin" lacks the keys "username" and "password"',
      'spec.replicationSecretRef.name: Secret "tributary-repl" lacks the key "username"',
    ]);
  });

  it('loads credentials through an async reader, once per Secret', async () => {
    const reads: string[] = [];
    const read = async (name: string) => {
      reads.push(name);
      return name === 'one' ? { username: 'u', password: 'p' } : undefined;
    };
    expect(
      await loadCredentials({ adminSecretRef: { name: 'one' }, replicationSecretRef: { name: 'one' } }, read),
    ).toEqual({
      ok: true,
      admin: { username: 'u', password: 'p' },
      replication: { username: 'u', password: 'p' },
    });
    expect(reads).toEqual(['one']);
    expect(
      await loadCredentials({ adminSecretRef: { name: 'one' }, replicationSecretRef: { name: 'two' } }, read),
    ).toEqual({
      ok: false,
      errors: ['spec.replicationSecretRef.name: Secret "two" does not exist'],
    });
  });
});

describe('spec.tls', () => {
  const withTls = (tls: unknown) => validateSpec({ ...warehouse().spec, tls });
  it.each([
    ['absent: disabled', undefined, []],
    ['preferred by default', {}, []],
    [
      'verify-identity with both CAs',
      {
        mode: 'verify-identity',
        caSecretRef: { name: 'db-ca' },
        channels: { caPath: '/etc/mysql/tls/ca.pem' },
      },
      [],
    ],
    [
      'verify-ca without either CA: two lines, naming each field',
      { mode: 'verify-ca' },
      [
        'spec.tls.caSecretRef: is required with mode verify-ca (the CA the operator verifies the servers with)',
        'spec.tls.channels.caPath: is required with mode verify-ca (the CA file on the servers that replicas verify their sources with)',
      ],
    ],
    [
      'an unknown mode',
      { mode: 'strict' },
      [
        'spec.tls.mode: must be one of disabled, preferred, required, verify-ca, verify-identity (got "strict")',
      ],
    ],
    [
      'a CA path that could leave its SQL literal',
      { mode: 'required', channels: { caPath: "/x', MASTER_HOST='evil" } },
      [
        'spec.tls.channels.caPath: must be an absolute path of letters, digits and . _ / + @ = : , ~ - only (got "/x\', MASTER_HOST=\'evil")',
      ],
    ],
    [
      'a relative CA path',
      { mode: 'required', channels: { caPath: 'ca.pem' } },
      [
        'spec.tls.channels.caPath: must be an absolute path of letters, digits and . _ / + @ = : , ~ - only (got "ca.pem")',
      ],
    ],
    ['an unknown field', { mode: 'required', ca: 'x' }, ['spec.tls.ca: unknown field']],
  ])('%s', (_n, tls, errors) => {
    const r = withTls(tls);
    expect(r.ok ? [] : r.errors).toEqual(errors);
  });
});

describe('TLS Secrets', () => {
  const CERT = '-----BEGIN CERTIFICATE-----\nMIIB-cert-body\n-----END CERTIFICATE-----\n';
  const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE-very-secret-key\n-----END PRIVATE KEY-----\n';
  const spec = {
    adminSecretRef: { name: 'admin' },
    replicationSecretRef: { name: 'repl' },
    tls: { mode: 'verify-ca' as const, caSecretRef: { name: 'ca' }, clientCertSecretRef: { name: 'client' } },
  };
  const login = { username: 'u', password: 'p' };
  const read = (secrets: Record<string, Record<string, string>>) => async (n: string) => secrets[n];

  it('loads the CA and the client certificate for the operator’s connections', async () => {
    const r = await loadCredentials(
      spec,
      read({
        admin: login,
        repl: login,
        ca: { 'ca.crt': CERT },
        client: { 'tls.crt': CERT, 'tls.key': KEY },
      }),
    );
    expect(r).toEqual({
      ok: true,
      admin: login,
      replication: login,
      tls: { mode: 'verify-ca', ca: CERT, cert: CERT, key: KEY },
    });
  });

  it('names a missing key or a value that is not PEM, never showing the value', async () => {
    const r = await loadCredentials(
      spec,
      read({
        admin: login,
        repl: login,
        ca: { 'ca.pem': CERT },
        client: { 'tls.crt': CERT, 'tls.key': 'MIIE-very-secret-key' },
      }),
      { namespace: 'db' },
    );
    expect(r).toEqual({
      ok: false,
      errors: [
        'spec.tls.caSecretRef.name: Secret "db/ca" lacks the key "ca.crt"',
        'spec.tls.clientCertSecretRef.name: Secret "db/client": key "tls.key" is not a PEM private key',
      ],
    });
    expect(JSON.stringify(r)).not.toContain('very-secret');
  });

  it('mode disabled: no TLS material, whatever the Secrets hold', async () => {
    const r = await loadCredentials(
      { ...spec, tls: { ...spec.tls, mode: 'disabled' as const } },
      read({
        admin: login,
        repl: login,
        ca: { 'ca.crt': CERT },
        client: { 'tls.crt': CERT, 'tls.key': KEY },
      }),
    );
    expect(r).toEqual({ ok: true, admin: login, replication: login });
  });
});
