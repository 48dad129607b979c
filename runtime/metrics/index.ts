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

/** How long after the first answer the event-loop and GC metrics start (prom-client.ts says why late). */
const eventLoopAndGcAfterFirstAnswerMs = 1000;

/**
 * Starts the event-loop and GC metrics a second after the observer's first request has been answered (after a
 * cold start's first requests, counted in requests, not in time since the start, which a slow machine
 * stretches), or when the function returned is called first (a scrape waits for it). The observer's own
 * requestEnded is back in place after that first request: nothing stays on a request's path.
 */
function eventLoopAndGcMetricsLater(registry: Registry, observer: RequestObserver): () => Promise<void> {
  let started: Promise<void> | undefined;
  const start = () => (started ??= addEventLoopAndGcMetrics(registry));
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same object, called on it
  const ended = observer.requestEnded;
  observer.requestEnded = (ctx, failure, seconds) => {
    observer.requestEnded = ended;
    observer.requestEnded(ctx, failure, seconds);
    // A failure is not lost: the next scrape awaits the same promise and answers 500 with it.
    setTimeout(() => void start().catch(() => undefined), eventLoopAndGcAfterFirstAnswerMs).unref();
  };
  return start;
}

export function createMetrics(options: MetricsOptions): ProcessMetrics {
  const registry = new Registry();
  const withDefaults = options.defaultMetrics ?? true;
  if (withDefaults) addDefaultMetrics(registry);
  const metrics = defineMetrics(registry, { deadLetterStore: options.role === 'dlq' });
  const functionName = options.functionName ?? noFunction;
  metrics.buildInfo.set({ version: options.version, role: options.role, function: functionName }, 1);
  const eventTypeLabel = eventTypeLabeller(options.config.eventTypes);
  // Series that exist from the first scrape, at 0, so rate() and "equals N" queries see the whole count.
  for (const eventType of [...options.config.eventTypes, 'other']) {
    metrics.received.inc({ role: options.role, function: functionName, event_type: eventType }, 0);
  }
  const requestObserver = httpMetricsObserver({ metrics, role: options.role, functionName, eventTypeLabel });
  const beforeScrape = withDefaults ? eventLoopAndGcMetricsLater(registry, requestObserver) : undefined;
  return {
    registry,
    metrics,
    requestObserver,
    routes: [metricsRoute(registry, { path: options.config.path, token: options.config.token, beforeScrape })],
    sendObserver: sendObserver(metrics),
    roleObserver: roleObserver(metrics),
    secretsObserver: secretsObserver(metrics),
  };
}
