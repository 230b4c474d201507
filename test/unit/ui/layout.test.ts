import { describe, expect, it } from 'vitest';
import { groupRanks, layoutTopology } from '../../../src/ui/layout.js';
import { phaseOffsets } from '../../../src/report/tree.js';
import { edgeLabel, renderGraph, renderTopology, routingMarks } from '../../../src/ui/render.js';
import { chan, diamond, record } from './statuses.js';

describe('groupRanks', () => {
  const cases: [string, string[], [string, string][], Record<string, number>][] = [
    [
      'a chain',
      ['c', 'b', 'a'],
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
      { a: 0, b: 1, c: 2 },
    ],
    [
      'a diamond',
      ['sink', 'left', 'right', 'hub'],
      [
        ['hub', 'left'],
        ['hub', 'right'],
        ['left', 'sink'],
        ['right', 'sink'],
      ],
      { hub: 0, left: 1, right: 1, sink: 2 },
    ],
    [
      'a longer and a shorter path',
      ['a', 'b', 'c'],
      [
        ['a', 'b'],
        ['b', 'c'],
        ['a', 'c'],
      ],
      { a: 0, b: 1, c: 2 },
    ],
    ['nothing feeds anyone', ['a', 'b'], [], { a: 0, b: 0 }],
    ['a self-feed is ignored', ['a'], [['a', 'a']], { a: 0 }],
    [
      'a cycle stays bounded',
      ['a', 'b'],
      [
        ['a', 'b'],
        ['b', 'a'],
      ],
      { a: 0, b: 1 },
    ],
    ['unknown groups are ignored', ['a'], [['x', 'a']], { a: 0 }],
  ];
  it.each(cases)('%s', (_name, groups, feeds, want) => {
    expect(Object.fromEntries(groupRanks(groups, feeds))).toEqual(want);
  });
});

const edgeEnd = (d: string) => d.split(' ').at(-1)!.split(',').map(Number) as [number, number];

describe('layoutTopology', () => {
  it('draws a diamond by rank: the source group first, the sink last, its two parents between', () => {
    const l = layoutTopology(diamond());
    const x = Object.fromEntries(l.groups.map((g) => [g.name, g.x]));
    expect(x.hub).toBeLessThan(x.left!);
    expect(x.left).toBe(x.right);
    expect(x.right).toBeLessThan(x.sink!);
    expect(l.groups.find((g) => g.name === 'hub')?.rank).toBe(0);
    expect(l.groups.find((g) => g.name === 'sink')?.rank).toBe(2);
  });

  it('one edge per channel, from the source member; a multi-source replica has one incoming edge per channel', () => {
    const l = layoutTopology(diamond());
    expect(l.edges.map((e) => [e.key, e.from])).toEqual([
      ["h-1/''", 'h-0'],
      ['l-0/hub', 'h-0'],
      ['r-0/hub', 'h-0'],
      ['k-0/left', 'l-0'],
      ['k-0/right', 'r-0'],
    ]);
    const into = l.edges.filter((e) => e.channel.replica === 'k-0').map((e) => edgeEnd(e.d));
    const k0 = l.nodes.find((n) => n.id === 'k-0')!;
    expect(new Set(into.map(([, y]) => y)).size).toBe(2);
    for (const [ex, ey] of into) {
      expect(ex).toBe(k0.x);
      expect(ey).toBeGreaterThan(k0.y);
      expect(ey).toBeLessThan(k0.y + k0.h);
    }
  });

  it('puts the primary first in its group and bends edges inside a group through the gutter', () => {
    const l = layoutTopology(diamond());
    const [h0, h1] = ['h-0', 'h-1'].map((m) => l.nodes.find((n) => n.id === m)!);
    expect(h0!.y).toBeLessThan(h1!.y);
    const inner = l.edges.find((e) => e.key === "h-1/''")!;
    const xs = [...inner.d.matchAll(/(-?[\d.]+),/g)].map((m) => Number(m[1]));
    expect(Math.min(...xs)).toBeLessThan(h0!.x);
    expect(edgeEnd(inner.d)).toEqual([h1!.x, h1!.y + h1!.h / 2]);
  });

  const cases: [string, Parameters<typeof chan>, string][] = [
    [
      'a missing channel starts at the primary of its group',
      ['k-0', 'extra', null, 'hub', { state: 'Missing' }],
      'h-0',
    ],
    [
      'a source outside the topology becomes a node of its own',
      [
        'k-0',
        'manual',
        null,
        null,
        { managed: false, sourceHost: '10.1.2.3', sourcePort: 3307, state: 'Stopped' },
      ],
      '10.1.2.3:3307',
    ],
  ];
  it.each(cases)('%s', (_name, args, from) => {
    const l = layoutTopology(diamond((s) => s.channels.push(chan(...args))));
    const e = l.edges.find((x) => x.key === `k-0/${args[1]}`)!;
    expect(e.from).toBe(from);
    const source = l.nodes.find((n) => n.id === from)!;
    expect(e.d.startsWith(`M${source.x + source.w},`)).toBe(true);
  });

  it('a missing channel of a group without primary starts at the group box', () => {
    const l = layoutTopology(
      diamond((s) => {
        s.groups.find((g) => g.name === 'hub')!.primary = null;
        s.channels.push(chan('k-0', 'extra', null, 'hub', { state: 'Missing' }));
      }),
    );
    const e = l.edges.find((x) => x.key === 'k-0/extra')!;
    const hub = l.groups.find((g) => g.name === 'hub')!;
    expect(e.from).toBe('');
    expect(e.d.startsWith(`M${hub.x + hub.w},${hub.y + hub.h / 2} `)).toBe(true);
  });

  it('the same status gives the same drawing', () => {
    expect(layoutTopology(diamond())).toEqual(layoutTopology(diamond()));
  });
});

describe('rendering', () => {
  it.each([
    [{}, "'' · 0s"],
    [{ secondsBehindSource: null }, "'' · lag ?"],
    [{ state: 'Connecting' as const }, "'' · connecting"],
    [{ state: 'Broken' as const, delaySeconds: 60 }, "'' · broken (delay 60s)"],
  ])('edge label of %o is %s', (over, want) => {
    expect(edgeLabel(chan('r', '', 'h-0', 'hub', over))).toBe(want);
  });

  it('keeps the hooks stable and escapes what servers report', () => {
    const { html } = renderTopology(
      { namespace: 'db', name: 'd' },
      diamond((s) => {
        s.channels.push(
          chan('k-0', '<b>x</b>', null, null, {
            managed: false,
            sourceHost: 'h"x',
            state: 'Broken',
            lastSQLErrno: 1062,
            lastSQLError: '<script>alert(1)</script>',
          }),
        );
      }),
    );
    for (const m of ['h-0', 'h-1', 'l-0', 'r-0', 'k-0']) expect(html).toContain(`data-member="${m}"`);
    expect(html).toContain('data-channel="h-1/&#39;&#39;" data-from="h-0" data-state="Running"');
    expect(html).toContain(
      'data-channel="k-0/&lt;b&gt;x&lt;/b&gt;" data-from="h&quot;x:3306" data-state="Broken"',
    );
    expect(html).toContain('class="edge unmanaged"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('1062: &lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('versions change with the drawing only', () => {
    const ref = { namespace: 'db', name: 'd' };
    const a = renderTopology(ref, diamond());
    expect(renderTopology(ref, diamond()).version).toBe(a.version);
    const b = renderTopology(
      ref,
      diamond((s) => (s.channels[1]!.state = 'Connecting')),
    );
    expect(b.version).not.toBe(a.version);
  });

  it('orders journal phases by time, then as a record goes through them, in seconds since the start', () => {
    const r = record({
      phaseTimes: {
        Done: '2026-01-01T00:00:02.500Z',
        Repointing: '2026-01-01T00:00:02.500Z',
        CatchingUp: '2026-01-01T00:00:00.000Z',
        Decided: '2026-01-01T00:00:00.000Z',
        Promoting: '2026-01-01T00:00:00.250Z',
        Bogus: 'not a time',
      },
    });
    // Equal times keep the order a record goes through its phases.
    expect(phaseOffsets(r).map((p) => [p.phase, p.seconds])).toEqual([
      ['Decided', 0],
      ['CatchingUp', 0],
      ['Promoting', 0.25],
      ['Repointing', 2.5],
      ['Done', 2.5],
    ]);
  });
});

describe('routing marks', () => {
  const ref = { namespace: 'db', name: 'd' };
  /** The node of a member in the drawing: its opening tag and what it holds, up to the next node. */
  const nodeOf = (svg: string, member: string) => {
    const at = svg.lastIndexOf('<g class="node', svg.indexOf(`data-member="${member}"`));
    const next = svg.indexOf('<g class="node', at + 1);
    return svg.slice(at, next < 0 ? undefined : next);
  };
  const groupOf = (svg: string, group: string) => {
    const at = svg.lastIndexOf('<g class="group', svg.indexOf(`data-group="${group}"`));
    return svg.slice(at, svg.indexOf('</g>', at));
  };
  const routed = diamond((s) => {
    const hub = s.groups.find((g) => g.name === 'hub')!;
    hub.routing = {
      writer: 'h-0',
      writerReady: true,
      readers: ['h-1'],
      changedAt: '2026-01-01T00:00:05.000Z',
    };
    const left = s.groups.find((g) => g.name === 'left')!;
    left.routing = { writer: 'l-0', writerReady: false, readers: [] };
  });

  it('the routed writer carries a "writes" badge, each reader a "reads" badge; members not routed none', () => {
    const svg = renderGraph(routed);
    expect(nodeOf(svg, 'h-0')).toMatch(
      /^<g class="node role-primary" data-member="h-0" data-routing="writes" data-ready="true"/,
    );
    expect(nodeOf(svg, 'h-0')).toMatch(
      /<g class="badge routed-writes"><rect [^>]*\/><text [^>]*>writes<\/text><\/g>/,
    );
    expect(nodeOf(svg, 'h-1')).toMatch(
      /^<g class="node role-replica" data-member="h-1" data-routing="reads" /,
    );
    expect(nodeOf(svg, 'h-1')).toContain('<g class="badge routed-reads">');
    expect(nodeOf(svg, 'h-1')).toContain('>reads</text>');
    for (const m of ['r-0', 'k-0']) {
      expect(nodeOf(svg, m)).toContain(`data-member="${m}"`);
      expect(nodeOf(svg, m)).not.toContain('data-routing');
      expect(nodeOf(svg, m)).not.toContain('badge');
    }
    expect(groupOf(svg, 'hub')).toContain('data-routing="routed"');
    expect(groupOf(svg, 'right')).not.toContain('data-routing');
  });

  it('a writer not marked ready says so on its badge', () => {
    const l0 = nodeOf(renderGraph(routed), 'l-0');
    expect(l0).toContain('data-routing="writes" data-ready="false"');
    expect(l0).toContain('<g class="badge routed-writes not-ready">');
    expect(l0).toContain('>writes · not ready</text>');
  });

  it('the badge sits on the top edge of its node, inside its width', () => {
    const l = layoutTopology(routed);
    const svg = renderGraph(routed);
    for (const m of ['h-0', 'h-1', 'l-0']) {
      const n = l.nodes.find((x) => x.id === m)!;
      const [, x, y, w] = /<g class="badge[^"]*"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/
        .exec(nodeOf(svg, m))!
        .map(Number);
      expect(y! + 8).toBe(n.y);
      expect(x).toBeGreaterThan(n.x);
      expect(x! + w!).toBeLessThan(n.x + n.w);
    }
  });

  it('a drained group shows it, and nobody in it writes; its readers keep their badge', () => {
    const drained = diamond((s) => {
      s.groups.find((g) => g.name === 'hub')!.routing = {
        writer: null,
        writerReady: false,
        readers: ['h-1'],
        changedAt: '2026-01-01T00:00:06.000Z',
      };
    });
    const svg = renderGraph(drained);
    expect(groupOf(svg, 'hub')).toMatch(/^<g class="group drained" data-group="hub" data-routing="drained">/);
    expect(groupOf(svg, 'hub')).toContain('writes drained</text>');
    expect(groupOf(svg, 'hub')).toContain('since 2026-01-01T00:00:06.000Z');
    expect(svg).not.toContain('data-routing="writes"');
    expect(nodeOf(svg, 'h-1')).toContain('data-routing="reads"');
    expect(groupOf(renderGraph(routed), 'hub')).not.toContain('drained');
  });

  it('member details tell the traffic; the journal tells the drain and the route', () => {
    const { html } = renderTopology(
      ref,
      diamond((s) => {
        Object.assign(s, routed);
        s.failovers = [
          record({
            drainedAt: '2026-01-01T00:00:00.004Z',
            routedAt: '2026-01-01T00:00:01.250Z',
            drainProblem: 'hook: routing hook failed (exit 1)',
          }),
        ];
      }),
    );
    const details = (m: string) => {
      const at = html.indexOf(`data-details="member:${m}"`);
      return html.slice(at, html.indexOf('</section>', at));
    };
    expect(details('h-0')).toContain(
      '<dt>traffic</dt><dd>in the writer endpoints</dd><dt>routing changed</dt><dd>2026-01-01T00:00:05.000Z</dd>',
    );
    expect(details('h-1')).toContain('<dt>traffic</dt><dd>in the reader endpoints</dd>');
    expect(details('l-0')).toContain('<dt>traffic</dt><dd>in the writer endpoints, not marked ready</dd>');
    expect(details('r-0')).not.toContain('traffic');
    expect(html).toContain('<dt>drained</dt><dd>2026-01-01T00:00:00.004Z</dd>');
    expect(html).toContain(
      '<dt>drain failed</dt><dd>hook: routing hook failed (exit 1) (went on without it)</dd>',
    );
    expect(html).toContain('<dt>routed</dt><dd>2026-01-01T00:00:01.250Z</dd>');
  });

  it('the journal shows what a held record waits for and the loss it would cause, then what was accepted', () => {
    const atRisk = [{ member: 'l-0', missing: '1-1-12' }];
    const held = renderTopology(
      ref,
      diamond((s) => {
        s.failovers = [record({ phase: 'CatchingUp', waitingFor: 'an acknowledgement', atRisk })];
      }),
    ).html;
    expect(held).toContain('<dt>waiting for</dt><dd>an acknowledgement</dd>');
    expect(held).toContain('<dt>would lose</dt><dd>l-0: 1-1-12</dd>');
    const after = renderTopology(
      ref,
      diamond((s) => {
        s.failovers = [record({ acknowledged: true, acknowledgedLoss: atRisk, unreachable: ['r-0'] })];
      }),
    ).html;
    expect(after).toContain('<dt>acknowledged loss</dt><dd>l-0: 1-1-12</dd>');
    expect(after).toContain('<dt>unreachable when promoted</dt><dd>r-0</dd>');
    expect(after).not.toContain('would lose');
  });

  it('marks come from groups[].routing alone; a change of routing changes the version', () => {
    expect([...routingMarks(routed)]).toEqual([
      ['h-1', { op: 'reads', ready: true, changedAt: '2026-01-01T00:00:05.000Z' }],
      ['h-0', { op: 'writes', ready: true, changedAt: '2026-01-01T00:00:05.000Z' }],
      ['l-0', { op: 'writes', ready: false }],
    ]);
    expect(routingMarks(diamond()).size).toBe(0);
    const moved = diamond((s) => {
      Object.assign(s, routed);
      s.groups = s.groups.map((g) =>
        g.name === 'hub' ? { ...g, routing: { ...g.routing!, writer: 'h-1', readers: [] } } : g,
      );
    });
    expect(renderTopology(ref, moved).version).not.toBe(renderTopology(ref, routed).version);
  });
});
