// Bounded waits the failover tests share: on a condition, and on the operator's GTID wait being seen on a
// server (the path under test reached: a blocked applier is released only then).
import type { FlavorFacts } from '../harness/flavors.js';

export async function until(pred: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sessions on a server waiting for a GTID set (the operator's bounded wait), this one aside. */
export async function gtidWaitsOn(
  f: Pick<FlavorFacts, 'gtidDomains'>,
  server: { scalar(q: string): Promise<unknown> },
): Promise<number> {
  const fn = f.gtidDomains ? 'MASTER_GTID_WAIT' : 'WAIT_FOR_EXECUTED_GTID_SET';
  return Number(
    await server.scalar(
      `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%${fn}(%'`,
    ),
  );
}
