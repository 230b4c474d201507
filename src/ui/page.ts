// The page of the web view: an HTML shell with the topologies already drawn (first paint needs no script),
// a style sheet, and a small script that keeps the drawing live from server-sent events and shows the
// details of what is selected. No framework, no build step; served from strings so that the compiled
// package carries them.
import { esc } from './render.js';

export function pageHtml(opts: { title: string; note: string; sections: string[] }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header class="top"><h1>${esc(opts.title)}</h1><span class="note">${esc(opts.note)}</span><span id="live" class="live off">connecting…</span></header>
<ul class="legend" aria-label="channel states">
<li class="state-Running">Running</li><li class="state-Connecting">Connecting</li><li class="state-Stopped">Stopped</li><li class="state-Broken">Broken</li><li class="state-Missing">Missing</li><li class="dashed">unmanaged</li>
</ul>
<p id="empty" class="empty"${opts.sections.length ? ' hidden' : ''}>No topology observed yet.</p>
<main id="topologies">${opts.sections.join('')}</main>
</body>
</html>
`;
}

export const APP_CSS = `
:root { --running: #1a7f37; --connecting: #bf8700; --stopped: #6e7781; --broken: #cf222e; --missing: #8250df;
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --wash: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--wash); }
header.top { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: var(--paper); border-bottom: 1px solid var(--line); }
header.top h1 { font-size: 18px; margin: 0; }
.note { color: var(--muted); }
.live { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; }
.live.on { background: #dafbe1; color: var(--running); }
.live.off { background: #fff8c5; color: #7d4e00; }
.legend { list-style: none; display: flex; gap: 18px; margin: 10px 20px; padding: 0; color: var(--muted); font-size: 12px; }
.legend li::before { content: ""; display: inline-block; width: 22px; height: 0; border-top: 3px solid; margin-right: 6px; vertical-align: middle; }
.legend .state-Running::before { border-color: var(--running); }
.legend .state-Connecting::before { border-color: var(--connecting); }
.legend .state-Stopped::before { border-color: var(--stopped); }
.legend .state-Broken::before { border-color: var(--broken); }
.legend .state-Missing::before { border-color: var(--missing); border-top-style: dotted; }
.legend .dashed::before { border-color: var(--muted); border-top-style: dashed; }
.empty { color: var(--muted); margin: 20px; }
section.topology { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; margin: 12px 20px 20px; }
section.topology > header { display: flex; gap: 12px; align-items: baseline; padding: 10px 16px; border-bottom: 1px solid var(--line); }
section.topology h2 { font-size: 16px; margin: 0; }
section.topology h2 small { color: var(--muted); font-weight: normal; }
.phase { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; background: #eef1f4; }
.phase-Ready { background: #dafbe1; color: var(--running); }
.phase-Degraded, .phase-Invalid { background: #ffebe9; color: var(--broken); }
.phase-FailingOver { background: #fff8c5; color: #7d4e00; }
.summary { color: var(--muted); }
.canvas { overflow: auto; padding: 4px; }
svg.graph { display: block; }
.group rect { fill: #f6f8fa; stroke: var(--line); }
.group text { font-size: 12px; font-weight: 600; fill: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.node { cursor: pointer; }
.node rect { fill: var(--paper); stroke: #8c959f; stroke-width: 1.2; }
.node.role-primary rect { stroke: #0969da; stroke-width: 2; }
.node.role-fenced rect { stroke: var(--broken); }
.node.unreachable rect { stroke: var(--broken); stroke-dasharray: 5 3; fill: #fff5f5; }
.node.external rect { fill: var(--wash); stroke-dasharray: 2 3; }
.node .name { font-weight: 600; font-size: 13px; }
.node .meta { font-size: 11px; fill: var(--muted); }
.node g.badge rect { stroke-width: 1; stroke-dasharray: none; }
.node .badge text { font-size: 10px; font-weight: 600; }
.node .badge.routed-writes rect { fill: #ddf4ff; stroke: #0969da; } .node .badge.routed-writes text { fill: #0550ae; }
.node .badge.routed-reads rect { fill: #dafbe1; stroke: var(--running); } .node .badge.routed-reads text { fill: var(--running); }
.node .badge.not-ready rect { fill: #fff8c5; stroke: var(--connecting); stroke-dasharray: 3 2; } .node .badge.not-ready text { fill: #7d4e00; }
.group .routing-note { fill: var(--broken); }
.reach.up { fill: var(--running); }
.reach.down { fill: var(--broken); }
.edge { cursor: pointer; }
.edge .hit { fill: none; stroke: transparent; stroke-width: 14; }
.edge .line { fill: none; stroke-width: 2.4; }
.edge.unmanaged .line { stroke-dasharray: 7 5; }
.edge[data-state="Missing"] .line { stroke-dasharray: 2 5; }
.edge .label { font-size: 11px; paint-order: stroke; stroke: var(--paper); stroke-width: 4px; stroke-linejoin: round; }
.edge[data-state="Running"] .line { stroke: var(--running); } .edge[data-state="Running"] .label { fill: var(--running); }
.edge[data-state="Connecting"] .line { stroke: var(--connecting); } .edge[data-state="Connecting"] .label { fill: #7d4e00; }
.edge[data-state="Stopped"] .line { stroke: var(--stopped); } .edge[data-state="Stopped"] .label { fill: var(--stopped); }
.edge[data-state="Broken"] .line { stroke: var(--broken); } .edge[data-state="Broken"] .label { fill: var(--broken); }
.edge[data-state="Missing"] .line { stroke: var(--missing); } .edge[data-state="Missing"] .label { fill: var(--missing); }
.arrow.state-Running { fill: var(--running); } .arrow.state-Connecting { fill: var(--connecting); }
.arrow.state-Stopped { fill: var(--stopped); } .arrow.state-Broken { fill: var(--broken); } .arrow.state-Missing { fill: var(--missing); }
.edge.selected .line { stroke-width: 4.5; }
.node.selected rect { stroke: #0969da; stroke-width: 3; }
.edge:focus, .node:focus { outline: none; }
.edge:focus-visible .line { stroke-width: 4.5; }
.panels { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(300px, 1.3fr); gap: 20px; padding: 8px 16px 16px; border-top: 1px solid var(--line); }
.panels h3 { font-size: 13px; margin: 10px 0 6px; }
.hint { color: var(--muted); font-weight: normal; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 12px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
table.conditions { border-collapse: collapse; font-size: 12px; width: 100%; }
table.conditions th, table.conditions td { text-align: left; border-bottom: 1px solid var(--line); padding: 3px 6px; vertical-align: top; }
tr.cond-True td:nth-child(2) { font-weight: 600; }
ol.journal { list-style: none; padding: 0; margin: 0; }
li.failover { border-left: 3px solid var(--line); padding: 4px 10px; margin-bottom: 10px; }
li.failover.phase-Done { border-color: var(--running); }
li.failover.phase-Aborted { border-color: var(--broken); }
li.failover .title { font-size: 13px; }
svg.timeline line { stroke: #8c959f; stroke-width: 2; }
svg.timeline circle { fill: #0969da; }
svg.timeline .phase-Done circle { fill: var(--running); }
svg.timeline .phase-Aborted circle { fill: var(--broken); }
svg.timeline text { font-size: 11px; fill: var(--ink); }
svg.timeline text.offset { fill: var(--muted); text-anchor: end; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
`;

export const APP_JS = `'use strict';
(function () {
  var root = document.getElementById('topologies');
  var empty = document.getElementById('empty');
  var live = document.getElementById('live');
  var selected = {};
  function sectionOf(key) {
    var all = root.querySelectorAll('section.topology');
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute('data-topology') === key) return all[i];
    return null;
  }
  function applySelection(section) {
    var want = selected[section.getAttribute('data-topology')];
    var shown = false;
    section.querySelectorAll('[data-details]').forEach(function (d) {
      d.hidden = d.getAttribute('data-details') !== want;
      if (!d.hidden) shown = true;
    });
    section.querySelectorAll('[data-select]').forEach(function (el) {
      el.classList.toggle('selected', el.getAttribute('data-select') === want);
    });
    var hint = section.querySelector('.hint');
    if (hint) hint.hidden = shown;
  }
  function select(el) {
    var section = el.closest('section.topology');
    var key = section.getAttribute('data-topology');
    var what = el.getAttribute('data-select');
    selected[key] = selected[key] === what ? null : what;
    applySelection(section);
  }
  root.addEventListener('click', function (ev) {
    var el = ev.target.closest('[data-select]');
    if (el) select(el);
  });
  root.addEventListener('keydown', function (ev) {
    var el = ev.target.closest('[data-select]');
    if (el && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); select(el); }
  });
  function upsert(m) {
    var current = sectionOf(m.key);
    if (current && current.getAttribute('data-version') === m.version) return;
    var t = document.createElement('template');
    t.innerHTML = m.html;
    var next = t.content.firstElementChild;
    if (current) {
      var from = current.querySelector('.canvas'), to = next.querySelector('.canvas');
      to.scrollLeft = from.scrollLeft;
      current.replaceWith(next);
      to.scrollLeft = from.scrollLeft;
    } else {
      var after = null;
      root.querySelectorAll('section.topology').forEach(function (s) {
        if (!after && s.getAttribute('data-topology') > m.key) after = s;
      });
      root.insertBefore(next, after);
    }
    applySelection(next);
    empty.hidden = true;
  }
  function remove(key) {
    var s = sectionOf(key);
    if (s) s.remove();
    empty.hidden = root.querySelector('section.topology') !== null;
  }
  root.querySelectorAll('section.topology').forEach(applySelection);
  var events = new EventSource('events');
  events.addEventListener('snapshot', function (ev) {
    var keys = JSON.parse(ev.data).keys;
    root.querySelectorAll('section.topology').forEach(function (s) {
      if (keys.indexOf(s.getAttribute('data-topology')) < 0) remove(s.getAttribute('data-topology'));
    });
  });
  events.addEventListener('topology', function (ev) { upsert(JSON.parse(ev.data)); });
  events.addEventListener('removed', function (ev) { remove(JSON.parse(ev.data).key); });
  events.onopen = function () { live.textContent = 'live'; live.className = 'live on'; };
  events.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'live off'; };
})();
`;
