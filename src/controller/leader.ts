// Leader election with a coordination.k8s.io/v1 Lease (the algorithm of client-go's leaderelection).
//
// - A candidate takes the Lease when it does not exist, is released (no holder), or has not changed for
//   leaseDuration by the candidate's own clock (remote timestamps are not trusted: clocks skew).
// - A standby counts that duration from the earliest moment the holder's last renewal can have happened by
//   its own clock: just after its previous read, which still showed the older record (client-go counts from
//   the read that first showed the new one, up to a retry period later). It never counts from earlier than
//   half the margin leaseDuration − renewDeadline before that read, so a holder that renewed just before
//   the read has stopped acting (its renew deadline) with time to spare when the standby takes over.
// - A standby waiting on a held Lease tries again exactly when it expires, not only every retryPeriod: with
//   both, a hot standby takes over within about leaseDuration of the holder's death.
// - The leader renews every retryPeriod (2 s). Updates carry the resourceVersion read, so two candidates
//   racing for the Lease get one success and one 409 (that round is lost; it retries next period).
// - isLeader() turns false the moment the last successful renewal is older than renewDeadline (10 s), before
//   the Lease can expire for others (15 s), and at once when a renewal finds another holder. Losing calls
//   onStoppedLeading({ lost: true }): the operator then ends the process with a non-zero exit at once, as
//   controller-runtime's manager does (the Deployment restarts it as a standby; nothing it held in memory
//   can then act on a stale view). Stopping on purpose calls it with lost: false.
// - On stop, a leader releases the Lease (empty holder) so a successor takes over without waiting.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { sleep, systemClock, type Clock } from '../util/clock.js';
import { silentLog, type Log } from '../util/log-sink.js';
import { describeError, statusCodeOf } from '../store/kubernetes.js';

export const DEFAULT_LEASE_NAME = 'tributary-operator';

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the Lease (the operator's own namespace). */
  namespace: string;
  name?: string;
  /** Unique per process: the pod name plus a random suffix by default. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Log;
  onStartedLeading?: () => void;
  onStoppedLeading?: (how: { lost: boolean; reason: string }) => void;
}

export type AttemptResult = 'acquired' | 'renewed' | 'held' | 'conflict' | 'error';

export function defaultIdentity(): string {
  return `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  readonly name: string;
  readonly namespace: string;
  /** Completed acquire/renew attempts (tests wait on it). */
  rounds = 0;
  private readonly api: CoordinationV1Api;
  private readonly clock: Clock;
  private readonly log: Log;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private lastRenew = 0;
  private cancelWatchdog: () => void = () => {};
  /** The Lease spec last observed, and when (by our clock) it last changed. */
  private observed: { record: string; at: number } | undefined;
  /** When our last successful read of the Lease was sent (by our clock). */
  private lastReadAt: number | undefined;
  /** When the Lease another candidate holds expires for us (by our clock), after a 'held' round. */
  private heldUntil: number | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace;
    this.name = options.name ?? DEFAULT_LEASE_NAME;
    this.identity = options.identity ?? defaultIdentity();
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLog;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
  }

  /** True while this process holds a Lease it renewed within renewDeadline. */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenew < this.renewDeadlineMs;
  }

  /** Campaigns and renews until the signal aborts; then releases the Lease if held. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const result = await this.tryAcquireOrRenew();
      if (signal.aborted) break;
      if (result === 'acquired' || result === 'renewed') {
        this.armWatchdog();
        if (!this.leading) {
          this.leading = true;
          this.log.info(
            { lease: `${this.namespace}/${this.name}`, identity: this.identity },
            'leader election: became leader',
          );
          this.options.onStartedLeading?.();
        }
      } else if (this.leading) {
        const expired = this.clock.now() - this.lastRenew >= this.renewDeadlineMs;
        if (result === 'held' || expired) {
          this.stopLeading(
            result === 'held' ? 'another candidate holds the lease' : 'could not renew within the deadline',
          );
        }
      }
      await sleep(this.clock, this.nextRoundInMs(result), signal);
    }
    if (this.leading) {
      await this.release();
      this.stopLeading('stopping');
    }
    this.cancelWatchdog();
  }

  /** One round: create, take over or renew the Lease. */
  async tryAcquireOrRenew(): Promise<AttemptResult> {
    try {
      return await this.attempt();
    } finally {
      this.rounds++;
    }
  }

  /** Gives the Lease up (empty holder) when this process holds it; errors are logged. */
  async release(): Promise<void> {
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = new V1MicroTime(this.clock.now());
      lease.spec = {
        ...lease.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: now,
        acquireTime: now,
      };
      await this.api.replaceNamespacedLease({ namespace: this.namespace, name: this.name, body: lease });
      this.log.info({ lease: `${this.namespace}/${this.name}` }, 'leader election: lease released');
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'leader election: releasing the lease failed');
    }
  }

  /** The retry period, or less when a held Lease expires sooner: the round that can take it runs then. */
  nextRoundInMs(result: AttemptResult): number {
    if (result !== 'held' || this.heldUntil === undefined) return this.retryPeriodMs;
    return Math.max(0, Math.min(this.retryPeriodMs, this.heldUntil - this.clock.now()));
  }

  /** Loses leadership at the renew deadline even when a renewal request hangs. */
  private armWatchdog(): void {
    this.cancelWatchdog();
    const renewed = this.lastRenew;
    this.cancelWatchdog = this.clock.schedule(this.renewDeadlineMs, () => {
      if (this.lastRenew === renewed) this.stopLeading('could not renew within the deadline');
    });
  }

  private stopLeading(reason: string): void {
    this.cancelWatchdog();
    if (!this.leading) return;
    this.leading = false;
    const lost = reason !== 'stopping';
    if (lost)
      this.log.error({ lease: `${this.namespace}/${this.name}`, reason }, 'leader election: lost the lease');
    else this.log.info({ lease: `${this.namespace}/${this.name}` }, 'leader election: stopped leading');
    this.options.onStoppedLeading?.({ lost, reason });
  }

  private async attempt(): Promise<AttemptResult> {
    const now = this.clock.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name });
    } catch (e) {
      if (statusCodeOf(e) !== 404) {
        this.log.warn({ err: describeError(e) }, 'leader election: reading the lease failed');
        return 'error';
      }
      try {
        const t = new V1MicroTime(now);
        await this.api.createNamespacedLease({
          namespace: this.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: t,
              renewTime: t,
              leaseTransitions: 0,
            },
          },
        });
        this.lastRenew = now;
        return 'acquired';
      } catch (e2) {
        if (statusCodeOf(e2) === 409) return 'conflict';
        this.log.warn({ err: describeError(e2) }, 'leader election: creating the lease failed');
        return 'error';
      }
    }

    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity,
      String(spec.renewTime ?? ''),
      spec.leaseDurationSeconds,
    ]);
    const previousRead = this.lastReadAt;
    this.lastReadAt = now;
    if (!this.observed || this.observed.record !== record) {
      // It changed after our previous read was sent (that read showed the older record): count from
      // then, but never from more than half the safety margin before this read.
      const margin = (this.leaseDurationMs - this.renewDeadlineMs) / 2;
      const at = this.observed && previousRead !== undefined ? Math.max(previousRead, now - margin) : now;
      this.observed = { record, at };
    }
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.identity;
    const theirDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    this.heldUntil = undefined;
    if (holder && !mine && this.observed.at + theirDurationMs > now) {
      this.heldUntil = this.observed.at + theirDurationMs;
      return 'held';
    }

    const t = new V1MicroTime(now);
    const next: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: t,
        acquireTime: mine ? spec.acquireTime : t,
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      // The body carries metadata.resourceVersion: a concurrent update makes this a 409.
      const updated = await this.api.replaceNamespacedLease({
        namespace: this.namespace,
        name: this.name,
        body: next,
      });
      const s = updated.spec ?? {};
      this.observed = {
        record: JSON.stringify([s.holderIdentity, String(s.renewTime ?? ''), s.leaseDurationSeconds]),
        at: now,
      };
      this.lastRenew = now;
      return mine ? 'renewed' : 'acquired';
    } catch (e) {
      if (statusCodeOf(e) === 409) return mine ? 'error' : 'conflict';
      this.log.warn({ err: describeError(e) }, 'leader election: updating the lease failed');
      return 'error';
    }
  }
}
