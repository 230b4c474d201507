// Is a group's primary alive? Pure: the view, each member's streak of failed probes, the declared window.
//
// A primary counts as dead only when (1) it has been unreachable for the whole declared window
// (spec.failover.downAfterSeconds) with at least failureThreshold consecutive failed probes, and (2) every
// channel on a reachable server whose source it is reports its receiver not running. A restart shorter than
// the window is never a failover; re-probes during the window can only find it alive sooner.
import { IO_UNREACHABLE_ERRNOS } from '../sql/errors.js';
import { channelSourceMember, type TopologyView } from '../analyze/view.js';

export interface Witness {
  member: string;
  channel: string;
  receiver: string;
  /** The receiver's last error number (0: none). */
  errno: number;
}

/**
 * A witness that says its source is down: its receiver keeps trying to connect, or stopped on a connection
 * error. A receiver stopped by hand, or broken on another error (a wrong password, purged binlogs), says
 * nothing about the source's health.
 */
export const agreesDown = (w: Witness): boolean =>
  w.receiver === 'Connecting' || (w.receiver === 'No' && IO_UNREACHABLE_ERRNOS.has(w.errno));

/** Consecutive failed probes of one member: when the first failed (ms since the epoch) and how many. */
export interface ProbeStreak {
  since: number;
  failures: number;
}

export interface DetectionPolicy {
  downAfterMs: number;
  failureThreshold: number;
}

export type PrimaryHealth = { group: string; primary: string; failures: number } & (
  | { state: 'Healthy' }
  /**
   * It answers but refuses the operator (a login, a privilege, TLS): alive, so never a failover; what it
   * refuses is reported, and nothing is done on it until that is fixed.
   */
  | { state: 'Refused'; refused: 'auth' | 'privilege' | 'tls'; error: string }
  /** Unreachable for less than the window (or fewer probes than the threshold): re-probe, wait. */
  | { state: 'Suspect'; deadAt: number }
  /** The operator cannot reach it but replicas still receive from it: the operator alone is cut off. */
  | { state: 'Unreachable'; witnesses: Witness[] }
  /** Nothing that replicates from it says it is down (none, or only stopped or otherwise broken receivers). */
  | { state: 'NoWitness' }
  | { state: 'Dead'; witnesses: Witness[] }
);

/** Every channel on a reachable server whose source is `member`: the witnesses of its health. */
export function witnessesOf(view: TopologyView, member: string): Witness[] {
  const out: Witness[] = [];
  for (const m of view.members.values()) {
    if (!m.reachable || !m.obs) continue;
    for (const ch of m.obs.channels) {
      if (channelSourceMember(view, ch) === member)
        out.push({ member: m.spec.name, channel: ch.name, receiver: ch.ioRunning, errno: ch.lastIOErrno });
    }
  }
  return out;
}

/**
 * The streaks after one more observation: reachable members start over, the others count on. A member
 * that answered but refused the probe (login, privilege, TLS) is not down: its streak ends too.
 */
export function nextStreaks(
  previous: ReadonlyMap<string, ProbeStreak>,
  observed: readonly { member: string; reachable: boolean; refused?: string | undefined }[],
  nowMs: number,
): Map<string, ProbeStreak> {
  const out = new Map<string, ProbeStreak>();
  for (const o of observed) {
    if (o.reachable || o.refused) continue;
    const before = previous.get(o.member);
    out.set(o.member, before ? { ...before, failures: before.failures + 1 } : { since: nowMs, failures: 1 });
  }
  return out;
}

export function assessPrimaries(
  view: TopologyView,
  streaks: ReadonlyMap<string, ProbeStreak>,
  policy: DetectionPolicy,
  nowMs: number,
): PrimaryHealth[] {
  return view.groups.flatMap((g): PrimaryHealth[] => {
    if (!g.primary) return [];
    const streak = streaks.get(g.primary);
    const base = { group: g.spec.name, primary: g.primary, failures: streak?.failures ?? 0 };
    const obs = view.members.get(g.primary)?.obs;
    if (obs?.refused)
      return [{ ...base, failures: 0, state: 'Refused', refused: obs.refused, error: obs.error ?? '' }];
    if (!streak) return [{ ...base, state: 'Healthy' }];
    const deadAt = streak.since + policy.downAfterMs;
    if (nowMs < deadAt || streak.failures < policy.failureThreshold)
      return [{ ...base, state: 'Suspect', deadAt }];
    const witnesses = witnessesOf(view, g.primary);
    if (witnesses.some((w) => w.receiver === 'Yes')) return [{ ...base, state: 'Unreachable', witnesses }];
    // Consensus needs a witness that says it is down; silence (stopped or otherwise broken receivers) is none.
    if (!witnesses.some(agreesDown)) return [{ ...base, state: 'NoWitness' }];
    return [{ ...base, state: 'Dead', witnesses }];
  });
}

/**
 * When a suspect primary should be probed next: often enough that failureThreshold probes fit in the
 * window, and exactly when the window ends (never later than the poll interval).
 */
export function nextProbeInMs(
  h: PrimaryHealth,
  policy: DetectionPolicy,
  pollMs: number,
  nowMs: number,
): number {
  if (h.state !== 'Suspect') return pollMs;
  const spacing = Math.min(pollMs, policy.downAfterMs / Math.max(1, policy.failureThreshold));
  return Math.max(0, Math.min(spacing, h.deadAt - nowMs));
}
