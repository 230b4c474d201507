// Adoption: a topology built by hand that already matches the spec, met by the operator for the first
// time (no status file), is left running as it is — no channel restarts, no account changes — on every
// server version, with `plan`, with `local --once`, and with `tributary operator` against the API server
// (a MySQLTopology applied with no status: a GitOps re-apply, a restored backup). Real drift of connection settings restarts only what the
// server requires (MySQL: the receiver; MariaDB: the whole connection, docs/mysql.md §9).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCrdYaml } from '../../src/api/crd.js';
import type { TopologyStatus } from '../../src/api/status.js';
import { OPERATOR_USER, REPL_PASSWORD, REPL_USER, type SandboxServer } from '../../src/sandbox/index.js';
import { FLAVORS, type FlavorFacts } from '../harness/flavors.js';
import {
  EVENTS,
  KubeApiServer,
  SECRETS,
  TOPOLOGIES,
  secretManifest,
  type KObject,
} from '../harness/kube-api-server.js';
import { startOperatorProcess, type OperatorProcess } from '../harness/operator-process.js';
import { useSandbox } from '../harness/sandbox.js';
import { cli, statusFile, warehouseDocs, writeManifests } from '../harness/topology.js';

const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];
const readStatus = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as TopologyStatus;

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A channel made by hand with exactly the settings the operator gives its managed channels. */
function handMade(f: FlavorFacts, name: string, port: number, connectRetry = 1): string[] {
  if (f.flavor === 'mysql')
    return [
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${port}, SOURCE_USER='${REPL_USER}', SOURCE_PASSWORD='${REPL_PASSWORD}', SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=${connectRetry}, SOURCE_RETRY_COUNT=86400, SOURCE_HEARTBEAT_PERIOD=1, SOURCE_SSL=0, GET_SOURCE_PUBLIC_KEY=1 FOR CHANNEL '${name}'`,
    ];
  return [
    `CHANGE MASTER '${name}' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='${REPL_USER}', MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=${connectRetry}, MASTER_HEARTBEAT_PERIOD=1, MASTER_SSL=0, MASTER_SSL_VERIFY_SERVER_CERT=0`,
  ];
}

const doSales = (f: FlavorFacts) =>
  f.flavor === 'mysql'
    ? "CHANGE REPLICATION FILTER REPLICATE_DO_DB = (sales) FOR CHANNEL 'shard_b'"
    : "SET GLOBAL shard_b.replicate_do_db = 'sales'";

/** Ids of the replication threads (receivers, appliers, workers): a restarted channel gets new ones. */
async function replicationThreads(s: SandboxServer): Promise<Map<number, string>> {
  const rows = await s.sql(
    "SELECT ID, STATE FROM information_schema.PROCESSLIST WHERE USER = 'system user' AND COMMAND <> 'Daemon'",
  );
  return new Map(rows.map((r) => [Number(r.ID), String(r.STATE ?? '')]));
}

/** Ids of the binlog dump threads a source runs, one per connected receiver. */
async function dumpThreads(s: SandboxServer): Promise<number[]> {
  const rows = await s.sql(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' ORDER BY ID",
  );
  return rows.map((r) => Number(r.ID));
}

/** The replication account's stored hash (and, on MySQL, when it last changed): ALTER USER changes it. */
async function accountHash(f: FlavorFacts, s: SandboxServer): Promise<string> {
  const cols =
    f.flavor === 'mysql' ? 'authentication_string, password_last_changed' : 'authentication_string';
  const rows = await s.sql(`SELECT ${cols} FROM mysql.user WHERE User = ? AND Host = '%'`, [REPL_USER]);
  return JSON.stringify(rows);
}

interface Snapshot {
  threads: Record<string, number[]>;
  dumps: Record<string, number[]>;
  accounts: Record<string, string>;
}

describe.each(FLAVORS)('adopting a topology built by hand on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: MEMBERS });
  let file = '';
  const s = (name: string) => sb().server(name);

  async function snapshot(): Promise<Snapshot> {
    const out: Snapshot = { threads: {}, dumps: {}, accounts: {} };
    for (const m of MEMBERS) {
      out.threads[m] = [...(await replicationThreads(s(m))).keys()].sort((x, y) => x - y);
      out.dumps[m] = await dumpThreads(s(m));
      out.accounts[m] = await accountHash(f, s(m));
    }
    return out;
  }

  /** Every hand-made channel running, and every receiver connected to its source. */
  async function allRunning(): Promise<boolean> {
    const want: [string, number][] = [
      ['a-1', 1],
      ['dw-1', 1],
      ['dw-0', 2],
    ];
    for (const [m, n] of want) {
      const rows = await s(m).sql(f.showAll);
      const running = rows.filter((r) => r[f.col.io] === 'Yes' && r[f.col.sql] === 'Yes').length;
      if (running !== n) return false;
    }
    return (await dumpThreads(s('a-0'))).length === 2 && (await dumpThreads(s('b-0'))).length === 1;
  }

  it('builds the warehouse by hand: primaries writable, replicas read-only, every channel running', async () => {
    for (const p of ['a-0', 'b-0', 'dw-0']) await s(p).setReadOnly(false);
    const port = (m: string) => s(m).port;
    for (const q of handMade(f, '', port('a-0'))) await s('a-1').sql(q);
    for (const q of handMade(f, '', port('dw-0'))) await s('dw-1').sql(q);
    for (const q of handMade(f, 'shard_a', port('a-0'))) await s('dw-0').sql(q);
    for (const q of handMade(f, 'shard_b', port('b-0'))) await s('dw-0').sql(q);
    await s('dw-0').sql(doSales(f));
    for (const [m, ch] of [
      ['a-1', ''],
      ['dw-1', ''],
      ['dw-0', 'shard_a'],
      ['dw-0', 'shard_b'],
    ] as const)
      await s(m).sql(f.startChannel(ch));
    expect(await waitFor(allRunning, (v) => v)).toBe(true);
    // MySQL: the operator may read the channels' stored credentials (docs/security.md, optional grant).
    // Given on a-0, it replicates to every member that reads a channel: a-1, dw-0, dw-1.
    if (f.flavor === 'mysql')
      await s('a-0').sql(
        `GRANT SELECT (Channel_name, User_name, User_password) ON mysql.slave_master_info TO '${OPERATOR_USER}'@'%'`,
      );
    file = writeManifests(join(sb().dir, 'warehouse.yaml'), warehouseDocs(sb()));
  });

  it('`plan` without a status says "adopted as is" for every member and channel and exits 0', async () => {
    const r = await cli(['plan', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('first contact');
    for (const target of [...MEMBERS, "a-1/''", "dw-1/''", 'dw-0/shard_a', 'dw-0/shard_b'])
      expect(r.stdout, target).toMatch(
        new RegExp(`^  ${target.replace(/[/']/g, '\\$&')}: (adopted as is|will persist)`, 'm'),
      );
    expect(r.stdout).not.toMatch(/ALTER USER|STOP REPLICA|STOP SLAVE|CHANGE MASTER|CHANGE REPLICATION/);
    // MySQL: the one-time fence is named (super_read_only persisted for the next start); nothing restarts.
    if (f.flavor === 'mysql') expect(r.stdout).toContain('SET PERSIST_ONLY super_read_only = ON');
    else expect(r.stdout).toContain('nothing to do');
  });

  it('`local --once` without a status restarts no channel and alters no account', async () => {
    const before = await snapshot();
    const status = statusFile(sb(), 'adopt.json');
    const r = await cli(['local', '-f', file, '--once', '--status-out', status]);
    expect(r.code, r.stderr).toBe(0);
    const after = await snapshot();
    expect(after.threads).toEqual(before.threads);
    expect(after.dumps).toEqual(before.dumps);
    expect(after.accounts).toEqual(before.accounts);
    const st = readStatus(status);
    expect(st.phase).toBe('Ready');
    expect(st.credentials?.replication).toMatchObject({ complete: true });
    expect(st.conditions.map((c) => c.type)).not.toContain('CredentialsRotating');
    const unverified = st.conditions.find((c) => c.type === 'CredentialsUnverified');
    if (f.flavor === 'mysql') {
      // Read and compared on the servers: nothing left unverified.
      expect(unverified).toBeUndefined();
    } else {
      // MariaDB keeps channel passwords in files: adopted, and said so by name.
      for (const ch of ["a-1/''", "dw-1/''", 'dw-0/shard_a', 'dw-0/shard_b'])
        expect(unverified?.message).toContain(ch);
    }
    // Alive: the channels still run and carry a new row to both multi-source replicas.
    await s('a-0').sql('CREATE DATABASE shop');
    await s('a-0').sql('CREATE TABLE shop.t (id INT PRIMARY KEY)');
    await s('a-0').sql('INSERT INTO shop.t VALUES (1)');
    for (const m of ['dw-0', 'dw-1']) {
      const n = await waitFor(
        () =>
          s(m)
            .scalar('SELECT COUNT(*) FROM shop.t')
            .catch(() => -1),
        (v) => Number(v) === 1,
      );
      expect(Number(n), m).toBe(1);
    }
    expect((await cli(['plan', '-f', file, '--status-out', status])).code).toBe(0);
  });

  it('`tributary operator` meeting it with no status at the API server restarts no channel and alters no account', async () => {
    const api = await KubeApiServer.start();
    const op: { proc?: OperatorProcess } = {};
    try {
      await api.applyYaml(renderCrdYaml());
      const [topology, ...secrets] = warehouseDocs(sb()) as KObject[];
      const ns = 'db';
      for (const secret of secrets) {
        const data = (secret as unknown as { stringData: Record<string, string> }).stringData;
        await api.create(SECRETS, secretManifest(ns, secret.metadata.name, data));
      }
      await api.create(TOPOLOGIES, { ...topology!, metadata: { ...topology!.metadata, namespace: ns } });
      const kubeconfig = join(sb().dir, 'adopt.kubeconfig');
      writeFileSync(kubeconfig, api.kubeConfigYaml(ns));
      const before = await snapshot();
      op.proc = await startOperatorProcess({ kubeconfig });
      const name = topology!.metadata.name;
      const status = () => api.get(TOPOLOGIES, ns, name)?.status as TopologyStatus | undefined;
      // The event waited on: the operator adopted it (its status at the API server, Ready, the credentials
      // record complete), and then passed three more times (its metrics), still alive.
      const ready = await waitFor(
        async () => status(),
        (st) => st?.phase === 'Ready' && st.credentials?.replication?.complete === true,
        60_000,
      );
      expect(ready?.phase).toBe('Ready');
      const passes = op.proc.passes;
      const seen = await passes();
      expect(await waitFor(passes, (n) => n >= seen + 3)).toBeGreaterThanOrEqual(seen + 3);
      expect(op.proc.proc.exitCode).toBeNull();
      const after = await snapshot();
      expect(after.threads).toEqual(before.threads);
      expect(after.dumps).toEqual(before.dumps);
      expect(after.accounts).toEqual(before.accounts);
      expect(status()!.conditions.map((c) => c.type)).not.toContain('CredentialsRotating');
      const reasons = api.list(EVENTS, ns).map((e) => (e as { reason?: string }).reason);
      expect(reasons).not.toContain('ChannelRepointed');
      expect(reasons).not.toContain('ChannelCreated');
    } finally {
      op.proc?.proc.kill('SIGKILL');
      await api.close();
    }
  });

  it('drift of connection settings only restarts what the server requires', async () => {
    // Connect retry changed by hand on dw-0/shard_a (stopped for the change, then running again).
    await s('dw-0').sql(f.stopChannel('shard_a'));
    for (const q of handMade(f, 'shard_a', s('a-0').port, 10)) await s('dw-0').sql(q);
    await s('dw-0').sql(f.startChannel('shard_a'));
    expect(await waitFor(allRunning, (v) => v)).toBe(true);

    const plan = await cli(['plan', '-f', file]);
    expect(plan.code, plan.stdout).toBe(2);
    expect(plan.stdout).toMatch(
      /dw-0\/shard_a: will change its connection settings \(.*\) because connect retry 10s, want 1s/,
    );
    expect(plan.stdout).toMatch(/dw-0\/shard_b: adopted as is/);
    expect(plan.stdout).not.toMatch(/ALTER USER/);
    if (f.flavor === 'mysql') {
      expect(plan.stdout).toContain("STOP REPLICA IO_THREAD FOR CHANNEL 'shard_a'");
      expect(plan.stdout).not.toContain("STOP REPLICA FOR CHANNEL 'shard_a'");
    } else expect(plan.stdout).toContain("STOP REPLICA 'shard_a'");

    const threadsBefore = await replicationThreads(s('dw-0'));
    const before = await snapshot();
    const status = statusFile(sb(), 'drift.json');
    rmSync(status, { force: true });
    const r = await cli(['local', '-f', file, '--once', '--status-out', status]);
    expect(r.code, r.stderr).toBe(0);
    expect(await waitFor(allRunning, (v) => v)).toBe(true);
    const after = await snapshot();
    // Nothing else moved: the other members' threads, the accounts, b-0's dump thread (shard_b).
    for (const m of ['a-0', 'a-1', 'b-0', 'dw-1']) expect(after.threads[m], m).toEqual(before.threads[m]);
    expect(after.accounts).toEqual(before.accounts);
    expect(after.dumps['b-0']).toEqual(before.dumps['b-0']);
    const gone = before.threads['dw-0']!.filter((id) => !after.threads['dw-0']!.includes(id));
    if (f.flavor === 'mysql') {
      // Only shard_a's receiver went: its applier and workers (and shard_b's) are the same threads.
      expect(gone).toHaveLength(1);
      expect(threadsBefore.get(gone[0]!)).toMatch(/Waiting for source to send event/);
    } else {
      // MariaDB needs the whole connection stopped (1198): its receiver and applier, nothing of shard_b.
      expect(gone).toHaveLength(2);
    }
    const retry = await s('dw-0').sql(f.showChannel('shard_a'));
    expect(Number(retry[0]?.[f.col.connectRetry])).toBe(1);
  });
});
