// The managed channels a view expects, enumerated in one place (the analysis, adoption and the credentials
// record all walk them): each replica's default channel '' from its group's primary, and each declared
// channel into a group's primary from its source group's primary, under the name the primary already gives
// it (channel names match case-insensitively).
import type { ChannelSpec } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';
import type { GroupView, MemberView, TopologyView } from './view.js';

/** A declared channel of a group whose source group has a primary. */
export interface DeclaredChannel {
  spec: ChannelSpec;
  /** The channel's name on the group's primary: its current spelling there, else the spec's. */
  name: string;
  /** The source group's primary. */
  source: MemberView;
  /** The channel as the group's primary has it now, if it has it. */
  current: ChannelStatus | undefined;
}

/** The group's declared channels that have a source to receive from, into its primary. */
export function declaredChannels(
  view: Pick<TopologyView, 'groups' | 'members'>,
  g: GroupView,
): DeclaredChannel[] {
  const channels = (g.primary && view.members.get(g.primary)?.obs?.channels) || [];
  return g.spec.channels.flatMap((spec) => {
    const from = view.groups.find((x) => x.spec.name === spec.from);
    const source = from?.members.find((m) => m.spec.name === from.primary);
    if (!source) return [];
    const current = channels.find((c) => c.name.toLowerCase() === spec.name.toLowerCase());
    return [{ spec, name: current?.name ?? spec.name, source, current }];
  });
}

/** A managed channel: the member holding it, its name, the member it should receive from. */
export interface ManagedChannelRef {
  member: string;
  channel: string;
  source: string;
}

/** Every managed channel the view expects, replicas' default channels first, group by group. */
export function managedChannels(view: Pick<TopologyView, 'groups' | 'members'>): ManagedChannelRef[] {
  const out: ManagedChannelRef[] = [];
  for (const g of view.groups) {
    if (!g.primary) continue;
    for (const m of g.members)
      if (m.spec.name !== g.primary) out.push({ member: m.spec.name, channel: '', source: g.primary });
    for (const c of declaredChannels(view, g))
      out.push({ member: g.primary, channel: c.name, source: c.source.spec.name });
  }
  return out;
}
