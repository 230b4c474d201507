// The operator's connections per server, counted by the server itself: every login to one address shares
// the limit (--max-connections-per-server), requests beyond it wait their turn and all complete, and a
// member that leaves the spec (or a topology that goes away) has its connections closed.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReconciler } from '../../src/controller/reconcile.js';
import {
  OPERATOR_PASSWORD,
  OPERATOR_USER,
  REPL_PASSWORD,
  REPL_USER,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxServer,
} from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { FLAVORS } from '../harness/flavors.js';
import { driver } from '../harness/passes.js';
import { useSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';

/** Connections the server has from these users, as it counts them (the sandbox's own login is `admin`). */
async function connectionsOf(s: SandboxServer, users: string[]): Promise<number> {
  const list = users.map((u) => `'${u}'`).join(', ');
  return Number(
    await s.scalar(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN (${list})`),
  );
}

const until = async (pred: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return pred();
};

/** Two single-member groups (no channels), the operator logging in as the least-privilege account. */
function manifests(sb: Sandbox, groups: string[], name = 'pool'): unknown[] {
  return sandboxManifests({
    name,
    spec: { groups: groups.map((g) => ({ name: g, members: [sandboxMember(sb, `${g}-0`)] })) },
    admin: { username: OPERATOR_USER, password: OPERATOR_PASSWORD },
  });
}

describe.each(FLAVORS)('connections per server on $label', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a-0', 'b-0'] });

  it('limit 2: ten concurrent queries through two logins hold at most 2 connections, and all complete', async () => {
    const a0 = sb().server('a-0');
    const pool = new SqlClientPool({ maxConnectionsPerServer: 2 });
    const at = { host: '127.0.0.1', port: a0.port };
    // The operator's login, kept for reuse, and the replication account's one-off check, as gather uses them.
    const admin = pool.get({ ...at, user: OPERATOR_USER, password: OPERATOR_PASSWORD, label: 'a-0' });
    const repl = pool.oneOffClient({ ...at, user: REPL_USER, password: REPL_PASSWORD, label: 'a-0' });
    try {
      let running = true;
      const queries = Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? repl : admin).query<{ s: number }>('SELECT SLEEP(0.2) AS s'),
      );
      const all = Promise.all(queries).finally(() => (running = false));
      // Sampled on the server while they run (the loop ends with them: each is bounded by its timeout).
      const seen: number[] = [];
      const inPool: number[] = [];
      while (running) {
        seen.push(await connectionsOf(a0, [OPERATOR_USER, REPL_USER]));
        inPool.push(pool.stats().connections);
      }
      const rows = await all;
      expect(rows.map((r) => Number(r[0]?.s))).toEqual(Array(10).fill(0));
      // The limit was reached and never exceeded, as the server counts and as the pool does.
      expect(Math.max(...seen)).toBe(2);
      expect(Math.max(...inPool)).toBeLessThanOrEqual(2);
      expect(pool.stats()).toMatchObject({ servers: 1, maxPerServer: 2 });
      expect(pool.stats().connections).toBeGreaterThan(0);
    } finally {
      await repl.close();
      await pool.closeAll();
    }
    expect(await until(async () => (await connectionsOf(a0, [OPERATOR_USER, REPL_USER])) === 0)).toBe(true);
  });

  it("a member that leaves the spec has its connections closed; the others' stay", async () => {
    const dir = sb().dir;
    const file = writeManifests(join(dir, 'pool.yaml'), manifests(sb(), ['a', 'b']));
    const store = new LocalStore({ files: [file], statusOut: join(dir, 'pool-status.json'), log: () => {} });
    const pool = new SqlClientPool({ maxConnectionsPerServer: 2 });
    const reconcile = createReconciler({ pool, log: silentLogger() });
    const ref = (await store.list())[0]!;
    const d = driver(store, ref, reconcile);
    const held = (m: string) => connectionsOf(sb().server(m), [OPERATOR_USER]);
    try {
      await d.until((s) => s.phase === 'Ready');
      // Both members probed: the operator holds warm connections to each.
      expect(await held('a-0')).toBeGreaterThan(0);
      expect(await held('b-0')).toBeGreaterThan(0);
      expect(pool.stats().servers).toBe(2);

      writeManifests(file, manifests(sb(), ['a']));
      const p = await d.pass();
      expect(p.status.instances.map((i) => i.name)).toEqual(['a-0']);
      expect(await until(async () => (await held('b-0')) === 0)).toBe(true);
      expect(await held('a-0')).toBeGreaterThan(0);
      expect(pool.stats().servers).toBe(1);

      // A topology that goes away (its pass finds no resource) lets go of every address it used.
      writeManifests(file, manifests(sb(), ['a'], 'other'));
      expect(await reconcile(store, ref)).toBeUndefined();
      expect(await until(async () => (await held('a-0')) === 0)).toBe(true);
      expect(pool.stats()).toMatchObject({ servers: 0, connections: 0 });
    } finally {
      await pool.closeAll();
    }
  });
});
