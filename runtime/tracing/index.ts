// Tracing as the roles see it: start a span, give it attributes, events and links, end it. This file,
// context.ts and hops.ts are all of tracing that a process loads while tracing is off (no
// OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_SDK_DISABLED=true): `noopTracing` records nothing and only passes the
// caller's trace context on.
// The recording side (sdk.ts: spans, sampler, batch, OTLP protobuf export) is imported only when an endpoint
// is set, the same discipline as prom-client and node-vault (see README "Tracing" for the measured cost).
import type { SpanContext } from './context.js';

export type { SpanContext } from './context.js';

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type AttributeValue = string | number | boolean | readonly string[];
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

export interface SpanLink {
  readonly context: SpanContext;
  readonly attributes?: Attributes;
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  /** The parent; none (or `root`) starts a new trace. */
  readonly parent?: SpanContext;
  /** A new trace even when a parent is given (it is then linked instead): replays. */
  readonly root?: boolean;
  readonly links?: readonly SpanLink[];
  /** A function is called only when the span records (sampled, tracing on): nothing is built for the rest. */
  readonly attributes?: Attributes | (() => Attributes);
  /** Epoch milliseconds (fractions allowed), when the work began before the span could be started. */
  readonly startTime?: number;
}

/** What a user function may do with its span (`context.span`). */
export interface FunctionSpan {
  setAttribute(key: string, value: AttributeValue): void;
  addEvent(name: string, attributes?: Attributes): void;
}

export interface Span extends FunctionSpan {
  /** The context to send on: this span's own; with tracing off, the one it continues (or none). */
  readonly context: SpanContext | undefined;
  readonly recording: boolean;
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed (status ERROR) with a short message; `type` goes to `error.type`. */
  fail(message: string, type?: string): void;
  end(endTime?: number): void;
}

export interface Tracing {
  readonly enabled: boolean;
  startSpan(name: string, options?: SpanOptions): Span;
  /** Exports every span that has ended, waiting at most `timeoutMs`; what is left then is dropped and counted. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** Epoch milliseconds with sub-millisecond precision (span timestamps). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

class PassThroughSpan implements Span {
  readonly recording = false;
  constructor(readonly context: SpanContext | undefined) {}
  setAttribute(): void {}
  setAttributes(): void {}
  addEvent(): void {}
  fail(): void {}
  end(): void {}
}

const noContext = new PassThroughSpan(undefined);

/** Tracing off: spans record nothing; a child continues its parent's context, so the caller's trace goes on. */
export const noopTracing: Tracing = {
  enabled: false,
  startSpan: (_name, options) => (options?.parent && !options.root ? new PassThroughSpan(options.parent) : noContext),
  shutdown: async () => {},
};

/** What tracing reports to the metrics (runtime/tracing/metrics.ts implements it on the process registry). */
export interface TracingObserver {
  exported(count: number): void;
  dropped(reason: 'queue_full' | 'export_failed' | 'shutdown', count: number): void;
}

export interface TracingIo {
  /** Warnings (export failures, once per outage) go here. */
  readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** The process's Prometheus registry, when metrics are on: drop and export counts go there. */
  readonly registry?: unknown;
  /** K_SERVICE and the role, for service.name when OTEL_SERVICE_NAME is unset. */
  readonly service: string;
  readonly role: string;
  readonly revision?: string;
  readonly version?: string;
}

/** True when the environment asks for tracing: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

/** The process's tracing: `noopTracing` unless an endpoint is set; then the SDK, loaded on this call. */
export async function openTracing(env: Readonly<Record<string, string | undefined>>, io: TracingIo): Promise<Tracing> {
  if (!tracingRequested(env)) return noopTracing;
  const { createTracing } = await import('./sdk.js');
  return createTracing(env, io);
}
