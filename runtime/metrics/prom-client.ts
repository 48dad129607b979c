// The parts of prom-client this runtime uses, loaded file by file. Its index loads everything it has: the
// Pushgateway (zlib), Summary (tdigest), cluster aggregation, and, for trace exemplars on its CPU metric,
// @opentelemetry/api (~50 modules). Measured in the bundle, that index costs 10-50 ms of start-up against
// ~1 ms for these files: time a scale-from-zero request waits. prom-client is pinned in package.json;
// test/metrics-promtool.test.ts checks the process metrics below are still exported.
import type * as Prom from 'prom-client';
import CounterClass from 'prom-client/lib/counter.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';
import RegistryClass from 'prom-client/lib/registry.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

// Each name is both the class and its instance type, as when importing from 'prom-client'.
export const Counter = CounterClass;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = GaugeClass;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = HistogramClass;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const Registry = RegistryClass;
export type Registry<T extends Prom.RegistryContentType = Prom.PrometheusContentType> = Prom.Registry<T>;

/**
 * Three of prom-client's defaults are gauges named *_total, which `promtool check metrics` rejects (a _total is
 * a counter); each is the sum of its per-type sibling (nodejs_active_handles{type} …), so nothing is lost.
 */
const misnamedDefaults = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** process_cpu_*_seconds_total as prom-client's own processCpuTotal has them, without its exemplar support. */
function processCpu(registry: Registry): void {
  let last = process.cpuUsage();
  const registers = [registry];
  const system = new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'Total system CPU time spent in seconds.',
    registers,
  });
  const total = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers,
  });
  new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    // One collect sets all three, from the same reading.
    collect() {
      const now = process.cpuUsage();
      const user = (now.user - last.user) / 1e6;
      const sys = (now.system - last.system) / 1e6;
      last = now;
      this.inc(user);
      system.inc(sys);
      total.inc(user + sys);
    },
  });
}

const defaultsConfig = { eventLoopMonitoringPrecision: 10 };

/**
 * prom-client's default process_* and nodejs_* metrics, with their standard names (the usual Node dashboards),
 * but for the event loop's and the GC's: see addEventLoopAndGcMetrics.
 */
export function addDefaultMetrics(registry: Registry): void {
  processCpu(registry);
  for (const add of [
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    processResources,
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
  ]) {
    add(registry, defaultsConfig);
  }
  for (const name of misnamedDefaults) registry.removeSingleMetric(name);
}

/**
 * nodejs_eventloop_lag_* and nodejs_gc_duration_seconds, the two defaults that load node:perf_hooks (ten of
 * Node's modules, an event-loop delay histogram and a GC observer): ~9 M instructions, 3.5% of a cold start
 * to the first answer (callgrind, bench/start-figures.mjs). Imported only when called, so a start does not
 * load them; createMetrics calls this once the start is over, or at the first scrape if that comes first.
 */
export async function addEventLoopAndGcMetrics(registry: Registry): Promise<void> {
  const [eventLoopLag, gc] = await Promise.all([
    import('prom-client/lib/metrics/eventLoopLag.js'),
    import('prom-client/lib/metrics/gc.js'),
  ]);
  eventLoopLag.default(registry, defaultsConfig);
  gc.default(registry, defaultsConfig);
}
