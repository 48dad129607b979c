// Types for the prom-client files runtime/metrics/prom-client.ts loads one by one (prom-client 15 ships
// types for its index only). Each default-metric module registers its metrics on the registry it is given.
declare module 'prom-client/lib/registry.js' {
  import type { Registry } from 'prom-client';
  const RegistryClass: typeof Registry;
  export default RegistryClass;
}
declare module 'prom-client/lib/counter.js' {
  import type { Counter } from 'prom-client';
  const CounterClass: typeof Counter;
  export default CounterClass;
}
declare module 'prom-client/lib/gauge.js' {
  import type { Gauge } from 'prom-client';
  const GaugeClass: typeof Gauge;
  export default GaugeClass;
}
declare module 'prom-client/lib/histogram.js' {
  import type { Histogram } from 'prom-client';
  const HistogramClass: typeof Histogram;
  export default HistogramClass;
}
declare module 'prom-client/lib/metrics/*' {
  import type { Registry } from 'prom-client';
  const register: (registry: Registry, config: { eventLoopMonitoringPrecision?: number }) => void;
  export default register;
}
declare module 'prom-client/lib/util.js' {
  /** The key prom-client files a label set under in a metric's hashMap. */
  export function hashObject(
    labels: Readonly<Record<string, string | number>>,
    sortedLabelNames?: readonly string[],
  ): string;
}
