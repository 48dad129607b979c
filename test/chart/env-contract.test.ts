// The env contract between the chart and the runtime (ROLE, FUNCTION, BROKER_URL, KAFKA_SINK_URL, SINK_*, DLQ_*, ...).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureHelm, find, render } from './helm.js';
import { container, env, ksvc, podTemplate } from './contract.js';

ensureHelm();
const KAFKA_BROKER = 'http://kafka-broker-ingress.knative-eventing.svc.cluster.local/events/ev-knative-events';
const SINK = 'http://kafka-sink-ingress.knative-eventing.svc.cluster.local/events/ev-knative-events-trades-out';

describe('env contract (chart defaults)', () => {
  const objs = render(4);
  it('handler: ROLE, BROKER_URL from the Kafka broker, no FUNCTION, no PORT', () => {
    const e = env(ksvc(objs, 'handler'));
    assert.equal(e.ROLE, 'handler');
    assert.equal(e.BROKER_URL, KAFKA_BROKER);
    assert.equal(e.LOG_LEVEL, 'info');
    assert.equal(e.METRICS_PATH, '/metrics');
    assert.ok(!('FUNCTION' in e) && !('PORT' in e) && !('KAFKA_SINK_URL' in e));
  });
  it('sink-forwarder: FUNCTION, KAFKA_SINK_URL and SINK_CONTENT_MODE from the named KafkaSink, SINK_EVENT_*', () => {
    const e = env(ksvc(objs, 'transformer'));
    assert.deepEqual(
      { ROLE: e.ROLE, FUNCTION: e.FUNCTION, KAFKA_SINK_URL: e.KAFKA_SINK_URL, SINK_CONTENT_MODE: e.SINK_CONTENT_MODE },
      { ROLE: 'sink-forwarder', FUNCTION: 'trade-transform', KAFKA_SINK_URL: SINK, SINK_CONTENT_MODE: 'binary' },
    );
    assert.equal(e.SINK_EVENT_TYPE, 'com.example.trade.normalized');
    assert.equal(e.SINK_EVENT_SOURCE, '/knative-events/transformer');
    assert.equal(e.SINK_PARTITION_KEY, 'data.symbol');
    assert.ok(!('BROKER_URL' in e));
    assert.ok(find(objs, 'KafkaSink', 'ev-knative-events-trades-out'));
  });
  it('subscriber: FUNCTION; plain results dropped behind the Kafka broker (it fails non-CloudEvent 2xx bodies)', () => {
    const e = env(ksvc(objs, 'echo'));
    assert.equal(e.ROLE, 'subscriber');
    assert.equal(e.FUNCTION, 'echo');
    assert.equal(e.SUBSCRIBER_PLAIN_RESULT, 'discard');
    assert.ok(!('BROKER_URL' in e) && !('KAFKA_SINK_URL' in e));
  });
  it('subscriber behind a channel-based broker keeps plain JSON results', () => {
    const e = env(ksvc(render(4, { set: ['broker.class=MTChannelBasedBroker'] }), 'echo'));
    assert.ok(!('SUBSCRIBER_PLAIN_RESULT' in e));
  });
  it('dlq: file store on an emptyDir at /data, BROKER_URL for replay, no admin token without a secret', () => {
    const svc = ksvc(objs, 'dlq');
    const e = env(svc);
    assert.equal(e.ROLE, 'dlq');
    assert.equal(e.DLQ_STORE, 'file');
    assert.equal(e.DLQ_FILE, '/data/dead-letters.jsonl');
    assert.equal(e.BROKER_URL, KAFKA_BROKER);
    assert.ok(!('DLQ_ADMIN_TOKEN' in e));
    assert.deepEqual(container(svc).volumeMounts, [{ name: 'dlq-data', mountPath: '/data' }]);
    assert.deepEqual(podTemplate(svc).spec.volumes, [{ name: 'dlq-data', emptyDir: {} }]);
  });
  it('env is sorted and has no duplicates', () => {
    for (const s of objs.filter((o) => o.kind === 'Service')) {
      const names = (container(s).env ?? []).map((x) => x.name);
      assert.deepEqual(names, [...new Set(names)].sort());
    }
  });
});

describe('env contract (variants)', () => {
  it('SINK_CONTENT_MODE follows the KafkaSink contentMode', () => {
    const objs = render(3, { set: ['kafkaSinks.trades-out.contentMode=structured'] });
    assert.equal(env(ksvc(objs, 'transformer')).SINK_CONTENT_MODE, 'structured');
    assert.equal((find(objs, 'KafkaSink', 'ev-knative-events-trades-out')?.spec as { contentMode: string }).contentMode, 'structured');
  });
  it('MTChannelBasedBroker gives the broker-ingress URL; broker.url overrides', () => {
    const mt = render(4, { set: ['broker.class=MTChannelBasedBroker'] });
    assert.equal(env(ksvc(mt, 'handler')).BROKER_URL, 'http://broker-ingress.knative-eventing.svc.cluster.local/events/ev-knative-events');
    const cm = find(mt, 'ConfigMap', 'ev-knative-events-broker-config');
    assert.match(cm?.data?.['channel-template-spec'] ?? '', /kind: InMemoryChannel/);
    const over = render(4, { set: ['broker.url=http://my-broker.example/in'] });
    assert.equal(env(ksvc(over, 'handler')).BROKER_URL, 'http://my-broker.example/in');
    assert.equal(env(ksvc(over, 'dlq')).BROKER_URL, 'http://my-broker.example/in');
  });
  it('an existing broker is not rendered but its URL is computed and triggers point at it', () => {
    const objs = render(4, { set: ['broker.create=false', 'broker.name=default'] });
    assert.equal(objs.filter((o) => o.kind === 'Broker').length, 0);
    assert.equal(find(objs, 'ConfigMap', 'ev-knative-events-broker-config'), undefined);
    assert.equal(env(ksvc(objs, 'handler')).BROKER_URL, 'http://kafka-broker-ingress.knative-eventing.svc.cluster.local/events/default');
    for (const t of objs.filter((o) => o.kind === 'Trigger')) assert.equal(t.spec?.broker, 'default');
  });
  it('dlq with the kafka-sink store gets the sink URL and content mode; admin token from a secret', () => {
    const objs = render(4, {
      set: ['services.dlq.dlq.store=kafka-sink', 'services.dlq.dlq.sink=trades-out', 'services.dlq.dlq.adminToken.existingSecret=dlq-admin'],
    });
    const svc = ksvc(objs, 'dlq');
    const e = env(svc);
    assert.equal(e.DLQ_STORE, 'kafka-sink');
    assert.equal(e.KAFKA_SINK_URL, SINK);
    assert.equal(e.SINK_CONTENT_MODE, 'binary');
    assert.ok(!('DLQ_FILE' in e));
    assert.equal(podTemplate(svc).spec.volumes, undefined);
    const tok = container(svc).env?.find((x) => x.name === 'DLQ_ADMIN_TOKEN');
    assert.deepEqual(tok?.valueFrom, { secretKeyRef: { name: 'dlq-admin', key: 'token' } });
  });
  it('env map, extraEnv and envFrom merge by key (extraEnv wins); LOG_LEVEL per service', () => {
    const objs = render(3, { files: ['chart/ci/full-values.yaml'] });
    const h = ksvc(objs, 'handler', 'kev');
    const e = env(h);
    assert.equal(e.FEATURE_X, 'off');
    assert.equal(e.RETRIES, '3');
    assert.deepEqual(container(h).env?.find((x) => x.name === 'API_KEY')?.valueFrom, { secretKeyRef: { name: 'handler-secrets', key: 'api-key' } });
    assert.equal(env(ksvc(objs, 'transformer', 'kev')).LOG_LEVEL, 'warn');
    assert.equal(e.METRICS_PATH, '/internal/metrics');
  });
});
