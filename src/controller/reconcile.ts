// One reconciliation pass of one topology: gather → decide → act → report.
//
// - gather (gather.ts): the resource and its Secrets, then one bounded observation of every member;
// - decide (plan/decide.ts, pure): findings, the failover journal, every statement of the pass;
// - act: the journal is written first, conditionally on the version the decision was based on (a
//   conflict means someone else wrote: nothing runs, the next pass re-reads and decides again); then
//   the annotations acted on are removed and the statements run, target by target;
// - report: the status projected from a fresh observation when something ran.
// The only memory this process keeps between passes is each member's streak of failed probes, and the
// replication logins refused under the current Secret.
import {
  emptyStatus,
  type Condition,
  type CredentialsStatus,
  type FailoverRecord,
  type GroupRouting,
  type TopologyStatus,
} from '../api/status.js';
import type { TopologySpec } from '../api/spec.js';
import { executeRouting, type RoutingResult, type RoutingTarget } from '../execute/routing.js';
import { describeRoutingStep, routingAfter, type RoutingStep } from '../plan/routing.js';
import { executeActions, failureLabel, type ExecuteContext, type ExecuteResult } from '../execute/execute.js';
import { addressKey } from '../analyze/view.js';
import { RefusedLogins } from '../observe/credentials-check.js';
import { dialectOf } from '../observe/probe.js';
import { channelLabel, describeAction, type Action } from '../plan/actions.js';
import { afterExecution } from '../plan/credentials.js';
import { assess, currentRouting, decidePass, type PassPlan } from '../plan/decide.js';
import { isOpen } from '../plan/failover-step.js';
import { nextStreaks, type ProbeStreak } from '../plan/health.js';
import { mergeConditions, projectStatus, significantPart } from '../report/status.js';
import type { SqlClientPool } from '../sql/client.js';
import {
  ConflictError,
  refKey,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from '../store/store.js';
import type { Logger } from '../util/log.js';
import { stableEqual } from '../util/stable.js';
import { loadInputs, observe, observeAndVerify, replicationOf, type PassInputs } from './gather.js';
import type { PassOptions, PassResult, Reconciler } from './pass.js';

export { loadInputs, type PassInputs };

export interface ReconcilerDeps {
  pool: SqlClientPool;
  log: Logger;
  now?: () => Date;
  /** How long a pass that changed something waits for its channels to run before it reports. */
  settleMs?: number;
  probeTimeoutMs?: number;
  /** Asks for a pass of a topology now (the loop's enqueue): a member's connection just broke. */
  wake?: (ref: TopologyRef) => void;
  /** Where traffic is routed (the operator's EndpointSlices, a routing hook); absent: not routed. */
  routing?: RoutingDeps;
}

export interface RoutingDeps {
  targets: RoutingTarget[];
  /**
   * What the targets hold, read back (the API server's cache), per group, where a target can tell;
   * undefined while it cannot. A difference from status is repaired like any drift.
   */
  observe?: (ref: TopologyRef, spec: TopologySpec) => ReadonlyMap<string, GroupRouting> | undefined;
}

/** Changes of GTID positions, lag and thread-state text alone are written at most this often. */
export const VOLATILE_WRITE_INTERVAL_MS = 30_000;

const EVENT_REASON: Record<Action['kind'], (a: Action) => string> = {
  SetReadOnly: (a) => (a.kind === 'SetReadOnly' && a.readOnly ? 'MemberFenced' : 'PrimaryWritable'),
  PersistReadOnly: () => 'ReadOnlyPersisted',
  EnsureReplicationUser: () => 'ReplicationUserCreated',
  SetReplicationPassword: () => 'ReplicationPasswordSet',
  SetChannelPassword: () => 'ChannelPasswordSet',
  RemoveChannel: () => 'ChannelRemoved',
  ConfigureChannel: (a) =>
    a.kind === 'ConfigureChannel' && a.exists ? 'ChannelRepointed' : 'ChannelCreated',
  StartChannel: () => 'ChannelStarted',
  StopChannel: () => 'ChannelStopped',
  WaitForGtid: () => 'CaughtUp',
};

/** Per-topology memory of one process. */
interface Memory {
  streaks: Map<string, ProbeStreak>;
  /** When this process last reported a status change (ms). */
  lastChange: number;
  /** Replication logins refused under the current Secret: not tried again (failed-login limits). */
  refused: RefusedLogins;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const now = deps.now ?? (() => new Date());
  const memory = new Map<string, Memory>();
  const watchers = watchAddresses(deps);
  return async (store, ref, options: PassOptions = {}): Promise<PassResult | undefined> => {
    const stored = await store.get(ref);
    if (!stored || stored.deleting) {
      watchers.release(ref);
      return undefined;
    }
    const started = now();
    const inputs = await loadInputs(store, stored);
    if ('errors' in inputs) return invalidResult(stored, inputs.errors, started.toISOString());
    watchers.track(ref, inputs);
    const mem = memory.get(refKey(ref)) ?? {
      streaks: new Map(),
      lastChange: 0,
      refused: new RefusedLogins(),
    };
    memory.set(refKey(ref), mem);

    // A failover's phases follow one another within the pass while each follows from what it just did:
    // every cycle observes again, decides again and journals first (conditionally on the version its own
    // write returned), exactly as consecutive passes would, without waiting for a new pass to be queued.
    const mayWrite = () => !options.dryRun && (options.mayWrite?.() ?? true);
    let current = stored;
    let cycleInputs = inputs;
    const done: Action[] = [];
    const events: TopologyEvent[] = [];
    const routedAll: RoutingResult = { done: [], failures: [] };
    let plan: PassPlan;
    let acted: Acted | undefined;
    let credentials = inputs.previous?.credentials;
    for (let cycle = 0; ; cycle++) {
      // gather. A pass that may not write (a standby) does not verify the Secret either: a refused login
      // changes the server too (it counts toward FAILED_LOGIN_ATTEMPTS / max_password_errors).
      const observation = mayWrite()
        ? await observeAndVerify(cycleInputs, deps.pool, deps.probeTimeoutMs, mem.refused)
        : await observe(cycleInputs, deps.pool, deps.probeTimeoutMs);
      mem.streaks = nextStreaks(mem.streaks, observation.instances, now().getTime());
      // decide
      plan = decidePass({
        spec: inputs.spec,
        observation,
        previous: cycleInputs.previous,
        streaks: mem.streaks,
        nowMs: now().getTime(),
        annotations: current.annotations,
        replication: replicationOf(inputs),
        ...(options.switchover && cycle === 0 ? { switchover: options.switchover } : {}),
        ...routingInput(deps.routing, ref, inputs.spec),
      });
      // act
      const result = mayWrite()
        ? await act(
            store,
            current,
            cycleInputs,
            plan,
            executionContext(plan, cycleInputs, deps, mayWrite),
            deps.routing,
            now,
          )
        : undefined;
      if (result === 'conflict') {
        deps.log.info({ topology: refKey(ref) }, 'the topology changed while deciding; deciding again');
        return {
          status: current.status ?? emptyStatus('Ready'),
          statusChanged: false,
          events,
          actionsExecuted: done.length,
          requeueAfterMs: 0,
          ...(current.resourceVersion !== undefined ? { resourceVersion: current.resourceVersion } : {}),
        };
      }
      acted = result && {
        ...result,
        execution: { ...result.execution, executed: [...done, ...result.execution.executed] },
      };
      if (!result) break;
      done.push(...result.execution.executed);
      routedAll.done.push(...result.routed.done);
      routedAll.failures.push(...result.routed.failures);
      credentials =
        plan.credentials &&
        afterExecution(
          plan.credentials,
          plan.view,
          plan.actions,
          result.execution.executed,
          now().toISOString(),
        );
      events.push(
        ...plan.events,
        ...routingEvents(result.routed, inputs.spec),
        ...executionEvents(result.execution),
      );
      log(deps, refKey(ref), plan, result.execution);
      const next = chained(cycle, plan, result, credentials);
      if (!next || !mayWrite()) break;
      // The next cycle starts from what this one wrote and did: the journal, the primaries it decided
      // (a remembered primary keeps its place while it lives: a dead one must not come back), the routing.
      const base = cycleInputs.previous ?? emptyStatus('FailingOver');
      const byName = new Map(base.groups.map((g) => [g.name, g]));
      const previous: TopologyStatus = {
        ...base,
        groups: plan.view.groups.map((g) => ({
          ...(byName.get(g.spec.name) ?? { members: g.members.length, ready: 0 }),
          name: g.spec.name,
          primary: g.primary ?? null,
        })),
        failovers: result.journal,
        ...(credentials ? { credentials } : {}),
      };
      const routing = routingAfter(
        currentRouting(cycleInputs.previous),
        result.routed.done,
        now().toISOString(),
      );
      const withRouting = withGroupRouting(previous, routing, true);
      cycleInputs = { ...cycleInputs, previous: withRouting };
      current = {
        ...current,
        status: withRouting,
        annotations: Object.fromEntries(
          Object.entries(current.annotations).filter(([k]) => !plan.consume.includes(k)),
        ),
        ...(result.resourceVersion !== undefined ? { resourceVersion: result.resourceVersion } : {}),
      };
    }
    // report
    const journal = acted?.journal ?? inputs.previous?.failovers ?? [];
    const execution = acted?.execution ?? { executed: [], failures: [], skipped: [] };
    const routed = routedAll;
    const after =
      execution.executed.length > 0
        ? await settle(cycleInputs, deps, journal, startedChannels(execution.executed), credentials)
        : plan;
    const projected = projectStatus(
      {
        view: after.view,
        findings: after.findings,
        generation: stored.generation,
        now: started.toISOString(),
        paused: inputs.spec.paused,
        remembered: after.remembered,
        failovers: journal,
        extraConditions: [
          ...plan.conditions,
          ...executionConditions(execution),
          ...routingConditions(routed),
          ...storeConditions(stored),
        ].map((c) => ({ ...c, observedGeneration: stored.generation })),
        channelProblems: channelProblems(plan, execution),
      },
      stored.status,
    );
    // Routing off for this topology (spec.routing.enabled: false): status says nothing of it; the targets
    // keep what they last had (the Services go with the topology).
    const routingNow =
      deps.routing?.targets.length && inputs.spec.routing.enabled
        ? routingAfter(currentRouting(stored.status), routed.done, now().toISOString())
        : undefined;
    const withRouting = routingNow ? withGroupRouting(projected, routingNow) : projected;
    const status: TopologyStatus = credentials ? { ...withRouting, credentials } : withRouting;
    const statusChanged =
      !stableEqual(status, stored.status) &&
      (!stableEqual(significantPart(status), significantPart(stored.status)) ||
        started.getTime() - mem.lastChange >= VOLATILE_WRITE_INTERVAL_MS);
    // Only a pass that may write owns the change (a standby's is never written).
    if (statusChanged && mayWrite()) mem.lastChange = started.getTime();
    const resourceVersion = acted?.resourceVersion ?? stored.resourceVersion;
    return {
      status,
      statusChanged,
      events: acted ? [...events, ...storeEvents(stored)] : [],
      ...(acted ? { routing: routed } : {}),
      ...(plan.health.some((h) => h.state === 'Suspect' || h.state === 'Dead') || journal.some(isOpen)
        ? { urgent: true }
        : {}),
      ...(plan.problems.length ? { problems: plan.problems } : {}),
      actionsExecuted: execution.executed.length,
      // A pass that could not act (a standby) observes at the poll interval, never "at once" in a loop.
      requeueAfterMs: acted
        ? requeueAfter(plan, journal, execution, credentials, routed)
        : plan.requeueAfterMs || inputs.spec.failover.pollIntervalSeconds * 1000,
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    };
  };
}

/**
 * When the next pass should run: at once while a failover moves phase by phase, and after a repointing
 * pass that acted (the next one closes the record); a second after a failed statement.
 */
function requeueAfter(
  plan: PassPlan,
  journal: FailoverRecord[],
  e: ExecuteResult,
  credentials: CredentialsStatus | undefined,
  routed: RoutingResult,
): number {
  // A failed statement or routing step (a hook that fails at once) is retried after a second, never in a
  // tight loop (even while a failover moves).
  if (e.failures.length > 0 || routed.failures.length > 0)
    return plan.requeueAfterMs === 0 ? 1000 : Math.min(plan.requeueAfterMs, 1000);
  const repointed = journal.some((r) => isOpen(r) && r.phase === 'Repointing') && e.executed.length > 0;
  // A rotation whose accounts just got the password: the channels from them follow at once.
  const accountsSet = e.executed.some(
    (a) => a.kind === 'SetReplicationPassword' || a.kind === 'EnsureReplicationUser',
  );
  const rotating = accountsSet && credentials?.replication?.complete === false;
  return repointed || rotating ? 0 : plan.requeueAfterMs;
}

interface Acted {
  journal: FailoverRecord[];
  execution: ExecuteResult;
  routed: RoutingResult;
  resourceVersion: string | undefined;
}

/** Journal first (conditional), then the annotations acted on, then the statements. */
async function act(
  store: Store,
  stored: StoredTopology,
  inputs: PassInputs,
  plan: PassPlan,
  exec: ExecuteContext,
  routing: RoutingDeps | undefined,
  now: () => Date,
): Promise<Acted | 'conflict'> {
  let version = stored.resourceVersion;
  // A move the journal may defer (into Repointing or Done) rides on the next cycle's write or the report's.
  if (plan.journalFirst || plan.credentialsStarted) {
    const base = inputs.previous ?? emptyStatus(plan.journal.some(isOpen) ? 'FailingOver' : 'Degraded');
    const status: TopologyStatus = {
      ...base,
      phase: plan.journal.some(isOpen) ? 'FailingOver' : base.phase,
      failovers: plan.journal,
      ...(plan.credentials ? { credentials: plan.credentials } : {}),
    };
    try {
      const written = await store.writeStatus(stored.ref, status, stored.generation, {
        ...(version !== undefined ? { resourceVersion: version } : {}),
      });
      version = written.resourceVersion ?? version;
    } catch (e) {
      if (e instanceof ConflictError) return 'conflict';
      throw e;
    }
  }
  // Conditional on the version decided on (or our own journal write's): an annotation set again in
  // between is left for the next pass, which decides on it.
  try {
    for (const key of plan.consume)
      version =
        (
          await store.removeAnnotation(stored.ref, key, {
            ...(version !== undefined ? { resourceVersion: version } : {}),
          })
        ).resourceVersion ?? version;
  } catch (e) {
    if (e instanceof ConflictError) return 'conflict';
    throw e;
  }
  // Drains before any statement (the old primary takes no more writes before anything is promoted);
  // routes and reader sets after them, a writer only once the statements on it succeeded.
  const targets = routing?.targets ?? [];
  const drains = await executeRouting(
    stored.ref,
    plan.routing.filter((r) => r.op === 'drain'),
    targets,
  );
  const execution = await executeActions(plan.actions, exec);
  const troubled = new Set([...execution.failures, ...execution.skipped].map((f) => f.action.member));
  const routes = await executeRouting(
    stored.ref,
    plan.routing.filter((r) => r.op !== 'drain' && !(r.op === 'route' && troubled.has(r.members[0]!.name))),
    targets,
  );
  const routed = {
    done: [...drains.done, ...routes.done],
    failures: [...drains.failures, ...routes.failures],
  };
  const journal = noteRouting(
    noteRepointed(plan.journal, execution.executed),
    routed,
    inputs.spec,
    now().toISOString(),
  );
  return { journal, execution, routed, resourceVersion: version };
}

/** The routing a record is waiting for, noted on it: the drain (or why it failed), then the route. */
function noteRouting(
  journal: FailoverRecord[],
  routed: RoutingResult,
  spec: TopologySpec,
  at: string,
): FailoverRecord[] {
  return journal.map((r) => {
    if (!isOpen(r)) return r;
    const mine = (s: RoutingStep) => s.failover === r.id;
    const drained = routed.done.some((s) => mine(s) && s.op === 'drain');
    const failed = routed.failures.filter((f) => mine(f.step) && f.step.op === 'drain');
    const routedTo = routed.done.some((s) => mine(s) && s.op === 'route' && s.members[0]?.name === r.to);
    return {
      ...r,
      ...(drained && !r.drainedAt ? { drainedAt: at } : {}),
      // Without requireDrain a failed drain is said and the failover goes on.
      ...(!drained && failed.length && !spec.failover.requireDrain && r.drainProblem === undefined
        ? { drainProblem: failed.map((f) => `${f.target}: ${f.message}`).join('; ') }
        : {}),
      ...(routedTo && !r.routedAt ? { routedAt: at } : {}),
    };
  });
}

/** Status groups with the routing their targets hold. */
function withGroupRouting(
  status: TopologyStatus,
  routing: ReadonlyMap<string, GroupRouting>,
  addMissing = false,
): TopologyStatus {
  const groups = status.groups.map((g) => {
    const r = routing.get(g.name);
    return r ? { ...g, routing: r } : g;
  });
  const present = new Set(groups.map((g) => g.name));
  if (addMissing)
    for (const [name, r] of routing)
      if (!present.has(name)) groups.push({ name, primary: null, members: 0, ready: 0, routing: r });
  return { ...status, groups };
}

/** Cycles of one pass at most: a failover has four phases to go through, a few statements each. */
const MAX_CYCLES = 6;

/**
 * Whether the pass goes on with another cycle at once: a failover or switchover is open and moved on
 * (it acted or changed phase) without a failure — what would otherwise be a new pass queued at once.
 */
function chained(
  cycle: number,
  plan: PassPlan,
  acted: Acted,
  credentials: CredentialsStatus | undefined,
): boolean {
  if (cycle + 1 >= MAX_CYCLES) return false;
  if (acted.execution.failures.length > 0 || acted.execution.skipped.length > 0) return false;
  if (acted.routed.failures.length > 0) return false;
  if (!acted.journal.some(isOpen)) return false;
  return requeueAfter(plan, acted.journal, acted.execution, credentials, acted.routed) === 0;
}

function routingEvents(r: RoutingResult, spec: TopologySpec): TopologyEvent[] {
  return [
    ...r.done.map((s): TopologyEvent => ({
      type: s.op === 'drain' ? 'Warning' : 'Normal',
      reason: s.op === 'drain' ? 'WriterDrained' : s.op === 'route' ? 'WriterRouted' : 'ReadersRouted',
      message: describeRoutingStep(s),
    })),
    ...r.failures.map((f): TopologyEvent => ({
      type: 'Warning',
      reason: 'RoutingFailed',
      message: `${f.target}: ${f.message}${f.step.op === 'drain' && f.step.failover ? (spec.failover.requireDrain ? '; the promotion waits for the drain (spec.failover.requireDrain)' : '; the failover goes on without it (spec.failover.requireDrain is false)') : ''}`,
    })),
  ];
}

function routingConditions(r: RoutingResult): Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[] {
  if (r.failures.length === 0) return [];
  return [
    {
      type: 'RoutingFailed',
      status: 'True',
      reason: r.failures[0]!.target === 'hook' ? 'HookFailed' : 'EndpointsFailed',
      message: r.failures.map((f) => `${f.step.group} ${f.step.op}: ${f.target}: ${f.message}`).join('; '),
    },
  ];
}

function routingInput(routing: RoutingDeps | undefined, ref: TopologyRef, spec: TopologySpec) {
  if (!routing?.targets.length) return {};
  const observed = routing.observe?.(ref, spec);
  return { routed: true, ...(observed ? { routingObserved: observed } : {}) };
}

/** Records the channels a repointing failover's group got repointed (for status and events). */
function noteRepointed(journal: FailoverRecord[], executed: Action[]): FailoverRecord[] {
  return journal.map((r) => {
    if (!isOpen(r) || r.phase !== 'Repointing') return r;
    const labels = executed.flatMap((a) =>
      a.kind === 'ConfigureChannel' && a.desired.fromGroup === r.group
        ? [channelLabel(a.member, a.channel)]
        : [],
    );
    return labels.length ? { ...r, repointed: [...new Set([...r.repointed, ...labels])] } : r;
  });
}

function executionEvents(e: ExecuteResult): TopologyEvent[] {
  return [
    ...e.executed.map((a): TopologyEvent => ({
      type: a.kind === 'SetReadOnly' && a.readOnly ? 'Warning' : 'Normal',
      reason: EVENT_REASON[a.kind](a),
      message: describeAction(a),
    })),
    ...e.failures.map((f): TopologyEvent => ({
      type: 'Warning',
      reason: 'ActionFailed',
      message: f.message,
    })),
  ];
}

function executionConditions(
  e: ExecuteResult,
): Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[] {
  if (e.failures.length === 0) return [];
  const shown = e.failures.slice(0, 5).map((f) => f.message);
  const more = e.failures.length > 5 ? `; and ${e.failures.length - 5} more` : '';
  const skipped = e.skipped.length > 0 ? ` (${e.skipped.length} dependent actions skipped)` : '';
  return [
    {
      type: 'ActionFailed',
      status: 'True',
      reason: e.failures[0]!.action.kind,
      message: `${shown.join('; ')}${more}${skipped}`,
    },
  ];
}

/** A stored status that did not parse whole: what was kept, what was dropped, said every pass until rewritten. */
function storeConditions(
  stored: StoredTopology,
): Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>[] {
  if (!stored.statusProblems?.length) return [];
  return [
    {
      type: 'StatusUnreadable',
      status: 'True',
      reason: 'StoredStatusPartlyDropped',
      message: `the stored status did not parse whole; kept what could be read (the failover journal first), dropped: ${stored.statusProblems.join('; ')}`,
    },
  ];
}

function storeEvents(stored: StoredTopology): TopologyEvent[] {
  return storeConditions(stored).map((c) => ({ type: 'Warning', reason: c.reason, message: c.message }));
}

/** Problems per channel: from findings, then from this pass's failed or skipped statements. */
function channelProblems(plan: PassPlan, e: ExecuteResult): Map<string, string> {
  const out = new Map(plan.channelProblems);
  for (const s of e.skipped)
    if ('channel' in s.action)
      out.set(failureLabel({ action: s.action, message: '' }), `skipped: ${s.because}`);
  for (const f of e.failures) out.set(failureLabel(f), f.message);
  return out;
}

function log(deps: ReconcilerDeps, topology: string, plan: PassPlan, e: ExecuteResult): void {
  // A problem the user must fix is printed as such (one line); its event need not be logged twice.
  for (const ev of plan.events) {
    const level = ev.type === 'Warning' && !plan.problems.includes(ev.message) ? 'warn' : 'info';
    deps.log[level]({ topology, reason: ev.reason }, ev.message);
  }
  for (const a of e.executed) {
    const t = 'channel' in a && a.channel !== undefined ? channelLabel(a.member, a.channel) : a.member;
    deps.log.info({ topology, action: a.kind, target: t }, describeAction(a));
  }
  for (const f of e.failures) deps.log.warn({ topology, statement: f.statement, errno: f.errno }, f.message);
}

/**
 * Which topologies probe which address: a member's broken connection wakes their pass at once, and an
 * address no topology's spec names any more (its member left, or its topology was deleted) has its
 * connections closed.
 */
function watchAddresses(deps: ReconcilerDeps) {
  const watchers = new Map<string, Map<string, TopologyRef>>();
  /** The addresses each topology used at its last pass, by refKey. */
  const used = new Map<string, Map<string, { host: string; port: number }>>();
  const { wake } = deps;
  if (wake) {
    deps.pool.onConnectionLost((a) => {
      for (const ref of watchers.get(addressKey(a.host, a.port))?.values() ?? []) wake(ref);
    });
  }
  /** The topology uses `now` (nothing, once deleted): addresses it let go of and no one else uses close. */
  const use = (ref: TopologyRef, now: Map<string, { host: string; port: number }>) => {
    const topology = refKey(ref);
    for (const [key, address] of used.get(topology) ?? []) {
      if (now.has(key)) continue;
      const refs = watchers.get(key);
      refs?.delete(topology);
      if (refs?.size) continue;
      watchers.delete(key);
      void deps.pool.closeServer(address).catch(() => undefined);
    }
    for (const key of now.keys()) watchers.set(key, (watchers.get(key) ?? new Map()).set(topology, ref));
    if (now.size) used.set(topology, now);
    else used.delete(topology);
  };
  return {
    track(ref: TopologyRef, inputs: PassInputs): void {
      const now = new Map<string, { host: string; port: number }>();
      for (const m of inputs.spec.groups.flatMap((g) => g.members)) {
        const target = m.connect ?? m;
        now.set(addressKey(target.host, target.port), { host: target.host, port: target.port });
      }
      use(ref, now);
    },
    release: (ref: TopologyRef) => use(ref, new Map()),
  };
}

function executionContext(
  plan: PassPlan,
  inputs: PassInputs,
  deps: ReconcilerDeps,
  mayWrite: () => boolean,
): ExecuteContext {
  const member = (name: string) => {
    const m = plan.view.members.get(name);
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
        ...(inputs.tls ? { tls: inputs.tls } : {}),
      });
    },
    dialect: (name: string) => dialectOf(member(name).obs!),
    replication: inputs.replication,
    isPrimary: (name: string) => plan.view.groups.some((g) => g.primary === name),
    groupOf: (name: string) => plan.view.members.get(name)?.group,
    mayWrite,
  };
}

/** Channels this pass (re)started whole: the report waits for them to connect. */
function startedChannels(executed: Action[]): { member: string; channel: string }[] {
  return executed.flatMap((a) =>
    a.kind === 'ConfigureChannel' ||
    a.kind === 'SetChannelPassword' ||
    (a.kind === 'StartChannel' && (a.threads ?? 'both') === 'both')
      ? [{ member: a.member, channel: a.channel }]
      : [],
  );
}

/**
 * After statements ran, observe again until the channels the pass started have connected (or failed),
 * bounded by settleMs: the report shows what the pass achieved. It decides nothing; the next pass does.
 */
async function settle(
  inputs: PassInputs,
  deps: ReconcilerDeps,
  journal: FailoverRecord[],
  started: { member: string; channel: string }[],
  credentials: CredentialsStatus | undefined,
): Promise<Pick<PassPlan, 'view' | 'findings' | 'remembered'>> {
  const deadline = Date.now() + (deps.settleMs ?? 4000);
  for (;;) {
    const observation = await observe(inputs, deps.pool, deps.probeTimeoutMs);
    const assessed = assess(inputs.spec, observation, inputs.previous, journal, {
      user: inputs.replication.username,
      credentials,
    });
    const connecting = started.some(({ member, channel }) => {
      const o = observation.instances.find((i) => i.member === member);
      const c = o?.channels.find((x) => x.name.toLowerCase() === channel.toLowerCase());
      return o?.reachable === true && (!c || (c.ioRunning === 'Connecting' && c.lastIOErrno === 0));
    });
    if (!connecting || Date.now() >= deadline) return assessed;
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
    ...(stored.resourceVersion !== undefined ? { resourceVersion: stored.resourceVersion } : {}),
  };
}
