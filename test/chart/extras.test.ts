// PodMonitor, dashboards, the helm test hook, NOTES.txt, extraObjects.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHART_DIR, ensureHelm, find, helm, render } from './helm.js';
import { spec } from './contract.js';

ensureHelm();

describe('extras', () => {
  const full = render(4, { files: ['chart/ci/full-values.yaml'] });
  it('PodMonitor selects the release pods that serve metrics on user-port, with the metrics token (and the queue-proxy when asked)', () => {
    const pm = spec(find(full, 'PodMonitor', 'kev'));
    assert.deepEqual(pm.selector, { matchLabels: { 'app.kubernetes.io/name': 'knative-events', 'app.kubernetes.io/instance': 'ev', 'knative-events.dev/metrics': 'true' } });
    assert.deepEqual(pm.podMetricsEndpoints, [
      { port: 'user-port', path: '/internal/metrics', interval: '30s', scrapeTimeout: '10s', authorization: { type: 'Bearer', credentials: { name: 'metrics-token', key: 'bearer' } } },
      { port: 'http-usermetric', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
    assert.equal(render(4).filter((o) => o.kind === 'PodMonitor').length, 0);
  });
  it('prod and staging: PodMonitor labelled for kube-prometheus-stack, every pod scraped with the token', () => {
    for (const file of ['values/prod.yaml', 'values/staging.yaml']) {
      const objs = render(4, { files: [file] });
      const pm = find(objs, 'PodMonitor', 'ev-knative-events');
      assert.equal(pm?.metadata.labels?.release, 'kube-prometheus-stack', file);
      const ep = (spec(pm).podMetricsEndpoints as Array<Record<string, unknown>>)[0];
      assert.deepEqual(ep?.authorization, { type: 'Bearer', credentials: { name: 'knative-events-metrics', key: 'token' } }, file);
      for (const s of objs.filter((o) => o.kind === 'Service')) {
        assert.equal((s.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels['knative-events.dev/metrics'], 'true', `${file} ${s.metadata.name}`);
      }
    }
  });
  it('without a token the public handler serves no metrics and is neither annotated for scraping nor selected', () => {
    const h = render(4).find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-handler'));
    const tmeta = (h?.spec as { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } } }).template.metadata;
    assert.equal(tmeta.labels['knative-events.dev/metrics'], undefined);
    assert.equal(tmeta.annotations?.['prometheus.io/scrape'], undefined);
  });
  it('dashboards ConfigMap holds chart/dashboards/*.json when there are any, and is absent otherwise', () => {
    const dir = join(CHART_DIR, 'dashboards');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
    const cm = find(full, 'ConfigMap', 'kev-dashboards');
    if (files.length === 0) assert.equal(cm, undefined);
    else assert.deepEqual(Object.keys(cm?.data ?? {}).sort(), files);
  });
  it('helm test hook posts a CloudEvent to the handler and expects 202', () => {
    const pod = find(render(4), 'Pod', 'ev-knative-events-test-handler');
    assert.equal(pod?.metadata.annotations?.['helm.sh/hook'], 'test');
    const c = (spec(pod).containers as Array<{ image: string; args: string[]; env: Array<{ name: string; value: string }> }>)[0];
    assert.equal(c?.image, 'curlimages/curl:8.11.1');
    const e = Object.fromEntries((c?.env ?? []).map((x) => [x.name, x.value]));
    assert.equal(e.TARGET, 'http://ev-knative-events-handler.events.svc.cluster.local');
    assert.equal(e.EXPECT, '202');
    assert.equal(e.CE_TYPE, 'com.example.helm.test');
    assert.match(c?.args[0] ?? '', /ce-specversion: 1\.0/);
    assert.match(c?.args[0] ?? '', /\[ "\$code" = "\$EXPECT" \]/);
    assert.equal(render(4, { files: ['chart/ci/minimal-values.yaml'] }).filter((o) => o.kind === 'Pod').length, 0);
  });
  it('extraObjects are rendered through tpl', () => {
    assert.deepEqual(find(full, 'ConfigMap', 'kev-extra')?.data, { hello: 'world' });
  });
  // Helm 3's install --dry-run=client still asks a cluster for its version, so NOTES.txt is checked with Helm 4.
  for (const major of [4] as const) {
    it(`helm ${major}: NOTES.txt names the services, the broker URL and how to send a test event`, () => {
      const r = helm(major, ['install', 'ev', CHART_DIR, '--namespace', 'events', '--dry-run=client', '-f', 'values/local.yaml']);
      assert.ok(r.ok, r.stderr);
      const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
      assert.match(notes, /ev-knative-events-transformer {2}role=sink-forwarder function=trade-transform sink=trades-out/);
      assert.match(notes, /ingress: http:\/\/kafka-broker-ingress\.knative-eventing\.svc\.cluster\.local\/events\/local-[0-9a-f]{8}\n/);
      assert.match(notes, /kubectl get ksvc ev-knative-events-handler -n events/);
      assert.match(notes, /helm test ev -n events/);
      assert.match(notes, /Not created by this chart, must exist:\n {2}- Kafka topic trades-normalized: KafkaSink trades-out writes to it and does not create it/);
      const prod = helm(major, ['install', 'ev', CHART_DIR, '--namespace', 'events', '--dry-run=client', '-f', 'values/prod.yaml']);
      assert.ok(prod.ok, prod.stderr);
      assert.match(prod.stdout, /- Secret knative-events-metrics \(key token\): the metrics bearer token/);
      assert.doesNotMatch(prod.stdout, /DLQ_DATABASE_URL of/, 'prod reads the database URL from Vault');
      const dev = helm(major, ['install', 'ev', CHART_DIR, '--namespace', 'events', '--dry-run=client', '-f', 'values/dev.yaml']);
      assert.match(dev.stdout, /- Secret knative-events-dev-dlq-database \(key url\): DLQ_DATABASE_URL of services\.dlq, a PostgreSQL URL/);
    });
  }
});
