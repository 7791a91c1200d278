// The Grafana dashboard in deploy/grafana/tessera-dashboard.json queries only what the server
// exports: every metric name in every panel query (and in the template variables) is checked
// against a real /metrics scrape after some traffic, and every label a query groups by or a
// legend names exists on those metrics. Also the essentials of the file itself: one
// Prometheus data source variable used by every panel, unique ids, the panels issue 13 asks for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sdkClient } from '../helpers/clients.js';
import { collect, patternBuffer } from '../helpers/data.js';
import { parseExposition } from '../helpers/prom-text.js';
import { repoRoot } from '../helpers/repo-root.js';
import { startTestServer } from '../helpers/server.js';

interface Target { expr?: string; legendFormat?: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; gridPos: { x: number; w: number } }
interface Dashboard { uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown; definition?: string }[] } }

/** Labels Prometheus adds at scrape time; the raw exposition does not carry them. */
const TARGET_LABELS = new Set(['instance', 'job']);

/** Metric names in a PromQL expression: an identifier directly followed by its selector's "{". */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);
}

test('the Grafana dashboard uses only metrics and labels a real server exports', { timeout: 120_000 }, async () => {
  const file = path.join(repoRoot(), 'deploy', 'grafana', 'tessera-dashboard.json');
  const dash = JSON.parse(await readFile(file, 'utf8')) as Dashboard;
  assert.ok(dash.uid);
  const ds = dash.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
  assert.equal(ds?.type, 'datasource');
  assert.equal(ds?.query, 'prometheus');

  const panels = dash.panels.filter((p) => p.type !== 'row');
  assert.equal(new Set(dash.panels.map((p) => p.id)).size, dash.panels.length, 'panel ids are unique');
  const exprs: { panel: string; expr: string; legend: string }[] = [];
  for (const p of panels) {
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${DS_PROMETHEUS}' }, p.title);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
    assert.ok(p.targets && p.targets.length > 0, `${p.title} has queries`);
    for (const t of p.targets) {
      assert.ok(t.expr, `${p.title}: every target has an expression`);
      assert.ok(metricNames(t.expr).length > 0, `${p.title}: ${t.expr} names a metric`);
      exprs.push({ panel: p.title, expr: t.expr, legend: t.legendFormat ?? '' });
    }
  }
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue;
    const m = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(v.definition ?? '');
    assert.ok(m, `variable ${v.name} reads label values of a metric`);
    exprs.push({ panel: `variable ${v.name}`, expr: `${m[1]}{}`, legend: '' });
  }
  // What issue 13 asks the dashboard to show.
  const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
  for (const want of ['request rate by operation', 'error rate by status', 'latency p50', 'latency p99', 'bytes in / out', 'in flight', 'disk usage', 'disk state', 'bit rot', 'heal queue', 'scanner progress', 'objects per bucket', 'bytes per bucket', 'memory', 'cpu']) {
    assert.ok(titles.includes(want), `a panel shows ${want}`);
  }

  // A real server with a bucket, an object and some requests, so labelled series exist.
  const s = await startTestServer();
  try {
    const s3 = sdkClient(s);
    await s3.send(new CreateBucketCommand({ Bucket: 'dash' }));
    await s3.send(new PutObjectCommand({ Bucket: 'dash', Key: 'k', Body: patternBuffer(200_000) }));
    await collect((await s3.send(new GetObjectCommand({ Bucket: 'dash', Key: 'k' }))).Body as AsyncIterable<Uint8Array>);
    let e = parseExposition(await (await fetch(`${s.endpoint}/metrics`)).text());
    for (let i = 0; i < 100 && !e.samples.some((x) => x.name === 'tessera_http_request_duration_seconds_bucket'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      e = parseExposition(await (await fetch(`${s.endpoint}/metrics`)).text());
    }
    const labelsOf = new Map<string, Set<string>>();
    for (const x of e.samples) {
      const set = labelsOf.get(x.name) ?? new Set<string>();
      for (const k of Object.keys(x.labels)) set.add(k);
      labelsOf.set(x.name, set);
    }
    for (const { panel, expr, legend } of exprs) {
      const names = metricNames(expr);
      for (const n of names) assert.ok(labelsOf.has(n), `${panel}: ${n} is in a real scrape`);
      const available = new Set(names.flatMap((n) => [...(labelsOf.get(n) ?? [])]));
      const used = [
        ...[...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...expr.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"/g)].map((m) => m[1]!),
        ...[...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!),
      ].filter((l) => l !== '' && !TARGET_LABELS.has(l));
      for (const l of used) assert.ok(available.has(l), `${panel}: label ${l} exists on ${names.join(', ')}`);
    }
  } finally {
    await s.destroy();
  }
});
