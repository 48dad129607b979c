// `promtool check metrics` (Prometheus' own linter: names, suffixes, units, HELP/TYPE) on the /metrics of
// every role in config.ts, after each has handled an event so its labelled series exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { roles } from '../runtime/config.js';
import { startRuntime } from './helpers/runtime.js';
import { parseSamples, requireTool, roleSetups, scrape, sumOf } from './metrics-support.js';

/** A delivery as Knative's dead-letter path sends it: the knativeerror* extensions are set. */
const deadLetterHeaders = {
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': 'promtool-1',
  'ce-source': '/tests/promtool',
  'ce-type': 'com.example.order',
  'ce-knativeerrordest': 'http://subscriber.ns.svc.cluster.local/',
  'ce-knativeerrorcode': '500',
  'ce-knativeerrordata': Buffer.from('boom').toString('base64'),
};

describe('promtool check metrics', () => {
  for (const role of roles) {
    test(`role ${role}: its /metrics passes promtool`, async (t) => {
      const promtool = requireTool('promtool');
      const setup = await roleSetups[role]();
      t.after(() => setup.close());
      const runtime = await startRuntime({ ...setup.env, METRICS_EVENT_TYPES: 'com.example.order' });
      t.after(() => runtime.stop());

      const delivered = await fetch(runtime.url, { method: 'POST', headers: deadLetterHeaders, body: '{"n":1}' });
      assert.ok(delivered.status < 300, `role ${role} answered ${delivered.status}: ${await delivered.text()}`);
      const { status, text } = await scrape(runtime.url);
      assert.equal(status, 200);
      const samples = parseSamples(text);
      assert.equal(sumOf(samples, 'knative_events_build_info', { role }), 1);
      assert.equal(sumOf(samples, 'knative_events_received_total', { role, event_type: 'com.example.order' }), 1);
      // runtime/metrics/prom-client.ts loads prom-client's default metrics file by file: all must still be there.
      const names = new Set(samples.map((s) => s.name));
      for (const name of [
        'process_cpu_seconds_total',
        'process_cpu_system_seconds_total',
        'process_start_time_seconds',
        'process_resident_memory_bytes',
        'process_open_fds',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_active_handles',
        'nodejs_heap_size_used_bytes',
        'nodejs_heap_space_size_used_bytes',
        'nodejs_version_info',
      ]) {
        assert.ok(names.has(name), `default metric ${name} is missing`);
      }
      assert.ok(sumOf(samples, 'process_cpu_user_seconds_total') > 0, 'process CPU is counted');
      if (role === 'dlq') {
        assert.equal(sumOf(samples, 'knative_events_stored_total', { role }), 1);
        assert.equal(
          sumOf(samples, 'knative_events_dead_letters_stored_total', {
            destination: 'subscriber.ns.svc.cluster.local/',
            code: '500',
          }),
          1,
        );
        assert.equal(sumOf(samples, 'knative_events_dead_letter_store_records'), 1);
      }

      const checked = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(
        checked.status,
        0,
        `promtool check metrics failed for role ${role}:\n${checked.stdout}${checked.stderr}`,
      );
    });
  }
});
