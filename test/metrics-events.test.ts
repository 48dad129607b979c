// Event and HTTP metrics as a role produces them, read back from its own /metrics over loopback.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PermanentError, type FunctionModule } from '../runtime/function-api.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';
import { parseSamples, postEvent, scrape, sumOf } from './metrics-support.js';

/** A function whose behaviour the event's data chooses, to drive every outcome. */
const scripted: FunctionModule = {
  default: (event) => {
    const data = event.data as { do?: string };
    if (data.do === 'throw') throw new Error('boom');
    if (data.do === 'permanent') throw new PermanentError('cannot map', { status: 422 });
    return { ok: true };
  },
};

describe('subscriber event metrics', () => {
  let runtime: RunningRuntime;
  before(async () => {
    runtime = await startRuntime(
      { ROLE: 'subscriber', FUNCTION: 'echo', METRICS_EVENT_TYPES: 'com.example.order, com.example.refund' },
      { loadFunction: async () => scripted },
    );
  });
  after(() => runtime.stop());

  test('every delivery is received once and ends in exactly one outcome, labelled by allowed type', async () => {
    const statuses = [
      await postEvent(runtime.url, 'com.example.order'),
      await postEvent(runtime.url, 'com.example.order'),
      await postEvent(runtime.url, 'com.example.refund', { data: { do: 'permanent' } }),
      await postEvent(runtime.url, 'com.example.order', { data: { do: 'throw' } }),
      await postEvent(runtime.url, 'not.listed'),
    ];
    assert.deepEqual(statuses, [200, 200, 422, 500, 200]);
    const broken = await fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(broken.status, 400);

    const samples = parseSamples((await scrape(runtime.url)).text);
    const base = { role: 'subscriber', function: 'echo' };
    assert.equal(sumOf(samples, 'knative_events_received_total', { ...base, event_type: 'com.example.order' }), 3);
    assert.equal(sumOf(samples, 'knative_events_received_total', { ...base, event_type: 'com.example.refund' }), 1);
    assert.equal(sumOf(samples, 'knative_events_received_total', { ...base, event_type: 'other' }), 1);
    assert.equal(sumOf(samples, 'knative_events_received_total', { ...base, event_type: 'unknown' }), 1);
    assert.equal(sumOf(samples, 'knative_events_processed_total', { event_type: 'com.example.order' }), 2);
    assert.equal(sumOf(samples, 'knative_events_processed_total', { event_type: 'other' }), 1);
    assert.equal(
      sumOf(samples, 'knative_events_rejected_total', {
        event_type: 'com.example.refund',
        reason: 'permanent_failure',
      }),
      1,
    );
    assert.equal(sumOf(samples, 'knative_events_rejected_total', { event_type: 'unknown', reason: 'invalid_json' }), 1);
    assert.equal(
      sumOf(samples, 'knative_events_failed_total', { event_type: 'com.example.order', reason: 'function_error' }),
      1,
    );

    const outcomes = ['processed', 'replied', 'forwarded', 'stored', 'rejected', 'failed'].map((o) =>
      sumOf(samples, `knative_events_${o}_total`),
    );
    assert.equal(
      outcomes.reduce((a, b) => a + b, 0),
      sumOf(samples, 'knative_events_received_total'),
      'received = sum of outcomes',
    );
  });

  test('function duration and errors are counted per function and outcome', async () => {
    const samples = parseSamples((await scrape(runtime.url)).text);
    assert.ok(
      sumOf(samples, 'knative_events_function_duration_seconds_count', { function: 'echo', outcome: 'ok' }) >= 3,
    );
    assert.equal(sumOf(samples, 'knative_events_function_errors_total', { function: 'echo', kind: 'error' }), 1);
    assert.equal(sumOf(samples, 'knative_events_function_errors_total', { function: 'echo', kind: 'permanent' }), 1);
  });

  test('a client cannot grow the label set: unlisted types and unknown paths collapse', async () => {
    for (let i = 0; i < 20; i++) await postEvent(runtime.url, `attacker.type.${i}`);
    // A path of letters: digits could turn up in any sample's value (a heap size of 255123456 held "12345").
    await fetch(new URL('no/such/path/unknown-path-marker', runtime.url));
    const { text } = await scrape(runtime.url);
    assert.doesNotMatch(text, /attacker\.type/);
    assert.doesNotMatch(text, /unknown-path-marker|no\/such\/path/);
    const samples = parseSamples(text);
    const types = new Set(
      samples.filter((s) => s.name === 'knative_events_received_total').map((s) => s.labels.event_type),
    );
    assert.deepEqual([...types].sort(), ['com.example.order', 'com.example.refund', 'other', 'unknown']);
    assert.equal(
      sumOf(samples, 'knative_events_http_request_duration_seconds_count', {
        route: 'unmatched',
        method: 'GET',
        status_class: '4xx',
      }),
      1,
    );
  });

  test('HTTP duration is labelled by the matched route, method and status class; in-flight counts the scrape', async () => {
    const samples = parseSamples((await scrape(runtime.url)).text);
    assert.ok(
      sumOf(samples, 'knative_events_http_request_duration_seconds_count', {
        route: '/',
        method: 'POST',
        status_class: '2xx',
      }) >= 23,
    );
    assert.equal(
      sumOf(samples, 'knative_events_http_request_duration_seconds_count', {
        route: '/',
        method: 'POST',
        status_class: '5xx',
      }),
      1,
    );
    assert.equal(sumOf(samples, 'knative_events_http_requests_in_flight'), 1);
    assert.equal(sumOf(samples, 'knative_events_build_info', { role: 'subscriber', function: 'echo' }), 1);
  });
});

describe('handler outbound metrics', () => {
  let broker: Receiver;
  let runtime: RunningRuntime;
  before(async () => {
    broker = await startReceiver();
    runtime = await startRuntime({
      ROLE: 'handler',
      BROKER_URL: broker.url,
      OUTBOUND_BACKOFF_MS: '0',
      OUTBOUND_RETRIES: '2',
    });
  });
  after(async () => {
    await runtime.stop();
    await broker.close();
  });

  test('forwarded events, each broker attempt by result, and retries', async () => {
    broker.script({ status: 503 }, { status: 202 });
    assert.equal(await postEvent(runtime.url, 'a'), 202);
    broker.script({ status: 400 });
    assert.equal(await postEvent(runtime.url, 'b'), 502);
    const samples = parseSamples((await scrape(runtime.url)).text);
    assert.equal(
      sumOf(samples, 'knative_events_forwarded_total', { role: 'handler', function: 'none', event_type: 'other' }),
      1,
    );
    assert.equal(sumOf(samples, 'knative_events_failed_total', { reason: 'upstream_rejected' }), 1);
    assert.equal(
      sumOf(samples, 'knative_events_outbound_request_duration_seconds_count', { target: 'broker', result: '5xx' }),
      1,
    );
    assert.equal(
      sumOf(samples, 'knative_events_outbound_request_duration_seconds_count', { target: 'broker', result: '2xx' }),
      1,
    );
    assert.equal(
      sumOf(samples, 'knative_events_outbound_request_duration_seconds_count', { target: 'broker', result: '4xx' }),
      1,
    );
    assert.equal(sumOf(samples, 'knative_events_outbound_retries_total', { target: 'broker' }), 1);
  });
});
