// `tributary demo`: five local MariaDB or MySQL servers, the design's warehouse topology, converged, fed
// with rows, drawn, then (unless --no-failover) shard-a's primary killed and the failover shown. The
// narrative goes to stdout; the reconciler's JSON log lines go to a file named at the start.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { isOpen } from '../../plan/failover.js';
import { applyPassResult, type PassResult } from '../../controller/pass.js';
import { previewPasses } from '../../plan/preview.js';
import { formatPlan } from '../../report/plan-text.js';
import { renderTree } from '../../report/tree.js';
import {
  createSandbox,
  SANDBOX_FLAVORS,
  sandboxManifests,
  sandboxMember,
  type Sandbox,
  type SandboxFlavor,
} from '../../sandbox/index.js';
import { UserError } from '../../util/errors.js';
import { createLogger } from '../../util/log.js';
import { observeLocal, openLocal, type LocalContext } from '../context.js';

const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (n: number, title: string) => say(`\n\x1b[1m== ${n}. ${title}\x1b[0m`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MEMBERS = ['a-0', 'a-1', 'b-0', 'dw-0', 'dw-1'];

/** The demo's failover settings: a short declared window, so that its kill -9 fails over within seconds. */
export const DEMO_FAILOVER = {
  enabled: true,
  pollIntervalSeconds: 1,
  downAfterSeconds: 1,
  failureThreshold: 3,
  cooldownSeconds: 300,
};

export function demoManifests(sb: Sandbox): unknown[] {
  const m = (name: string, extra: Record<string, unknown> = {}) => sandboxMember(sb, name, extra);
  return sandboxManifests({
    name: 'warehouse',
    spec: {
      flavor: 'auto',
      failover: DEMO_FAILOVER,
      groups: [
        { name: 'shard-a', members: [m('a-0', { promotionRule: 'prefer' }), m('a-1')] },
        { name: 'shard-b', members: [m('b-0')] },
        {
          name: 'dw',
          members: [m('dw-0'), m('dw-1')],
          channels: [
            { name: 'shard_a', from: 'shard-a' },
            { name: 'shard_b', from: 'shard-b', filter: { doDatabases: ['sales'] } },
          ],
        },
      ],
    },
  });
}

async function count(sb: Sandbox, member: string, table: string): Promise<number | string> {
  try {
    const rows = await sb.server(member).sql(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number(rows[0]?.n ?? 0);
  } catch {
    return '-';
  }
}

async function showRows(
  sb: Sandbox,
  want: { a: number; b: number },
  members = ['dw-0', 'dw-1'],
): Promise<void> {
  const deadline = Date.now() + 10_000;
  let line = '';
  for (;;) {
    const parts: string[] = [];
    let ok = true;
    for (const m of members) {
      const a = await count(sb, m, 'shop.orders');
      const b = await count(sb, m, 'sales.invoices');
      parts.push(`${m}: shop.orders=${a} sales.invoices=${b}`);
      ok &&= a === want.a && b === want.b;
    }
    line = parts.join('   ');
    if (ok || Date.now() > deadline) break;
    await sleep(100);
  }
  say(`   ${line}`);
}

async function pass(ctx: LocalContext): Promise<PassResult> {
  const r = (await ctx.reconcile(ctx.store, ctx.ref))!;
  await applyPassResult(ctx.store, ctx.ref, r);
  for (const e of r.events) say(`   ${e.type === 'Warning' ? '!' : '+'} ${e.reason}: ${e.message}`);
  return r;
}

const FLAVOR_NAMES: Record<SandboxFlavor, string> = {
  mariadb: 'MariaDB',
  mariadb11: 'MariaDB 11.8',
  mysql: 'MySQL',
};

function demoFlavor(value: string | undefined): SandboxFlavor {
  const v = value ?? 'mariadb';
  if (!(SANDBOX_FLAVORS as readonly string[]).includes(v))
    throw new UserError(
      `--flavor: must be ${SANDBOX_FLAVORS.join(' or ')}, not ${JSON.stringify(v.slice(0, 40))}`,
    );
  return v as SandboxFlavor;
}

export async function demoCommand(o: { failover: boolean; keep: boolean; flavor?: string }): Promise<void> {
  const flavor = demoFlavor(o.flavor);
  // The reconciler logs JSON lines; in the demo they would interleave with the narrative.
  const logFile = join(tmpdir(), `tributary-demo-${process.pid}.log`);
  let sb: Sandbox | undefined;
  let ctx: LocalContext | undefined;
  const cleanup = async () => {
    await ctx?.close().catch(() => undefined);
    await sb?.destroy().catch(() => undefined);
  };
  const interrupted = () => {
    say('\ninterrupted: stopping the servers…');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    say(`tributary demo on ${FLAVOR_NAMES[flavor]}; the reconciler's log: ${logFile}`);
    step(
      1,
      `Starting five local ${FLAVOR_NAMES[flavor]} servers (127.0.0.1, temporary directory, read-only)`,
    );
    const t0 = Date.now();
    sb = await createSandbox({ flavor, names: MEMBERS, log: (msg) => say(`   ${msg}`) });
    const version = String(await sb.server('a-0').scalar('SELECT VERSION()'));
    say(
      `   ${version}: ${MEMBERS.map((n) => `${n}:${sb!.server(n).port}`).join('  ')}  (${Date.now() - t0} ms)`,
    );

    step(
      2,
      'The MySQLTopology: shard-a (a-0, a-1), shard-b (b-0), dw (dw-0, dw-1) with channels shard_a and shard_b',
    );
    const file = join(sb.dir, 'warehouse.yaml');
    writeFileSync(
      file,
      demoManifests(sb)
        .map((d) => stringify(d))
        .join('---\n'),
    );
    say(`   manifest: ${file}`);
    ctx = await openLocal([file], join(sb.dir, 'status.json'), { log: createLogger({ file: logFile }) });

    step(3, 'tributary plan: what one pass would do on fresh servers');
    const observed = await observeLocal(ctx);
    if (!observed) throw new Error('the demo resource is invalid');
    say(
      formatPlan('warehouse', previewPasses(observed.decideInput), observed.inputs.replication).replace(
        /^/gm,
        '   ',
      ),
    );

    step(4, 'Converging (one pass of the reconciler)');
    const t1 = Date.now();
    let r = await pass(ctx);
    say(`   phase ${r.status.phase} after ${Date.now() - t1} ms; a second pass:`);
    r = await pass(ctx);
    say(`   ${r.actionsExecuted} actions (converged)`);

    step(5, 'Writing rows on both shard primaries and watching them arrive on dw-0 and dw-1');
    await sb.server('a-0').sql('CREATE DATABASE shop');
    await sb
      .server('a-0')
      .sql('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(40))');
    await sb.server('b-0').sql('CREATE DATABASE sales');
    await sb
      .server('b-0')
      .sql('USE sales; CREATE TABLE invoices (id INT AUTO_INCREMENT PRIMARY KEY, amount INT)');
    for (let i = 0; i < 5; i++) {
      await sb.server('a-0').sql(`INSERT INTO shop.orders (item) VALUES ('item-${i}')`);
      await sb.server('b-0').sql(`INSERT INTO sales.invoices (amount) VALUES (${(i + 1) * 100})`);
    }
    await showRows(sb, { a: 5, b: 5 });

    step(6, 'tributary status -o tree: dw-0 drawn under each of its sources');
    r = await pass(ctx);
    say(renderTree('warehouse', r.status).replace(/^/gm, '   '));

    if (o.failover) {
      step(7, "Failover: kill -9 shard-a's primary a-0");
      const shardB = () => r.status.channels.find((c) => c.replica === 'dw-0' && c.name === 'shard_b');
      const before = shardB();
      const kill = Date.now();
      await sb.server('a-0').kill9();
      say(`   a-0 killed`);
      for (let i = 0; i < 100; i++) {
        r = await pass(ctx);
        const rec = r.status.failovers.at(-1);
        if (rec && !isOpen(rec)) break;
        await sleep(r.requeueAfterMs);
      }
      const rec = r.status.failovers.at(-1);
      if (rec) {
        const at = (p: string) => (rec.phaseTimes[p] ? `${Date.parse(rec.phaseTimes[p]!) - kill} ms` : '-');
        say(
          `   journal: ${rec.group} ${rec.from} → ${rec.to} ${rec.phase}; decided ${at('Decided')}, promoted ${at('Repointing')}, done ${at('Done')} after the kill`,
        );
        say(`   repointed: ${rec.repointed.join(', ')}`);
      }
      const after = shardB();
      say(
        `   dw-0/shard_b: ${before?.state} from ${before?.source} before, ${after?.state} from ${after?.source} after (never touched)`,
      );
      await sb.server('a-1').sql(`INSERT INTO shop.orders (item) VALUES ('after-failover')`);
      await sb.server('b-0').sql(`INSERT INTO sales.invoices (amount) VALUES (999)`);
      say('   one more row on each shard (a-1 is shard-a now):');
      await showRows(sb, { a: 6, b: 6 });
      r = await pass(ctx);
      say(renderTree('warehouse', r.status).replace(/^/gm, '   '));
    }
    say(
      `\nDone. The same reconciler runs in the operator (tributary operator) with the Kubernetes API as its store.`,
    );
    if (o.keep) {
      say(`Servers keep running in ${sb.dir}; Ctrl-C stops and removes them.`);
      await new Promise(() => undefined);
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanup();
  }
}
