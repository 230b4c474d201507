// Security on real servers of both flavors: TLS end to end (certificates made here with openssl, servers
// refusing plaintext with require_secure_transport=ON), rotation of the replication password while rows
// are written, a failover after it, rotation of the operator's own password, a server that cannot do TLS,
// a missing privilege. The operator runs as the sandbox's least-privilege account throughout.
//
// | behaviour measured                                  | MariaDB 10.11                  | MySQL 9.7                    |
// | a channel's password changed with the applier on    | refused (1198): whole channel   | accepted: receiver only      |
// |                                                     | stopped for the change          | restarted, applier runs on   |
// | plaintext login with require_secure_transport=ON    | errno 1045                      | errno 3159                   |
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import {
  ADMIN_PASSWORD,
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  REPL_PASSWORD,
  REPL_USER,
  type Sandbox,
} from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { createLogger } from '../../src/util/log.js';
import { channelRow, FLAVORS, type FlavorFacts } from '../harness/flavors.js';
import { driver, type Driver } from '../harness/passes.js';
import { useSandbox } from '../harness/sandbox.js';
import { makeCertificates, type TestCertificates } from '../harness/tls.js';
import { warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NEW_REPL = 'xR1-new-repl';
const NEWER_REPL = 'xR2-newer-repl';
const NEW_OPERATOR = 'xO1-new-op';

/** A Secret manifest (stringData). */
const secret = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'db' },
  stringData: data,
});

const managed = (s: TopologyStatus) => s.channels.filter((c) => c.managed);
const lastRecord = (s: TopologyStatus) => s.failovers.at(-1);

describe.each(FLAVORS)('security on $label: TLS, rotation, least privilege', (f) => {
  let certs: TestCertificates;
  const certDir = mkdtempSync(join(tmpdir(), 'tributary-tls-'));
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));
  beforeAll(async () => {
    certs = await makeCertificates(certDir);
  });
  // The sandbox reads the certificate paths when it starts (beforeAll runs in order).
  const sb = useSandbox({
    flavor: f.flavor,
    names: MEMBERS,
    get tls() {
      return { ca: certs.ca, cert: certs.cert, key: certs.key };
    },
  });

  let file = '';
  let store: LocalStore;
  let pool: SqlClientPool;
  let d: Driver;
  let logFile = '';
  const passwords = { repl: REPL_PASSWORD, operator: OPERATOR_PASSWORD };

  /** The manifests: the warehouse with verify-identity TLS, its CA and client certificate as Secrets. */
  function manifests(s: Sandbox, tls: Record<string, unknown> = {}): string {
    const docs = warehouseDocs(s, (spec) => {
      spec.tls = {
        mode: 'verify-identity',
        caSecretRef: { name: 'db-ca' },
        clientCertSecretRef: { name: 'operator-cert' },
        channels: { caPath: certs.ca },
        ...tls,
      };
    }) as Record<string, any>[];
    docs.find((x) => x.metadata?.name === 'tributary-repl')!.stringData.password = passwords.repl;
    docs.find((x) => x.metadata?.name === 'tributary-admin')!.stringData.password = passwords.operator;
    docs.push(secret('db-ca', { 'ca.crt': certs.pem.ca }));
    docs.push(secret('operator-cert', { 'tls.crt': certs.pem.clientCert, 'tls.key': certs.pem.clientKey }));
    return writeManifests(join(s.dir, 'secure.yaml'), docs);
  }

  /** Every kind of text the operator wrote: status, log lines, events; none may hold a secret. */
  function expectNoSecrets(status: TopologyStatus, events: string[]): void {
    const texts = [JSON.stringify(status), readFileSync(logFile, 'utf8'), events.join('\n')];
    const secrets = [REPL_PASSWORD, NEW_REPL, NEWER_REPL, OPERATOR_PASSWORD, NEW_OPERATOR, ADMIN_PASSWORD];
    const pemBody = (pem: string) => pem.split('\n')[1]!; // a line of base64 key material
    for (const t of texts) {
      for (const p of secrets) expect(t).not.toContain(p);
      expect(t).not.toContain(pemBody(certs.pem.clientKey));
      expect(t).not.toContain('PRIVATE KEY');
      // Nor a plain hash of a password (the fingerprint is salted scrypt).
      for (const p of secrets) expect(t).not.toContain(createHash('sha256').update(p).digest('hex'));
    }
  }

  const events: string[] = [];
  beforeAll(async () => {
    file = manifests(sb());
    logFile = join(sb().dir, 'operator.log');
    store = new LocalStore({ files: [file], statusOut: join(sb().dir, 'status.json'), log: () => undefined });
    pool = new SqlClientPool();
    const reconcile = createReconciler({ pool, log: createLogger({ file: logFile, level: 'debug' }) });
    d = driver(store, (await store.list())[0]!, reconcile, (r) =>
      events.push(...r.events.map((e) => `${e.reason}: ${e.message}`)),
    );
  });
  afterAll(async () => {
    await pool?.closeAll();
  });

  it('the servers refuse plaintext logins (require_secure_transport=ON)', async () => {
    const plain = sb().server('a-0').connect(OPERATOR_USER, OPERATOR_PASSWORD, { ssl: undefined });
    await expect(plain).rejects.toMatchObject({ errno: f.plaintextRefusedErrno });
  });

  it('converges with verify-identity TLS on every connection; channel status shows TLS in use', async () => {
    const s = await d.until((x) => x.phase === 'Ready' && x.credentials?.replication?.complete === true);
    expect(s.instances.every((i) => i.reachable && i.tls === true)).toBe(true);
    expect(managed(s).map((c) => [c.replica, c.name, c.state])).toEqual(
      expect.arrayContaining([
        ['dw-0', 'shard_a', 'Running'],
        ['dw-0', 'shard_b', 'Running'],
        ['a-1', '', 'Running'],
        ['dw-1', '', 'Running'],
      ]),
    );
    for (const c of managed(s))
      expect([c.replica, c.name, c.sslAllowed, c.sslCaFile, c.sslVerifyServerCert]).toEqual([
        c.replica,
        c.name,
        true,
        certs.ca,
        true,
      ]);
    if (f.flavor === 'mysql') for (const c of managed(s)) expect(c.getSourcePublicKey).toBe(false);
    // Rows flow over the encrypted channels (the sources refuse anything else).
    await sb()
      .server('a-0')
      .sql('CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, v INT)');
    await sb().server('a-0').sql('INSERT INTO shop.orders VALUES (1, 1)');
    await expectRows(f, sb(), 'dw-1', 1);
    expect(s.credentials?.replication?.fingerprint).toMatch(/^scrypt:[0-9a-f]{64}$/);
    expectNoSecrets(s, events);
  });

  it("drift in a channel's TLS settings is repaired like any other", async () => {
    const dw0 = sb().server('dw-0');
    await dw0.sql(f.stopChannel('shard_a'));
    await dw0.sql(
      f.flavor === 'mysql'
        ? "CHANGE REPLICATION SOURCE TO SOURCE_SSL_VERIFY_SERVER_CERT=0, SOURCE_SSL_CA='' FOR CHANNEL 'shard_a'"
        : "CHANGE MASTER 'shard_a' TO MASTER_SSL_VERIFY_SERVER_CERT=0, MASTER_SSL_CA=''",
    );
    await dw0.sql(f.startChannel('shard_a'));
    const before = events.length;
    const s = await d.until((x) => x.phase === 'Ready');
    expect(events.slice(before).join('\n')).toMatch(
      /dw-0\/shard_a: change its connection settings, same source a-0 .*TLS CA file none, want/,
    );
    const c = managed(s).find((x) => x.replica === 'dw-0' && x.name === 'shard_a')!;
    expect([c.state, c.sslCaFile, c.sslVerifyServerCert]).toEqual(['Running', certs.ca, true]);
  });

  it('rotates the replication password under write load: primaries first, then every managed channel; nothing lost, hand-made channels untouched', async () => {
    const dw0 = sb().server('dw-0');
    // A hand-made channel on dw-0 with the old password: it must stay exactly as it is.
    await dw0.sql(f.changeSource('manual', { port: sb().server('a-1').port, connectRetry: 77 }));
    const manualBefore = (await channelRow(f, dw0, 'manual'))!;
    const a0 = sb().server('a-0');
    let id = 100;
    let writing = true;
    const writes = (async () => {
      while (writing && id < 400) {
        await a0.sql('INSERT INTO shop.orders VALUES (?, ?)', [id, id]);
        id++;
        await sleep(5);
      }
    })();
    // Watch dw-0/shard_a's applier (MySQL: never stopped by the rotation) and the receiver's errors.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const row = await channelRow(f, dw0, 'shard_a');
        if (row) seen.add(`${row[f.col.sql]}`);
        await sleep(10);
      }
    })();

    passwords.repl = NEW_REPL;
    manifests(sb());
    const before = events.length;
    const s = await d.until(
      (x) =>
        x.credentials?.replication?.complete === true &&
        x.phase === 'Ready' &&
        managed(x).every((c) => c.state === 'Running'),
    );
    watching = false;
    writing = false;
    await Promise.all([watch, writes]);
    const rotation = events.slice(before).join('\n');
    for (const p of ['a-0', 'b-0', 'dw-0'])
      expect(rotation).toContain(`${p}: set the replication account's password`);
    for (const c of ["a-1/''", 'dw-0/shard_a', 'dw-0/shard_b', "dw-1/''"])
      expect(rotation).toContain(`${c}: give it the replication password`);
    // Accounts were set before channels: every ReplicationPasswordSet precedes every ChannelPasswordSet.
    const lines = events.slice(before);
    const lastAccount = lines.map((l) => l.startsWith('ReplicationPasswordSet')).lastIndexOf(true);
    const firstChannel = lines.findIndex((l) => l.startsWith('ChannelPasswordSet'));
    expect(lastAccount).toBeLessThan(firstChannel);
    // The applier ran throughout on MySQL; MariaDB stopped the channel for the change (1198 otherwise).
    if (f.flavor === 'mysql') expect([...seen]).toEqual(['Yes']);
    // The new password logs in everywhere (ALTER USER on a primary reached its replicas), the old one nowhere.
    for (const m of MEMBERS) {
      const c = await sb().server(m).connect(REPL_USER, NEW_REPL);
      c.destroy();
      await expect(sb().server(m).connect(REPL_USER, REPL_PASSWORD)).rejects.toMatchObject({ errno: 1045 });
    }
    // Every row written during the rotation reached both multi-source members.
    await expectRows(f, sb(), 'dw-0', id - 100 + 1);
    await expectRows(f, sb(), 'dw-1', id - 100 + 1);
    for (const c of managed(s))
      expect([c.replica, c.name, c.state, c.lastIOErrno]).toEqual([c.replica, c.name, 'Running', 0]);
    const manualAfter = (await channelRow(f, dw0, 'manual'))!;
    for (const k of [f.col.host, f.col.port, f.col.user, f.col.connectRetry, f.col.io, f.col.sql])
      expect(manualAfter[k], k).toEqual(manualBefore[k]);
    await dw0.sql(f.resetChannel('manual'));
    expectNoSecrets(s, events);
  });

  it('a rotation interrupted after its journal was written is resumed by a new operator, not restarted', async () => {
    passwords.repl = NEWER_REPL;
    manifests(sb());
    // The operator "dies" right after journaling: the journal write happens, no statement runs. It may
    // write when the pass starts (gather verifies the Secret) and at the journal write; never after.
    let calls = 0;
    const first = await d.pass({ mayWrite: () => calls++ < 2 });
    const started = first.status.credentials?.replication;
    expect(started).toMatchObject({ complete: false, accounts: [], channels: [] });
    const old = await sb().server('a-0').connect(REPL_USER, NEW_REPL);
    old.destroy(); // nothing changed on the servers yet
    // A new operator process: new memory, new connections.
    const pool2 = new SqlClientPool();
    try {
      const d2 = driver(
        store,
        (await store.list())[0]!,
        createReconciler({
          pool: pool2,
          log: createLogger({ file: logFile }),
        }),
      );
      const s = await d2.until((x) => x.credentials?.replication?.complete === true && x.phase === 'Ready');
      expect(s.credentials?.replication?.since).toBe(started?.since);
      const c = await sb().server('b-0').connect(REPL_USER, NEWER_REPL);
      c.destroy();
    } finally {
      await pool2.closeAll();
    }
  });

  it("after the rotation a failover's repointed channels authenticate (no errno 1045)", async () => {
    await sb().server('a-0').kill9();
    const s = await d.until((x) => lastRecord(x)?.phase === 'Done' && x.phase !== 'FailingOver', 30_000);
    expect(lastRecord(s)).toMatchObject({ group: 'shard-a', from: 'a-0', to: 'a-1' });
    const ready = await d.until((x) =>
      managed(x).some(
        (c) => c.replica === 'dw-0' && c.name === 'shard_a' && c.source === 'a-1' && c.state === 'Running',
      ),
    );
    const shardA = managed(ready).find((c) => c.replica === 'dw-0' && c.name === 'shard_a')!;
    expect([shardA.lastIOErrno, shardA.sslAllowed]).toEqual([0, true]);
    // The promoted member's account was (re)set by the operator once it became the primary.
    expect(ready.credentials?.replication?.accounts).toContain('a-1');
    await sb().server('a-1').sql('INSERT INTO shop.orders VALUES (9999, 1)');
    await expectRows(f, sb(), 'dw-0', undefined, 9999);
    await sb().server('a-0').start();
  });

  it("rotates the operator's own password: new connections use it, the old ones are drained", async () => {
    // The account's password changed on every server (by hand, not replicated), then in the Secret.
    for (const m of MEMBERS) {
      // MySQL's super_read_only stops even the administrator: lifted around the change, then restored.
      const server = sb().server(m);
      const sro = f.flavor === 'mysql' && Number(await server.scalar('SELECT @@super_read_only')) === 1;
      await server.sql(
        `SET SESSION sql_log_bin = 0; ${sro ? 'SET GLOBAL super_read_only = OFF; ' : ''}ALTER USER '${OPERATOR_USER}'@'%' IDENTIFIED BY '${NEW_OPERATOR}'${sro ? '; SET GLOBAL super_read_only = ON' : ''}`,
      );
    }
    passwords.operator = NEW_OPERATOR;
    manifests(sb());
    const s = await d.until((x) => x.instances.every((i) => i.reachable));
    expect(s.instances.every((i) => i.tls === true)).toBe(true);
    // Drained: at most one client's connections (2) per server remain, all logged in with the new password.
    const deadline = Date.now() + 10_000;
    let counts: number[] = [];
    for (;;) {
      counts = await Promise.all(
        MEMBERS.map(async (m) =>
          Number(
            await sb()
              .server(m)
              .scalar(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '${OPERATOR_USER}'`),
          ),
        ),
      );
      if ((counts.every((n) => n <= 2) && pool.draining === 0) || Date.now() > deadline) break;
      await sleep(100);
    }
    expect(
      counts.every((n) => n <= 2),
      String(counts),
    ).toBe(true);
    expect(pool.draining).toBe(0);
    expectNoSecrets(s, events);
  });

  it('a missing privilege is reported in one line naming the server and the privilege; it never counts toward a dead primary', async () => {
    const primary = (await d.pass()).status.groups.find((g) => g.name === 'shard-a')!.primary!;
    const privilege = f.flavor === 'mysql' ? 'REPLICATION CLIENT' : 'SLAVE MONITOR';
    const on = sb().server(primary);
    await on.sql(`SET SESSION sql_log_bin = 0; REVOKE ${privilege} ON *.* FROM '${OPERATOR_USER}'@'%'`);
    // Global privileges count from a session's login: end the operator's sessions there.
    const sessions = await on.sql(
      `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${OPERATOR_USER}'`,
    );
    for (const row of sessions) await on.sql(`KILL ${Number(row.ID)}`).catch(() => undefined);
    try {
      // Longer than the detection window (1 s, 3 probes): a refusal is not a dead primary.
      const end = Date.now() + 3000;
      let s: TopologyStatus;
      do {
        s = (await d.pass()).status;
        await sleep(200);
      } while (Date.now() < end);
      const inst = s.instances.find((i) => i.name === primary)!;
      expect(inst.refused).toBe('privilege');
      expect(inst.lastError).toMatch(
        new RegExp(`^${primary} \\(127\\.0\\.0\\.1:\\d+\\): missing privilege ${privilege} `),
      );
      expect(inst.lastError).not.toMatch(/[\r\n]/);
      const held = s.conditions.find((c) => c.type === 'PrimaryRefused');
      expect(held?.message).toContain(`${primary} (shard-a) answers, but the operator cannot use it`);
      expect(s.conditions.some((c) => c.type === 'PrimaryDead' || c.type === 'PrimaryUnreachable')).toBe(
        false,
      );
      expect(lastRecord(s)?.phase).toBe('Done'); // no new failover
      expect(s.failovers.filter((r) => r.group === 'shard-a')).toHaveLength(1);
    } finally {
      await on.sql(`SET SESSION sql_log_bin = 0; GRANT ${privilege} ON *.* TO '${OPERATOR_USER}'@'%'`);
    }
    const back = await d.until((x) => x.instances.every((i) => i.reachable));
    expect(back.instances.find((i) => i.name === primary)?.refused).toBeUndefined();
  });

  it('a server that cannot do TLS while the mode requires it is reported by name and nothing is changed on it; preferred falls back to plaintext for it only; a foreign CA is refused', async () => {
    // x-0 serves no TLS at all; x-1 does. The group's first member is its primary until told otherwise.
    const x0 = await sb().add('x-0', { tls: null, config: f.flavor === 'mysql' ? { tls_version: '' } : {} });
    const x1 = await sb().add('x-1');
    const docs = [
      {
        apiVersion: 'tributary.dev/v1alpha1',
        kind: 'MySQLTopology',
        metadata: { name: 'plain', namespace: 'db' },
        spec: {
          adminSecretRef: { name: 'op' },
          replicationSecretRef: { name: 'repl' },
          tls: { mode: 'required' },
          failover: { downAfterSeconds: 0.5, failureThreshold: 1, pollIntervalSeconds: 0.2 },
          groups: [
            {
              name: 'x',
              members: [
                { name: 'x-0', host: '127.0.0.1', port: x0.port },
                { name: 'x-1', host: '127.0.0.1', port: x1.port },
              ],
            },
          ],
        },
      },
      secret('op', { username: OPERATOR_USER, password: OPERATOR_PASSWORD }),
      secret('repl', { username: REPL_USER, password: REPL_PASSWORD }),
    ];
    const xfile = writeManifests(join(sb().dir, 'plain.yaml'), docs);
    const xstore = new LocalStore({
      files: [xfile],
      statusOut: join(sb().dir, 'plain.json'),
      log: () => undefined,
    });
    const xpool = new SqlClientPool();
    try {
      const dx = driver(
        xstore,
        (await xstore.list())[0]!,
        createReconciler({ pool: xpool, log: createLogger({ file: logFile }) }),
      );
      const end = Date.now() + 2000; // well past the detection window
      let s: TopologyStatus;
      do {
        s = (await dx.pass()).status;
        await sleep(100);
      } while (Date.now() < end);
      const x = s.instances.find((i) => i.name === 'x-0')!;
      expect([x.reachable, x.refused]).toEqual([false, 'tls']);
      expect(x.lastError).toMatch(
        /^x-0 \(127\.0\.0\.1:\d+\): TLS: Server does not support secure connection/,
      );
      expect(s.conditions.find((c) => c.type === 'Degraded')?.message).toContain(
        'x-0: answers, but the operator cannot use it',
      );
      expect(s.failovers).toEqual([]);
      // Nothing changed on x-0 (still read-only, no channel) nor on x-1 (no channel to an unusable primary).
      expect(Number(await x0.scalar('SELECT @@read_only'))).toBe(1);
      expect(await x1.sql(f.showAll)).toEqual([]);
      expect(s.instances.find((i) => i.name === 'x-1')).toMatchObject({ reachable: true, tls: true });

      // preferred: plaintext to x-0, which offers no TLS, and TLS to x-1; x-1's channel from x-0 in plaintext.
      const spec = docs[0] as { spec: Record<string, unknown> };
      spec.spec['tls'] = { mode: 'preferred' };
      writeManifests(xfile, docs);
      const p = await dx.until((x) => x.phase === 'Ready');
      expect(p.instances.map((i) => [i.name, i.reachable, i.tls])).toEqual([
        ['x-0', true, false],
        ['x-1', true, true],
      ]);
      expect(p.channels.map((c) => [c.replica, c.name, c.source, c.state, c.sslAllowed])).toEqual([
        ['x-1', '', 'x-0', 'Running', false],
      ]);

      // The same topology verifying with a CA that did not sign x-1's certificate: refused too.
      const foreign = await makeCertificates(certDir, 'foreign');
      spec.spec['tls'] = {
        mode: 'verify-ca',
        caSecretRef: { name: 'foreign-ca' },
        channels: { caPath: foreign.ca },
      };
      writeManifests(xfile, [...docs, secret('foreign-ca', { 'ca.crt': foreign.pem.ca })]);
      const v = (await dx.pass()).status;
      const seen = v.instances.find((i) => i.name === 'x-1')!;
      expect([seen.reachable, seen.refused]).toEqual([false, 'tls']);
      expect(seen.lastError).toMatch(/^x-1 \(127\.0\.0\.1:\d+\): TLS: /);
      expect(JSON.stringify(v)).not.toContain(foreign.pem.ca.split('\n')[1]!);
    } finally {
      await xpool.closeAll();
    }
  });
});

/** Waits (bounded) until a member holds `n` rows in shop.orders (or the row `id`). */
async function expectRows(
  f: FlavorFacts,
  sb: Sandbox,
  member: string,
  n?: number,
  id?: number,
): Promise<void> {
  void f;
  const deadline = Date.now() + 15_000;
  let got = -1;
  for (;;) {
    const q =
      id === undefined
        ? 'SELECT COUNT(*) FROM shop.orders'
        : `SELECT COUNT(*) FROM shop.orders WHERE id = ${id}`;
    got = Number(
      await sb
        .server(member)
        .scalar(q)
        .catch(() => -1),
    );
    if (got === (id === undefined ? n : 1) || Date.now() > deadline) break;
    await sleep(100);
  }
  expect(got, member).toBe(id === undefined ? n : 1);
}
