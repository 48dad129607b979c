// The Koa middleware that turns each request into HTTP and event metrics. It sits inside the app's error
// envelope, so a failure reaches it as the thrown error: the status and the stable error type come from
// there. The route label is the path template the router matched (ctx.state.route), never the raw path.
import { HttpError } from '../http/errors.js';
import type { RequestMiddleware } from '../http/request-state.js';
import type { MetricSet, Outcome } from './definitions.js';
import { counterIncrementer, histogramObserver } from './fast-path.js';
import { methodLabel, statusClass } from './labels.js';

export interface HttpMetricsOptions {
  readonly metrics: MetricSet;
  readonly role: string;
  readonly functionName: string;
  readonly eventTypeLabel: (type: string | undefined) => string;
}

/** Every role takes its CloudEvents on POST / (what a Trigger, a sink or a dead-letter sink delivers to). */
const isEventRoute = (method: string, route: string | undefined) => method === 'POST' && route === '/';

export function httpMetricsMiddleware(options: HttpMetricsOptions): RequestMiddleware {
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
  const httpLabels = new Map<string, { role: string; route: string; method: string; status_class: string }>();
  const httpLabelsFor = (route: string, method: string, status: number) => {
    const key = `${route} ${method} ${status}`;
    let labels = httpLabels.get(key);
    if (!labels) {
      labels = Object.freeze({ role, route, method: methodLabel(method), status_class: statusClass(status) });
      httpLabels.set(key, labels);
    }
    return labels;
  };
  const observeDuration = histogramObserver(metrics.httpDuration);
  const countReceived = counterIncrementer(metrics.received);
  const countHandled = Object.fromEntries(
    Object.entries(metrics.handled).map(([outcome, counter]) => [outcome, counterIncrementer(counter)]),
  ) as Record<Outcome, ReturnType<typeof counterIncrementer>>;

  return async (ctx, next) => {
    const started = performance.now();
    metrics.httpInFlight.inc();
    let failure: unknown;
    try {
      await next();
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      metrics.httpInFlight.dec();
      const status = failure === undefined ? ctx.status : failure instanceof HttpError ? failure.status : 500;
      const route = ctx.state.route ?? 'unmatched';
      // A method outside the known set is labelled "other" and must not grow the label cache either.
      observeDuration(httpLabelsFor(route, methodLabel(ctx.method), status), (performance.now() - started) / 1000);
      if (isEventRoute(ctx.method, ctx.state.route)) {
        const labels = labelsFor(eventTypeLabel(ctx.state.event?.type));
        countReceived(labels);
        if (failure === undefined) {
          const { outcome } = ctx.state;
          if (outcome !== undefined) countHandled[outcome](labels);
        } else {
          const reason = failure instanceof HttpError ? failure.type : 'internal';
          (status < 500 ? metrics.rejected : metrics.failed).inc({ ...labels, reason });
        }
      }
    }
  };
}
