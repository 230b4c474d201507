#!/usr/bin/env node
/* global console, process */
// The chart's monitoring templates are made from the files beside this script, so that the dashboard
// and the alerts exist once: `node deploy/monitoring/chart.mjs` rewrites
// charts/tributary/templates/monitoring-{dashboard,prometheusrule}.yaml; `--check` only compares (the
// test suite runs it). Helm would read `{{` in the content as its own: it is escaped.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const templates = join(here, '../../charts/tributary/templates');
const HEADER =
  '# Made by deploy/monitoring/chart.mjs from deploy/monitoring/: edit those files, then run it.';

/** Text Helm passes through unchanged: every `{{` becomes an action that prints `{{`. */
export const helmLiteral = (text) => text.replaceAll('{{', '{{ "{{" }}');

const labels = (extra) =>
  [
    '  labels:',
    '    {{- include "tributary.labels" . | nindent 4 }}',
    `    {{- with ${extra} }}`,
    '    {{- toYaml . | nindent 4 }}',
    '    {{- end }}',
  ].join('\n');

export function prometheusRuleTemplate(ruleYaml) {
  const at = ruleYaml.search(/^spec:$/m);
  if (at < 0) throw new Error('prometheus-rule.yaml: no top-level spec:');
  return [
    '{{- if .Values.monitoring.prometheusRule.enabled }}',
    HEADER,
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: {{ include "tributary.fullname" . }}',
    '  namespace: {{ .Release.Namespace }}',
    labels('.Values.monitoring.prometheusRule.labels'),
    helmLiteral(ruleYaml.slice(at).trimEnd()),
    '{{- end }}',
    '',
  ].join('\n');
}

export function dashboardTemplate(dashboardJson) {
  const body = dashboardJson
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return [
    '{{- if .Values.monitoring.dashboard.enabled }}',
    HEADER,
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ include "tributary.fullname" . }}-dashboard',
    '  namespace: {{ .Values.monitoring.dashboard.namespace | default .Release.Namespace }}',
    labels('.Values.monitoring.dashboard.labels'),
    '  {{- with .Values.monitoring.dashboard.annotations }}',
    '  annotations:',
    '    {{- toYaml . | nindent 4 }}',
    '  {{- end }}',
    'data:',
    '  tributary.json: |-',
    helmLiteral(body),
    '{{- end }}',
    '',
  ].join('\n');
}

/** The templates as they should be, by file name. */
export function chartTemplates() {
  return {
    'monitoring-prometheusrule.yaml': prometheusRuleTemplate(
      readFileSync(join(here, 'prometheus-rule.yaml'), 'utf8'),
    ),
    'monitoring-dashboard.yaml': dashboardTemplate(
      readFileSync(join(here, 'grafana-dashboard.json'), 'utf8'),
    ),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(chartTemplates())) {
    const file = join(templates, name);
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // missing: written below, or stale
    }
    if (current === text) continue;
    if (check) {
      console.error(`${file} is out of date: run node deploy/monitoring/chart.mjs`);
      stale++;
    } else writeFileSync(file, text);
  }
  process.exitCode = stale ? 1 : 0;
}
