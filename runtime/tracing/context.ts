// W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate`, parsed and written.
// Part of the always-loaded core of tracing (with index.ts and hops.ts): a process with tracing off still
// carries the caller's trace through, so a trace that Knative or a client started is not cut at our hop.

export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly traceFlags: number;
  /** The vendor list as received (validated), or undefined. */
  readonly traceState?: string;
}

// Version 00 has exactly these four fields; a later version may append more after a dash, which we ignore
// (the spec says to parse the first four and go on).
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const zeroTrace = '0'.repeat(32);
const zeroSpan = '0'.repeat(16);

/** A traceparent header or extension value → its context; undefined when it is not a valid one. */
export function parseTraceparent(value: unknown, traceState?: unknown): SpanContext | undefined {
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return undefined;
  const m = traceparentPattern.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === zeroTrace || spanId === zeroSpan) return undefined;
  const state = parseTracestate(traceState);
  return state === undefined
    ? { traceId, spanId, traceFlags: parseInt(flags, 16) }
    : { traceId, spanId, traceFlags: parseInt(flags, 16), traceState: state };
}

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

// One list member: a key (simple or tenant@system) and a value of printable characters without , or =.
const memberPattern =
  /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** A tracestate value, kept only when every member is valid and there are at most 32 (the spec's limits). */
export function parseTracestate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 8192) return undefined;
  const members = value
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (members.length === 0 || members.length > 32 || !members.every((m) => memberPattern.test(m))) return undefined;
  return members.join(',');
}

export const isSampled = (context: SpanContext | undefined): boolean =>
  context !== undefined && (context.traceFlags & 1) === 1;

type HeaderValue = string | string[] | undefined;

const first = (value: HeaderValue): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Where a request's trace comes from: its HTTP `traceparent`/`tracestate` headers, and the CloudEvents
 * distributed-tracing extension (`traceparent`/`tracestate` attributes) where a producer or a broker put it.
 * When both are there and belong to one trace, the header is the nearer hop (Knative's own span, when its
 * tracing is on) and is the parent. When they disagree, the broker started a trace of its own on the way
 * (or dropped ours): the event's own context is the parent, so the trace survives the Kafka hop, and the
 * header's is returned as `other`, to link to.
 */
export function extractContext(
  headers: Readonly<Record<string, HeaderValue>>,
  attributes?: { get(name: string): unknown },
): { parent?: SpanContext; other?: SpanContext } {
  const fromHeader = parseTraceparent(first(headers.traceparent), first(headers.tracestate));
  const fromEvent = attributes
    ? parseTraceparent(attributes.get('traceparent'), attributes.get('tracestate'))
    : undefined;
  if (!fromEvent) return fromHeader ? { parent: fromHeader } : {};
  if (!fromHeader || fromHeader.traceId === fromEvent.traceId) return { parent: fromHeader ?? fromEvent };
  return { parent: fromEvent, other: fromHeader };
}

/** The HTTP headers that carry a context (both W3C headers; tracestate only when there is one). */
export function traceHeaders(context: SpanContext | undefined): Record<string, string> {
  if (!context) return {};
  return context.traceState
    ? { traceparent: formatTraceparent(context), tracestate: context.traceState }
    : { traceparent: formatTraceparent(context) };
}
