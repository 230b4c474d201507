// deploy/monitoring: the alert rules checked and unit-tested by promtool (Debian's prometheus package),
// every dashboard query parsed by promtool too, every metric they name exported by the operator, and the
// chart's templates made from these files.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { OperatorMetrics } from '../../../src/controller/metrics.js';
// @ts-expect-error -- a plain ESM script without types
import { chartTemplates } from '../../../deploy/monitoring/chart.mjs';

const root = join(import.meta.dirname, '../../..');
const dir = join(root, 'deploy/monitoring');
const work = mkdtempSync(join(tmpdir(), 'tributary-monitoring-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
function promtool(...args: string[]): string {
  if (!existsSync(PROMTOOL))
    throw new Error(
      `${PROMTOOL} is missing: install Debian's prometheus package (apt-get install -y prometheus)`,
    );
  const r = spawnSync(PROMTOOL, args, { cwd: work, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const ruleText = readFileSync(join(dir, 'prometheus-rule.yaml'), 'utf8');
const rule = parse(ruleText) as {
  spec: { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
};
const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  panels: {
    id: number;
    type: string;
    title: string;
    gridPos: { x: number; w: number };
    targets?: { expr: string }[];
  }[];
  templating: { list: { name: string }[] };
};
const queries = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);
/** What Grafana substitutes before a query reaches Prometheus. */
const grafana = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__range', '6h')
    .replace(/\$(namespace|topology)\b/g, '.*');

describe('alert rules', () => {
  it('read the same under YAML 1.1 and 1.2', () => {
    expect(parse(ruleText, { version: '1.1' })).toEqual(parse(ruleText, { version: '1.2' }));
  });

  it('pass promtool check rules and the promtool unit tests', () => {
    writeFileSync(join(work, 'rules.yaml'), stringify(rule.spec));
    expect(promtool('check', 'rules', 'rules.yaml')).toContain('SUCCESS: 8 rules found');
    copyFileSync(join(import.meta.dirname, 'alerts.promtest.yaml'), join(work, 'alerts.promtest.yaml'));
    expect(promtool('test', 'rules', 'alerts.promtest.yaml')).toContain('SUCCESS');
  });

  it('cover what the operator must be alerted on', () => {
    expect(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort()).toEqual([
      'TributaryChannelLagging',
      'TributaryChannelNotRunning',
      'TributaryFailover',
      'TributaryFailoverAborted',
      'TributaryNoLeader',
      'TributaryOperatorDown',
      'TributaryRoutingFailing',
      'TributaryTopologyInvalid',
    ]);
  });
});

describe('the Grafana dashboard', () => {
  it('has panels for channels running/total, lag per channel, failovers, routing, pass duration and probe errors', () => {
    const used = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'tributary_topology_channels',
      'tributary_channel_seconds_behind_source',
      'tributary_failovers_total',
      'tributary_reconcile_duration_seconds_bucket',
      'tributary_member_probe_errors_total',
      'tributary_routing_changes_total',
      'tributary_routing_failures_total',
      'tributary_failover_routed_seconds_bucket',
    ])
      expect(used).toContain(metric);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace', 'topology']);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('every query parses (promtool checks them as recording rules)', () => {
    const groups = [
      {
        name: 'dashboard',
        rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: grafana(q.expr) })),
      },
    ];
    writeFileSync(join(work, 'dashboard-queries.yaml'), stringify({ groups }));
    expect(promtool('check', 'rules', 'dashboard-queries.yaml')).toContain(
      `SUCCESS: ${queries.length} rules found`,
    );
  });
});

it('every metric the rules and the dashboard name is one the operator exports', async () => {
  const exported = new Set(
    (await new OperatorMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).flatMap((m) =>
      String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    ),
  );
  const named = new Set(
    [...rule.spec.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...queries.map((q) => q.expr)].flatMap(
      (e) => e.match(/\btributary_[a-z_]+/g) ?? [],
    ),
  );
  expect([...named].filter((n) => !exported.has(n))).toEqual([]);
  expect(named.size).toBeGreaterThan(8);
});

describe('packaging', () => {
  it("the chart's templates are made from deploy/monitoring (run node deploy/monitoring/chart.mjs)", () => {
    for (const [name, text] of Object.entries(chartTemplates() as Record<string, string>))
      expect(readFileSync(join(root, 'charts/tributary/templates', name), 'utf8'), name).toBe(text);
  });

  it('as Helm renders them, they carry the same rules and dashboard', () => {
    // What Helm does with the escaped content: `{{ "{{" }}` prints `{{`; its own lines go.
    const helm = (name: string) =>
      readFileSync(join(root, 'charts/tributary/templates', name), 'utf8')
        .split('\n')
        .filter((l) => !/^\s*\{\{-/.test(l))
        .join('\n')
        .replace(/\{\{ (?!"\{\{")[^{}]*? \}\}/g, 'x')
        .replaceAll('{{ "{{" }}', '{{');
    expect(parse(helm('monitoring-prometheusrule.yaml')).spec).toEqual(rule.spec);
    expect(JSON.parse(parse(helm('monitoring-dashboard.yaml')).data['tributary.json'])).toEqual(dashboard);
    const values = readFileSync(join(root, 'charts/tributary/values.yaml'), 'utf8');
    expect(parse(values, { version: '1.1' })).toEqual(parse(values, { version: '1.2' }));
    expect(parse(values).monitoring).toMatchObject({
      dashboard: { enabled: false, labels: { grafana_dashboard: '1' } },
      prometheusRule: { enabled: false },
    });
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client']).status !== 0)(
    '`kubectl kustomize deploy/monitoring` renders the rule and the dashboard ConfigMap',
    () => {
      const r = spawnSync('kubectl', ['kustomize', 'deploy/monitoring'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const objs = parseAllDocuments(r.stdout).map((d) => d.toJS());
      const cm = objs.find((o) => o.kind === 'ConfigMap');
      expect(cm.metadata).toMatchObject({ name: 'tributary-dashboard', labels: { grafana_dashboard: '1' } });
      expect(JSON.parse(cm.data['tributary.json'])).toEqual(dashboard);
      expect(objs.find((o) => o.kind === 'PrometheusRule').spec).toEqual(rule.spec);
    },
  );
});
