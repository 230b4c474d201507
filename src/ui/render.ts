// HTML of one topology in the web view: the graph (inline SVG from layout.ts), the details of every
// channel and member (shown on selection), the conditions, and the failover journal as a timeline.
// Everything comes from the TopologyStatus and is escaped; the page's scripts only swap these fragments.
//
// Stable hooks (tests and scripts rely on them): nodes carry data-member, and data-routing="writes" or
// "reads" when the member is in its group's writer or reader endpoints (data-ready="false" on a writer
// not marked ready); edges data-channel ("<replica>/<channel>", '' for the default channel), data-from
// (the source member) and data-state; groups whose traffic is routed carry data-routing="routed", or
// "drained" while nobody holds the writer endpoints.
import { createHash } from 'node:crypto';
import type {
  ChannelReport,
  FailoverRecord,
  GroupRouting,
  InstanceStatus,
  TopologyStatus,
} from '../api/status.js';
import { showLoss } from '../plan/failover-common.js';
import { isOpen } from '../plan/failover-step.js';
import { phaseOffsets } from '../report/tree.js';
import { refKey, type TopologyRef } from '../store/store.js';
import { channelKey, layoutTopology, type EdgeShape, type NodeBox } from './layout.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const channelName = (name: string) => (name === '' ? "''" : name);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const FLAVOR_NAMES: Record<string, string> = { mariadb: 'MariaDB', mysql: 'MySQL', 'mysql-legacy': 'MySQL' };
/** `MariaDB 10.11.19` for `10.11.19-MariaDB-0+deb12u1-log` (the full string is in the details). */
const shortVersion = (i: InstanceStatus) =>
  clip(`${i.flavor ? `${FLAVOR_NAMES[i.flavor]} ` : ''}${i.version!.split('-')[0]}`, 28);
const px = (n: number) => String(Math.round(n * 10) / 10);

/** The short text on an edge: channel name, then lag when running, else the state. */
export function edgeLabel(c: ChannelReport): string {
  const what =
    c.state === 'Running'
      ? c.secondsBehindSource === null
        ? 'lag ?'
        : `${c.secondsBehindSource}s`
      : c.state.toLowerCase();
  return `${channelName(c.name)} · ${what}${c.delaySeconds > 0 ? ` (delay ${c.delaySeconds}s)` : ''}`;
}

/** A member's place in its group's routing: in the writer endpoints (ready or not), or the readers'. */
export interface RoutingMark {
  op: 'writes' | 'reads';
  ready: boolean;
  changedAt?: string;
}

/** The routing marks of every member, from `groups[].routing` (groups not routed have none). */
export function routingMarks(status: TopologyStatus): Map<string, RoutingMark> {
  const marks = new Map<string, RoutingMark>();
  for (const g of status.groups) {
    const r = g.routing;
    if (!r) continue;
    const at = r.changedAt !== undefined ? { changedAt: r.changedAt } : {};
    for (const m of r.readers) marks.set(m, { op: 'reads', ready: true, ...at });
    // The writer wins should a member be listed in both (never planned so).
    if (r.writer !== null) marks.set(r.writer, { op: 'writes', ready: r.writerReady, ...at });
  }
  return marks;
}

/** The badge on the node's top edge, right-aligned: `writes`, `writes · not ready` or `reads`. */
function badge(n: NodeBox, mark: RoutingMark): string {
  const text = mark.op === 'writes' && !mark.ready ? 'writes · not ready' : mark.op;
  const w = Math.round(text.length * 6.2 + 12);
  const [x, y] = [n.x + n.w - 10 - w, n.y - 8];
  const classes = ['badge', `routed-${mark.op}`, mark.ready ? '' : 'not-ready'].filter(Boolean);
  return (
    `<g class="${classes.join(' ')}"><rect x="${px(x)}" y="${px(y)}" width="${w}" height="16" rx="8"/>` +
    `<text x="${px(x + w / 2)}" y="${px(y + 11.5)}" text-anchor="middle">${esc(text)}</text></g>`
  );
}

function node(n: NodeBox, mark: RoutingMark | undefined): string {
  const i = n.instance;
  const sel = i ? `member:${n.id}` : `external:${n.id}`;
  const classes = ['node', i ? `role-${i.role}` : 'external', i && !i.reachable ? 'unreachable' : ''];
  const routing = mark
    ? ` data-routing="${mark.op}"${mark.op === 'writes' ? ` data-ready="${mark.ready}"` : ''}`
    : '';
  const line2 = i
    ? [
        i.role,
        i.reachable ? (i.readOnly ? 'read-only' : i.readOnly === false ? 'writable' : '') : 'unreachable',
      ]
        .filter(Boolean)
        .join(' · ')
    : 'outside the topology';
  const line3 = i?.version ? shortVersion(i) : '';
  return [
    `<g class="${classes.filter(Boolean).join(' ')}" ${i ? `data-member="${esc(n.id)}"` : `data-external="${esc(n.id)}"`}${routing}`,
    ` data-select="${esc(sel)}" tabindex="0" role="button" aria-label="${esc(`${i ? 'member' : 'source'} ${n.id}`)}">`,
    `<title>${esc(i?.lastError ? `${n.id}: ${i.lastError}` : n.id)}</title>`,
    `<rect x="${px(n.x)}" y="${px(n.y)}" width="${n.w}" height="${n.h}" rx="6"/>`,
    i
      ? `<circle class="reach ${i.reachable ? 'up' : 'down'}" cx="${px(n.x + n.w - 12)}" cy="${px(n.y + 13)}" r="5"/>`
      : '',
    `<text class="name" x="${px(n.x + 10)}" y="${px(n.y + 18)}">${esc(clip(n.id, 26))}</text>`,
    `<text class="meta" x="${px(n.x + 10)}" y="${px(n.y + 34)}">${esc(line2)}</text>`,
    line3 ? `<text class="meta" x="${px(n.x + 10)}" y="${px(n.y + 48)}">${esc(line3)}</text>` : '',
    mark ? badge(n, mark) : '',
    '</g>',
  ].join('');
}

function edge(e: EdgeShape): string {
  const c = e.channel;
  const classes = ['edge', c.managed ? 'managed' : 'unmanaged'];
  return [
    `<g class="${classes.join(' ')}" data-channel="${esc(e.key)}" data-from="${esc(e.from)}" data-state="${c.state}"`,
    ` data-select="channel:${esc(e.key)}" tabindex="0" role="button" aria-label="${esc(`channel ${e.key} ${c.state}`)}">`,
    `<title>${esc(`${e.key} from ${e.from || c.from || '?'}: ${c.state}${c.managed ? '' : ' (unmanaged)'}`)}</title>`,
    `<path class="hit" d="${e.d}"/>`,
    `<path class="line" d="${e.d}" marker-end="url(#arrow-${c.state})"/>`,
    `<text class="label" x="${px(e.label.x)}" y="${px(e.label.y)}" text-anchor="${e.label.anchor}">${esc(edgeLabel(c))}</text>`,
    '</g>',
  ].join('');
}

const STATES: ChannelReport['state'][] = ['Running', 'Connecting', 'Stopped', 'Broken', 'Missing'];

export function renderGraph(status: TopologyStatus): string {
  const l = layoutTopology(status);
  const markers = STATES.map(
    (s) =>
      `<marker id="arrow-${s}" class="arrow state-${s}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
  ).join('');
  const routingOf = new Map(status.groups.map((g) => [g.name, g.routing]));
  const groups = l.groups
    .map((g) => {
      const r = routingOf.get(g.name);
      const drained = r?.writer === null;
      return (
        `<g class="group${drained ? ' drained' : ''}" data-group="${esc(g.name)}"${r ? ` data-routing="${drained ? 'drained' : 'routed'}"` : ''}>` +
        `<rect x="${px(g.x)}" y="${px(g.y)}" width="${g.w}" height="${px(g.h)}" rx="10"/>` +
        `<text x="${px(g.x + 12)}" y="${px(g.y + 20)}">${esc(g.name)}</text>` +
        (drained
          ? `<text class="routing-note" x="${px(g.x + g.w - 12)}" y="${px(g.y + 20)}" text-anchor="end"><title>${esc(drainedTitle(r))}</title>writes drained</text>`
          : '') +
        '</g>'
      );
    })
    .join('');
  const marks = routingMarks(status);
  return (
    `<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="${px(l.width)}" height="${px(l.height)}" viewBox="0 0 ${px(l.width)} ${px(l.height)}" role="img" aria-label="replication graph">` +
    `<defs>${markers}</defs>${groups}${l.edges.map(edge).join('')}${l.nodes.map((n) => node(n, marks.get(n.id))).join('')}</svg>`
  );
}

const drainedTitle = (r: GroupRouting) =>
  `No member in the writer endpoints (a failover before its promotion)${r.changedAt ? ` since ${r.changedAt}` : ''}`;

/** A definition list of label → value; empty values are left out. */
function facts(rows: [string, unknown][]): string {
  return `<dl>${rows
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
    .join('')}</dl>`;
}

const yesNo = (b: boolean | undefined) => (b === undefined ? undefined : b ? 'yes' : 'no');
const list = (v: string[]) => (v.length ? v.join(', ') : undefined);
const error = (errno: number, message: string, at: string | null) =>
  errno ? `${errno}: ${message}${at ? ` (${at})` : ''}` : undefined;

function channelDetails(c: ChannelReport): string {
  const key = channelKey(c.replica, c.name);
  return (
    `<section class="details" data-details="channel:${esc(key)}" hidden><h3>Channel ${esc(key)}</h3>` +
    facts([
      ['state', `${c.state}${c.managed ? '' : ' (unmanaged: left as it is)'}`],
      ['replica', c.replica],
      ['source member', c.source ?? undefined],
      ['from group', c.from ?? undefined],
      ['source address', c.sourcePort ? `${c.sourceHost}:${c.sourcePort}` : undefined],
      ['receiver (I/O)', `${c.ioRunning}${c.ioState ? ` — ${c.ioState}` : ''}`],
      ['applier (SQL)', `${c.sqlRunning}${c.sqlState ? ` — ${c.sqlState}` : ''}`],
      ['seconds behind source', c.secondsBehindSource ?? 'unknown'],
      ['delay', `${c.delaySeconds}s`],
      ['last receiver error', error(c.lastIOErrno, c.lastIOError, c.lastIOErrorTimestamp)],
      ['last applier error', error(c.lastSQLErrno, c.lastSQLError, c.lastSQLErrorTimestamp)],
      ['retrieved GTID set', c.retrievedGtidSet || '(empty)'],
      ['executed GTID set', c.executedGtidSet || '(empty)'],
      ['GTID mode', `${c.gtidMode}${c.autoPosition ? ' (auto-position)' : ''}`],
      ['replicate databases', list(c.filter.doDatabases)],
      ['ignore databases', list(c.filter.ignoreDatabases)],
      ['connect retry', c.connectRetry ? `${c.connectRetry}s` : undefined],
      ['heartbeat', c.heartbeatPeriod === null ? undefined : `${c.heartbeatPeriod}s`],
      ['TLS allowed', yesNo(c.sslAllowed)],
    ]) +
    '</section>'
  );
}

function trafficOf(mark: RoutingMark | undefined): string | undefined {
  if (!mark) return undefined;
  if (mark.op === 'reads') return 'in the reader endpoints';
  return mark.ready ? 'in the writer endpoints' : 'in the writer endpoints, not marked ready';
}

function memberDetails(i: InstanceStatus, mark: RoutingMark | undefined): string {
  return (
    `<section class="details" data-details="member:${esc(i.name)}" hidden><h3>Member ${esc(i.name)}</h3>` +
    facts([
      ['group', i.group],
      ['role', i.role],
      ['traffic', trafficOf(mark)],
      ['routing changed', mark?.changedAt],
      ['reachable', yesNo(i.reachable)],
      ['read-only', yesNo(i.readOnly)],
      ['super-read-only', yesNo(i.superReadOnly)],
      ['flavor', i.flavor],
      ['version', i.version],
      ['server id', i.serverId],
      ['server UUID', i.serverUuid],
      ['GTID domain', i.gtidDomainId],
      ['executed GTID set', i.gtidExecuted],
      ['last error', i.lastError],
      ['last seen', i.lastSeen],
    ]) +
    '</section>'
  );
}

function conditions(status: TopologyStatus): string {
  if (!status.conditions.length) return '<p class="empty">No conditions yet.</p>';
  const rows = status.conditions
    .map(
      (c) =>
        `<tr data-condition="${esc(c.type)}" class="cond-${esc(c.status)}"><td>${esc(c.type)}</td><td>${esc(c.status)}</td>` +
        `<td>${esc(c.reason)}</td><td>${esc(c.message)}</td><td>${esc(c.lastTransitionTime)}</td></tr>`,
    )
    .join('');
  return `<table class="conditions"><thead><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The phases as rows (they often follow each other within milliseconds): name, offset, and a dot on a time axis. */
function timeline(r: FailoverRecord): string {
  const phases = phaseOffsets(r);
  if (!phases.length) return '';
  const [width, row, axisX] = [460, 17, 150];
  const span = Math.max(0.001, phases.at(-1)!.seconds);
  const x = (s: number) => axisX + ((width - axisX - 10) * Math.max(0, s)) / span;
  const rows = phases
    .map((p, i) => {
      const y = 12 + i * row;
      const prev = i > 0 ? x(phases[i - 1]!.seconds) : x(0);
      return (
        `<g class="mark phase-${esc(p.phase)}" data-phase="${esc(p.phase)}">` +
        `<text x="0" y="${y + 4}">${esc(p.phase)}</text><text class="offset" x="${axisX - 12}" y="${y + 4}">+${p.seconds.toFixed(3)}s</text>` +
        `<line x1="${px(prev)}" y1="${y}" x2="${px(x(p.seconds))}" y2="${y}"/><circle cx="${px(x(p.seconds))}" cy="${y}" r="4"/></g>`
      );
    })
    .join('');
  const height = 6 + phases.length * row;
  return `<svg class="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="phases and their times">${rows}</svg>`;
}

function journal(status: TopologyStatus): string {
  if (!status.failovers.length) return '<p class="empty">No failover or switchover recorded.</p>';
  const items = [...status.failovers]
    .reverse()
    .map((r) => {
      const notes: [string, unknown][] = [
        ['started', r.startedAt],
        ['finished', r.finishedAt],
        ['donor', r.donor],
        ['catch up to', r.catchUpTo],
        ['repointed', list(r.repointed)],
        ['passed over', list(r.passedOver.map((p) => `${p.member} (${p.reason})`))],
        ['stranded', list(r.stranded.map((s) => `${s.member}: ${s.missing}`))],
        ['drained', r.drainedAt],
        ['drain failed', r.drainProblem === undefined ? undefined : `${r.drainProblem} (went on without it)`],
        ['routed', r.routedAt],
        ['waiting for', isOpen(r) ? r.waitingFor : undefined],
        ['would lose', isOpen(r) && r.atRisk?.length ? showLoss(r.atRisk) : undefined],
        ['acknowledged', r.acknowledged ? 'yes' : undefined],
        ['acknowledged loss', r.acknowledgedLoss?.length ? showLoss(r.acknowledgedLoss) : undefined],
        ['unreachable when promoted', list(r.unreachable ?? [])],
        ['message', r.message],
      ];
      return (
        `<li class="failover phase-${r.phase}" data-failover="${esc(r.id)}" data-phase="${r.phase}">` +
        `<div class="title"><b>${esc(r.group)}</b>: ${esc(r.from)} → ${esc(r.to)} · ${esc(r.reason)} · <span class="phase">${r.phase}</span></div>` +
        `${timeline(r)}${facts(notes)}</li>`
      );
    })
    .join('');
  return `<ol class="journal">${items}</ol>`;
}

/** The whole section of one topology, and a version that changes whenever its HTML does. */
export function renderTopology(ref: TopologyRef, status: TopologyStatus): { html: string; version: string } {
  const s = status.summary;
  const running = s?.channelsRunning ?? status.channels.filter((c) => c.state === 'Running').length;
  const total = s?.channelsTotal ?? status.channels.length;
  const attrs = `data-topology="${esc(refKey(ref))}" data-phase="${status.phase}"`;
  const marks = routingMarks(status);
  const body =
    `<header><h2>${esc(ref.name)} <small>${esc(ref.namespace)}</small></h2>` +
    `<span class="phase phase-${status.phase}">${status.phase}</span>` +
    `<span class="summary">${running}/${total} channels running · ${status.groups.length} groups · ${status.instances.length} members</span></header>` +
    `<div class="canvas">${renderGraph(status)}</div>` +
    `<div class="panels"><div class="selection"><h3 class="hint">Select a channel or a member for its details.</h3>` +
    `${status.channels.map(channelDetails).join('')}${status.instances.map((i) => memberDetails(i, marks.get(i.name))).join('')}</div>` +
    `<div class="side"><h3>Conditions</h3>${conditions(status)}<h3>Failover journal</h3>${journal(status)}</div></div>`;
  const version = createHash('sha1').update(attrs).update(body).digest('hex').slice(0, 16);
  return { html: `<section class="topology" ${attrs} data-version="${version}">${body}</section>`, version };
}
