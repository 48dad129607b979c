// The spans of one event's hops, with OpenTelemetry's semantic conventions (messaging: messaging.*, HTTP:
// http.*, url.*, server.*; CloudEvents: cloudevents.*), and the writing of the trace context onto what goes
// out: both the W3C headers and the CloudEvents distributed-tracing extension (traceparent/tracestate), so a
// broker that keeps only one of them still carries the trace. Always loaded with the roles; with tracing off
// every call here is a few property reads (index.ts's pass-through spans).
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../http/errors.js';
import { WireEvent, type AttributeValue as WireValue } from '../events/wire-event.js';
import { extractContext, formatTraceparent, traceHeaders, type SpanContext } from './context.js';
import type { Attributes, Span, SpanKind, Tracing } from './index.js';

export const messagingSystem = 'knative';

interface EventLike {
  readonly id?: unknown;
  readonly source?: unknown;
  readonly type?: unknown;
  readonly subject?: unknown;
  readonly specversion?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The CloudEvents semantic conventions for an event (cloudevents.event_*) and its message id. */
export function eventAttributes(event: EventLike): Attributes {
  return {
    'cloudevents.event_id': text(event.id),
    'cloudevents.event_source': text(event.source),
    'cloudevents.event_type': text(event.type),
    'cloudevents.event_subject': text(event.subject),
    'cloudevents.event_spec_version': text(event.specversion),
    'messaging.message.id': text(event.id),
  };
}

/** Attributes of a map-shaped event (WireEvent) or a plain object (SDK CloudEvent, a stored dead letter). */
const attributeReader = (event: WireEvent | Record<string, unknown>): { get(name: string): unknown } =>
  event instanceof WireEvent ? event.attributes : { get: (name) => event[name] };

/**
 * The span for an event that came in over HTTP: its parent from the headers and the event's extension
 * (context.ts, extractContext), and, when a broker started a trace of its own on the way, a link to that one.
 */
export function startIncomingSpan(
  tracing: Tracing,
  name: string,
  options: {
    kind: SpanKind;
    headers: IncomingHttpHeaders;
    event?: WireEvent | Record<string, unknown>;
    startTime?: number;
    attributes?: Attributes;
  },
): Span {
  const { parent, other } = extractContext(options.headers, options.event ? attributeReader(options.event) : undefined);
  return tracing.startSpan(name, {
    kind: options.kind,
    parent,
    links: other ? [{ context: other, attributes: { 'knative_events.link': 'http-traceparent' } }] : undefined,
    startTime: options.startTime,
    attributes: () => ({
      'messaging.system': messagingSystem,
      ...options.attributes,
      ...(options.event
        ? eventAttributes(options.event instanceof WireEvent ? wireFields(options.event) : options.event)
        : {}),
    }),
  });
}

const wireFields = (event: WireEvent): EventLike => ({
  id: event.id,
  source: event.source,
  type: event.type,
  subject: event.attributes.get('subject'),
  specversion: event.attributes.get('specversion'),
});

const destinations = new WeakMap<object, Attributes>();

/** destinationAttributes, worked out once per destination object (a role's are made once). */
function destinationOf(destination: { name: string; url: string }): Attributes {
  let attributes = destinations.get(destination);
  if (!attributes)
    destinations.set(destination, (attributes = destinationAttributes(destination.name, destination.url)));
  return attributes;
}

/** Where a publish goes: a short name for the span and the URL (credentials and query left out of url.full). */
export function destinationAttributes(name: string, url: string): Attributes {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  return {
    'messaging.destination.name': name,
    'http.request.method': 'POST',
    'url.full': parsed ? `${parsed.protocol}//${parsed.host}${parsed.pathname}` : undefined,
    'server.address': parsed?.hostname,
    'server.port': parsed ? Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80)) : undefined,
  };
}

/**
 * The PRODUCER span of one outgoing event ("publish <destination>"), a child of `parent`. `root`: a new trace
 * linked to `parent` instead (a replay).
 */
export function startPublishSpan(
  tracing: Tracing,
  parent: SpanContext | undefined,
  destination: { name: string; url: string },
  event: EventLike,
  root = false,
): Span {
  return tracing.startSpan(`publish ${destination.name}`, {
    kind: 'producer',
    parent,
    root,
    attributes: () => ({
      'messaging.system': messagingSystem,
      'messaging.operation.name': 'publish',
      'messaging.operation.type': 'send',
      ...destinationOf(destination),
      ...eventAttributes(event),
    }),
  });
}

/** The event with `context` in its distributed-tracing extension (replacing what it carried); unchanged without one. */
export function withTraceContext(event: WireEvent, context: SpanContext | undefined): WireEvent {
  if (!context) return event;
  const traceparent = formatTraceparent(context);
  if (event.attributes.get('traceparent') === traceparent && event.attributes.get('tracestate') === context.traceState)
    return event;
  const attributes = new Map<string, WireValue>(event.attributes);
  attributes.set('traceparent', traceparent);
  if (context.traceState) attributes.set('tracestate', context.traceState);
  else attributes.delete('tracestate');
  return new WireEvent(attributes, event.data);
}

export { traceHeaders };

/** Ends a span with the HTTP outcome: the status as http.response.status_code, a failure as ERROR with its error code. */
export function endWithOutcome(span: Span, outcome: { status?: number; error?: unknown; server?: boolean }): void {
  if (!span.recording) return;
  const err = outcome.error;
  const status = err instanceof HttpError ? err.status : err !== undefined ? 500 : outcome.status;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  // HTTP conventions: a server span fails on 5xx only (a 4xx is the caller's problem), a client span on any 4xx/5xx.
  const failed =
    err !== undefined
      ? !outcome.server || (status ?? 500) >= 500
      : status !== undefined && status >= (outcome.server ? 500 : 400);
  if (failed) {
    const code = err instanceof HttpError ? err.type : err !== undefined ? 'internal' : String(status);
    span.fail(err instanceof Error ? err.message : `status ${status}`, code);
  }
  span.end();
}

/**
 * Sends one event as a traced publish: a PRODUCER span for the call (child of `parent`), the span's context
 * on the event's extension and in the request headers, retries as http.request.resend_count, the outcome.
 */
export async function sendTraced<R extends { status: number; attempts: number }>(
  tracing: Tracing,
  parent: SpanContext | undefined,
  destination: { name: string; url: string },
  event: WireEvent,
  send: (event: WireEvent, headers: Record<string, string> | undefined) => Promise<R>,
): Promise<R> {
  const span = startPublishSpan(tracing, parent, destination, wireFields(event));
  try {
    const result = await send(
      withTraceContext(event, span.context),
      span.context ? traceHeaders(span.context) : undefined,
    );
    if (result.attempts > 1) span.setAttribute('http.request.resend_count', result.attempts - 1);
    endWithOutcome(span, { status: result.status });
    return result;
  } catch (err) {
    endWithOutcome(span, { error: err });
    throw err;
  }
}

/** Runs a role's work under `span` and ends it with the answer's status or the error (rethrown). */
export async function within<T>(
  span: Span,
  server: boolean,
  work: () => Promise<T> | T,
  status: () => number,
): Promise<T> {
  try {
    const value = await work();
    endWithOutcome(span, { status: status(), server });
    return value;
  } catch (err) {
    endWithOutcome(span, { error: err, server });
    throw err;
  }
}

/**
 * `within` for work that is synchronous: the same span ending, without an async frame and the turn of the
 * microtask queue its await costs on every request.
 */
export function withinSync<T>(span: Span, server: boolean, work: () => T, status: () => number): T {
  let value: T;
  try {
    value = work();
  } catch (err) {
    endWithOutcome(span, { error: err, server });
    throw err;
  }
  endWithOutcome(span, { status: status(), server });
  return value;
}

/**
 * The reply a subscriber answers with, as a traced publish ("publish reply", a PRODUCER child of `parent`):
 * Knative publishes it into the broker, so the span's context goes on the reply's extension (the
 * `ce-traceparent` header of the binary answer) and in the answer's W3C headers. With tracing off, a reply
 * that has a traceparent of its own keeps it; one without gets the incoming event's.
 */
export function traceReply(
  tracing: Tracing,
  parent: SpanContext | undefined,
  reply: EventLike & { traceparent?: unknown },
  set: (name: string, value: string) => void,
): void {
  if (!tracing.enabled && (reply.traceparent !== undefined || !parent)) return;
  const span = tracing.startSpan('publish reply', {
    kind: 'producer',
    parent,
    attributes: () => ({
      'messaging.system': messagingSystem,
      'messaging.operation.name': 'publish',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'reply',
      ...eventAttributes(reply),
    }),
  });
  const headers = traceHeaders(span.context);
  for (const [name, value] of Object.entries(headers)) {
    set(name, value);
    set(`ce-${name}`, value);
  }
  span.end();
}

export { wireFields };
