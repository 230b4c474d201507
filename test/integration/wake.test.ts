// A broken connection wakes a pass at once: a killed primary is seen in milliseconds, not at the next poll.
// Both flavors.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReconciler } from '../../src/controller/reconcile.js';
import { ADMIN_PASSWORD, ADMIN_USER } from '../../src/sandbox/index.js';
import { SqlClientPool } from '../../src/sql/client.js';
import { LocalStore } from '../../src/store/local.js';
import type { TopologyRef } from '../../src/store/store.js';
import { silentLogger } from '../../src/util/log.js';
import { driver } from '../harness/passes.js';
import { FLAVORS } from '../harness/flavors.js';
import { useSandbox } from '../harness/sandbox.js';
import { warehouseDocs, writeManifests } from '../harness/topology.js';

const until = async (pred: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return pred();
};

describe.each(FLAVORS)('wake-ups on a broken connection ($label)', (f) => {
  const sb = useSandbox({ flavor: f.flavor, names: ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'] });

  it('the pool reports the address whose pooled connection broke', async () => {
    const pool = new SqlClientPool();
    const seen: string[] = [];
    pool.onConnectionLost((a) => seen.push(`${a.host}:${a.port}`));
    const b0 = sb().server('b-0');
    await pool
      .get({ host: '127.0.0.1', port: b0.port, user: ADMIN_USER, password: ADMIN_PASSWORD })
      .query('SELECT 1');
    expect(seen).toEqual([]);
    await b0.kill9();
    expect(await until(() => seen.length > 0)).toBe(true);
    expect(seen[0]).toBe(`127.0.0.1:${b0.port}`);
    await pool.closeAll();
    await b0.start();
  });

  it('the reconciler wakes the topology that probes the killed member', async () => {
    const file = writeManifests(join(sb().dir, 'w.yaml'), warehouseDocs(sb()));
    const store = new LocalStore({ files: [file], log: () => undefined });
    const pool = new SqlClientPool();
    const woken: TopologyRef[] = [];
    const d = driver(
      store,
      (await store.list())[0]!,
      createReconciler({ pool, log: silentLogger(), wake: (ref) => woken.push(ref) }),
    );
    await d.until((s) => s.phase === 'Ready');
    expect(woken).toEqual([]);
    await sb().server('dw-1').kill9();
    expect(await until(() => woken.length > 0)).toBe(true);
    expect(woken[0]).toEqual({ namespace: 'db', name: 'warehouse' });
    await pool.closeAll();
  });
});
