// The event-loop and GC metrics load node:perf_hooks, so they start after the start (runtime/metrics/index.ts):
// absent from a registry just made, present in the first scrape, which waits for them, and started on their own
// a second after the first answer without any scrape.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../runtime/metrics/index.js';
import { startRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';
import { parseSamples, postEvent, scrape } from './metrics-support.js';

const lateNames = ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds'];
const config = { enabled: true, path: '/metrics', token: undefined, eventTypes: [] };

test('a registry just made has the other defaults but not yet the event-loop and GC metrics', () => {
  const { registry } = createMetrics({ config, role: 'subscriber', functionName: 'echo', version: 'test' });
  assert.ok(registry.getSingleMetric('process_cpu_seconds_total'), 'the other defaults are there at once');
  assert.ok(registry.getSingleMetric('nodejs_heap_size_used_bytes'));
  for (const name of lateNames) assert.equal(registry.getSingleMetric(name), undefined, name);
});

test('the first scrape has the event-loop and GC metrics, with values', async (t) => {
  const runtime = await startRuntime({ ROLE: 'subscriber', FUNCTION: 'echo' });
  t.after(() => runtime.stop());
  const res = await scrape(runtime.url);
  assert.equal(res.status, 200);
  const names = new Set(parseSamples(res.text).map((s) => s.name));
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds'])
    assert.ok(names.has(name), `${name} in the first scrape`);
  assert.match(res.text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
});

test('without a scrape they start a second after the first answer', async (t) => {
  const runtime = await startRuntime({ ROLE: 'subscriber', FUNCTION: 'echo' });
  t.after(() => runtime.stop());
  const registry = runtime.metrics?.registry;
  assert.ok(registry);
  for (const name of lateNames) assert.equal(registry.getSingleMetric(name), undefined, `${name} before any request`);
  assert.equal(await postEvent(runtime.url, 'late.defaults'), 200);
  await waitFor(() => lateNames.every((name) => registry.getSingleMetric(name) !== undefined), 10_000, {
    what: 'the event-loop and GC metrics in the registry',
  });
});
