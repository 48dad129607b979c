// Metrics for one process: a registry of its own (not prom-client's global one, so tests can build several),
// the request middleware, the scrape route and the observers roles call. assemble() imports this module
// only when METRICS_ENABLED is true, so a process without metrics never loads prom-client.
import type { RequestObserver } from '../http/request-state.js';
import { addDefaultMetrics, addEventLoopAndGcMetrics, Registry } from './prom-client.js';
import type { MetricsConfig } from '../config.js';
import type { SendObserver } from '../events/sender.js';
import type { RoleObserver, Route } from '../roles/role.js';
import { defineMetrics, type MetricSet } from './definitions.js';
import { httpMetricsObserver } from './request-observer.js';
import { eventTypeLabeller } from './labels.js';
import { roleObserver, secretsObserver, sendObserver } from './observers.js';
import type { SecretsObserver } from '../secrets/store.js';
import { metricsRoute } from './route.js';

export interface MetricsOptions {
  readonly config: MetricsConfig;
  readonly role: string;
  /** The FUNCTION this process runs, if its role runs one. */
  readonly functionName: string | undefined;
  readonly version: string;
  /** Process and Node.js metrics (CPU, memory, event loop, GC); tests that build many registries turn them off. */
  readonly defaultMetrics?: boolean;
}

export interface ProcessMetrics {
  readonly registry: Registry;
  readonly metrics: MetricSet;
  /** Told of every request by the app's outer middleware: HTTP and event metrics. */
  readonly requestObserver: RequestObserver;
  readonly routes: readonly Route[];
  readonly sendObserver: SendObserver;
  readonly roleObserver: RoleObserver;
  /** For the secret store (main.ts wires it): refresh health and rotations. */
  readonly secretsObserver: SecretsObserver;
}

/** Label value for "this role runs no function" (an empty value would drop the label in Prometheus). */
export const noFunction = 'none';

/** When the event-loop and GC metrics start (prom-client.ts says why late): past a cold start's first requests. */
const eventLoopAndGcAfterMs = 1000;

/** Starts them after eventLoopAndGcAfterMs; the function returned starts them at once (a scrape waits for it). */
function eventLoopAndGcMetricsSoon(registry: Registry): () => Promise<void> {
  let started: Promise<void> | undefined;
  const start = () => (started ??= addEventLoopAndGcMetrics(registry));
  // A failure is not lost: the next scrape awaits the same promise and answers 500 with it.
  setTimeout(() => void start().catch(() => undefined), eventLoopAndGcAfterMs).unref();
  return start;
}

export function createMetrics(options: MetricsOptions): ProcessMetrics {
  const registry = new Registry();
  const withDefaults = options.defaultMetrics ?? true;
  if (withDefaults) addDefaultMetrics(registry);
  const beforeScrape = withDefaults ? eventLoopAndGcMetricsSoon(registry) : undefined;
  const metrics = defineMetrics(registry, { deadLetterStore: options.role === 'dlq' });
  const functionName = options.functionName ?? noFunction;
  metrics.buildInfo.set({ version: options.version, role: options.role, function: functionName }, 1);
  const eventTypeLabel = eventTypeLabeller(options.config.eventTypes);
  // Series that exist from the first scrape, at 0, so rate() and "equals N" queries see the whole count.
  for (const eventType of [...options.config.eventTypes, 'other']) {
    metrics.received.inc({ role: options.role, function: functionName, event_type: eventType }, 0);
  }
  return {
    registry,
    metrics,
    requestObserver: httpMetricsObserver({ metrics, role: options.role, functionName, eventTypeLabel }),
    routes: [metricsRoute(registry, { path: options.config.path, token: options.config.token, beforeScrape })],
    sendObserver: sendObserver(metrics),
    roleObserver: roleObserver(metrics),
    secretsObserver: secretsObserver(metrics),
  };
}
