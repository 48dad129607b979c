// Turns each request into HTTP and event metrics, told by the app's outer middleware (app.ts) once the answer
// is decided: the status is the one answered (a failure already mapped to its envelope), the stable error type
// comes from the failure. The route label is the path template the router matched (ctx.state.route), never
// the raw path.
import { HttpError } from '../http/errors.js';
import type { RequestContext, RequestObserver } from '../http/request-state.js';
import type { MetricSet, Outcome } from './definitions.js';
import { counterIncrementer, gaugeAdder, histogramObserver } from './fast-path.js';
import { methodLabel, statusClass } from './labels.js';

export interface HttpMetricsOptions {
  readonly metrics: MetricSet;
  readonly role: string;
  readonly functionName: string;
  readonly eventTypeLabel: (type: string | undefined) => string;
}

/** Every role takes its CloudEvents on POST / (what a Trigger, a sink or a dead-letter sink delivers to). */
const isEventRoute = (method: string, route: string | undefined) => method === 'POST' && route === '/';

export function httpMetricsObserver(options: HttpMetricsOptions): RequestObserver {
  const { metrics, role, functionName, eventTypeLabel } = options;
  // Label objects are made once per combination (all bounded) and reused: the fast path (fast-path.ts)
  // recognises them, and the hot path allocates nothing for them.
  const eventLabels = new Map<string, { role: string; function: string; event_type: string }>();
  const labelsFor = (eventType: string) => {
    let labels = eventLabels.get(eventType);
    if (!labels) {
      labels = Object.freeze({ role, function: functionName, event_type: eventType });
      eventLabels.set(eventType, labels);
    }
    return labels;
  };
  type HttpLabels = { role: string; route: string; method: string; status_class: string };
  // By route, then method, then status: no key string built (and hashed) per request, as one `${route} ${method}
  // ${status}` key was. `method` is already methodLabel'd: a method outside the known set must not grow the cache.
  const httpLabels = new Map<string, Map<string, Map<number, HttpLabels>>>();
  const httpLabelsFor = (route: string, method: string, status: number) => {
    let byMethod = httpLabels.get(route);
    if (!byMethod) httpLabels.set(route, (byMethod = new Map<string, Map<number, HttpLabels>>()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map<number, HttpLabels>()));
    let labels = byStatus.get(status);
    if (!labels) {
      labels = Object.freeze({ role, route, method, status_class: statusClass(status) });
      byStatus.set(status, labels);
    }
    return labels;
  };
  const observeDuration = histogramObserver(metrics.httpDuration);
  const addInFlight = gaugeAdder(metrics.httpInFlight);
  const countReceived = counterIncrementer(metrics.received);
  const countHandled = Object.fromEntries(
    Object.entries(metrics.handled).map(([outcome, counter]) => [outcome, counterIncrementer(counter)]),
  ) as Record<Outcome, ReturnType<typeof counterIncrementer>>;

  const countEvent = (ctx: RequestContext, failure: unknown) => {
    const labels = labelsFor(eventTypeLabel(ctx.state.event?.type));
    countReceived(labels);
    if (failure === undefined) {
      const { outcome } = ctx.state;
      if (outcome !== undefined) countHandled[outcome](labels);
    } else {
      const reason = failure instanceof HttpError ? failure.type : 'internal';
      (ctx.response.status < 500 ? metrics.rejected : metrics.failed).inc({ ...labels, reason });
    }
  };

  return {
    requestStarted() {
      addInFlight(1);
    },
    requestEnded(ctx, failure, seconds) {
      addInFlight(-1);
      const { method } = ctx.request; // not ctx.method (see RequestContext)
      observeDuration(httpLabelsFor(ctx.state.route ?? 'unmatched', methodLabel(method), ctx.response.status), seconds);
      if (isEventRoute(method, ctx.state.route)) countEvent(ctx, failure);
    },
  };
}
