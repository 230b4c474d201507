// The executor runs the plan in the order the plan holds (and `tributary plan` prints): a primary that is
// read-only and lacks the replication account is made writable first, then given the account, in one pass.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReconciler } from '../../src/controller/reconcile.js';
import { REPL_USER, sandboxManifests, sandboxMember } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { FLAVORS } from '../harness/flavors.js';
import { driver } from '../harness/passes.js';
import { withSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';

describe.each(FLAVORS)('plan order on $label', (f) => {
  it('a read-only primary without the replication account: writable, then the account, in one pass', () =>
    withSandbox({ flavor: f.flavor, names: ['a-0', 'a-1'] }, async (sb) => {
      const m = (name: string) => sandboxMember(sb, name);
      // The sandbox's administrator: the least-privilege account has no GRANT OPTION to give the grant.
      const docs = sandboxManifests({
        name: 'order',
        spec: { groups: [{ name: 'shard-a', members: [m('a-0'), m('a-1')] }] },
      });
      const file = writeManifests(join(sb.dir, 'order.yaml'), docs);
      const store = new LocalStore({ files: [file], statusOut: join(sb.dir, 'status.json'), log: () => {} });
      const pool = new SqlClientPool();
      let order: string[] = [];
      const reconcile = createReconciler({ pool, log: silentLogger() });
      const ref = (await store.list())[0]!;
      const d = driver(store, ref, reconcile, (r) => {
        order = r.events.map((e) => e.message);
      });
      try {
        await d.until((s) => s.phase === 'Ready');
        const a0 = sb.server('a-0');
        // By hand, as root: the account gone and the primary read-only (super_read_only on MySQL).
        await a0.sql(`DROP USER '${REPL_USER}'@'%'`);
        await a0.setReadOnly(true);
        const accounts = () => a0.scalar(`SELECT COUNT(*) FROM mysql.user WHERE user = '${REPL_USER}'`);
        expect(Number(await accounts())).toBe(0);

        const p = await d.pass();
        expect(p.status.conditions.filter((c) => c.type === 'ActionFailed')).toEqual([]);
        expect(p.events.filter((e) => e.reason === 'ActionFailed')).toEqual([]);
        expect(Number(await a0.scalar('SELECT @@read_only'))).toBe(0);
        expect(Number(await accounts())).toBe(1);
        // Executed in plan order: writable first, then the account.
        const writable = order.findIndex((x) => /^a-0: make writable/.test(x));
        const account = order.findIndex((x) => /^a-0: ensure the replication account/.test(x));
        expect(writable).toBeGreaterThanOrEqual(0);
        expect(account).toBeGreaterThan(writable);
      } finally {
        await pool.closeAll();
      }
    }));
});
