// The managed channels a view expects, enumerated in one place (the analysis, adoption and the credentials
// record all walk them): each replica's default channel '' from its group's primary, and each declared
// channel into a group's primary from its source group's primary, under the name the primary already gives
// it (channel names match case-insensitively).
import type { ChannelSpec } from '../api/spec.js';
import type { ChannelStatus } from '../api/status.js';
import { groupOf, type GroupView, type MemberView, type TopologyView } from './view.js';

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
  // The primary's channels by lower-case name, the first of a name kept: looked up once per declared
  // channel (a scan per channel would be quadratic in an aggregator's channels).
  const channels = new Map<string, ChannelStatus>();
  for (const c of (g.primary && view.members.get(g.primary)?.obs?.channels) || [])
    if (!channels.has(c.name.toLowerCase())) channels.set(c.name.toLowerCase(), c);
  return g.spec.channels.flatMap((spec) => {
    const from = groupOf(view, spec.from);
    const source = from?.members.find((m) => m.spec.name === from.primary);
    if (!source) return [];
    const current = channels.get(spec.name.toLowerCase());
    return [{ spec, name: current?.name ?? spec.name, source, current }];
  });
}

/** A managed channel: the member holding it, its name, the member it should receive from. */
export interface ManagedChannelRef {
  member: string;
  channel: string;
  source: string;
  /** The member holds a channel of exactly that name now (known here, so callers need not scan for it). */
  held: boolean;
}

/** Every managed channel the view expects, replicas' default channels first, group by group. */
export function managedChannels(view: Pick<TopologyView, 'groups' | 'members'>): ManagedChannelRef[] {
  const out: ManagedChannelRef[] = [];
  for (const g of view.groups) {
    if (!g.primary) continue;
    for (const m of g.members)
      if (m.spec.name !== g.primary)
        out.push({
          member: m.spec.name,
          channel: '',
          source: g.primary,
          held: m.obs?.channels.some((c) => c.name === '') ?? false,
        });
    for (const c of declaredChannels(view, g))
      out.push({
        member: g.primary,
        channel: c.name,
        source: c.source.spec.name,
        held: c.current !== undefined,
      });
  }
  return out;
}
