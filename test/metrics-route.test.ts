// The scrape route: path, token protection, turning it off, and the two exposition formats.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wantsOpenMetrics } from '../runtime/metrics/exposition.js';
import { startRuntime } from './helpers/runtime.js';
import { parseSamples, postEvent, scrape, sumOf } from './metrics-support.js';

const subscriber = { ROLE: 'subscriber', FUNCTION: 'echo' };
const token = 'a-scrape-token-of-some-length';

describe('metrics route', () => {
  test('METRICS_TOKEN: no or a wrong token gets the 401 envelope, the right Bearer token the metrics', async (t) => {
    const runtime = await startRuntime({ ...subscriber, METRICS_TOKEN: token });
    t.after(() => runtime.stop());
    for (const authorization of [
      undefined,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token.toUpperCase()}`,
      `Bearer ${token} extra`,
      token,
      `Basic ${token}`,
    ]) {
      const res = await scrape(runtime.url, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, `authorization ${authorization}`);
      assert.equal(JSON.parse(res.text).success, false);
      assert.equal(JSON.parse(res.text).error.type, 'unauthorized');
    }
    const unauthorised = await fetch(new URL('metrics', runtime.url));
    assert.equal(unauthorised.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    const ok = await scrape(runtime.url, { headers: { authorization: `bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^knative_events_build_info\{/m);
  });

  test('METRICS_ENABLED=false: no route, no metrics object, events still served', async (t) => {
    const runtime = await startRuntime({ ...subscriber, METRICS_ENABLED: 'false' });
    t.after(() => runtime.stop());
    assert.equal(runtime.metrics, undefined);
    assert.equal((await scrape(runtime.url)).status, 404);
    assert.equal(await postEvent(runtime.url, 'x'), 200);
  });

  test('METRICS_PATH moves the route', async (t) => {
    const runtime = await startRuntime({ ...subscriber, METRICS_PATH: '/internal/prom' });
    t.after(() => runtime.stop());
    assert.equal((await scrape(runtime.url)).status, 404);
    const moved = await scrape(runtime.url, { path: '/internal/prom' });
    assert.equal(moved.status, 200);
    assert.match(moved.contentType, /^text\/plain; version=0\.0\.4/);
    const samples = parseSamples(moved.text);
    assert.equal(sumOf(samples, 'knative_events_http_request_duration_seconds_count', { route: '/metrics' }), 0);
  });

  test('OpenMetrics when the Accept header prefers it; the text format keeps _total names afterwards', async (t) => {
    const runtime = await startRuntime({ ...subscriber, METRICS_EVENT_TYPES: 'x' });
    t.after(() => runtime.stop());
    await postEvent(runtime.url, 'x');
    const accept =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const om = await scrape(runtime.url, { headers: { accept } });
    assert.match(om.contentType, /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok(om.text.endsWith('# EOF\n'), 'OpenMetrics ends with # EOF');
    assert.match(om.text, /^# TYPE knative_events_received counter$/m);
    assert.match(om.text, /^knative_events_received_total\{role="subscriber",function="echo",event_type="x"\} 1$/m);
    const text = await scrape(runtime.url);
    assert.match(text.text, /^# TYPE knative_events_received_total counter$/m);
    assert.doesNotMatch(text.text, /# EOF/);
  });

  test('content negotiation follows q-values', () => {
    assert.equal(wantsOpenMetrics(undefined), false);
    assert.equal(wantsOpenMetrics('*/*'), false);
    assert.equal(wantsOpenMetrics('text/plain;version=0.0.4'), false);
    assert.equal(wantsOpenMetrics('application/openmetrics-text'), true);
    assert.equal(wantsOpenMetrics('text/plain;q=0.9,application/openmetrics-text;q=0.5'), false);
    assert.equal(wantsOpenMetrics('application/openmetrics-text;version=1.0.0;q=0.6, text/plain;q=0.5'), true);
    assert.equal(wantsOpenMetrics('application/openmetrics-text;q=0'), false);
  });
});
