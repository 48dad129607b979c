// The Grafana dashboard names only metrics and labels the runtime defines, and covers what the issue asks:
// events/s by role, error rate, p50/p99 latency, dead letters, function duration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../runtime/metrics/prom-client.js';
import { defineMetrics } from '../runtime/metrics/definitions.js';
import { dashboardQueries } from './metrics-support.js';

test('every metric a dashboard query names is defined, with the labels it groups by', async () => {
  const registry = new Registry();
  defineMetrics(registry, { deadLetterStore: true });
  const defined = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const { labelNames = [] } = metric as unknown as { labelNames?: string[] };
    const labels = new Set(labelNames);
    defined.set(metric.name, labels);
    if (String(metric.type) === 'histogram') defined.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
  }
  const queries = dashboardQueries();
  for (const { panel, expr } of queries) {
    const names = expr.match(/knative_events_[a-z_]+/g) ?? [];
    assert.ok(names.length > 0, `panel "${panel}" queries no knative_events_ metric: ${expr}`);
    for (const name of names) {
      const labels = defined.get(name);
      assert.ok(labels, `panel "${panel}" uses ${name}, which runtime/metrics/definitions.ts does not define`);
      for (const [, by] of expr.matchAll(/by \(([^)]*)\)/g)) {
        for (const label of (by as string).split(',').map((l) => l.trim())) {
          // A binary expression's sides may group by different metrics; check the label belongs to some named metric.
          assert.ok(
            names.some((n) => defined.get(n)?.has(label)),
            `panel "${panel}" groups by "${label}", a label none of ${names.join(', ')} has`,
          );
        }
      }
    }
  }
  const all = queries.map((q) => q.expr).join('\n');
  for (const needed of [
    'knative_events_received_total',
    'knative_events_failed_total',
    'histogram_quantile(0.99',
    'histogram_quantile(0.5',
    'knative_events_dead_letters_stored_total',
    'knative_events_function_duration_seconds_bucket',
  ]) {
    assert.ok(all.includes(needed), `the dashboard has no query with ${needed}`);
  }
});
