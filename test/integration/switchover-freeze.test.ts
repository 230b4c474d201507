// A switchover's freeze holds to the end: an old primary that becomes writable again during CatchingUp
// (MySQL: super_read_only off with read_only still on; MariaDB: read_only off) is frozen again, and the
// target waits for the position it reached since, not for the one read before. Both flavors.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { sandboxManifests, sandboxMember } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { gtidOps } from '../../src/sql/gtid/index.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { executed, FLAVORS } from '../harness/flavors.js';
import { driver } from '../harness/passes.js';
import { withSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';
import { gtidWaitsOn, until } from './waits.js';

const last = (s: TopologyStatus) => s.failovers.at(-1);

describe.each(FLAVORS)('switchover freeze on $label', (f) => {
  it('an old primary writable again while the target catches up: frozen again, the wait follows it', () =>
    withSandbox({ flavor: f.flavor, names: ['a-0', 'a-1'] }, async (sb) => {
      const m = (name: string) => sandboxMember(sb, name);
      const docs = sandboxManifests({
        name: 'freeze',
        spec: {
          failover: { catchUpTimeoutSeconds: 60 },
          groups: [{ name: 'shard-a', members: [m('a-0'), m('a-1')] }],
        },
      });
      const file = writeManifests(join(sb.dir, 'freeze.yaml'), docs);
      const store = new LocalStore({ files: [file], statusOut: join(sb.dir, 'status.json'), log: () => {} });
      const pool = new SqlClientPool();
      const events: string[] = [];
      const d = driver(
        store,
        (await store.list())[0]!,
        createReconciler({ pool, log: silentLogger() }),
        (p) => events.push(...p.events.map((e) => e.message)),
      );
      const [a0, a1] = [sb.server('a-0'), sb.server('a-1')];
      try {
        await d.until((s) => s.phase === 'Ready');
        await a0.sql('CREATE DATABASE shop');
        await a0.sql('CREATE TABLE shop.t (id INT PRIMARY KEY)');
        await until(
          async () =>
            Number(
              await a1.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 't'"),
            ) === 1,
        );
        // a-1's applier waits behind a lock: the target cannot catch up until it is released.
        const lock = await a1.admin();
        await lock.query('LOCK TABLES shop.t READ');
        await a0.sql('INSERT INTO shop.t VALUES (1)');

        // The switchover freezes a-0, then waits (blocked) for the position a-0 was frozen at: within one
        // pass (its phases follow one another) or the next.
        const waiting = d.pass({ switchover: { group: 'shard-a', to: 'a-1' } }).then(() => d.pass());
        await until(async () => (await gtidWaitsOn(f, a1)) > 0);
        expect(Number(await a0.scalar('SELECT @@read_only'))).toBe(1);
        // Meanwhile a-0 becomes writable again, by hand, and takes a write.
        await a0.sql(f.gtidDomains ? 'SET GLOBAL read_only = OFF' : 'SET GLOBAL super_read_only = OFF');
        await a0.sql('INSERT INTO shop.t VALUES (2)');
        const after = await executed(f, a0);
        const seen = events.length;
        await lock.query('UNLOCK TABLES');
        await lock.end();
        await waiting;

        const s = await d.until((x) => last(x)?.phase === 'Done', 60_000);
        expect(last(s)).toMatchObject({ reason: 'Switchover', to: 'a-1', phase: 'Done' });
        // Frozen again after the hand change, and the target waited for what a-0 wrote meanwhile.
        expect(events.slice(seen)).toContain(
          'a-0: make read-only (switchover: no more writes on the old primary)',
        );
        expect(gtidOps(f.flavor === 'mysql' ? 'mysql' : 'mariadb').contains(last(s)!.catchUpTo!, after)).toBe(
          true,
        );
        expect(Number(await a1.scalar('SELECT COUNT(*) FROM shop.t'))).toBe(2);
      } finally {
        await pool.closeAll();
      }
    }));
});
