// An acknowledgement approves only a loss that was shown. Here one is given while the failover waits for
// a member that can be promoted (its candidate went away): nothing is shown then, so nothing is taken.
// When the candidate returns with its relay log unapplied, that relay log is applied before promotion
// (or, where it can no longer be applied, shown as a loss and held for a human) — never reset unseen.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { createReconciler } from '../../src/controller/reconcile.js';
import { ANNOTATION_ACK_FAILOVER } from '../../src/api/annotations.js';
import { sandboxManifests, sandboxMember } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { gtidOps } from '../../src/sql/gtid/index.js';
import { LocalStore } from '../../src/store/local.js';
import { silentLogger } from '../../src/util/log.js';
import { prepareApp, startApp, waitForAcked } from '../harness/app.js';
import { channelRow, executed, FLAVORS } from '../harness/flavors.js';
import { driver } from '../harness/passes.js';
import { withSandbox } from '../harness/sandbox.js';
import { writeManifests } from '../harness/topology.js';
import { until } from './waits.js';

const last = (s: TopologyStatus) => s.failovers.at(-1);

describe.each(FLAVORS)('acknowledgements on $label', (f) => {
  it(
    'an acknowledgement given while nothing is shown is not taken; the candidate’s relay log is not reset unseen',
    () =>
      withSandbox({ flavor: f.flavor, names: ['a-0', 'a-1'] }, async (sb) => {
        const m = (name: string) => sandboxMember(sb, name);
        const docs = sandboxManifests({
          name: 'acks',
          spec: {
            failover: { pollIntervalSeconds: 0.5, downAfterSeconds: 1, catchUpTimeoutSeconds: 2 },
            groups: [{ name: 'shard-a', members: [m('a-0'), m('a-1')] }],
          },
        });
        const file = writeManifests(join(sb.dir, 'acks.yaml'), docs);
        const store = new LocalStore({
          files: [file],
          statusOut: join(sb.dir, 'status.json'),
          log: () => {},
        });
        const pool = new SqlClientPool();
        const events: string[] = [];
        const d = driver(
          store,
          (await store.list())[0]!,
          createReconciler({ pool, log: silentLogger() }),
          (p) => events.push(...p.events.map((e) => `${e.reason}: ${e.message}`)),
        );
        const [a0, a1] = [sb.server('a-0'), sb.server('a-1')];
        try {
          await d.until((s) => s.phase === 'Ready');
          await prepareApp(a0);
          const write = async (first: number) => {
            const app = startApp([a0], { firstId: first, max: 10, pauseMs: 0, maxMs: 10_000 });
            await app.done;
            expect(app.acked).toHaveLength(10);
            return app.acked;
          };
          const before = await write(1);
          expect(await waitForAcked(a1, before)).toEqual([]);
          // a-1 receives the next ten rows into its relay log only: its applier waits behind a lock.
          const lock = await a1.admin();
          await lock.query('LOCK TABLES shop.orders READ');
          const after = await write(100);
          const wrote = await executed(f, a0);
          const key = f.gtidDomains ? 'Gtid_IO_Pos' : 'Retrieved_Gtid_Set';
          await until(async () =>
            gtidOps(f.gtidDomains ? 'mariadb' : 'mysql').contains(
              String((await channelRow(f, a1, ''))?.[key] ?? '').replace(/\s+/g, ''),
              wrote,
            ),
          );
          await a0.kill9();
          await d.until((s) => last(s)?.phase === 'CatchingUp' && last(s)?.to === 'a-1', 30_000);
          // The candidate goes away: the record waits for a member that can be promoted; no loss is shown.
          await a1.stop().catch(() => undefined);
          lock.destroy();
          const waiting = await d.until((s) =>
            /a member that can be promoted/.test(last(s)?.waitingFor ?? ''),
          );
          expect(last(waiting)!.atRisk).toBeUndefined();
          store.setAnnotation(ANNOTATION_ACK_FAILOVER, 'shard-a');
          const refused = (await d.pass()).status;
          expect(last(refused)!.acknowledged).toBeUndefined();
          expect(events.filter((e) => e.startsWith('FailoverAcknowledged'))).toEqual([
            expect.stringMatching(/shows no loss to accept and is not past its deadline/),
          ]);

          // a-1 is back, read-only, its relay log not applied.
          await a1.start();
          const s = await d.until(
            (x) => last(x)?.phase === 'Done' || x.conditions.some((c) => c.type === 'FailoverHeld'),
            60_000,
          );
          // MySQL keeps the relay log across the restart and applies it; MariaDB restarts a GTID channel
          // from its applied position, discarding it: that is shown as a loss.
          expect(last(s)!.phase).toBe(f.gtidDomains ? 'CatchingUp' : 'Done');
          if (last(s)!.phase === 'Done') {
            // Applied before promotion: every acknowledged row is on the new primary.
            expect(last(s)).toMatchObject({ to: 'a-1' });
            expect(last(s)!.acknowledged).toBeUndefined();
            expect(await waitForAcked(a1, [...before, ...after])).toEqual([]);
          } else {
            // Where the relay log can no longer be applied, the loss is shown, held, and nothing promoted.
            expect(last(s)!.atRisk?.map((x) => x.member)).toEqual(['a-1']);
            expect(last(s)!.acknowledged).toBeUndefined();
            expect(Number(await a1.scalar('SELECT @@read_only'))).toBe(1);
          }
        } finally {
          await pool.closeAll();
        }
      }),
    180_000,
  );
});
