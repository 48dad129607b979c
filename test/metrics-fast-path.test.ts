// The fast path writes into prom-client's own entries: the same updates through prom-client and through the
// fast path must render the same /metrics text, including after a reset and for values past the last bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from '../runtime/metrics/prom-client.js';
import { counterIncrementer, gaugeAdder, histogramObserver } from '../runtime/metrics/fast-path.js';

function metricsOf(kind: 'plain' | 'fast') {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'h_seconds',
    help: 'h',
    labelNames: ['route', 'status_class'],
    buckets: [0.01, 0.1, 1],
    registers: [registry],
  });
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['event_type'], registers: [registry] });
  const observe =
    kind === 'fast'
      ? histogramObserver(histogram)
      : (labels: Record<'route' | 'status_class', string>, v: number) => histogram.observe(labels, v);
  const inc =
    kind === 'fast' ? counterIncrementer(counter) : (labels: Record<'event_type', string>) => counter.inc(labels);
  return { registry, histogram, counter, observe, inc };
}

test('fast-path updates render exactly as prom-client updates do', async () => {
  const a = Object.freeze({ route: '/', status_class: '2xx' });
  const b = Object.freeze({ route: '/', status_class: '4xx' });
  const t1 = Object.freeze({ event_type: 'trade' });
  const t2 = Object.freeze({ event_type: 'other' });
  const values = [0.005, 0.01, 0.05, 0.5, 2, 7, 0.0001, 1, 0.1];
  const plain = metricsOf('plain');
  const fast = metricsOf('fast');
  for (const m of [plain, fast]) {
    for (const [i, v] of values.entries()) {
      m.observe(i % 3 === 0 ? b : a, v);
      m.inc(i % 2 === 0 ? t1 : t2);
    }
  }
  const expected = await plain.registry.metrics();
  assert.equal(await fast.registry.metrics(), expected);
  assert.match(expected, /h_seconds_bucket\{le="\+Inf",route="\/",status_class="2xx"\} 6/);
  assert.match(expected, /c_total\{event_type="trade"\} 5/);

  // After a reset prom-client makes new entries: the fast path notices and goes through prom-client again.
  for (const m of [plain, fast]) {
    m.histogram.reset();
    m.counter.reset();
    m.observe(a, 0.02);
    m.observe(a, 0.03);
    m.inc(t1);
  }
  assert.equal(await fast.registry.metrics(), await plain.registry.metrics());
  assert.match(await fast.registry.metrics(), /h_seconds_count\{route="\/",status_class="2xx"\} 2/);
});

test('a non-finite value still fails as prom-client makes it fail', () => {
  const fast = metricsOf('fast');
  const a = Object.freeze({ route: '/', status_class: '2xx' });
  fast.observe(a, 0.1);
  assert.throws(() => fast.observe(a, Number.NaN), /not a valid number/);
});

test('a gauge without labels (requests in flight) through the fast path renders as through prom-client', async () => {
  const render = async (kind: 'plain' | 'fast', deltas: readonly number[], resetAfter: number) => {
    const registry = new Registry();
    const gauge = new Gauge({ name: 'in_flight', help: 'g', registers: [registry] });
    const add = kind === 'fast' ? gaugeAdder(gauge) : (delta: number) => gauge.inc(delta);
    for (const [i, delta] of deltas.entries()) {
      add(delta);
      if (i === resetAfter) gauge.reset();
    }
    return registry.metrics();
  };
  const deltas = [1, 1, -1, 1, 1, -1, -1, 1];
  assert.equal(await render('fast', deltas, -1), await render('plain', deltas, -1));
  assert.match(await render('fast', deltas, -1), /^in_flight 2$/m);
  // After a reset prom-client makes a new entry: the fast path adds to that one, not to the old.
  assert.equal(await render('fast', deltas, 2), await render('plain', deltas, 2));
  assert.match(await render('fast', deltas, 2), /^in_flight 1$/m);
});
