// Runs a failover or switchover record through its phases. Each phase is written to the status journal
// before it acts, so an operator restarted in the middle resumes the same record instead of starting
// another. Promotion touches one channel only (the candidate's default channel); everything else is
// then ordinary convergence towards the new primary.
import { CATCHUP_CHANNEL } from '../api/spec.js';
import type { FailoverPhase, FailoverRecord } from '../api/status.js';
import type { DesiredChannel } from '../analyze/findings.js';
import type { TopologyView } from '../analyze/view.js';
import { executeActions, type ExecuteContext } from '../execute/execute.js';
import type { Action } from '../plan/actions.js';
import type { SqlClient } from '../sql/client.js';
import type { Dialect } from '../sql/dialect.js';
import { gtidOps } from '../sql/gtid/index.js';

export interface FailoverRunContext {
  view: TopologyView;
  exec: ExecuteContext;
  /** Persists the record in the status journal (before the phase it names acts). */
  journal(record: FailoverRecord): Promise<void>;
  now(): Date;
  /** Bound on every wait for GTIDs (relay log apply, catch-up, switchover). */
  waitSeconds: number;
  /** Domains of the group failing over (MariaDB): what may be taken from a downstream survivor. */
  groupDomains: number[];
}

const noFilter = { doDatabases: [], ignoreDatabases: [] };

function phase(
  record: FailoverRecord,
  next: FailoverPhase,
  now: Date,
  extra: Partial<FailoverRecord> = {},
): FailoverRecord {
  const done = next === 'Done' || next === 'Aborted';
  return {
    ...record,
    ...extra,
    phase: next,
    phaseTimes: { ...record.phaseTimes, [next]: now.toISOString() },
    ...(done ? { finishedAt: now.toISOString() } : {}),
  };
}

async function run(actions: Action[], ctx: FailoverRunContext): Promise<void> {
  const result = await executeActions(actions, ctx.exec);
  if (result.failure) throw new Error(result.failure.message);
}

/** Temporary channel on the candidate from a survivor holding what it lacks; removed once caught up. */
function catchUpActions(
  ctx: FailoverRunContext,
  candidate: string,
  donor: string,
  position: string,
  domains?: number[],
): Action[] {
  const d = ctx.view.members.get(donor)!;
  const desired: DesiredChannel = {
    member: candidate,
    channel: CATCHUP_CHANNEL,
    fromGroup: d.group,
    source: donor,
    sourceHost: d.spec.host,
    sourcePort: d.spec.port,
    delaySeconds: 0,
    filter: noFilter,
    ...(domains ? { doDomainIds: domains } : {}),
  };
  const exists =
    ctx.view.members.get(candidate)?.obs?.channels.some((c) => c.name === CATCHUP_CHANNEL) ?? false;
  return [
    {
      kind: 'ConfigureChannel',
      member: candidate,
      channel: CATCHUP_CHANNEL,
      desired,
      exists,
      reason: `catch up from ${donor}`,
    },
    {
      kind: 'WaitForGtid',
      member: candidate,
      gtidSet: position,
      timeoutSeconds: ctx.waitSeconds,
      reason: `transactions only ${donor} holds`,
    },
    { kind: 'RemoveChannel', member: candidate, channel: CATCHUP_CHANNEL, reason: 'caught up' },
  ];
}

/**
 * Survivors downstream of the dead group (replicas of its channels elsewhere) that hold more of the
 * group's GTID domains than the candidate: MariaDB would refuse to resume them from the new primary.
 */
function downstreamDonors(
  ctx: FailoverRunContext,
  record: FailoverRecord,
): { member: string; position: string }[] {
  const cand = ctx.view.members.get(record.to)?.obs;
  if (!cand?.vars || cand.flavor !== 'mariadb' || ctx.groupDomains.length === 0) return [];
  const ops = gtidOps('mariadb');
  const out: { member: string; position: string }[] = [];
  for (const g of ctx.view.groups) {
    if (!g.spec.channels.some((c) => c.from === record.group)) continue;
    const p = g.members.find((m) => m.spec.name === g.primary);
    if (!p?.reachable || !p.obs?.vars) continue;
    const own = p.obs.vars.gtidCurrentPos ?? p.obs.vars.gtidExecuted;
    const inDomains = own
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && ctx.groupDomains.includes(Number(e.split('-')[0])))
      .join(',');
    const missing = inDomains
      ? ops.missing(cand.vars.gtidCurrentPos ?? cand.vars.gtidExecuted, inDomains)
      : '';
    if (missing) out.push({ member: p.spec.name, position: missing });
  }
  return out;
}

/** Advances a record as far as it can go in this pass; returns it at Repointing (or Aborted). */
export async function advanceFailover(
  start: FailoverRecord,
  ctx: FailoverRunContext,
): Promise<FailoverRecord> {
  let record = start;
  const candidate = ctx.view.members.get(record.to);
  const write = async (next: FailoverPhase, extra: Partial<FailoverRecord> = {}) => {
    record = phase(record, next, ctx.now(), extra);
    await ctx.journal(record);
  };
  if (!candidate?.reachable || !candidate.obs)
    throw new Error(`failover of ${record.group}: candidate ${record.to} is unreachable`);
  if (record.phase === 'Decided') await write('CatchingUp');
  if (record.phase === 'CatchingUp') {
    if (record.reason === 'Switchover') {
      const aborted = await switchoverCatchUp(record, ctx);
      if (aborted) {
        await write('Aborted', { message: aborted });
        return record;
      }
    } else {
      const def = candidate.obs.channels.find((c) => c.name === '');
      const actions: Action[] = [];
      // Apply every transaction already received from the dead primary (bounded wait).
      if (def?.retrievedGtidSet) {
        actions.push({
          kind: 'WaitForGtid',
          member: record.to,
          gtidSet: def.retrievedGtidSet,
          timeoutSeconds: ctx.waitSeconds,
          reason: 'apply the received relay log',
        });
      }
      if (record.donor && record.catchUpTo)
        actions.push(...catchUpActions(ctx, record.to, record.donor, record.catchUpTo));
      for (const d of downstreamDonors(ctx, record))
        actions.push(...catchUpActions(ctx, record.to, d.member, d.position, ctx.groupDomains));
      await run(actions, ctx);
    }
    await write('Promoting');
  }
  if (record.phase === 'Promoting') {
    const actions: Action[] = [];
    // Only the channel that pointed at the old primary goes; every other channel stays as it is.
    if (candidate.obs.channels.some((c) => c.name === ''))
      actions.push({
        kind: 'RemoveChannel',
        member: record.to,
        channel: '',
        reason: `it pointed at ${record.from}`,
      });
    actions.push({
      kind: 'SetReadOnly',
      member: record.to,
      readOnly: false,
      reason: `promoted in place of ${record.from}`,
    });
    await run(actions, ctx);
    await write('Repointing');
  }
  return record;
}

/** Switchover: freeze the old primary, wait for the target to hold everything; undo on timeout. */
async function switchoverCatchUp(
  record: FailoverRecord,
  ctx: FailoverRunContext,
): Promise<string | undefined> {
  const old = ctx.view.members.get(record.from)!;
  if (!old.reachable || !old.obs)
    throw new Error(`switchover of ${record.group}: ${record.from} became unreachable`);
  const named = old.obs.channels.filter(
    (c) =>
      c.name !== '' &&
      c.ioRunning !== 'No' &&
      ctx.view.groups
        .find((g) => g.primary === record.from)
        ?.spec.channels.some((s) => s.name.toLowerCase() === c.name.toLowerCase()),
  );
  await run(
    [
      // Stop what the old primary receives, so the target can reach a fixed point.
      ...named.map((c): Action => ({
        kind: 'StopChannel',
        member: record.from,
        channel: c.name,
        reason: 'switchover: freeze the old primary',
      })),
      {
        kind: 'SetReadOnly',
        member: record.from,
        readOnly: true,
        reason: 'switchover: no more writes on the old primary',
      },
    ],
    ctx,
  );
  const client: SqlClient = ctx.exec.client(record.from);
  const dialect: Dialect = ctx.exec.dialect(record.from);
  const rows = await client.query<Record<string, unknown>>(dialect.showVariables());
  const vars = dialect.parseVariables(rows[0]!);
  const target = vars.gtidBinlogPos ?? vars.gtidExecuted;
  const wait = await executeActions(
    [
      {
        kind: 'WaitForGtid',
        member: record.to,
        gtidSet: target,
        timeoutSeconds: ctx.waitSeconds,
        reason: 'switchover: the target must hold everything',
      },
    ],
    ctx.exec,
  );
  if (!wait.failure) return undefined;
  // Give the group its primary back as it was.
  await run(
    [
      { kind: 'SetReadOnly', member: record.from, readOnly: false, reason: 'switchover aborted' },
      ...named.map((c): Action => ({
        kind: 'StartChannel',
        member: record.from,
        channel: c.name,
        reason: 'switchover aborted',
      })),
    ],
    ctx,
  );
  return `aborted: ${wait.failure.message}`;
}
