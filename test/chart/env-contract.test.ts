// The env contract between the chart and the runtime (ROLE, FUNCTION, BROKER_URL, KAFKA_SINK_URL, SINK_*, DLQ_*, ...).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureHelm, findHashed, render } from './helm.js';
import { container, env, ksvc, podTemplate } from './contract.js';

ensureHelm();
// The broker and sink names end in a hash of their immutable fields (knative-rules.ts checks which).
const KAFKA_BROKER = /^http:\/\/kafka-broker-ingress\.knative-eventing\.svc\.cluster\.local\/events\/ev-knative-events-[0-9a-f]{8}$/;
const SINK = /^http:\/\/kafka-sink-ingress\.knative-eventing\.svc\.cluster\.local\/events\/ev-knative-events-trades-out-[0-9a-f]{8}$/;

describe('env contract (chart defaults)', () => {
  const objs = render(4);
  it('handler: ROLE, BROKER_URL from the Kafka broker, no FUNCTION, no PORT', () => {
    const e = env(ksvc(objs, 'handler'));
    assert.equal(e.ROLE, 'handler');
    assert.match(e.BROKER_URL ?? '', KAFKA_BROKER);
    assert.ok(e.BROKER_URL?.endsWith(`/${findHashed(objs, 'Broker', 'ev-knative-events')?.metadata.name ?? '?'}`));
    assert.equal(e.LOG_LEVEL, 'info');
    assert.equal(e.METRICS_PATH, '/metrics');
    assert.equal(e.METRICS_ENABLED, 'false', 'public and no metrics.token: metrics off');
    assert.ok(!('FUNCTION' in e) && !('PORT' in e) && !('KAFKA_SINK_URL' in e));
  });
  it('sink-forwarder: FUNCTION, KAFKA_SINK_URL and SINK_CONTENT_MODE from the named KafkaSink, SINK_EVENT_*', () => {
    const e = env(ksvc(objs, 'transformer'));
    assert.deepEqual({ ROLE: e.ROLE, FUNCTION: e.FUNCTION, SINK_CONTENT_MODE: e.SINK_CONTENT_MODE }, { ROLE: 'sink-forwarder', FUNCTION: 'trade-transform', SINK_CONTENT_MODE: 'binary' });
    assert.match(e.KAFKA_SINK_URL ?? '', SINK);
    assert.ok(!('METRICS_ENABLED' in e), 'cluster-local services serve metrics');
    assert.equal(e.SINK_EVENT_TYPE, 'com.example.trade.normalized');
    assert.equal(e.SINK_EVENT_SOURCE, '/knative-events/transformer');
    assert.equal(e.SINK_PARTITION_KEY, 'data.symbol');
    assert.ok(!('BROKER_URL' in e));
    assert.ok(e.KAFKA_SINK_URL?.endsWith(`/${findHashed(objs, 'KafkaSink', 'ev-knative-events-trades-out')?.metadata.name ?? '?'}`));
  });
  it('subscriber: FUNCTION; plain results dropped (every broker class fails non-CloudEvent 2xx bodies)', () => {
    const e = env(ksvc(objs, 'echo'));
    assert.equal(e.ROLE, 'subscriber');
    assert.equal(e.FUNCTION, 'echo');
    assert.equal(e.SUBSCRIBER_PLAIN_RESULT, 'discard');
    assert.ok(!('BROKER_URL' in e) && !('KAFKA_SINK_URL' in e));
  });
  it('subscriber behind a channel-based broker drops plain results too (its filter handler fails them as well)', () => {
    const e = env(ksvc(render(4, { set: ['broker.class=MTChannelBasedBroker'] }), 'echo'));
    assert.equal(e.SUBSCRIBER_PLAIN_RESULT, 'discard');
  });
  it('dlq: postgres store, DLQ_DATABASE_URL from the <fullname>-dlq-database Secret, BROKER_URL for replay, no volume', () => {
    const svc = ksvc(objs, 'dlq');
    const e = env(svc);
    assert.equal(e.ROLE, 'dlq');
    assert.equal(e.DLQ_STORE, 'postgres');
    assert.deepEqual(container(svc).env?.find((x) => x.name === 'DLQ_DATABASE_URL')?.valueFrom, { secretKeyRef: { name: 'ev-knative-events-dlq-database', key: 'url' } });
    assert.match(e.BROKER_URL ?? '', KAFKA_BROKER);
    assert.ok(!('DLQ_ADMIN_TOKEN' in e) && !('DLQ_FILE' in e) && !('DLQ_RETENTION_DAYS' in e));
    assert.equal(podTemplate(svc).spec.volumes, undefined);
  });
  it('dlq: postgres URL and admin token from Vault as secret: references; retention days', () => {
    const svc = ksvc(render(4, { files: ['values/prod.yaml'] }), 'dlq');
    const e = env(svc);
    assert.equal(e.DLQ_DATABASE_URL, 'secret:DLQ_DATABASE_URL');
    assert.equal(e.DLQ_RETENTION_DAYS, '90');
    const tok = render(4, { files: ['values/prod.yaml'], set: ['services.dlq.dlq.adminToken.existingSecret=', 'services.dlq.dlq.adminToken.vaultSecret=DLQ_ADMIN_TOKEN'] });
    assert.equal(env(ksvc(tok, 'dlq')).DLQ_ADMIN_TOKEN, 'secret:DLQ_ADMIN_TOKEN');
  });
  it('dlq: file store on a PVC with one replica (local.yaml)', () => {
    const svc = ksvc(render(4, { files: ['values/local.yaml'] }), 'dlq');
    const e = env(svc);
    assert.equal(e.DLQ_STORE, 'file');
    assert.equal(e.DLQ_FILE, '/data/dead-letters.jsonl');
    assert.deepEqual(container(svc).volumeMounts, [{ name: 'dlq-data', mountPath: '/data' }]);
    assert.deepEqual(podTemplate(svc).spec.volumes, [{ name: 'dlq-data', persistentVolumeClaim: { claimName: 'knative-events-dlq' } }]);
    assert.equal(podTemplate(svc).metadata?.annotations?.['autoscaling.knative.dev/max-scale'], '1');
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
    assert.equal((findHashed(objs, 'KafkaSink', 'ev-knative-events-trades-out')?.spec as { contentMode: string }).contentMode, 'structured');
  });
  it('MTChannelBasedBroker gives the broker-ingress URL; broker.url overrides', () => {
    const mt = render(4, { set: ['broker.class=MTChannelBasedBroker'] });
    assert.match(env(ksvc(mt, 'handler')).BROKER_URL ?? '', /^http:\/\/broker-ingress\.knative-eventing\.svc\.cluster\.local\/events\/ev-knative-events-[0-9a-f]{8}$/);
    const cm = mt.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ev-knative-events-broker-config');
    assert.match(cm?.data?.['channel-template-spec'] ?? '', /kind: InMemoryChannel/);
    const over = render(4, { set: ['broker.url=http://my-broker.example/in'] });
    assert.equal(env(ksvc(over, 'handler')).BROKER_URL, 'http://my-broker.example/in');
    assert.equal(env(ksvc(over, 'dlq')).BROKER_URL, 'http://my-broker.example/in');
  });
  it('an existing broker is not rendered but its URL is computed and triggers point at it', () => {
    const objs = render(4, { set: ['broker.create=false', 'broker.name=default'] });
    assert.equal(objs.filter((o) => o.kind === 'Broker').length, 0);
    assert.equal(objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ev-knative-events-broker-config'), undefined);
    assert.equal(env(ksvc(objs, 'handler')).BROKER_URL, 'http://kafka-broker-ingress.knative-eventing.svc.cluster.local/events/default');
    for (const t of objs.filter((o) => o.kind === 'Trigger')) assert.equal(t.spec?.broker, 'default');
  });
  it('clusterDomain and cluster.eventingNamespace make every computed address', () => {
    const objs = render(4, { files: ['chart/ci/full-values.yaml'] });
    assert.match(env(ksvc(objs, 'handler', 'kev')).BROKER_URL ?? '', /^http:\/\/kafka-broker-ingress\.eventing-system\.svc\.k8s\.example\.internal\/events\/trading-[0-9a-f]{8}$/);
    assert.match(env(ksvc(objs, 'transformer', 'kev')).KAFKA_SINK_URL ?? '', /^http:\/\/kafka-sink-ingress\.eventing-system\.svc\.k8s\.example\.internal\/events\/kev-trades-out-[0-9a-f]{8}$/);
    const pod = objs.find((o) => o.kind === 'Pod');
    assert.match(JSON.stringify(pod), /"value":"http:\/\/kev-handler\.events\.svc\.k8s\.example\.internal"/);
    assert.ok(!JSON.stringify(objs).includes('cluster.local'));
  });
  it('metrics.token: METRICS_TOKEN on every service from the Secret, metrics on for public services too', () => {
    const objs = render(4, { set: ['metrics.token.existingSecret=metrics'] });
    for (const s of objs.filter((o) => o.kind === 'Service')) {
      assert.deepEqual(container(s).env?.find((x) => x.name === 'METRICS_TOKEN')?.valueFrom, { secretKeyRef: { name: 'metrics', key: 'token' } }, s.metadata.name);
      assert.ok(!('METRICS_ENABLED' in env(s)));
    }
  });
  it('dlq with the kafka-sink store gets the sink URL and content mode; admin token from a secret', () => {
    const objs = render(4, {
      set: ['services.dlq.dlq.store=kafka-sink', 'services.dlq.dlq.sink=trades-out', 'services.dlq.dlq.adminToken.existingSecret=dlq-admin'],
    });
    const svc = ksvc(objs, 'dlq');
    const e = env(svc);
    assert.equal(e.DLQ_STORE, 'kafka-sink');
    assert.match(e.KAFKA_SINK_URL ?? '', SINK);
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
