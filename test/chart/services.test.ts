// Knative Service shape: names, visibility, image, autoscaling, security, probes, scrape annotations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureHelm, render } from './helm.js';
import { checkIntegrity } from './integrity.js';
import { annotations, container, ksvc, podTemplate } from './contract.js';

ensureHelm();

describe('Knative Services', () => {
  const objs = render(4);
  const services = objs.filter((o) => o.kind === 'Service');
  it('one per enabled service, same image, container "app", one http1 port, no template name', () => {
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), ['dlq', 'echo', 'handler', 'transformer'].map((n) => `ev-knative-events-${n}`));
    for (const s of services) {
      assert.equal(podTemplate(s).metadata?.name, undefined);
      assert.equal(container(s).name, 'app');
      assert.equal(container(s).image, 'ghcr.io/knative-events/knative-events:0.1.0');
      assert.deepEqual(container(s).ports, [{ name: 'http1', containerPort: 8080 }]);
    }
  });
  it('only the handler is public', () => {
    for (const s of services) {
      const v = s.metadata.labels?.['networking.knative.dev/visibility'];
      assert.equal(v, s.metadata.name.endsWith('-handler') ? undefined : 'cluster-local', s.metadata.name);
    }
  });
  it('restrictive securityContext and probes on /healthz and /readyz', () => {
    for (const s of services) {
      const c = container(s);
      assert.deepEqual(c.securityContext, {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
      assert.equal(c.livenessProbe?.httpGet?.port, undefined, 'Knative fills the port');
    }
  });
  it('prometheus scrape annotations by default, none when turned off', () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(annotations(ksvc(objs, 'echo'))).filter(([k]) => k.startsWith('prometheus.io/'))),
      { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' },
    );
    const off = render(4, { set: ['metrics.scrapeAnnotations=false'] });
    assert.ok(!Object.keys(annotations(ksvc(off, 'echo'))).some((k) => k.startsWith('prometheus.io/')));
  });
  it('autoscaling: dev scales to zero, prod keeps 3 handlers', () => {
    const dev = render(4, { files: ['values/dev.yaml'] });
    for (const s of dev.filter((o) => o.kind === 'Service')) assert.equal(annotations(s)['autoscaling.knative.dev/min-scale'], '0');
    const prod = render(4, { files: ['values/prod.yaml'] });
    const h = annotations(ksvc(prod, 'handler'));
    assert.equal(h['autoscaling.knative.dev/min-scale'], '3');
    assert.equal(h['autoscaling.knative.dev/max-scale'], '30');
    assert.equal(h['autoscaling.knative.dev/metric'], 'concurrency');
    assert.equal(prod.filter((o) => o.kind === 'Service' && o.metadata.name.endsWith('-echo')).length, 0);
  });
  it('every autoscaling knob, digest, pull secrets, per-service labels and annotations', () => {
    const full = render(3, { files: ['chart/ci/full-values.yaml'] });
    const h = ksvc(full, 'handler', 'kev');
    const a = annotations(h);
    for (const [k, v] of Object.entries({ 'min-scale': '2', 'max-scale': '8', 'initial-scale': '2', target: '80', metric: 'rps', class: 'kpa.autoscaling.knative.dev', 'scale-down-delay': '2m', window: '60s' })) {
      assert.equal(a[`autoscaling.knative.dev/${k}`], v, k);
    }
    assert.equal(a['example.com/scraped'], 'yes');
    assert.equal(podTemplate(h).metadata?.labels?.tier, 'edge');
    assert.equal(h.metadata.labels?.exposure, 'internet');
    assert.equal(h.metadata.labels?.team, 'trading');
    assert.equal(h.metadata.annotations?.owner, 'platform@example.com');
    assert.equal(container(h).image, 'registry.example.com/team/knative-events:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    assert.equal(container(ksvc(full, 'transformer', 'kev')).image, 'registry.example.com/team/knative-events:1.2.4');
    assert.deepEqual(podTemplate(h).spec.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal(podTemplate(h).spec.containerConcurrency, 50);
    assert.equal(podTemplate(h).spec.timeoutSeconds, 900, 'above 600: full-values.yaml declares cluster.maxRevisionTimeoutSeconds 900');
    assert.equal(podTemplate(ksvc(full, 'audit', 'kev')).spec.serviceAccountName, 'audit-sa');
    assert.equal(ksvc(full, 'echo', 'kev').metadata.labels?.['networking.knative.dev/visibility'], 'cluster-local');
  });
  it('long names are cut (57 for Knative Services, 63 for the rest) and stay consistent', () => {
    const release = 'a-very-long-release-name-that-goes-on-and-on-for-ever';
    const objs = render(4, { release });
    for (const o of objs) assert.ok(o.metadata.name.length <= (o.kind === 'Service' ? 57 : 63), `${o.kind} ${o.metadata.name}`);
    for (const o of objs) assert.ok(!o.metadata.name.endsWith('-'), o.metadata.name);
    const ids = objs.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(new Set(ids).size, ids.length, ids.join(' '));
    assert.ok(objs.some((o) => o.kind === 'Service' && o.metadata.name.endsWith('-transformer')));
    assert.deepEqual(checkIntegrity(objs, { containerName: 'app' }), []);
  });
});
