// Rotation of the replication password, as a journal in status (status.credentials), like a failover's.
//
// The operator cannot read a password back from a server, so it remembers a fingerprint of the credentials
// it applied: scrypt of the account and password with a random per-topology salt (not reversible; slow to
// guess from; computed once per change thanks to a small memo). A Secret whose fingerprint differs from
// the record's — or a topology without a record, whose servers' passwords are unknown — starts a rotation:
//   1. the record is reset and written before anything runs (a restarted operator resumes it);
//   2. ALTER USER on every group's primary (written on primaries only: it replicates to their replicas);
//   3. once a source's account has it, every managed channel from that source gets it (receiver restarted);
//   4. complete once every primary and every managed channel has it, every member having been seen.
// Each step is idempotent: a resumed pass redoes at most what the last pass did not record.
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import type { CredentialsRecord, CredentialsStatus } from '../api/status.js';
import type { Credentials } from '../api/validate.js';
import { feedsReplicas, type PasswordTargets } from '../analyze/findings.js';
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

/** The record a pass works from, and whether it is a new rotation (written before anything runs). */
export function startRotation(
  stored: CredentialsStatus | undefined,
  input: CredentialsInput,
  nowIso: string,
): { credentials: CredentialsStatus; started: boolean } {
  if (stored?.salt === input.salt && stored.replication?.fingerprint === input.fingerprint)
    return { credentials: stored, started: false };
  const replication: CredentialsRecord = {
    fingerprint: input.fingerprint,
    since: nowIso,
    accounts: [],
    channels: [],
    complete: false,
  };
  return { credentials: { salt: input.salt, replication }, started: true };
}

/**
 * Where the password still has to go, for the analysis: a primary's account until the operator set it
 * under this fingerprint (so a primary promoted later gets it too); a managed channel while the rotation
 * runs, once its source's account has it (before that, the channel still logs in with the old one).
 */
export function passwordTargets(record: CredentialsRecord | undefined): PasswordTargets | undefined {
  if (!record) return undefined;
  return {
    accountStale: (member) => !record.accounts.includes(member),
    channelStale: (member, channel, source) =>
      !record.complete &&
      record.accounts.includes(source) &&
      !record.channels.includes(channelLabel(member, channel)),
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
    .map((g) => g.primary!);
  const unseen = [...view.members.values()].filter((m) => !m.reachable).map((m) => m.spec.name);
  const parts = [
    `replication password being applied since ${record.since}`,
    ...(waiting.length ? [`accounts to set on ${waiting.join(', ')}`] : []),
    ...(record.channels.length ? [`${record.channels.length} channels done`] : []),
    ...(unseen.length ? [`waiting to see ${unseen.join(', ')}`] : []),
  ];
  return parts.join('; ');
}
