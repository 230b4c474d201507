// One reconciliation pass of one topology: observe → analyze → plan → execute → report, with failover
// as one more step between analysis and convergence.
import type { TopologySpec } from '../api/spec.js';
import { emptyStatus, type Condition, type FailoverRecord, type TopologyStatus } from '../api/status.js';
import { loadCredentials, validateTopology, type Credentials } from '../api/validate.js';
import { analyze, type Finding } from '../analyze/findings.js';
import { addressKey, buildView, type TopologyView } from '../analyze/view.js';
import { executeActions, type ActionFailure, type ExecuteContext } from '../execute/execute.js';
import { dialectOf, observeTopology } from '../observe/probe.js';
import type { Observation } from '../observe/types.js';
import { channelLabel, describeAction, type Action } from '../plan/actions.js';
import { planConvergence } from '../plan/converge.js';
import {
  assessPrimaries,
  decideFailovers,
  decideSwitchover,
  isOpen,
  parseSwitchoverAnnotation,
  type PrimaryHealth,
} from '../plan/failover.js';
import { mergeConditions, projectStatus, significantPart } from '../report/status.js';
import type { SqlClientPool } from '../sql/client.js';
import { gtidOps } from '../sql/gtid/index.js';
import {
  ANNOTATION_ACK_FAILOVER,
  ANNOTATION_SWITCHOVER,
  refKey,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from '../store/store.js';
import type { Logger } from '../util/log.js';
import { stableEqual } from '../util/stable.js';
import { advanceFailover } from './failover.js';
import type { PassOptions, PassResult, Reconciler } from './pass.js';

export interface ReconcilerDeps {
  pool: SqlClientPool;
  log: Logger;
  now?: () => Date;
  /** How long a pass that changed something waits for its channels to run before it reports. */
  settleMs?: number;
  probeTimeoutMs?: number;
  /** Bound on GTID waits during failover and switchover (seconds). */
  failoverWaitSeconds?: number;
  /** Asks for a pass of a topology now (the loop's enqueue): a member's connection just broke. */
  wake?: (ref: TopologyRef) => void;
}

/** Everything one pass needs to decide, once the resource is valid and its Secrets read. */
export interface PassInputs {
  spec: TopologySpec;
  admin: Credentials;
  replication: Credentials;
  previous: TopologyStatus | undefined;
}

export interface Decision {
  observation: Observation;
  view: TopologyView;
  findings: Finding[];
  actions: Action[];
  remembered: { group: string; name: string; from: string }[];
}

const JOURNAL_LENGTH = 20;
/** Changes of GTID positions, lag and thread-state text alone are written at most this often. */
export const VOLATILE_WRITE_INTERVAL_MS = 30_000;
/** Spacing of re-probes while a primary fails probes (consensus with its replicas guards against blips). */
const QUICK_REPROBE_MS = 50;

/** Reads the resource and its Secrets; returns the problems (one line each) when it cannot be used. */
export async function loadInputs(
  store: Store,
  stored: StoredTopology,
): Promise<PassInputs | { errors: string[] }> {
  const resource = {
    apiVersion: 'tributary.dev/v1alpha1',
    kind: 'MySQLTopology',
    metadata: { name: stored.ref.name, namespace: stored.ref.namespace },
    spec: stored.spec,
  };
  const result = validateTopology(resource);
  if (!result.ok) return { errors: result.errors };
  const spec = result.topology.spec;
  const creds = await loadCredentials(spec, (name) => store.readSecret(stored.ref.namespace, name), {
    namespace: stored.ref.namespace,
  });
  if (!creds.ok) return { errors: creds.errors };
  return { spec, admin: creds.admin, replication: creds.replication, previous: stored.status };
}

/** Managed channels: declared now, plus those declared before that some server still holds. */
export function rememberChannels(
  spec: TopologySpec,
  previous: TopologyStatus | undefined,
  observation?: Observation,
) {
  const declared = spec.groups.flatMap((g) =>
    g.channels.map((c) => ({ group: g.name, name: c.name, from: c.from })),
  );
  const stillThere = (previous?.managedChannels ?? []).filter((r) => {
    if (declared.some((d) => d.group === r.group && d.name.toLowerCase() === r.name.toLowerCase()))
      return false;
    const g = spec.groups.find((x) => x.name === r.group);
    if (!g || !observation) return true;
    // Forget it once every member is reachable and none holds it any more.
    return g.members.some((m) => {
      const o = observation.instances.find((i) => i.member === m.name);
      return !o?.reachable || o.channels.some((c) => c.name.toLowerCase() === r.name.toLowerCase());
    });
  });
  return [...declared, ...stillThere];
}

/** Groups whose primary a failover has not yet promoted: convergence leaves them alone. */
function busyGroups(journal: readonly FailoverRecord[]): Set<string> {
  return new Set(journal.filter((r) => isOpen(r) && r.phase !== 'Repointing').map((r) => r.group));
}

/** observe → analyze → plan (pure after the observation). */
export async function decide(
  inputs: PassInputs,
  pool: SqlClientPool,
  opts: { journal?: FailoverRecord[]; probeTimeoutMs?: number } = {},
): Promise<Decision> {
  const observation = await observeTopology(inputs.spec, {
    admin: inputs.admin,
    replicationUser: inputs.replication.username,
    pool,
    ...(opts.probeTimeoutMs ? { probeTimeoutMs: opts.probeTimeoutMs } : {}),
  });
  const journal = opts.journal ?? inputs.previous?.failovers ?? [];
  const previous = inputs.previous ? { ...inputs.previous, failovers: journal } : undefined;
  const view = buildView(inputs.spec, observation, previous);
  const remembered = rememberChannels(inputs.spec, inputs.previous, observation);
  const findings = analyze({ view, gtid: gtidOps, remembered });
  const actions = planConvergence(findings, {
    paused: inputs.spec.paused,
    busyGroups: busyGroups(journal),
    memberGroup: (m) => view.members.get(m)?.group,
  });
  return { observation, view, findings, actions, remembered };
}

const EVENT_REASON: Record<Action['kind'], (a: Action) => string> = {
  SetReadOnly: (a) => (a.kind === 'SetReadOnly' && a.readOnly ? 'MemberFenced' : 'PrimaryWritable'),
  EnsureReplicationUser: () => 'ReplicationUserCreated',
  RemoveChannel: () => 'ChannelRemoved',
  ConfigureChannel: (a) =>
    a.kind === 'ConfigureChannel' && a.exists ? 'ChannelRepointed' : 'ChannelCreated',
  StartChannel: () => 'ChannelStarted',
  StopChannel: () => 'ChannelStopped',
  WaitForGtid: () => 'CaughtUp',
};

/** Per-topology memory of one process: consecutive failed probes per member. */
interface Memory {
  failures: Map<string, number>;
  /** When this process last reported a status change (ms). */
  lastChange: number;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const now = deps.now ?? (() => new Date());
  const memory = new Map<string, Memory>();
  // Which topologies probe which address: a broken connection wakes them at once.
  const watchers = new Map<string, Map<string, TopologyRef>>();
  const { wake } = deps;
  if (wake) {
    deps.pool.onConnectionLost((a) => {
      for (const ref of watchers.get(addressKey(a.host, a.port))?.values() ?? []) wake(ref);
    });
  }
  return async (
    store: Store,
    ref: TopologyRef,
    options: PassOptions = {},
  ): Promise<PassResult | undefined> => {
    const stored = await store.get(ref);
    if (!stored || stored.deleting) return undefined;
    const started = now();
    const inputs = await loadInputs(store, stored);
    if ('errors' in inputs) return invalidResult(stored, inputs.errors, started.toISOString());
    for (const m of inputs.spec.groups.flatMap((g) => g.members)) {
      const target = m.connect ?? m;
      const key = addressKey(target.host, target.port);
      watchers.set(key, (watchers.get(key) ?? new Map()).set(refKey(ref), ref));
    }
    const mem = memory.get(refKey(ref)) ?? { failures: new Map(), lastChange: 0 };
    memory.set(refKey(ref), mem);
    const topology = `${ref.namespace}/${ref.name}`;
    const pollMs = inputs.spec.failover.pollIntervalSeconds * 1000;
    // paused: observe and report only; nothing is written to any server.
    const mayWrite = () => !options.dryRun && !inputs.spec.paused && (options.mayWrite?.() ?? true);
    const events: TopologyEvent[] = [];
    const extra: Omit<Condition, 'lastTransitionTime'>[] = [];
    const problems: string[] = [];
    const condition = (type: string, reason: string, message: string) =>
      extra.push({ type, status: 'True', reason, message, observedGeneration: stored.generation });
    let journal: FailoverRecord[] = [...(inputs.previous?.failovers ?? [])];
    const upsert = (r: FailoverRecord) => {
      const i = journal.findIndex((x) => x.id === r.id);
      journal = i >= 0 ? journal.map((x, j) => (j === i ? r : x)) : [...journal, r];
      const closed = journal.filter((x) => !isOpen(x));
      if (closed.length > JOURNAL_LENGTH)
        journal = journal.filter((x) => isOpen(x) || closed.indexOf(x) >= closed.length - JOURNAL_LENGTH);
    };
    const withJournal = (): TopologyStatus => ({
      ...(inputs.previous ?? emptyStatus('Ready')),
      failovers: journal,
    });
    // The journal is written before each failover phase acts: a restarted operator resumes it.
    const persist = async (r: FailoverRecord) => {
      upsert(r);
      const base = inputs.previous ?? emptyStatus('FailingOver');
      await store.writeStatus(
        ref,
        { ...base, phase: journal.some(isOpen) ? 'FailingOver' : base.phase, failovers: journal },
        stored.generation,
      );
      inputs.previous = { ...base, failovers: journal };
    };

    // An operator's acknowledgement lifts the failover cooldown of a group.
    const ack = stored.annotations[ANNOTATION_ACK_FAILOVER];
    if (ack && mayWrite()) {
      const last = [...journal].reverse().find((r) => r.group === ack.trim() && r.reason === 'DeadPrimary');
      if (last && !last.acknowledged) upsert({ ...last, acknowledged: true });
      await store.removeAnnotation(ref, ANNOTATION_ACK_FAILOVER);
      events.push({
        type: 'Normal',
        reason: 'FailoverAcknowledged',
        message: `failover cooldown of ${ack} lifted`,
      });
    }

    let decision = await decide(inputs, deps.pool, {
      journal,
      ...(deps.probeTimeoutMs ? { probeTimeoutMs: deps.probeTimeoutMs } : {}),
    });
    for (const i of decision.observation.instances) {
      if (i.reachable) mem.failures.delete(i.member);
      else mem.failures.set(i.member, (mem.failures.get(i.member) ?? 0) + 1);
    }
    const health = assessPrimaries(decision.view, mem.failures, inputs.spec.failover.failureThreshold);
    for (const h of health) reportHealth(h, condition);

    let failure: ActionFailure | undefined;
    let executedCount = 0;
    if (
      inputs.spec.paused &&
      (options.switchover || stored.annotations[ANNOTATION_SWITCHOVER] !== undefined)
    ) {
      problems.push(
        'switchover: the topology is paused (spec.paused: true); nothing is written until it is resumed',
      );
    }
    if (mayWrite()) {
      const execCtx = executionContext(() => decision, inputs, deps, mayWrite);
      const switchoverAsk =
        options.switchover ?? parseSwitchoverAnnotation(stored.annotations[ANNOTATION_SWITCHOVER]);
      if (
        stored.annotations[ANNOTATION_SWITCHOVER] !== undefined &&
        !parseSwitchoverAnnotation(stored.annotations[ANNOTATION_SWITCHOVER])
      ) {
        problems.push(`metadata.annotations["${ANNOTATION_SWITCHOVER}"]: must be <group>=<member>`);
        await store.removeAnnotation(ref, ANNOTATION_SWITCHOVER);
      }
      if (switchoverAsk) {
        const req = {
          group: switchoverAsk.group,
          to: switchoverAsk.to,
          timeoutSeconds: options.switchover?.timeoutSeconds ?? deps.failoverWaitSeconds ?? 30,
        };
        const sw = decideSwitchover(req, decision.view, withJournal(), now());
        if ('record' in sw) {
          await persist(sw.record);
          events.push({
            type: 'Normal',
            reason: 'SwitchoverStarted',
            message: `${sw.record.group}: ${sw.record.from} → ${sw.record.to}`,
          });
        } else if ('refused' in sw) {
          problems.push(sw.refused);
          events.push({ type: 'Warning', reason: 'SwitchoverRefused', message: sw.refused });
        }
        if (!options.switchover) await store.removeAnnotation(ref, ANNOTATION_SWITCHOVER);
      }
      for (const d of decideFailovers(inputs.spec, decision.view, health, withJournal(), now())) {
        if (d.kind === 'blocked') {
          condition('FailoverBlocked', d.condition, d.reason);
          continue;
        }
        await persist(d.record);
        events.push({
          type: 'Warning',
          reason: 'FailoverStarted',
          message: `${d.record.group}: ${d.record.from} is dead, promoting ${d.record.to} (${d.record.message ?? ''})`,
        });
        deps.log.warn(
          { topology, group: d.record.group, from: d.record.from, to: d.record.to },
          'failover started',
        );
      }
      let advanced = false;
      for (const r of journal.filter((x) => isOpen(x) && x.phase !== 'Repointing')) {
        try {
          const next = await advanceFailover(r, {
            view: decision.view,
            exec: execCtx,
            journal: persist,
            now,
            waitSeconds:
              r.reason === 'Switchover'
                ? (options.switchover?.timeoutSeconds ?? deps.failoverWaitSeconds ?? 30)
                : (deps.failoverWaitSeconds ?? 30),
            groupDomains: groupDomains(decision.view, inputs.previous, r.group),
          });
          advanced = true;
          deps.log.info({ topology, group: r.group, phase: next.phase }, `failover ${r.id}: ${next.phase}`);
          if (next.phase === 'Aborted') {
            events.push({ type: 'Warning', reason: 'SwitchoverAborted', message: next.message ?? 'aborted' });
            problems.push(`switchover of ${r.group} ${next.message ?? 'aborted'}`);
          }
        } catch (e) {
          const message = `failover ${r.id} (${r.group}: ${r.from} → ${r.to}) stopped in phase ${r.phase}: ${(e as Error).message}`;
          events.push({ type: 'Warning', reason: 'FailoverStalled', message });
          condition('FailoverStalled', r.phase, message);
          deps.log.warn({ topology }, message);
        }
      }
      if (advanced) decision = await decide(inputs, deps.pool, { journal });

      const result = await executeActions(decision.actions, execCtx);
      failure = result.failure;
      for (const a of result.executed) {
        events.push({
          type: a.kind === 'SetReadOnly' && a.readOnly ? 'Warning' : 'Normal',
          reason: EVENT_REASON[a.kind](a),
          message: describeAction(a),
        });
        deps.log.info(
          { topology, action: a.kind, target: 'channel' in a ? channelLabel(a.member, a.channel) : a.member },
          describeAction(a),
        );
        if (a.kind === 'ConfigureChannel') {
          const r = journal.find((x) => isOpen(x) && x.group === a.desired.fromGroup);
          if (r)
            upsert({ ...r, repointed: [...new Set([...r.repointed, channelLabel(a.member, a.channel)])] });
        }
      }
      if (failure) {
        events.push({ type: 'Warning', reason: 'ActionFailed', message: failure.message });
        condition('ActionFailed', failure.action.kind, failure.message);
        deps.log.warn({ topology, statement: failure.statement, errno: failure.errno }, failure.message);
      }
      if (result.executed.length > 0) decision = await settle(inputs, deps, journal);
      for (const r of journal.filter((x) => isOpen(x) && x.phase === 'Repointing')) {
        if (!groupSettled(decision, r.group)) continue;
        const done: FailoverRecord = {
          ...r,
          phase: 'Done',
          finishedAt: now().toISOString(),
          phaseTimes: { ...r.phaseTimes, Done: now().toISOString() },
        };
        upsert(done);
        mem.failures.delete(r.from);
        events.push({
          type: 'Normal',
          reason: r.reason === 'Switchover' ? 'SwitchoverFinished' : 'FailoverFinished',
          message: `${r.group}: ${r.to} is primary; repointed ${done.repointed.join(', ') || 'nothing'}`,
        });
        deps.log.info({ topology, group: r.group, to: r.to }, 'failover finished');
      }
      executedCount = result.executed.length;
    }
    const status = projectStatus(
      {
        view: decision.view,
        findings: decision.findings,
        generation: stored.generation,
        now: started.toISOString(),
        paused: inputs.spec.paused,
        remembered: decision.remembered,
        failovers: journal,
        extraConditions: extra,
      },
      stored.status,
    );
    const statusChanged =
      !stableEqual(status, stored.status) &&
      (!stableEqual(significantPart(status), significantPart(stored.status)) ||
        started.getTime() - mem.lastChange >= VOLATILE_WRITE_INTERVAL_MS);
    if (statusChanged) mem.lastChange = started.getTime();
    // Re-probe at once while a primary is suspect or a failover has not promoted yet; a repointing
    // failover waits for channels, at the normal pace.
    const quick =
      health.some((h) => h.state === 'Suspect') || journal.some((r) => isOpen(r) && r.phase !== 'Repointing');
    return {
      status,
      statusChanged,
      events,
      ...(problems.length ? { problems } : {}),
      actionsExecuted: executedCount,
      requeueAfterMs: quick ? QUICK_REPROBE_MS : failure ? Math.min(pollMs, 1000) : pollMs,
    };
  };
}

function reportHealth(
  h: PrimaryHealth,
  condition: (type: string, reason: string, message: string) => void,
): void {
  if (h.state === 'Unreachable') {
    condition(
      'PrimaryUnreachable',
      'OperatorCutOff',
      `${h.primary} (${h.group}) fails probes but ${h.witnesses.map((w) => channelLabel(w.member, w.channel)).join(', ')} still receive from it: no failover`,
    );
  } else if (h.state === 'NoWitness') {
    condition(
      'PrimaryUnreachable',
      'NoWitness',
      `${h.primary} (${h.group}) fails probes and nothing replicates from it: nobody to confirm or promote`,
    );
  } else if (h.state === 'Dead') {
    condition(
      'PrimaryDead',
      'DeadPrimary',
      `${h.primary} (${h.group}) is dead: ${h.failures} failed probes, no replica receives from it`,
    );
  }
}

/** Every channel into or inside the group runs from the new primary (unreachable members aside). */
function groupSettled(d: Decision, group: string): boolean {
  const pending = new Set<Finding['kind']>([
    'ChannelMissing',
    'ChannelPointsElsewhere',
    'ChannelStopped',
    'ChannelBroken',
    'ChannelMisplaced',
    'PrimaryReadOnly',
  ]);
  return !d.findings.some((f) => {
    if (!pending.has(f.kind) || !('member' in f)) return false;
    const from = 'desired' in f ? f.desired.fromGroup : 'fromGroup' in f ? f.fromGroup : undefined;
    return from === group || d.view.members.get(f.member)?.group === group;
  });
}

/** GTID domains a group's members write (MariaDB): observed now, or remembered in status. */
function groupDomains(view: TopologyView, previous: TopologyStatus | undefined, group: string): number[] {
  const g = view.groups.find((x) => x.spec.name === group);
  const ids = new Set<number>();
  for (const m of g?.members ?? []) {
    const now = m.obs?.vars?.gtidDomainId;
    const before = previous?.instances.find((i) => i.name === m.spec.name)?.gtidDomainId;
    for (const d of [now, before]) if (typeof d === 'number') ids.add(d);
  }
  return [...ids].sort((a, b) => a - b);
}

function executionContext(
  current: () => Decision,
  inputs: PassInputs,
  deps: ReconcilerDeps,
  mayWrite: () => boolean,
): ExecuteContext {
  const member = (name: string) => {
    const m = current().view.members.get(name);
    if (!m?.obs?.flavor) throw new Error(`${name} was not observed`);
    return m;
  };
  return {
    client: (name: string) => {
      const m = member(name).spec;
      const target = m.connect ?? { host: m.host, port: m.port };
      return deps.pool.get({
        ...target,
        user: inputs.admin.username,
        password: inputs.admin.password,
        label: name,
      });
    },
    dialect: (name: string) => dialectOf(member(name).obs!),
    replication: inputs.replication,
    isPrimary: (name: string) => current().view.groups.some((g) => g.primary === name),
    mayWrite,
  };
}

/** After changes, observe again until nothing is left to do and new channels run, bounded by settleMs. */
async function settle(
  inputs: PassInputs,
  deps: ReconcilerDeps,
  journal: FailoverRecord[],
): Promise<Decision> {
  const deadline = Date.now() + (deps.settleMs ?? 4000);
  for (;;) {
    const decision = await decide(inputs, deps.pool, { journal });
    const pending =
      decision.actions.length > 0 ||
      decision.findings.some((f) => f.kind === 'ChannelStopped' || f.kind === 'ChannelMissing');
    const connecting = decision.observation.instances.some((i) =>
      i.channels.some((c) => c.ioRunning === 'Connecting' && c.lastIOErrno === 0),
    );
    if ((!pending && !connecting) || Date.now() >= deadline) return decision;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function invalidResult(stored: StoredTopology, errors: string[], now: string): PassResult {
  const previous = stored.status;
  const message = errors.join('; ');
  const status: TopologyStatus = {
    ...(previous ?? emptyStatus('Invalid')),
    observedGeneration: stored.generation,
    phase: 'Invalid',
    conditions: mergeConditions(
      previous?.conditions ?? [],
      [
        {
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          message,
          observedGeneration: stored.generation,
        },
      ],
      now,
    ),
  };
  const statusChanged = !stableEqual(status, previous);
  return {
    status,
    statusChanged,
    events: statusChanged ? [{ type: 'Warning', reason: 'InvalidSpec', message }] : [],
    problems: errors,
    actionsExecuted: 0,
    requeueAfterMs: 10_000,
  };
}
