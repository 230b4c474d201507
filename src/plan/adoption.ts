// What adoption does: a topology met for the first time (no credentials record in status) is taken as it
// is wherever it already matches the spec. One line per member and per managed channel — "adopted as is",
// or "will <do X> because <Y>" — for `tributary plan`, and the condition naming what could not be
// verified. Pure: view, the pass's actions and the servers' verified facts in, text out.
import type { Flavor } from '../api/spec.js';
import type { TopologyView } from '../analyze/view.js';
import { managedChannels } from '../analyze/managed-channels.js';
import type { ConditionDraft } from './condition.js';
import { actionTarget, channelLabel, type Action } from './actions.js';

export interface AdoptionLine {
  /** `member` or `member/channel`. */
  target: string;
  /** False: adopted as is; true: a statement will change it. */
  changes: boolean;
  text: string;
}

/** The action as a verb phrase ("make read-only", "change its connection settings"…). */
function verb(a: Action, flavor: Flavor | undefined): string {
  switch (a.kind) {
    case 'SetReadOnly':
      return a.readOnly ? 'make it read-only' : 'make it writable';
    case 'PersistReadOnly':
      return 'persist super_read_only for its next start (one-time fence: SET PERSIST_ONLY, nothing restarts)';
    case 'EnsureReplicationUser':
      return 'create the replication account';
    case 'SetReplicationPassword':
      return "set the replication account's password (ALTER USER)";
    case 'SetChannelPassword':
      return 'give it the replication password';
    case 'ConfigureChannel':
      return a.exists
        ? a.connectionOnly
          ? `change its connection settings (${flavor === 'mariadb' ? 'the whole channel restarts: MariaDB refuses CHANGE MASTER otherwise' : 'only its receiver restarts'})`
          : `repoint it from ${a.desired.source} (stop, change, start)`
        : `create it from ${a.desired.source}`;
    case 'RemoveChannel':
      return 'stop and remove it';
    case 'StartChannel':
      return 'start it';
    case 'StopChannel':
      return 'stop it';
    case 'WaitForGtid':
      return `wait for ${a.gtidSet || 'nothing'}`;
  }
}

const will = (view: TopologyView, a: Action) =>
  `will ${verb(a, view.members.get(a.member)?.obs?.flavor)} because ${a.reason}`;

/**
 * One line per member and per managed channel. Members: what is done to them (fencing, accounts), else
 * adopted with their role; channels: what is done to them, else adopted, saying how their credentials were
 * verified (or that they could not be).
 */
export function adoptionReport(view: TopologyView, actions: readonly Action[]): AdoptionLine[] {
  const out: AdoptionLine[] = [];
  // Actions by target (member-wide, or one channel), in plan order, indexed once: a scan of every action
  // per member and per channel would grow with their product.
  const key = (member: string, channel: string | undefined) =>
    channel === undefined ? member : `${member}\u0000${channel.toLowerCase()}`;
  const byTarget = new Map<string, Action[]>();
  for (const a of actions) {
    const k = key(a.member, actionTarget(a).channel);
    const list = byTarget.get(k);
    if (list) list.push(a);
    else byTarget.set(k, [a]);
  }
  const memberWide = (m: string) => byTarget.get(key(m, undefined)) ?? [];
  for (const g of view.groups) {
    for (const m of g.members) {
      const name = m.spec.name;
      if (!m.reachable) {
        out.push({ target: name, changes: false, text: `not reachable: nothing known, nothing changed` });
        continue;
      }
      const mine = memberWide(name);
      const login = m.obs?.replicationLogin;
      const role =
        g.primary === name
          ? `primary of ${g.spec.name}${m.readOnly === false ? ', writable' : ''}`
          : `replica in ${g.spec.name}${m.readOnly ? ', read-only' : ''}`;
      const account =
        login === true
          ? "; its replication account accepts the Secret's password"
          : login === null
            ? "; could not check its replication account's password (unverified, left as it is)"
            : '';
      if (mine.length === 0)
        out.push({ target: name, changes: false, text: `adopted as is (${role}${account})` });
      for (const a of mine) out.push({ target: name, changes: true, text: will(view, a) });
    }
  }
  for (const c of managedChannels(view)) {
    const label = channelLabel(c.member, c.channel);
    const mine = byTarget.get(key(c.member, c.channel)) ?? [];
    const obs = view.members.get(c.member)?.obs;
    if (!obs?.reachable) continue;
    if (mine.length > 0) {
      for (const a of mine) out.push({ target: label, changes: true, text: will(view, a) });
      continue;
    }
    if (!c.held) continue;
    const stored = obs.channelCredentials?.[c.channel];
    if (stored === false) {
      // Read, and not the Secret's: it gets the Secret's once its source's account has it (a rotation).
      out.push({
        target: label,
        changes: false,
        text: `not changed yet (from ${c.source}; its stored password differs from the Secret's (or its user does): it gets the Secret's once ${c.source}'s account has it)`,
      });
      continue;
    }
    const how =
      stored === true
        ? "its stored user and password are the Secret's"
        : `its stored password could not be read here (${obs.flavor === 'mariadb' ? 'MariaDB keeps it in a file' : 'no SELECT on mysql.slave_master_info, or the read failed'}): unverified`;
    out.push({ target: label, changes: false, text: `adopted as is (from ${c.source}; ${how})` });
  }
  return out;
}

/**
 * The condition naming what adoption could not verify: accounts whose check could not tell, and (on the
 * pass that adopts) channels taken as they are without reading their password. Undefined: all verified.
 */
export function unverifiedCondition(
  view: TopologyView,
  actions: readonly Action[],
  adopting: boolean,
  accountsOpen: (member: string) => boolean,
): ConditionDraft | undefined {
  const accounts = [...view.members.values()]
    .filter((m) => m.obs?.replicationLogin === null && accountsOpen(m.spec.name))
    .map((m) => m.spec.name);
  const touched = new Set(
    actions.flatMap((a) => {
      const t = actionTarget(a);
      return t.channel !== undefined ? [channelLabel(t.member, t.channel)] : [];
    }),
  );
  const channels = adopting
    ? managedChannels(view)
        .filter((c) => {
          const obs = view.members.get(c.member)?.obs;
          return (
            obs?.reachable === true &&
            c.held &&
            // Read and found different is not "unverified": the rotation gives it the Secret's.
            (obs.channelCredentials?.[c.channel] ?? null) === null &&
            !touched.has(channelLabel(c.member, c.channel))
          );
        })
        .map((c) => channelLabel(c.member, c.channel))
    : [];
  if (accounts.length === 0 && channels.length === 0) return undefined;
  const parts = [
    ...(accounts.length
      ? [
          `could not check the replication account's password on ${accounts.join(', ')} (left as it is: no answer, or access denied with no channel's stored password to confirm a different password — a host mismatch, REQUIRE SSL or an anonymous account deny access too)`,
        ]
      : []),
    ...(channels.length
      ? [
          `adopted without reading their stored password: ${channels.join(', ')} (they get the Secret's password at its next change, or when repointed)`,
        ]
      : []),
  ];
  return {
    type: 'CredentialsUnverified',
    status: 'True',
    reason: accounts.length ? 'AccountUnchecked' : 'ChannelPasswordUnreadable',
    message: parts.join('; '),
  };
}
