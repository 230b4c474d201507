// Rotation of the replication password, as a journal in status (status.credentials), like a failover's.
//
// The operator cannot read a password back from a server, so it remembers a fingerprint of the credentials
// it applied: scrypt of the account and password with a random per-topology salt (not reversible; slow to
// guess from; computed once per change thanks to a small memo). What the servers already hold is verified,
// not assumed (observe/credentials-check.ts): a login as the replication account with the Secret's
// password, and on MySQL the channels' stored credentials compared on the server. A topology met for the
// first time (no record) is **adopted**: accounts that accept the password and channels that hold it (or
// whose password cannot be read, reported as unverified) are recorded as done, so a healthy topology gets
// no statement at all. A Secret whose fingerprint differs from the record's starts a rotation:
//   1. the record is reset and written before anything runs (a restarted operator resumes it);
//   2. ALTER USER on every group's primary (written on primaries only: it replicates to their replicas);
//   3. once a source's account has it, every managed channel from that source gets it (receiver restarted);
//   4. complete once every primary and every managed channel has it, every member having been seen.
// Each step is idempotent: a resumed pass redoes at most what the last pass did not record.
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import type { CredentialsRecord, CredentialsStatus } from '../api/status.js';
import type { Credentials } from '../api/validate.js';
import { feedsReplicas, type PasswordTargets } from '../analyze/findings.js';
import { managedChannels } from '../analyze/managed-channels.js';
import type { TopologyView } from '../analyze/view.js';
import { REPLICATION_ACCOUNT_HOST } from '../sql/grants.js';
import { channelLabel, type Action } from './actions.js';

/** A new random salt (hex), once per topology. */
export const newSalt = (): string => randomBytes(16).toString('hex');

/** scrypt cost: ~30 ms and 16 MiB per fingerprint, computed once per Secret change (memo below). */
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const MEMO_SIZE = 64;
const memo = new Map<string, string>();

/**
 * The fingerprint of an account's credentials: `scrypt:` and 32 bytes of hex. The same salt and
 * credentials give the same text; neither the password nor a plain hash of it is in it.
 */
export function fingerprint(salt: string, c: Credentials, host = REPLICATION_ACCOUNT_HOST): string {
  const material = `${c.username}\u0000${host}\u0000${c.password}`;
  // The memo is keyed by a hash of salt and material: it holds no password either.
  const key = createHash('sha256').update(salt).update('\u0000').update(material).digest('hex');
  const known = memo.get(key);
  if (known) return known;
  const out = `scrypt:${scryptSync(material, Buffer.from(salt, 'utf8'), 32, SCRYPT).toString('hex')}`;
  if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value!);
  memo.set(key, out);
  return out;
}

/** What gather knows of the replication Secret: its fingerprint under the topology's salt. */
export interface CredentialsInput {
  salt: string;
  fingerprint: string;
}

/** The stored record when it is the one of this Secret (same salt and fingerprint). */
const currentRecord = (stored: CredentialsStatus | undefined, input: CredentialsInput) =>
  stored?.salt === input.salt && stored.replication?.fingerprint === input.fingerprint
    ? stored.replication
    : undefined;

/**
 * Whose replication account gather must try the Secret on: every member the record does not cover yet;
 * undefined (nothing to verify, no extra login) once the record of this Secret is complete.
 */
export function accountsToVerify(
  stored: CredentialsStatus | undefined,
  input: CredentialsInput,
): ((member: string) => boolean) | undefined {
  const r = currentRecord(stored, input);
  if (r?.complete) return undefined;
  return (member) => !(r?.accounts.includes(member) ?? false);
}

/**
 * Whether a refused login as the replication account means, by itself, that the account holds another
 * password: yes in a rotation (the operator applied an earlier Secret, so the account is expected to hold
 * that one); no on first contact and while the record adoption started is open, where access denied may
 * as well be a host mismatch, REQUIRE SSL or an anonymous account shadowing it (observe/credentials-check.ts
 * then wants a channel's stored password to agree).
 */
export function refusalMeansStale(stored: CredentialsStatus | undefined, input: CredentialsInput): boolean {
  const r = stored?.replication;
  if (!r) return false;
  return currentRecord(stored, input) ? r.adopted !== true : true;
}

/**
 * The record a pass works from; `started`: a new record with work left (journaled before anything runs);
 * `adopted`: this pass met the topology for the first time (no record before). A new record starts from
 * what was verified on the servers; one with nothing left to do is complete at once (nothing to journal).
 */
export function startRotation(
  stored: CredentialsStatus | undefined,
  input: CredentialsInput,
  nowIso: string,
  view?: TopologyView,
): { credentials: CredentialsStatus; started: boolean; adopted: boolean } {
  const current = currentRecord(stored, input);
  if (current && stored) return { credentials: stored, started: false, adopted: false };
  const adopted = !stored?.replication;
  const found = view ? alreadyThere(view, adopted) : { accounts: [], channels: [], complete: false };
  const replication: CredentialsRecord = {
    fingerprint: input.fingerprint,
    since: nowIso,
    accounts: found.accounts,
    channels: found.complete ? [] : found.channels,
    complete: found.complete,
    ...(found.complete ? { completedAt: nowIso } : {}),
    ...(adopted ? { adopted: true } : {}),
  };
  return { credentials: { salt: input.salt, replication }, started: !found.complete, adopted };
}

const obsOf = (view: TopologyView, member: string) => view.members.get(member)?.obs;

/**
 * What already holds the Secret, by verification: accounts that accept its password; channels whose stored
 * credentials equal it, and — when adopting — channels from such an account whose password cannot be read
 * (adopted as they are, reported unverified: restarting a healthy channel on a guess is what adoption must
 * not do). In a rotation an unreadable channel is taken to hold the old password. Complete when nothing is
 * left: every feeding primary's account accepts it, every member was seen, every channel is covered.
 */
function alreadyThere(
  view: TopologyView,
  adopting: boolean,
): { accounts: string[]; channels: string[]; complete: boolean } {
  const accounts = [...view.members.keys()].filter((m) => obsOf(view, m)?.replicationLogin === true).sort();
  const accepting = new Set(accounts);
  const channels: string[] = [];
  let covered = true;
  for (const c of managedChannels(view)) {
    const stored = obsOf(view, c.member)?.channelCredentials?.[c.channel];
    const exists = c.held;
    const holds = exists && (stored === true || (adopting && stored !== false && accepting.has(c.source)));
    if (holds) channels.push(channelLabel(c.member, c.channel));
    else if (exists) covered = false;
  }
  const primariesHaveIt = view.groups.every(
    (g) => !feedsReplicas(view, g) || (g.primary !== undefined && accepting.has(g.primary)),
  );
  const allSeen = [...view.members.values()].every((m) => m.reachable);
  return { accounts, channels: channels.sort(), complete: primariesHaveIt && allSeen && covered };
}

/**
 * Where the password still has to go, for the analysis: a primary's account until the operator set it
 * under this fingerprint or found it accepting the password (so a primary promoted later gets it too); a
 * managed channel while the rotation runs, once its source's account has it (before that, the channel
 * still logs in with the old one), unless its stored credentials were found equal. An account whose check
 * could not tell (null) is left alone and reported, never changed on a guess.
 */
export function passwordTargets(
  record: CredentialsRecord | undefined,
  view?: Pick<TopologyView, 'members'>,
): PasswordTargets | undefined {
  if (!record) return undefined;
  const obs = (m: string) => view?.members.get(m)?.obs;
  return {
    accountStale: (member) => {
      const login = obs(member)?.replicationLogin;
      return !record.accounts.includes(member) && login !== true && login !== null;
    },
    channelStale: (member, channel, source) =>
      !record.complete &&
      record.accounts.includes(source) &&
      !record.channels.includes(channelLabel(member, channel)) &&
      obs(member)?.channelCredentials?.[channel] !== true,
  };
}

/**
 * The record after a pass's statements: accounts and channels that got the password are noted (channels
 * created or repointed get it too); the rotation is complete when, at decision time, every group's primary
 * already had it (so no channel waited for its source), every member was seen, and every statement that
 * carried the password ran.
 */
export function afterExecution(
  credentials: CredentialsStatus,
  view: TopologyView,
  planned: readonly Action[],
  executed: readonly Action[],
  nowIso: string,
): CredentialsStatus {
  const r = credentials.replication;
  if (!r) return credentials;
  const members = new Set(view.members.keys());
  const carried = (a: Action) =>
    a.kind === 'EnsureReplicationUser' ||
    a.kind === 'SetReplicationPassword' ||
    a.kind === 'SetChannelPassword' ||
    a.kind === 'ConfigureChannel';
  const accounts = new Set(r.accounts.filter((m) => members.has(m)));
  // Accounts found accepting the password count as set (their channels then follow, as in a rotation).
  for (const [name, m] of view.members) if (m.obs?.replicationLogin === true) accounts.add(name);
  const channels = new Set(r.channels);
  for (const a of executed) {
    if (a.kind === 'EnsureReplicationUser' || a.kind === 'SetReplicationPassword') accounts.add(a.member);
    if (a.kind === 'SetChannelPassword' || a.kind === 'ConfigureChannel')
      channels.add(channelLabel(a.member, a.channel));
  }
  const primariesHadIt = view.groups.every(
    (g) => !feedsReplicas(view, g) || (g.primary !== undefined && r.accounts.includes(g.primary)),
  );
  const allSeen = [...view.members.values()].every((m) => m.reachable);
  const allRan = planned.filter(carried).every((a) => executed.includes(a));
  const complete = r.complete || (primariesHadIt && allSeen && allRan);
  return {
    ...credentials,
    replication: {
      ...r,
      accounts: [...accounts].sort(),
      // Once complete, channels made later are made with the password: nothing more to track.
      channels: complete ? [] : [...channels].sort(),
      complete,
      ...(complete && !r.complete ? { completedAt: nowIso } : {}),
    },
  };
}

/** One line for status while a rotation runs. */
export function rotationMessage(record: CredentialsRecord, view: TopologyView): string {
  const waiting = view.groups
    .filter((g) => feedsReplicas(view, g) && g.primary !== undefined && !record.accounts.includes(g.primary))
    .map((g) => g.primary!)
    // An account whose check could not tell is not set on a guess (CredentialsUnverified says so).
    .filter((m) => view.members.get(m)?.obs?.replicationLogin !== null);
  const unseen = [...view.members.values()].filter((m) => !m.reachable).map((m) => m.spec.name);
  const parts = [
    `replication password being applied since ${record.since}`,
    ...(waiting.length ? [`accounts to set on ${waiting.join(', ')}`] : []),
    ...(record.channels.length ? [`${record.channels.length} channels done`] : []),
    ...(unseen.length ? [`waiting to see ${unseen.join(', ')}`] : []),
  ];
  return parts.join('; ');
}
