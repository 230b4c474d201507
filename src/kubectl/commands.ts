// `kubectl tributary status | switchover | ack`: what the plugin does, from the resource alone (its
// spec, annotations and status); it never connects to a database.
import { TopologySpec } from '../api/spec.js';
import type { FailoverRecord, TopologyStatus } from '../api/status.js';
import { isOpen } from '../plan/failover.js';
import { describeFailover, phaseOffsets, renderTree } from '../report/tree.js';
import { ANNOTATION_ACK_FAILOVER, ANNOTATION_SWITCHOVER, type StoredTopology } from '../store/store.js';
import { UserError } from '../util/errors.js';
import { Cluster, type ClusterOptions } from './cluster.js';
import { requestAndWait, type Verdict } from './request.js';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** How long the record of a taken request may lag behind the annotation's removal. */
const RECORD_GRACE_MS = 3000;
const wait: Verdict = { done: false };
const done = (code: 0 | 1, line: string): Verdict => ({ done: true, code, line });

function warnProblems(t: StoredTopology, io: Io): void {
  for (const p of t.statusProblems ?? []) io.err(`kubectl-tributary: status: ${p}`);
}

export async function statusCommand(
  name: string,
  o: ClusterOptions & { output: 'tree' | 'json' },
  io: Io = stdio,
): Promise<number> {
  const cluster = Cluster.open(o);
  const t = await cluster.get(cluster.ref(name));
  warnProblems(t, io);
  if (o.output === 'json') {
    io.out(JSON.stringify(t.status ?? null, null, 2));
    return 0;
  }
  if (!t.status) {
    io.out(`${name}: no status yet (is the operator running and watching namespace ${cluster.namespace}?)`);
    return 0;
  }
  io.out(renderTree(name, t.status));
  return 0;
}

/** The group and member as the spec has them, or a one-line error naming what is wrong. */
function checkSpec(t: StoredTopology, group: string, member?: string): void {
  const spec = TopologySpec.safeParse(t.spec);
  if (!spec.success) return; // the operator reports what is wrong with it
  if (spec.data.paused)
    throw new UserError(
      `${t.ref.name} is paused (spec.paused: true): the operator writes nothing until it is resumed`,
    );
  const g = spec.data.groups.find((x) => x.name === group);
  if (!g)
    throw new UserError(
      `--group: ${t.ref.name} has no group "${group}" (groups: ${spec.data.groups.map((x) => x.name).join(', ')})`,
    );
  if (member !== undefined && !g.members.some((m) => m.name === member))
    throw new UserError(
      `--to: group ${group} has no member "${member}" (members: ${g.members.map((m) => m.name).join(', ')})`,
    );
}

/** Prints each phase of a record once, as status shows it. */
function phasePrinter(): (r: FailoverRecord, say: (line: string) => void) => void {
  const printed = new Set<string>();
  return (r, say) => {
    for (const p of phaseOffsets(r)) {
      if (printed.has(p.phase)) continue;
      printed.add(p.phase);
      say(`${r.group}: ${p.phase} (+${p.seconds.toFixed(3)}s since the decision)`);
    }
  };
}

export async function switchoverCommand(
  name: string,
  o: ClusterOptions & { group: string; to: string; timeout: number },
  io: Io = stdio,
): Promise<number> {
  const cluster = Cluster.open(o);
  const ref = cluster.ref(name);
  const t = await cluster.get(ref);
  checkSpec(t, o.group, o.to);
  const primary = t.status?.groups.find((g) => g.name === o.group)?.primary;
  if (primary === o.to && !t.status?.failovers.some((r) => r.group === o.group && isOpen(r))) {
    io.out(`${o.to} is already the primary of ${o.group}: nothing to do`);
    return 0;
  }
  const before = new Set((t.status?.failovers ?? []).map((r) => r.id));
  const phases = phasePrinter();
  let takenAt: number | undefined;
  return requestAndWait(
    cluster,
    ref,
    t,
    {
      annotation: ANNOTATION_SWITCHOVER,
      value: `${o.group}=${o.to}`,
      async judge(now, taken, say) {
        const r = now.status?.failovers.find(
          (x) => !before.has(x.id) && x.group === o.group && x.reason === 'Switchover',
        );
        if (r) {
          phases(r, say);
          if (r.phase === 'Done') return done(0, `switchover of ${o.group} done: ${r.from} → ${r.to}`);
          if (r.phase === 'Aborted')
            return done(1, `switchover of ${o.group} aborted: ${r.message ?? 'no reason recorded'}`);
          return wait;
        }
        if (!taken) return wait;
        takenAt ??= Date.now();
        if (Date.now() - takenAt < RECORD_GRACE_MS) return wait;
        const refusal = (await cluster.events(ref)).find((e) => e.reason === 'SwitchoverRefused');
        return done(
          1,
          `the operator did not start the switchover${refusal ? `: ${refusal.message}` : ` (see: kubectl describe mysqltopology ${name})`}`,
        );
      },
      stillGoing: (now) => {
        const r = now.status?.failovers.find((x) => !before.has(x.id) && x.group === o.group);
        return r
          ? `the switchover is in phase ${r.phase} and goes on; follow it with: kubectl tributary status ${name}`
          : 'the operator took the request but recorded no switchover';
      },
    },
    { timeoutMs: o.timeout * 1000, say: io.out },
  );
}

/** The record an acknowledgement applies to, as the operator picks it: the open one, else the last failover. */
function ackTarget(status: TopologyStatus | undefined, group: string): FailoverRecord | undefined {
  const journal = status?.failovers ?? [];
  return (
    journal.find((r) => r.group === group && isOpen(r)) ??
    [...journal].reverse().find((r) => r.group === group && r.reason === 'DeadPrimary')
  );
}

export async function ackCommand(
  name: string,
  o: ClusterOptions & { group: string; timeout: number },
  io: Io = stdio,
): Promise<number> {
  const cluster = Cluster.open(o);
  const ref = cluster.ref(name);
  const t = await cluster.get(ref);
  checkSpec(t, o.group);
  const target = ackTarget(t.status, o.group);
  if (!target)
    throw new UserError(`nothing to acknowledge: the journal of ${name} has no failover of group ${o.group}`);
  io.out(describeFailover(target));
  if (target.acknowledged) {
    io.out(`already acknowledged`);
    return 0;
  }
  let takenAt: number | undefined;
  return requestAndWait(
    cluster,
    ref,
    t,
    {
      annotation: ANNOTATION_ACK_FAILOVER,
      value: o.group,
      judge(now, taken) {
        const r = now.status?.failovers.find((x) => x.id === target.id);
        if (r?.acknowledged)
          return done(
            0,
            isOpen(r)
              ? `failover ${r.id} of ${o.group} acknowledged: it goes on`
              : `failover cooldown of ${o.group} lifted (failover ${r.id}: ${r.from} → ${r.to})`,
          );
        if (!taken) return wait;
        takenAt ??= Date.now();
        return Date.now() - takenAt < RECORD_GRACE_MS
          ? wait
          : done(1, `the operator took the request but failover ${target.id} is not acknowledged in status`);
      },
    },
    { timeoutMs: o.timeout * 1000, say: io.out },
  );
}
