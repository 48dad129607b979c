// `npm run trace` end to end on loopback: the roles run in-process and export to the runner's trace store
// (local/traces.ts, an OTLP/HTTP endpoint decoding with the official protos), behind the tests' broker stand-in
// (test/helpers/broker-standin.ts: binary delivery, dead letters with the knativeerror* extensions). The
// timeline shows handler → broker → transformer → sink for a trade, and handler → broker → transformer → dlq
// for one that cannot be mapped.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tradeTransform from '../functions/trade-transform/index.js';
import { startBrokerStandIn } from '../test/helpers/broker-standin.js';
import { createBroker } from './broker.js';
import { defaultDelivery } from './delivery.js';
import { fetchPost } from './http.js';
import { createConsole } from './log.js';
import { startServer } from './server.js';
import { startReceiver } from '../test/helpers/receiver.js';
import { startRuntime } from '../test/helpers/runtime.js';
import { waitFor } from '../test/helpers/wait.js';
import { formatTimeline } from './timeline.js';
import { fetchSpans, storeUrl } from './trace.js';
import { spansForEvent, startTraceStore, traceEnv } from './traces.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const trade = {
  trade_id: 'T-1',
  instrument: { ticker: 'acme' },
  qty: 10,
  px: 12.5,
  side: 'B',
  trade_time: '2026-11-25T09:30:00Z',
};

test('the timeline of a trade (→ sink) and of an unmappable one (→ dlq), from the spans the services exported', async () => {
  const store = await startTraceStore();
  cleanups.push(() => store.close());
  const tracing = { ...traceEnv(store), OTEL_BSP_SCHEDULE_DELAY: '20', LOG_LEVEL: 'warn' };
  const dir = mkdtempSync(join(tmpdir(), 'trace-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sink = await startReceiver({ status: 202 });
  cleanups.push(() => sink.close());
  const dlq = await startRuntime({
    ROLE: 'dlq',
    K_SERVICE: 'dlq',
    DLQ_FILE: join(dir, 'dead-letters.jsonl'),
    ...tracing,
  });
  cleanups.push(() => dlq.stop());
  const transformer = await startRuntime(
    {
      ROLE: 'sink-forwarder',
      FUNCTION: 'trade-transform',
      K_SERVICE: 'transformer',
      KAFKA_SINK_URL: sink.url,
      ...tracing,
    },
    { loadFunction: async () => ({ default: tradeTransform }) },
  );
  cleanups.push(() => transformer.stop());
  const broker = await startBrokerStandIn({ subscriberUrl: transformer.url, deadLetterUrl: dlq.url, retries: 0 });
  cleanups.push(() => broker.close());
  const handler = await startRuntime({ ROLE: 'handler', K_SERVICE: 'handler', BROKER_URL: broker.url, ...tracing });
  cleanups.push(() => handler.stop());

  const post = (id: string, data: unknown) =>
    fetch(handler.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-type': 'com.example.trade',
        'ce-source': '/provider',
      },
      body: JSON.stringify(data),
    });
  assert.equal((await post('trade-ok', trade)).status, 202);
  assert.equal((await post('trade-bad', { trade_id: 'T-2' })).status, 202);
  await broker.settled();

  const url = storeUrl({ url: store.url }, process.cwd());
  const ok = await waitFor(
    async () => {
      const spans = await fetchSpans(url, 'trade-ok');
      return spans.some((s) => s.name === 'publish sink') && spans.some((s) => s.name === 'receive')
        ? spans
        : undefined;
    },
    10_000,
    { what: 'the trade’s spans, sink included' },
  );
  const okLines = formatTimeline('trade-ok', ok).split('\n');
  // In order, each span indented under its parent (two columns per level).
  const order: Array<[service: string, span: string, depth: number]> = [
    ['handler', 'receive', 0],
    ['handler', 'publish broker', 1],
    ['transformer', 'process trade-transform', 2],
    ['transformer', 'function trade-transform', 3],
    ['transformer', 'publish sink', 3],
  ];
  const at = order.map(([service, span]) =>
    okLines.findIndex((line) => new RegExp(`\\s${service}\\s+${span}\\s`).test(line)),
  );
  assert.ok(
    at.every((i, n) => i > 0 && (n === 0 || i > at[n - 1]!)),
    `in order:\n${okLines.join('\n')}`,
  );
  const column = (n: number) => okLines[at[n]!]!.indexOf(order[n]![1]);
  for (let n = 1; n < order.length; n++)
    assert.equal(column(n) - column(0), 2 * order[n]![2], `nested by parent:\n${okLines.join('\n')}`);
  assert.match(okLines[0]!, /^event trade-ok$/);
  assert.match(okLines[2]!, /^trace [0-9a-f]{32} \(5 spans\)$/);
  assert.match(okLines[at[4]!]!, /PRODUCER\s+202\s+com\.example\.trade\.normalized/);

  const bad = await waitFor(
    async () => {
      const spans = await fetchSpans(url, 'trade-bad');
      return spans.some((s) => s.name === 'receive dead-letter') && spans.some((s) => s.name === 'publish broker')
        ? spans
        : undefined;
    },
    10_000,
    { what: 'the unmappable trade’s spans, dead letter included' },
  );
  const badText = formatTimeline('trade-bad', bad);
  const badLines = badText.split('\n');
  const processLine = badLines.find((line) => line.includes('process trade-transform'));
  assert.match(processLine ?? '', /CONSUMER\s+422 ERROR permanent_failure/, badText);
  const dead = badLines.findIndex((line) => line.includes('receive dead-letter'));
  assert.ok(dead > badLines.findIndex((line) => line.includes('publish broker')), badText);
  assert.match(
    badLines[dead]!,
    new RegExp(
      `dlq\\s+ +receive dead-letter\\s+CONSUMER\\s+202\\s+dead letter: ${transformer.url.replaceAll('.', '\\.')} answered 422`,
    ),
  );
  assert.equal(spansForEvent(store.forEvent('trade-bad'), 'trade-bad').length, bad.length);
});

test('the local broker’s own span: deliver <trigger> around its attempts (retries as attempts under it), then the dead letter', async () => {
  const store = await startTraceStore();
  cleanups.push(() => store.close());
  const tracing = { ...traceEnv(store), OTEL_BSP_SCHEDULE_DELAY: '20', LOG_LEVEL: 'warn' };
  const dir = mkdtempSync(join(tmpdir(), 'trace-broker-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dlq = await startRuntime({
    ROLE: 'dlq',
    K_SERVICE: 'dlq',
    DLQ_FILE: join(dir, 'dead-letters.jsonl'),
    ...tracing,
  });
  cleanups.push(() => dlq.stop());
  const failing = await startRuntime(
    { ROLE: 'subscriber', FUNCTION: 'echo', K_SERVICE: 'worker', ...tracing },
    {
      loadFunction: async () => ({
        default: () => {
          throw new Error('down');
        },
      }),
    },
  );
  cleanups.push(() => failing.stop());
  const log = createConsole({ level: 'error', colour: false, write: () => {} }).component('broker');
  const delivery = { ...defaultDelivery, retry: 1, backoffDelayMs: 1, deadLetterUrl: dlq.url };
  const broker = createBroker(
    [{ name: 'default', namespace: 'shop', path: '/shop/default', url: '' }],
    [
      {
        name: 'work',
        namespace: 'shop',
        brokerPath: '/shop/default',
        filter: { attributes: {} },
        subscriberUrl: failing.url,
        subscriberLabel: 'worker',
        delivery,
      },
    ],
    {
      post: fetchPost,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      stopping: () => false,
      log,
      traces: store,
    },
  );
  const ingress = await startServer('broker', '127.0.0.1', 0, (req, body) => broker.handle(req, body));
  cleanups.push(() => ingress.close());
  const handler = await startRuntime({
    ROLE: 'handler',
    K_SERVICE: 'handler',
    BROKER_URL: `http://127.0.0.1:${ingress.port}/shop/default`,
    ...tracing,
  });
  cleanups.push(() => handler.stop());

  const res = await fetch(handler.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'job-9',
      'ce-type': 'com.example.job',
      'ce-source': '/jobs',
    },
    body: '{}',
  });
  assert.equal(res.status, 202);
  await broker.idle();
  const spans = await waitFor(
    async () => {
      const found = await fetchSpans(store.url, 'job-9');
      return found.some((s) => s.name === 'receive dead-letter') &&
        found.filter((s) => s.name === 'process echo').length === 2
        ? found
        : undefined;
    },
    10_000,
    { what: 'the broker’s span, both attempts and the dead letter' },
  );
  const text = formatTimeline('job-9', spans);
  const lines = text.split('\n');
  const deliverAt = lines.findIndex((l) => /local-broker\s+deliver work\s+PRODUCER\s+500 ERROR\s+1 retry/.test(l));
  assert.ok(deliverAt > lines.findIndex((l) => l.includes('publish broker')), text);
  const attempts = lines.filter((l) => l.includes('process echo'));
  assert.match(attempts[0] ?? '', /CONSUMER\s+500 ERROR function_error\s+attempt 1$/, text);
  assert.match(attempts[1] ?? '', /attempt 2$/, text);
  const deliver = spans.find((s) => s.name === 'deliver work')!;
  assert.ok(
    spans.filter((s) => s.name === 'process echo').every((s) => s.parentSpanId === deliver.spanId),
    'the attempts are children of the broker’s span',
  );
  assert.equal(deliver.attributes['knative_events.delivery.outcome'], 'dead-lettered');
  assert.match(text, /dlq\s+receive dead-letter .*answered 500/);
});

test('no running pipeline: a clear message; an event without spans: says so', () => {
  assert.throws(
    () => storeUrl({ state: 'no/such/state.json' }, tmpdir()),
    /no pipeline is running .* start it with `npm start`, or pass --url/,
  );
  assert.match(formatTimeline('nothing', []), /^no spans for event nothing/);
});
