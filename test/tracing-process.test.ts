// Tracing in the built bundle, as a real process: spans still queued at SIGTERM are exported within the
// drain before the process exits; and while the collector is down, the batch queue stays bounded, spans are
// dropped and counted in the Prometheus metrics, and export resumes when the collector is back. The
// collector is a small OTLP/HTTP receiver on loopback (test/helpers/otlp-collector.ts), standing in for an
// OpenTelemetry collector. Needs `npm run build` (dist/knative-events.cjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { bundlePath, startBundle } from './helpers/bundle.js';
import { startOtlpCollector } from './helpers/otlp-collector.js';
import { startReceiver } from './helpers/receiver.js';
import { waitFor } from './helpers/wait.js';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const event = (id: string) => ({
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': 'com.example.t',
    'ce-source': '/tests',
  },
  body: '{"n":1}',
});

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('SIGTERM: the spans still queued are exported within the drain, then the process exits 0', async () => {
  const otlp = await startOtlpCollector();
  cleanups.push(() => otlp.close());
  // A schedule far longer than the test: nothing is exported before SIGTERM.
  const proc = await startBundle({
    ROLE: 'subscriber',
    FUNCTION: 'echo',
    K_SERVICE: 'flush-test',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: '600000',
  });
  cleanups.push(() => proc.child.kill('SIGKILL'));
  const res = await fetch(proc.url, event('flush-1'));
  assert.equal(res.status, 200);
  // The process's own count, not a grace period: with a 10-minute schedule nothing has been exported yet.
  const before = await (await fetch(`${proc.url}metrics`)).text();
  assert.equal(metric(before, 'knative_events_trace_spans_exported_total'), 0, before);
  assert.equal(otlp.spans.length, 0, 'nothing exported before SIGTERM');
  // the exit code once the process has exited ({ code } so that any code counts as exited)
  let exit: { code: number | string } | undefined;
  void proc.exited.then((code) => (exit = { code }));
  proc.child.kill('SIGTERM');
  // waitFor, not a race with a 10 s timer: the pending timer kept the file's process alive past its tests
  const { code } = await waitFor(() => exit, 10_000, { what: 'the exit after SIGTERM', context: proc.stderr });
  assert.equal(code, 0, proc.stderr());
  assert.deepEqual(
    otlp.spans
      .map((s) => `${s.resource['service.name']} ${s.name} ${s.attributes['cloudevents.event_id'] ?? ''}`)
      .sort(),
    ['flush-test function echo ', 'flush-test process echo flush-1'],
  );
});

test('collector down: the queue stays bounded, spans are dropped and counted in /metrics; export resumes when it is back', async () => {
  const otlp = await startOtlpCollector();
  cleanups.push(() => otlp.close());
  otlp.setMode('down');
  const broker = await startReceiver({ status: 202 });
  cleanups.push(() => broker.close());
  const proc = await startBundle({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: '10',
    OTEL_BSP_MAX_QUEUE_SIZE: '16',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '8',
    OTEL_EXPORTER_OTLP_TIMEOUT: '300',
  });
  cleanups.push(() => proc.child.kill('SIGKILL'));
  // 50 events, 2 spans each (receive, publish broker): 100 spans against a queue of 16 and a collector that never answers.
  for (let i = 0; i < 50; i++) assert.equal((await fetch(proc.url, event(`down-${i}`))).status, 202);
  const metricsUrl = `${proc.url}metrics`;
  const dropped = await waitFor(
    async () => {
      const text = await (await fetch(metricsUrl)).text();
      const full = metric(text, 'knative_events_trace_spans_dropped_total{reason="queue_full"}');
      const failed = metric(text, 'knative_events_trace_spans_dropped_total{reason="export_failed"}');
      return full + failed === 100
        ? { full, failed, exported: metric(text, 'knative_events_trace_spans_exported_total') }
        : undefined;
    },
    15_000,
    { what: 'all 100 spans counted as dropped' },
  );
  // Both ways of losing a span: arriving at a full queue (the bound; test/tracing.test.ts checks it exactly) and
  // being in a batch whose export timed out.
  assert.ok(dropped.full > 0, `some spans found the queue full (${dropped.full})`);
  assert.ok(dropped.failed > 0, `some were in failed exports (${dropped.failed})`);
  assert.equal(dropped.exported, 0);
  assert.equal(otlp.spans.length, 0);
  assert.match(proc.stdout(), /trace export failed/);
  assert.equal(proc.stdout().match(/trace export failed/g)?.length, 1, 'one warning per outage, not one per batch');

  otlp.setMode({ status: 200 });
  assert.equal((await fetch(proc.url, event('back-1'))).status, 202);
  await otlp.waitForSpans(
    (spans) => spans.filter((s) => s.attributes['cloudevents.event_id'] === 'back-1').length === 2,
    'the spans of the event sent once the collector is back',
  );
  await waitFor(
    async () => metric(await (await fetch(metricsUrl)).text(), 'knative_events_trace_spans_exported_total') === 2,
    5000,
    { what: 'exported_total at 2' },
  );
});

test('a wrong OTEL_* value stops the process at start-up: exit 1, every problem named, no stack trace, no credential quoted', () => {
  const env = {
    PATH: process.env.PATH ?? '',
    ROLE: 'subscriber',
    FUNCTION: 'echo',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_TRACES_SAMPLER: 'sometimes',
    OTEL_EXPORTER_OTLP_HEADERS: 'token-without-a-key',
  };
  const result = spawnSync(process.execPath, [bundlePath], { env, encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /OTEL_TRACES_SAMPLER: expected one of always_on, always_off, traceidratio/);
  assert.match(result.stderr, /OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs/);
  assert.doesNotMatch(result.stderr, /token-without-a-key/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
