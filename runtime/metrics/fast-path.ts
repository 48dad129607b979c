// Per-request updates without prom-client's per-call work. prom-client validates and hashes the label set
// on every inc/observe (and a histogram observation allocates a closure and walks string-keyed buckets):
// ≈ 0.3-0.6 µs each, several times per request. The hot metrics here are updated with a small, fixed set of
// label objects (cached and frozen by their callers), so the first update of a label set goes through
// prom-client, which creates its entry, and later ones add to that same entry: the one prom-client reads
// when it renders /metrics. This leans on prom-client 15's entry shapes ({value} for counters and gauges; {sum, count,
// bucketValues keyed by upper bound} for histograms): prom-client is pinned, and
// test/metrics-fast-path.test.ts renders the same updates through both paths and compares them.
import type { Counter, Gauge, Histogram } from './prom-client.js';
import { hashObject } from 'prom-client/lib/util.js';

type Labels<L extends string> = Readonly<Record<L, string>>;

interface Internals<E> {
  readonly hashMap: Record<string, E | undefined>;
  readonly sortedLabelNames: readonly string[];
}
interface CounterEntry {
  value: number;
}
interface HistogramEntry {
  sum: number;
  count: number;
  bucketValues: Record<number, number>;
}

/** Remembers, per label object, prom-client's entry and the key it is filed under (to notice a reset). */
function entryCache<E>(metric: Internals<E>) {
  const cache = new WeakMap<object, { hash: string; entry: E }>();
  return {
    get(labels: object): E | undefined {
      const cached = cache.get(labels);
      return cached !== undefined && metric.hashMap[cached.hash] === cached.entry ? cached.entry : undefined;
    },
    remember(labels: Readonly<Record<string, string>>): void {
      const hash = hashObject(labels, metric.sortedLabelNames);
      const entry = metric.hashMap[hash];
      if (entry !== undefined) cache.set(labels, { hash, entry });
    },
  };
}

/** `inc(labels)` by 1; pass the same (frozen) labels object each time for the fast path. */
export function counterIncrementer<L extends string>(counter: Counter<L>): (labels: Labels<L>) => void {
  const cache = entryCache(counter as unknown as Internals<CounterEntry>);
  return (labels) => {
    const entry = cache.get(labels);
    if (entry !== undefined) {
      entry.value += 1;
      return;
    }
    counter.inc(labels);
    cache.remember(labels);
  };
}

/** `observe(labels, value)`; pass the same (frozen) labels object each time for the fast path. */
export function histogramObserver<L extends string>(
  histogram: Histogram<L>,
): (labels: Labels<L>, value: number) => void {
  const internals = histogram as unknown as Internals<HistogramEntry> & { readonly upperBounds: readonly number[] };
  const cache = entryCache(internals);
  const bounds = internals.upperBounds;
  return (labels, value) => {
    const entry = Number.isFinite(value) ? cache.get(labels) : undefined;
    if (entry !== undefined) {
      entry.sum += value;
      entry.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        const bound = bounds[i] as number;
        if (value <= bound) {
          entry.bucketValues[bound] = (entry.bucketValues[bound] ?? 0) + 1;
          break;
        }
      }
      return;
    }
    histogram.observe(labels, value);
    cache.remember(labels);
  };
}

/** `inc(delta)` on a gauge without labels (a negative delta decrements): in-flight requests, twice a request. */
export function gaugeAdder(gauge: Gauge): (delta: number) => void {
  const cache = entryCache(gauge as unknown as Internals<CounterEntry>);
  const noLabels = Object.freeze({});
  return (delta) => {
    const entry = cache.get(noLabels);
    if (entry !== undefined) {
      entry.value += delta;
      return;
    }
    gauge.inc(delta);
    cache.remember(noLabels);
  };
}
