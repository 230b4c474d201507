// The graph of groups, members and channels as observed, with each group's primary decided. Pure.
import type { GroupSpec, Member, TopologySpec } from '../api/spec.js';
import type { ChannelStatus, FailoverRecord, Role, TopologyStatus } from '../api/status.js';
import type { InstanceObservation, Observation } from '../observe/types.js';

export interface MemberView {
  spec: Member;
  group: string;
  obs: InstanceObservation | undefined;
  reachable: boolean;
  readOnly: boolean | undefined;
  /** The member its default channel '' replicates from, when that source is a member of the topology. */
  defaultSource: string | undefined;
}

export interface GroupView {
  spec: GroupSpec;
  /** The decided primary (may be unreachable: detection of a dead primary needs to know who it was). */
  primary: string | undefined;
  /** Why this member is primary: 'failover' | 'discovered' | 'remembered' | 'bootstrap'. */
  primaryBasis: 'failover' | 'discovered' | 'remembered' | 'bootstrap' | 'none';
  members: MemberView[];
}

export interface TopologyView {
  spec: TopologySpec;
  groups: GroupView[];
  members: Map<string, MemberView>;
  /** host:port (lowercase host) → member name: how channel sources are recognized. */
  byAddress: Map<string, string>;
  previous: TopologyStatus | undefined;
}

export const addressKey = (host: string, port: number): string => `${host.toLowerCase()}:${port}`;

export function channelSourceMember(
  view: Pick<TopologyView, 'byAddress'>,
  ch: ChannelStatus,
): string | undefined {
  return view.byAddress.get(addressKey(ch.sourceHost, ch.sourcePort));
}

export function defaultChannel(obs: InstanceObservation | undefined): ChannelStatus | undefined {
  return obs?.channels.find((c) => c.name === '');
}

/**
 * The failover that decides a group's primary: the newest record of the group that did not abort (an
 * aborted one changed nothing, so the one before it still says who the primary is).
 */
export function governingFailover(group: string, journal: FailoverRecord[]): FailoverRecord | undefined {
  for (let i = journal.length - 1; i >= 0; i--) {
    const r = journal[i]!;
    if (r.group === group && r.phase !== 'Aborted') return r;
  }
  return undefined;
}

/** A failover or switchover of the group is open: its temporary catch-up channel is expected. */
export function failingOver(view: Pick<TopologyView, 'previous'>, group: string): boolean {
  return (view.previous?.failovers ?? []).some(
    (r) => r.group === group && r.phase !== 'Done' && r.phase !== 'Aborted',
  );
}

export function buildView(
  spec: TopologySpec,
  observation: Observation,
  previous?: TopologyStatus,
): TopologyView {
  const byAddress = new Map<string, string>();
  for (const g of spec.groups) for (const m of g.members) byAddress.set(addressKey(m.host, m.port), m.name);
  const obsByName = new Map(observation.instances.map((o) => [o.member, o]));
  // The primary status remembers per group (the first entry of a name, as a scan would find it).
  const remembered = new Map<string, string | undefined>();
  for (const s of previous?.groups ?? [])
    if (!remembered.has(s.name)) remembered.set(s.name, s.primary ?? undefined);
  const members = new Map<string, MemberView>();
  const groups: GroupView[] = spec.groups.map((g) => {
    const views = g.members.map((m): MemberView => {
      const obs = obsByName.get(m.name);
      const def = defaultChannel(obs);
      const v: MemberView = {
        spec: m,
        group: g.name,
        obs,
        reachable: obs?.reachable === true,
        readOnly: obs?.vars?.readOnly,
        defaultSource: def ? channelSourceMember({ byAddress }, def) : undefined,
      };
      members.set(m.name, v);
      return v;
    });
    const { primary, basis } = decidePrimary(g, views, previous, remembered);
    return { spec: g, primary, primaryBasis: basis, members: views };
  });
  return { spec, groups, members, byAddress, previous };
}

/**
 * The primary is discovered: the writable member that replicates from no other member of its group.
 * A failover in the journal overrides discovery (its target is the primary even before it is writable);
 * the primary remembered in status keeps its place while it lives, so a second writable member never
 * steals the role; with nothing writable and no memory, the first listed member is the primary.
 */
export function decidePrimary(
  g: GroupSpec,
  views: MemberView[],
  previous: TopologyStatus | undefined,
  /** The primary status remembers per group, when the caller indexed it (buildView does, once). */
  rememberedPrimaries?: ReadonlyMap<string, string | undefined>,
): { primary: string | undefined; basis: GroupView['primaryBasis'] } {
  const record = governingFailover(g.name, previous?.failovers ?? []);
  if (record && ['Promoting', 'Repointing', 'Done'].includes(record.phase))
    return { primary: record.to, basis: 'failover' };
  if (record) return { primary: record.from, basis: 'remembered' };
  const memberNames = new Set(g.members.map((m) => m.name));
  const remembered = rememberedPrimaries
    ? rememberedPrimaries.get(g.name)
    : (previous?.groups.find((s) => s.name === g.name)?.primary ?? undefined);
  const writableRoots = views.filter(
    (v) => v.reachable && v.readOnly === false && !(v.defaultSource && memberNames.has(v.defaultSource)),
  );
  if (remembered && memberNames.has(remembered)) {
    const rv = views.find((v) => v.spec.name === remembered)!;
    // Remembered and still plausible: writable, or unreachable (the failover step decides about it).
    if (!rv.reachable || writableRoots.includes(rv)) return { primary: remembered, basis: 'remembered' };
  }
  if (writableRoots.length > 0) return { primary: writableRoots[0]!.spec.name, basis: 'discovered' };
  if (remembered && memberNames.has(remembered)) return { primary: remembered, basis: 'remembered' };
  // Nothing writable: the member the others replicate from, else the first listed.
  const pointedAt = views.map((v) => v.defaultSource).find((s) => s !== undefined && memberNames.has(s));
  const rootOfChain =
    pointedAt && !views.find((v) => v.spec.name === pointedAt)?.defaultSource ? pointedAt : undefined;
  if (rootOfChain) return { primary: rootOfChain, basis: 'discovered' };
  return { primary: g.members[0]?.name, basis: 'bootstrap' };
}

export function memberRole(view: TopologyView, g: GroupView, m: MemberView, fenced: Set<string>): Role {
  if (fenced.has(m.spec.name)) return 'fenced';
  if (!m.reachable) return 'unknown';
  if (g.primary === m.spec.name) return 'primary';
  return m.defaultSource === g.primary ? 'replica' : 'fenced';
}

const groupIndexes = new WeakMap<readonly GroupView[], Map<string, GroupView>>();

/** A group of the view by name: indexed once per view (it is looked up per channel; a scan would be quadratic). */
export function groupOf(view: Pick<TopologyView, 'groups'>, name: string): GroupView | undefined {
  let index = groupIndexes.get(view.groups);
  if (!index) {
    index = new Map();
    for (const g of view.groups) if (!index.has(g.spec.name)) index.set(g.spec.name, g);
    groupIndexes.set(view.groups, index);
  }
  return index.get(name);
}
