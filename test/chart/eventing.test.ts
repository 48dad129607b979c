// Broker, its config, triggers (filters, delivery), PingSources and KafkaSinks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureHelm, find, findHashed, render } from './helm.js';
import { spec } from './contract.js';

ensureHelm();
const DLQ_REF = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'ev-knative-events-dlq', namespace: 'events' } };

describe('Broker', () => {
  const objs = render(4);
  const broker = findHashed(objs, 'Broker', 'ev-knative-events');
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
    assert.equal((spec(findHashed(objs2, 'Broker', 'ev-knative-events')).delivery as Record<string, unknown>).deadLetterSink, undefined);
  });
  it('never renders Knative\'s config-br-defaults or anything in knative-eventing', () => {
    for (const file of [[], ['chart/ci/full-values.yaml'], ['values/prod.yaml']]) {
      const all = render(4, { files: file });
      assert.equal(find(all, 'ConfigMap', 'config-br-defaults'), undefined);
      assert.deepEqual(all.filter((o) => o.metadata.namespace !== 'events').map((o) => `${o.kind}/${o.metadata.name}`), []);
    }
  });
  it('retryAfterMax renders only when the cluster declares delivery-retryafter', () => {
    const full = render(4, { files: ['chart/ci/full-values.yaml'] });
    assert.equal((spec(findHashed(full, 'Broker', 'trading')).delivery as Record<string, unknown>).retryAfterMax, 'PT30S');
  });
});

describe('Triggers', () => {
  it('classic attribute filter and the filters dialect; subscriber refs by short name', () => {
    const objs = render(4);
    const trades = spec(findHashed(objs, 'Trigger', 'ev-knative-events-trigger-trades'));
    assert.equal(trades.broker, findHashed(objs, 'Broker', 'ev-knative-events')?.metadata.name);
    assert.deepEqual(trades.filter, { attributes: { type: 'com.example.trade' } });
    assert.deepEqual(trades.subscriber, { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'ev-knative-events-transformer', namespace: 'events' } });
    assert.equal(trades.delivery, undefined, 'no trigger delivery: the broker default applies');
    const echo = spec(findHashed(objs, 'Trigger', 'ev-knative-events-trigger-echo'));
    assert.deepEqual(echo.filters, [{ prefix: { type: 'com.example.' } }]);
  });
  it('per-trigger delivery is the broker delivery with the trigger keys over it (both brokers replace, not merge), and its dead-letter sink', () => {
    const local = render(3, { files: ['values/local.yaml'] });
    const t = findHashed(local, 'Trigger', 'ev-knative-events-trigger-trades');
    assert.deepEqual(spec(t).delivery, { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.2S', deadLetterSink: DLQ_REF });
    assert.equal(t?.metadata.annotations?.['kafka.eventing.knative.dev/delivery.order'], 'ordered', 'local.yaml: ordered trades');
    const full = render(3, { files: ['chart/ci/full-values.yaml'] });
    const audit = spec(findHashed(full, 'Trigger', 'kev-trigger-audit-all'));
    assert.deepEqual(audit.delivery, { retry: 4, backoffPolicy: 'linear', backoffDelay: 'PT1S', timeout: 'PT10S', retryAfterMax: 'PT30S', deadLetterSink: { uri: 'http://dead-letters.example.com/in' } });
    assert.equal((audit.filters as unknown[]).length, 2);
    assert.deepEqual(spec(findHashed(full, 'Trigger', 'kev-trigger-external')).subscriber, { uri: 'https://hooks.example.com/events' });
    assert.deepEqual(spec(findHashed(full, 'Trigger', 'kev-trigger-by-ref')).subscriber, {
      ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'kev-echo', namespace: 'events' },
      uri: '/by-ref',
    });
    const trades = findHashed(full, 'Trigger', 'kev-trigger-trades');
    assert.deepEqual(spec(trades).delivery as Record<string, unknown>, { retry: 0, backoffPolicy: 'linear', backoffDelay: 'PT1S', timeout: 'PT10S', retryAfterMax: 'PT30S', format: 'binary', deadLetterSink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'kev-dlq', namespace: 'events' } } });
    assert.equal(trades?.metadata.annotations?.['kafka.eventing.knative.dev/delivery.order'], 'ordered');
    assert.equal(findHashed(full, 'Trigger', 'kev-trigger-audit-all')?.metadata.annotations?.['kafka.eventing.knative.dev/delivery.order'], undefined);
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
    assert.deepEqual(bin.sink, { ref: { apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', name: findHashed(full, 'KafkaSink', 'kev-audit-log')?.metadata.name, namespace: 'events' } });
  });
  it('local.yaml pings the handler every minute', () => {
    const p = spec(find(render(4, { files: ['values/local.yaml'] }), 'PingSource', 'ev-knative-events-ping-heartbeat'));
    assert.equal(p.schedule, '* * * * *');
  });
  it('KafkaSink: topic, servers, partitions, content mode, auth nested under spec.auth', () => {
    assert.deepEqual(spec(findHashed(full, 'KafkaSink', 'kev-audit-log')), {
      topic: 'audit',
      bootstrapServers: ['audit.kafka:9092'],
      contentMode: 'binary',
      auth: { secret: { ref: { name: 'audit-kafka-auth' } } },
    });
    assert.deepEqual(spec(findHashed(full, 'KafkaSink', 'kev-trades-out')).bootstrapServers, ['b1.kafka:9092', 'b2.kafka:9092']);
    assert.deepEqual(spec(findHashed(full, 'KafkaSink', 'kev-trades-out')).auth, { secret: { ref: { name: 'kafka-auth' } } });
  });
  it('KafkaSink owns (and sizes) its topic only with ownTopic, and says so in an annotation', () => {
    const owned = findHashed(full, 'KafkaSink', 'kev-dead-letters');
    assert.deepEqual([spec(owned).numPartitions, spec(owned).replicationFactor], [3, 2]);
    assert.equal(owned?.metadata.annotations?.['knative-events.dev/owns-topic'], 'true');
    for (const file of ['values/dev.yaml', 'values/staging.yaml', 'values/prod.yaml', 'values/local.yaml']) {
      for (const s of render(4, { files: [file] }).filter((o) => o.kind === 'KafkaSink')) {
        assert.equal(spec(s).numPartitions, undefined, file);
        assert.equal(spec(s).replicationFactor, undefined, file);
      }
    }
  });
});
