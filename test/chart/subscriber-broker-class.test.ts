// A subscriber deployed by this chart answers every delivery in a form each broker class accepts: an empty 2xx
// or a CloudEvent. Both classes fail a 2xx whose body is not a CloudEvent (channel broker: eventing
// pkg/broker/filter/filter_handler.go writeResponse, "The response MUST be either empty or a valid CloudEvent";
// Kafka broker: knative/eventing#6950). The real bundle runs with exactly the env the chart renders for `echo`
// (whose function returns a plain value) behind each class, and answers a binary-mode delivery.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startBundle, type BundleProcess } from '../helpers/bundle.js';
import { ensureHelm, render } from './helm.js';
import { container, ksvc } from './contract.js';

ensureHelm();

const CLASSES = [
  { cls: 'Kafka', files: [] as string[] },
  { cls: 'MTChannelBasedBroker', files: ['chart/ci/vault-agent-kv1-values.yaml'] },
] as const;

/** The env the chart gives echo, as Knative would run it (PORT and K_* are Knative's). */
function chartEnv(cls: string): Record<string, string> {
  const objs = render(4, { set: [`broker.class=${cls}`] });
  const out: Record<string, string> = {};
  for (const e of container(ksvc(objs, 'echo')).env ?? []) {
    if (e.value === undefined) throw new Error(`echo's ${e.name} is not a plain value: the test cannot supply it`);
    out[e.name] = e.value;
  }
  return { ...out, K_SERVICE: 'ev-knative-events-echo', K_REVISION: 'ev-knative-events-echo-00001', LOG_LEVEL: 'warn' };
}

/** What a broker's dispatcher accepts as an answer: no body, or a binary or structured CloudEvent. */
function acceptedByBroker(status: number, headers: Headers, body: string): string | undefined {
  if (status < 200 || status > 299) return `status ${status}`;
  if (body.length === 0) return undefined;
  if (headers.get('ce-specversion') && headers.get('ce-id') && headers.get('ce-type') && headers.get('ce-source')) return undefined;
  if ((headers.get('content-type') ?? '').startsWith('application/cloudevents+json')) return undefined;
  return `a ${status} with a non-CloudEvent body (${headers.get('content-type') ?? 'no content-type'}): ${body.slice(0, 80)}`;
}

describe('subscriber answers behind each broker class', () => {
  const running: BundleProcess[] = [];
  after(() => {
    for (const r of running) r.child.kill('SIGKILL');
  });
  for (const { cls } of CLASSES) {
    it(`${cls}: the chart's echo env gives an answer the broker accepts`, async () => {
      const env = chartEnv(cls);
      assert.equal(env.SUBSCRIBER_PLAIN_RESULT, 'discard');
      const sub = await startBundle(env, { timeoutMs: 15_000 });
      running.push(sub);
      const res = await fetch(sub.url, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': `t-${cls}`, 'ce-type': 'com.example.trade', 'ce-source': '/provider', 'content-type': 'application/json' },
        body: JSON.stringify({ trade_id: 'T-1', qty: 10 }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = await res.text();
      assert.equal(acceptedByBroker(res.status, res.headers, body), undefined);
      // echo returns its input: a plain value, which the chart's env makes an empty 204 instead of JSON
      assert.equal(res.status, 204);
      sub.child.kill('SIGTERM');
    });
  }
  it('the check refuses what the brokers refuse: a plain JSON 200', () => {
    const h = new Headers({ 'content-type': 'application/json' });
    assert.match(acceptedByBroker(200, h, '{"a":1}') ?? '', /non-CloudEvent body/);
    assert.equal(acceptedByBroker(204, new Headers(), ''), undefined);
    assert.equal(acceptedByBroker(200, new Headers({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-type': 't', 'ce-source': '/s' }), '{}'), undefined);
  });
});
