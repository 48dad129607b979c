// Broker, its config, triggers (filters, delivery), PingSources and KafkaSinks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ensureHelm, find, render } from './helm.js';
import { spec } from './contract.js';

ensureHelm();
const DLQ_REF = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'ev-knative-events-dlq', namespace: 'events' } };

describe('Broker', () => {
  const objs = render(4);
  const broker = find(objs, 'Broker', 'ev-knative-events');
  it('is Kafka class, refers to the config map the chart renders, dead-letters to the dlq', () => {
    assert.equal(broker?.metadata.annotations?.['eventing.knative.dev/broker.class'], 'Kafka');
    const s = spec(broker);
    assert.deepEqual(s.config, { apiVersion: 'v1', kind: 'ConfigMap', name: 'ev-knative-events-broker-config', namespace: 'events' });
    assert.ok(find(objs, 'ConfigMap', 'ev-knative-events-broker-config'));
    assert.deepEqual(s.delivery, { retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.5S', deadLetterSink: DLQ_REF });
  });
  it('config map keys for the Kafka broker, auth secret from kafka.auth (prod: SASL_SSL secret)', () => {
    const cm = find(render(4, { files: ['values/prod.yaml'] }), 'ConfigMap', 'ev-knative-events-broker-config');
    assert.deepEqual(cm?.data, {
      'default.topic.partitions': '12',
      'default.topic.replication.factor': '3',
      'bootstrap.servers': 'pkc-00000.eu-west-1.aws.confluent.cloud:9092',
      'auth.secret.ref.name': 'kafka-confluent-sasl',
    });
  });
  it('without an enabled dlq the broker has no dead-letter sink', () => {
    const objs2 = render(4, { set: ['services.dlq.enabled=false'] });
    assert.equal((spec(find(objs2, 'Broker', 'ev-knative-events')).delivery as Record<string, unknown>).deadLetterSink, undefined);
  });
  it('config-br-defaults only on request, pointing at this chart broker config', () => {
    assert.equal(find(objs, 'ConfigMap', 'config-br-defaults'), undefined);
    const full = render(4, { files: ['chart/ci/full-values.yaml'] });
    const d = find(full, 'ConfigMap', 'config-br-defaults');
    assert.equal(d?.metadata.namespace, 'knative-eventing');
    const cfg = parse(d?.data?.['default-br-config'] ?? '') as Record<string, Record<string, Record<string, string>>>;
    assert.equal(cfg.clusterDefault?.brokerClass, 'Kafka');
    assert.deepEqual(cfg.namespaceDefaults?.events, { brokerClass: 'Kafka', apiVersion: 'v1', kind: 'ConfigMap', name: 'kev-broker-config', namespace: 'events' });
  });
});

describe('Triggers', () => {
  it('classic attribute filter and the filters dialect; subscriber refs by short name', () => {
    const objs = render(4);
    const trades = spec(find(objs, 'Trigger', 'ev-knative-events-trigger-trades'));
    assert.equal(trades.broker, 'ev-knative-events');
    assert.deepEqual(trades.filter, { attributes: { type: 'com.example.trade' } });
    assert.deepEqual(trades.subscriber, { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'ev-knative-events-transformer', namespace: 'events' } });
    assert.equal(trades.delivery, undefined, 'no trigger delivery: the broker default applies');
    const echo = spec(find(objs, 'Trigger', 'ev-knative-events-trigger-echo'));
    assert.deepEqual(echo.filters, [{ prefix: { type: 'com.example.' } }]);
  });
  it('per-trigger delivery inherits the broker dead-letter sink unless it names its own', () => {
    const local = render(3, { files: ['values/local.yaml'] });
    const t = spec(find(local, 'Trigger', 'ev-knative-events-trigger-trades'));
    assert.deepEqual(t.delivery, { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.2S', deadLetterSink: DLQ_REF });
    const full = render(3, { files: ['chart/ci/full-values.yaml'] });
    const audit = spec(find(full, 'Trigger', 'kev-trigger-audit-all'));
    assert.deepEqual(audit.delivery, { deadLetterSink: { uri: 'http://dead-letters.example.com/in' } });
    assert.equal((audit.filters as unknown[]).length, 2);
    assert.deepEqual(spec(find(full, 'Trigger', 'kev-trigger-external')).subscriber, { uri: 'https://hooks.example.com/events' });
    assert.deepEqual(spec(find(full, 'Trigger', 'kev-trigger-by-ref')).subscriber, {
      ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'kev-echo', namespace: 'events' },
      uri: '/by-ref',
    });
    assert.deepEqual((spec(find(full, 'Trigger', 'kev-trigger-trades')).delivery as Record<string, unknown>).format, 'binary');
  });
});

describe('PingSources and KafkaSinks', () => {
  const full = render(4, { files: ['chart/ci/full-values.yaml'] });
  it('PingSource: schedule, timezone, data or dataBase64, sink to a service or a KafkaSink', () => {
    assert.deepEqual(spec(find(full, 'PingSource', 'kev-ping-heartbeat')), {
      schedule: '*/5 * * * *',
      timezone: 'Europe/Paris',
      contentType: 'application/json',
      data: '{"heartbeat":true}',
      ceOverrides: { extensions: { origin: 'ping' } },
      sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'kev-handler', namespace: 'events' } },
    });
    const bin = spec(find(full, 'PingSource', 'kev-ping-binary'));
    assert.equal(bin.dataBase64, 'aGVsbG8=');
    assert.equal(bin.data, undefined);
    assert.deepEqual(bin.sink, { ref: { apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', name: 'kev-audit-log', namespace: 'events' } });
  });
  it('local.yaml pings the handler every minute', () => {
    const p = spec(find(render(4, { files: ['values/local.yaml'] }), 'PingSource', 'ev-knative-events-ping-heartbeat'));
    assert.equal(p.schedule, '* * * * *');
  });
  it('KafkaSink: topic, servers, partitions, content mode, auth nested under spec.auth', () => {
    assert.deepEqual(spec(find(full, 'KafkaSink', 'kev-audit-log')), {
      topic: 'audit',
      bootstrapServers: ['audit.kafka:9092'],
      contentMode: 'binary',
      auth: { secret: { ref: { name: 'audit-kafka-auth' } } },
    });
    assert.deepEqual(spec(find(full, 'KafkaSink', 'kev-trades-out')).bootstrapServers, ['b1.kafka:9092', 'b2.kafka:9092']);
    assert.deepEqual(spec(find(full, 'KafkaSink', 'kev-trades-out')).auth, { secret: { ref: { name: 'kafka-auth' } } });
  });
});
