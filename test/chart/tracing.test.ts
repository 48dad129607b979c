// tracing.* values → the OTEL_* env of every service, and that env is what the runtime's tracing accepts
// (parseTracingConfig, which assemble() runs at start-up when an endpoint is set). Off by default.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTracingConfig } from '../../runtime/tracing/config.js';
import { tracingRequested } from '../../runtime/tracing/index.js';
import { container, env } from './contract.js';
import { byKind, ensureHelm, render, template } from './helm.js';

ensureHelm();

describe('tracing values', () => {
  it('off by default: no OTEL_* on any service', () => {
    for (const svc of byKind(render(4), 'Service')) {
      assert.deepEqual(Object.keys(env(svc)).filter((name) => name.startsWith('OTEL_')), [], svc.metadata.name);
    }
  });

  it('endpoint, sample ratio and headers from a Secret on every service, accepted by the runtime', () => {
    const objs = render(4, { set: ['tracing.endpoint=http://otel-collector.observability:4318', 'tracing.headers.existingSecret=otel-auth'], setJson: ['tracing.sampleRatio=0.01'] });
    const services = byKind(objs, 'Service').filter((o) => o.apiVersion === 'serving.knative.dev/v1');
    assert.ok(services.length >= 4);
    for (const svc of services) {
      const e = env(svc);
      assert.equal(e.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector.observability:4318');
      assert.equal(e.OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
      assert.equal(e.OTEL_TRACES_SAMPLER_ARG, '0.01');
      assert.deepEqual(container(svc).env?.find((x) => x.name === 'OTEL_EXPORTER_OTLP_HEADERS')?.valueFrom, { secretKeyRef: { name: 'otel-auth', key: 'headers' } });
      // What Kubernetes would put in the variable from the Secret.
      const withSecret = { ...e, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20t0ken' };
      assert.equal(tracingRequested(withSecret), true);
      const config = parseTracingConfig(withSecret, { service: svc.metadata.name, role: String(e.ROLE) });
      assert.equal(config.url, 'http://otel-collector.observability:4318/v1/traces');
      assert.deepEqual([config.sampler, config.ratio, config.headers], ['parentbased_traceidratio', 0.01, { authorization: 'Bearer t0ken' }]);
    }
  });

  it('a ratio of 0 is rendered (not defaulted away); a ratio above 1 or an endpoint that is not a URL is refused by the schema', () => {
    const objs = render(4, { set: ['tracing.endpoint=http://otel:4318'], setJson: ['tracing.sampleRatio=0'] });
    for (const svc of byKind(objs, 'Service').filter((o) => o.apiVersion === 'serving.knative.dev/v1')) assert.equal(env(svc).OTEL_TRACES_SAMPLER_ARG, '0');
    const tooMuch = template(4, { set: ['tracing.endpoint=http://otel:4318'], setJson: ['tracing.sampleRatio=1.5'] });
    assert.equal(tooMuch.ok, false);
    assert.match(tooMuch.stderr, /sampleRatio/);
    const notUrl = template(4, { set: ['tracing.endpoint=otel:4318'] });
    assert.equal(notUrl.ok, false);
    assert.match(notUrl.stderr, /endpoint/);
  });
});
