// Bad input is refused before any connection: every member points at a listener that counts connections.
// No server is involved; the resource declares each flavor in turn (spec.flavor), so a rule that only one
// flavor's validation has would show.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconciler } from '../../src/controller/reconcile.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { FLAVORS } from '../harness/flavors.js';
import { cli, writeManifests } from '../harness/topology.js';

let listener: Server;
let port = 0;
let connections = 0;
let dir = '';
const pool = new SqlClientPool();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-invalid-'));
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as { port: number }).port;
});
afterAll(async () => {
  await pool.closeAll();
  await new Promise((r) => listener.close(r));
  rmSync(dir, { recursive: true, force: true });
});

type Doc = Record<string, any>;
function docs(mutate: (spec: Doc, all: Doc[]) => void): Doc[] {
  const spec: Doc = {
    adminSecretRef: { name: 'admin' },
    replicationSecretRef: { name: 'repl' },
    groups: [
      {
        name: 'shard-a',
        members: [
          { name: 'a-0', host: '127.0.0.1', port },
          { name: 'a-1', host: 'localhost', port },
        ],
      },
      { name: 'shard-b', members: [{ name: 'b-0', host: '127.0.0.2', port }] },
      {
        name: 'dw',
        members: [{ name: 'dw-0', host: '127.0.0.3', port }],
        channels: [
          { name: 'shard_a', from: 'shard-a' },
          { name: 'shard_b', from: 'shard-b' },
        ],
      },
    ],
  };
  const secret = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    stringData: { username: 'u', password: 'secret-pw' },
  });
  const all: Doc[] = [
    { apiVersion: 'tributary.dev/v1alpha1', kind: 'MySQLTopology', metadata: { name: 'bad' }, spec },
    secret('admin'),
    secret('repl'),
  ];
  mutate(spec, all);
  return all;
}

const ch = (spec: Doc) => spec.groups[2].channels;
const CASES: [string, (spec: Doc, all: Doc[]) => void, RegExp][] = [
  [
    'duplicate group',
    (s) => s.groups.push({ name: 'dw', members: [{ name: 'x-0', host: 'h', port: 1 }] }),
    /spec\.groups\[3\]\.name: .*"dw"/,
  ],
  ['duplicate member', (s) => (s.groups[1].members[0].name = 'a-0'), /spec\.groups\[1\]\.members\[0\]\.name/],
  [
    'duplicate address',
    (s) => (s.groups[1].members[0].host = '127.0.0.1'),
    /spec\.groups\[1\]\.members\[0\]/,
  ],
  [
    'channel from unknown group',
    (s) => (ch(s)[0].from = 'shard-z'),
    /spec\.groups\[2\]\.channels\[0\]\.from: .*"shard-z" does not exist/,
  ],
  ['channel from itself', (s) => (ch(s)[0].from = 'dw'), /spec\.groups\[2\]\.channels\[0\]\.from/],
  [
    'two channels from one group',
    (s) => (ch(s)[1].from = 'shard-a'),
    /spec\.groups\[2\]\.channels\[1\]\.from/,
  ],
  ['channel name with a quote', (s) => (ch(s)[0].name = "a'b"), /spec\.groups\[2\]\.channels\[0\]\.name/],
  ['channel name with a backtick', (s) => (ch(s)[0].name = 'a`b'), /spec\.groups\[2\]\.channels\[0\]\.name/],
  [
    'channel name with a newline',
    (s) => (ch(s)[0].name = 'a\nSTOP SLAVE'),
    /spec\.groups\[2\]\.channels\[0\]\.name/,
  ],
  [
    'channel name of 200 characters',
    (s) => (ch(s)[0].name = 'x'.repeat(200)),
    /spec\.groups\[2\]\.channels\[0\]\.name/,
  ],
  ['empty channel name', (s) => (ch(s)[0].name = ''), /spec\.groups\[2\]\.channels\[0\]\.name/],
  [
    'reserved channel name',
    (s) => (ch(s)[0].name = 'group_replication_applier'),
    /spec\.groups\[2\]\.channels\[0\]\.name/,
  ],
  [
    'case-insensitive duplicate channel',
    (s) => (ch(s)[1].name = 'SHARD_A'),
    /spec\.groups\[2\]\.channels\[1\]\.name/,
  ],
  ['cycle of two groups', (s) => (s.groups[0].channels = [{ name: 'back', from: 'dw' }]), /cycle/],
  [
    'cycle of three groups',
    (s) => {
      s.groups[2].channels = [{ name: 'a', from: 'shard-a' }];
      s.groups[1].channels = [{ name: 'd', from: 'dw' }];
      s.groups[0].channels = [{ name: 'b', from: 'shard-b' }];
    },
    /cycle/,
  ],
  ['port 0', (s) => (s.groups[0].members[0].port = 0), /spec\.groups\[0\]\.members\[0\]\.port/],
  ['port 65536', (s) => (s.groups[0].members[0].port = 65536), /spec\.groups\[0\]\.members\[0\]\.port/],
  [
    'port not an integer',
    (s) => (s.groups[0].members[0].port = 3306.5),
    /spec\.groups\[0\]\.members\[0\]\.port/,
  ],
  [
    'port as a string',
    (s) => (s.groups[0].members[0].port = '3306'),
    /spec\.groups\[0\]\.members\[0\]\.port/,
  ],
  [
    'host with a quote',
    (s) => (s.groups[0].members[0].host = "h'; DROP TABLE x; --"),
    /spec\.groups\[0\]\.members\[0\]\.host/,
  ],
  [
    'host with a space',
    (s) => (s.groups[0].members[0].host = 'a b'),
    /spec\.groups\[0\]\.members\[0\]\.host/,
  ],
  [
    'member name with uppercase',
    (s) => (s.groups[0].members[0].name = 'A-0'),
    /spec\.groups\[0\]\.members\[0\]\.name/,
  ],
  [
    'member name with a backtick',
    (s) => (s.groups[0].members[0].name = 'a`0'),
    /spec\.groups\[0\]\.members\[0\]\.name/,
  ],
  ['group without members', (s) => (s.groups[1].members = []), /spec\.groups\[1\]\.members/],
  ['no groups', (s) => (s.groups = []), /spec\.groups/],
  ['unknown field', (s) => (s.extra = true), /spec/],
  ['bad promotionRule', (s) => (s.groups[0].members[0].promotionRule = 'always'), /promotionRule/],
  ['bad flavor', (s) => (s.flavor = 'postgres'), /spec\.flavor/],
  ['failureThreshold 0', (s) => (s.failover = { failureThreshold: 0 }), /spec\.failover\.failureThreshold/],
  [
    'filter database with a quote',
    (s) => (ch(s)[0].filter = { doDatabases: ["x'y"] }),
    /spec\.groups\[2\]\.channels\[0\]\.filter/,
  ],
  ['negative delay', (s) => (ch(s)[0].delaySeconds = -1), /spec\.groups\[2\]\.channels\[0\]\.delaySeconds/],
  ['missing adminSecretRef', (s) => delete s.adminSecretRef, /spec\.adminSecretRef/],
  [
    'admin Secret missing from the store',
    (_s, all) => all.splice(1, 1),
    /spec\.adminSecretRef\.name: Secret .*admin.* does not exist/,
  ],
  [
    'Secret without a password key',
    (_s, all) => (all[2]!.stringData = { username: 'u' }),
    /spec\.replicationSecretRef\.name: .*password/,
  ],
  [
    'more than 256 channels',
    (s) => ch(s).push(...Array.from({ length: 256 }, (_, i) => ({ name: `c${i}`, from: 'shard-b' }))),
    /spec\.groups\[2\]\.channels/,
  ],
];

// Both MariaDB versions declare spec.flavor mariadb: each family once.
const FAMILIES = [...new Set(FLAVORS.map((f) => f.family))];

describe('invalid resources are refused before any server is contacted', () => {
  it(`has at least 30 cases (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  it.each(FAMILIES.flatMap((flavor) => CASES.map((c) => [flavor, ...c] as const)))(
    '%s: %s',
    async (flavor, _name, mutate, expected) => {
      const file = writeManifests(
        join(dir, 'bad.yaml'),
        docs((spec, all) => {
          spec.flavor = flavor;
          mutate(spec, all);
        }),
      );
      const store = new LocalStore({ files: [file], log: () => undefined });
      const reconcile = createReconciler({ pool, log: silentLogger() });
      const before = connections;
      const result = await reconcile(store, (await store.list())[0]!);
      expect(result?.status.phase).toBe('Invalid');
      const problems = result?.problems ?? [];
      expect(
        problems.some((p) => expected.test(p)),
        problems.join('\n'),
      ).toBe(true);
      for (const p of problems) {
        expect(p).not.toMatch(/[\r\n]/);
        expect(p).not.toContain('secret-pw');
      }
      expect(connections - before).toBe(0);
    },
  );

  it('the valid resource does contact the servers (the counter works)', async () => {
    const file = writeManifests(
      join(dir, 'good.yaml'),
      docs(() => undefined),
    );
    const store = new LocalStore({ files: [file], log: () => undefined });
    const reconcile = createReconciler({ pool, log: silentLogger(), probeTimeoutMs: 500 });
    const before = connections;
    await reconcile(store, (await store.list())[0]!);
    expect(connections - before).toBeGreaterThan(0);
  });

  it('the command line exits 1 with one line per problem, naming the field', async () => {
    const file = writeManifests(
      join(dir, 'cli-bad.yaml'),
      docs((s) => (ch(s)[0].from = 'shard-z')),
    );
    const before = connections;
    for (const cmd of [
      ['local', '-f', file, '--once'],
      ['plan', '-f', file],
      ['status', '-f', file],
    ]) {
      const r = await cli(cmd);
      expect(r.code, cmd[0]).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        'tributary: spec.groups[2].channels[0].from: group "shard-z" does not exist',
      ]);
    }
    expect(connections - before).toBe(0);
  });

  it('a missing file is one clear line, exit 1', async () => {
    const r = await cli(['plan', '-f', join(dir, 'nope.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('nope.yaml');
  });
});
