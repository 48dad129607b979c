// Bounded labels and the observers: what reaches Prometheus never depends on how many distinct values a
// client or a failing service sends.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from '../runtime/metrics/prom-client.js';
import { defineMetrics } from '../runtime/metrics/definitions.js';
import {
  cappedLabeller,
  errorCodeLabel,
  eventTypeLabeller,
  hostAndPath,
  methodLabel,
  statusClass,
} from '../runtime/metrics/labels.js';
import { maxDestinations, roleObserver, sendObserver } from '../runtime/metrics/observers.js';
import { parseSamples, sumOf } from './metrics-support.js';

describe('labels', () => {
  test('event types outside the allow-list are "other", a missing type is "unknown"', () => {
    const label = eventTypeLabeller(['a', 'b']);
    assert.deepEqual(['a', 'b', 'c', '', undefined].map(label), ['a', 'b', 'other', 'other', 'unknown']);
    assert.equal(eventTypeLabeller([])('a'), 'other');
  });

  test('status classes, methods and error codes come from fixed sets', () => {
    assert.deepEqual([200, 204, 302, 404, 503, 0, 999].map(statusClass), [
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      'other',
      'other',
    ]);
    assert.deepEqual(['GET', 'POST', 'PROPFIND', 'get'].map(methodLabel), ['GET', 'POST', 'other', 'other']);
    assert.deepEqual(['500', '404', '5000', 'abc', ''].map(errorCodeLabel), ['500', '404', 'other', 'other', 'other']);
  });

  test('destinations are host and path, capped at a number of distinct values', () => {
    assert.equal(hostAndPath('http://sub.ns.svc.cluster.local:8080/x?id=1#f'), 'sub.ns.svc.cluster.local:8080/x');
    assert.equal(hostAndPath('not a url'), undefined);
    assert.equal(hostAndPath('file:///etc/passwd'), undefined);
    const label = cappedLabeller(2, hostAndPath);
    assert.deepEqual(['http://a/', 'http://b/', 'http://c/', 'http://a/?q=1', 'junk'].map(label), [
      'a/',
      'b/',
      'other',
      'a/',
      'other',
    ]);
  });
});

describe('observers', () => {
  const setup = () => {
    const registry = new Registry();
    return { registry, metrics: defineMetrics(registry, { deadLetterStore: true }) };
  };

  test('dead letters by bounded destination and code; store size gauges', async () => {
    const { registry, metrics } = setup();
    const observer = roleObserver(metrics);
    observer.deadLetterStored?.('http://sub.ns.svc.cluster.local/', '500');
    observer.deadLetterStored?.('http://sub.ns.svc.cluster.local/', '500');
    for (let i = 0; i < maxDestinations + 10; i++) observer.deadLetterStored?.(`http://svc-${i}.ns/`, 'weird');
    observer.storeSize?.(2048, 7);
    const samples = parseSamples(await registry.metrics());
    assert.equal(
      sumOf(samples, 'knative_events_dead_letters_stored_total', {
        destination: 'sub.ns.svc.cluster.local/',
        code: '500',
      }),
      2,
    );
    const destinations = new Set(
      samples.filter((s) => s.name === 'knative_events_dead_letters_stored_total').map((s) => s.labels.destination),
    );
    assert.equal(destinations.size, maxDestinations + 1, 'the cap plus "other"');
    assert.equal(
      sumOf(samples, 'knative_events_dead_letters_stored_total', { destination: 'other', code: 'other' }),
      11,
    );
    assert.equal(sumOf(samples, 'knative_events_dead_letter_store_bytes'), 2048);
    assert.equal(sumOf(samples, 'knative_events_dead_letter_store_records'), 7);
  });

  test('outbound attempts by result kind, and retries', async () => {
    const { registry, metrics } = setup();
    const observer = sendObserver(metrics);
    observer.attempt?.('sink', { kind: 'timeout', message: 'slow' }, 5);
    observer.attempt?.('sink', { kind: 'network', message: 'ECONNREFUSED' }, 0.01);
    observer.attempt?.('sink', { kind: 'status', status: 429, body: '' }, 0.01);
    observer.retry?.('sink');
    observer.retry?.('sink');
    const samples = parseSamples(await registry.metrics());
    for (const result of ['timeout', 'network_error', '4xx']) {
      assert.equal(
        sumOf(samples, 'knative_events_outbound_request_duration_seconds_count', { target: 'sink', result }),
        1,
        result,
      );
    }
    assert.equal(
      sumOf(samples, 'knative_events_outbound_request_duration_seconds_sum', { target: 'sink', result: 'timeout' }),
      5,
    );
    assert.equal(sumOf(samples, 'knative_events_outbound_retries_total', { target: 'sink' }), 2);
  });

  test('store gauges are exported by the dlq role only', async () => {
    const registry = new Registry();
    defineMetrics(registry, { deadLetterStore: false });
    assert.doesNotMatch(await registry.metrics(), /dead_letter_store/);
  });
});
