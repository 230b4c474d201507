// The web view's drawing, computed from a TopologyStatus alone: groups as boxes in columns by rank
// (a group's rank is the length of the longest chain of channels feeding it, so sources come first and a
// diamond stays a diamond), members as nodes inside them, and one edge per channel, from the member the
// channel replicates from to the replica. Pure: the same status gives the same drawing.
import type { ChannelReport, InstanceStatus, TopologyStatus } from '../api/status.js';

export const NODE_W = 190;
export const NODE_H = 56;
/** Left margin inside a group box, where edges between members of the group bend. */
const GUTTER = 46;
const PAD = 14;
const HEADER = 30;
const MEMBER_GAP = 20;
const COLUMN_GAP = 130;
const GROUP_GAP = 34;
const MARGIN = 20;

export interface GroupBox {
  name: string;
  primary: string | null;
  rank: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface NodeBox {
  /** The member's name, or host:port for a source outside the topology. */
  id: string;
  group: string | null;
  instance?: InstanceStatus;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface EdgeShape {
  /** `<replica>/<channel>`, with `''` for the default channel. */
  key: string;
  /** The source node's id; '' when nobody is known to feed it (a channel missing from a group without primary). */
  from: string;
  channel: ChannelReport;
  /** SVG path data. */
  d: string;
  label: { x: number; y: number; anchor: 'middle' | 'end' };
}

export interface Layout {
  width: number;
  height: number;
  groups: GroupBox[];
  nodes: NodeBox[];
  edges: EdgeShape[];
}

export const channelKey = (replica: string, channel: string) =>
  `${replica}/${channel === '' ? "''" : channel}`;

const externalId = (c: ChannelReport) => `${c.sourceHost}:${c.sourcePort}`;

/**
 * Rank of each group: 0 for groups nothing feeds, else one more than the highest rank feeding it.
 * Bounded relaxation: a cycle (only hand-made channels can make one) cannot loop forever.
 */
export function groupRanks(groups: string[], feeds: [from: string, to: string][]): Map<string, number> {
  const rank = new Map(groups.map((g) => [g, 0]));
  for (let round = 0; round < groups.length; round++) {
    let moved = false;
    for (const [from, to] of feeds) {
      const want = (rank.get(from) ?? 0) + 1;
      if (from !== to && rank.has(to) && rank.has(from) && want > rank.get(to)! && want < groups.length) {
        rank.set(to, want);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return rank;
}

/** Where an edge starts: the member named as its source, else (missing channel) the primary of its group. */
function sourceOf(c: ChannelReport, status: TopologyStatus, members: Set<string>): string | null {
  if (c.source && members.has(c.source)) return c.source;
  if (c.state === 'Missing' && c.from) return status.groups.find((g) => g.name === c.from)?.primary ?? null;
  return null;
}

export function layoutTopology(status: TopologyStatus): Layout {
  const instances = new Map(status.instances.map((i) => [i.name, i]));
  const members = new Set(instances.keys());
  const groupNames = [
    ...new Set([...status.groups.map((g) => g.name), ...status.instances.map((i) => i.group)]),
  ];
  const groupOf = (member: string) => instances.get(member)?.group;

  // Which group feeds which: channels as they are, and as they should be (declared and remembered ones).
  const feeds: [string, string][] = [];
  for (const c of status.channels) {
    const src = sourceOf(c, status, members);
    const from = src ? groupOf(src) : (c.from ?? undefined);
    const to = groupOf(c.replica);
    if (from && to && from !== to) feeds.push([from, to]);
  }
  for (const m of status.managedChannels) feeds.push([m.from, m.group]);
  const ranks = groupRanks(groupNames, feeds);

  const externals = [
    ...new Set(
      status.channels
        .filter((c) => members.has(c.replica) && !sourceOf(c, status, members) && c.state !== 'Missing')
        .map(externalId),
    ),
  ];
  const shift = externals.length > 0 ? 1 : 0;
  const columns: string[][] = Array.from({ length: Math.max(0, ...ranks.values()) + 1 + shift }, () => []);
  for (const g of groupNames) columns[ranks.get(g)! + shift]!.push(g);

  // Within a column, groups follow the average position of the groups that feed them (fewer crossings).
  const order = new Map<string, number>();
  externals.forEach((e, i) => order.set(`external:${e}`, i));
  columns.forEach((col, ci) => {
    if (ci > 0) {
      const bary = (g: string) => {
        const preds = feeds.filter(([f, t]) => t === g && order.has(f)).map(([f]) => order.get(f)!);
        return preds.length ? preds.reduce((a, b) => a + b, 0) / preds.length : Number.POSITIVE_INFINITY;
      };
      const initial = new Map(col.map((g, i) => [g, i]));
      col.sort((a, b) => bary(a) - bary(b) || initial.get(a)! - initial.get(b)!);
    }
    col.forEach((g, i) => order.set(g, i));
  });

  const membersOf = (g: string) => {
    const primary = status.groups.find((x) => x.name === g)?.primary;
    const list = status.instances.filter((i) => i.group === g).map((i) => i.name);
    return primary && list.includes(primary) ? [primary, ...list.filter((m) => m !== primary)] : list;
  };
  const groupW = GUTTER + NODE_W + PAD;
  const groupH = (n: number) => HEADER + n * NODE_H + Math.max(0, n - 1) * MEMBER_GAP + PAD;
  const columnHeight = (ci: number) =>
    ci === 0 && shift
      ? externals.length * (NODE_H + GROUP_GAP) - GROUP_GAP
      : (columns[ci] ?? []).reduce((h, g) => h + groupH(membersOf(g).length), 0) +
        Math.max(0, (columns[ci]?.length ?? 0) - 1) * GROUP_GAP;
  const height = Math.max(NODE_H, ...columns.map((_, ci) => columnHeight(ci)));

  const groups: GroupBox[] = [];
  const nodes: NodeBox[] = [];
  const nodeById = new Map<string, NodeBox>();
  const addNode = (n: NodeBox) => {
    nodes.push(n);
    nodeById.set(n.id, n);
  };
  for (let ci = 0; ci < columns.length; ci++) {
    const x = MARGIN + ci * (groupW + COLUMN_GAP);
    let y = MARGIN + (height - columnHeight(ci)) / 2;
    if (ci === 0 && shift) {
      for (const e of externals) {
        addNode({ id: e, group: null, x: x + GUTTER, y, w: NODE_W, h: NODE_H });
        y += NODE_H + GROUP_GAP;
      }
      continue;
    }
    for (const g of columns[ci] ?? []) {
      const list = membersOf(g);
      const h = groupH(list.length);
      const primary = status.groups.find((x) => x.name === g)?.primary ?? null;
      groups.push({ name: g, primary, rank: ranks.get(g)!, x, y, w: groupW, h });
      list.forEach((m, i) =>
        addNode({
          id: m,
          group: g,
          instance: instances.get(m),
          x: x + GUTTER,
          y: y + HEADER + i * (NODE_H + MEMBER_GAP),
          w: NODE_W,
          h: NODE_H,
        }),
      );
      y += h + GROUP_GAP;
    }
  }

  // Edges: ports spread along the sides of the nodes, ordered by the position of the other end.
  const drawn = status.channels
    .filter((c) => nodeById.has(c.replica))
    .map((c) => {
      const src = sourceOf(c, status, members);
      const from = src ?? (c.state === 'Missing' ? '' : externalId(c));
      return { c, from, source: nodeById.get(from), target: nodeById.get(c.replica)! };
    });
  type Drawn = (typeof drawn)[number];
  const inside = (e: Drawn) =>
    e.source !== undefined && e.source.group !== null && e.source.group === e.target.group;
  const spread = (sideOf: (e: Drawn) => NodeBox | undefined, otherY: (e: Drawn) => number) => {
    const bySide = new Map<NodeBox, Drawn[]>();
    for (const e of drawn.filter((e) => !inside(e))) {
      const n = sideOf(e);
      if (n) bySide.set(n, [...(bySide.get(n) ?? []), e]);
    }
    const out = new Map<Drawn, number>();
    for (const [n, list] of bySide) {
      list.sort((a, b) => otherY(a) - otherY(b));
      list.forEach((e, i) => out.set(e, n.y + (n.h * (i + 1)) / (list.length + 1)));
    }
    return out;
  };
  const centerY = (n: NodeBox | undefined) => (n ? n.y + n.h / 2 : 0);
  const outY = spread(
    (e) => e.source,
    (e) => centerY(e.target),
  );
  const inY = spread(
    (e) => e.target,
    (e) => (e.source ? centerY(e.source) : centerY(e.target)),
  );

  const bends = new Map<string, number>();
  const edges: EdgeShape[] = drawn.map((e) => {
    const key = channelKey(e.c.replica, e.c.name);
    const t = e.target;
    if (inside(e)) {
      // Between members of one group: an arc in the gutter on the left, nested when there are several.
      const s = e.source!;
      const k = bends.get(t.group!) ?? 0;
      bends.set(t.group!, k + 1);
      const b = 18 + 8 * k;
      const [y1, y2] = [centerY(s), centerY(t)];
      return {
        key,
        from: e.from,
        channel: e.c,
        d: `M${s.x},${y1} C${s.x - b},${y1} ${t.x - b},${y2} ${t.x},${y2}`,
        label: { x: t.x - b * 0.75 - 3, y: (y1 + y2) / 2 + 4, anchor: 'end' },
      };
    }
    const x2 = t.x;
    const y2 = inY.get(e) ?? centerY(t);
    let x1: number;
    let y1: number;
    if (e.source) {
      x1 = e.source.x + e.source.w;
      y1 = outY.get(e) ?? centerY(e.source);
    } else {
      // Nobody feeds it (a missing channel of a group without primary): from the feeding group's box.
      const g = groups.find((x) => x.name === e.c.from);
      x1 = g ? g.x + g.w : t.x - COLUMN_GAP;
      y1 = g ? g.y + g.h / 2 : y2;
    }
    const dx = Math.max(50, Math.abs(x2 - x1) / 2);
    return {
      key,
      from: e.from,
      channel: e.c,
      d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`,
      label: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 5, anchor: 'middle' },
    };
  });

  const width =
    MARGIN * 2 + Math.max(1, columns.length) * groupW + Math.max(0, columns.length - 1) * COLUMN_GAP;
  return { width, height: height + MARGIN * 2, groups, nodes, edges };
}
