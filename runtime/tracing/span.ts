// A recording span: what it holds is bounded by the OTEL_SPAN_*_LIMIT / OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT
// limits (counted when dropped, as OTLP reports), so one span's memory has a ceiling whatever a function
// writes into it, and with it the batch queue's.
import type { SpanContext } from './context.js';
import {
  nowMs,
  type AttributeValue,
  type Attributes,
  type Span,
  type SpanKind,
  type SpanLink,
  type SpanOptions,
} from './index.js';

export interface SpanLimits {
  readonly attributeCount: number;
  readonly eventCount: number;
  readonly linkCount: number;
  readonly attributeValueLength: number;
}

export interface SpanEvent {
  readonly name: string;
  readonly time: number;
  readonly attributes: Map<string, AttributeValue>;
  readonly droppedAttributes: number;
}

/** An ended span as the exporter reads it. */
export interface FinishedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly context: SpanContext;
  readonly parentSpanId: string | undefined;
  readonly start: number;
  readonly endTime: number;
  readonly attributes: ReadonlyMap<string, AttributeValue>;
  readonly droppedAttributes: number;
  readonly events: readonly SpanEvent[];
  readonly droppedEvents: number;
  readonly links: ReadonlyArray<{
    readonly context: SpanContext;
    readonly attributes: ReadonlyMap<string, AttributeValue>;
    readonly droppedAttributes: number;
  }>;
  readonly droppedLinks: number;
  readonly status: { readonly code: 'unset' | 'error'; readonly message?: string };
}

function clip(value: AttributeValue, max: number): AttributeValue {
  if (typeof value === 'string') return value.length > max ? value.slice(0, max) : value;
  if (typeof value === 'object') return value.map((item) => (item.length > max ? item.slice(0, max) : item));
  return value;
}

const isValue = (value: unknown): value is AttributeValue =>
  typeof value === 'string' ||
  typeof value === 'boolean' ||
  (typeof value === 'number' && Number.isFinite(value)) ||
  (Array.isArray(value) && value.every((item) => typeof item === 'string'));

/** Copies attributes into `into` within the limits; returns how many were dropped. */
function putAttributes(
  into: Map<string, AttributeValue>,
  attributes: Attributes | undefined,
  limits: SpanLimits,
): number {
  let dropped = 0;
  if (!attributes) return 0;
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || key === '') continue;
    if (!isValue(value)) {
      dropped++;
      continue;
    }
    if (!into.has(key) && into.size >= limits.attributeCount) {
      dropped++;
      continue;
    }
    into.set(key, clip(value, limits.attributeValueLength));
  }
  return dropped;
}

export class RecordingSpan implements Span, FinishedSpan {
  readonly recording = true;
  readonly attributes = new Map<string, AttributeValue>();
  droppedAttributes = 0;
  readonly events: SpanEvent[] = [];
  droppedEvents = 0;
  readonly links: Array<{ context: SpanContext; attributes: Map<string, AttributeValue>; droppedAttributes: number }> =
    [];
  droppedLinks = 0;
  status: { code: 'unset' | 'error'; message?: string } = { code: 'unset' };
  endTime = 0;
  private ended = false;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    readonly context: SpanContext,
    readonly parentSpanId: string | undefined,
    readonly start: number,
    private readonly limits: SpanLimits,
    private readonly onEnd: (span: RecordingSpan) => void,
    attributes: SpanOptions['attributes'],
    links: readonly SpanLink[] | undefined,
  ) {
    this.droppedAttributes = putAttributes(
      this.attributes,
      typeof attributes === 'function' ? attributes() : attributes,
      limits,
    );
    for (const link of links ?? []) this.addLink(link);
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (!this.ended) this.droppedAttributes += putAttributes(this.attributes, { [key]: value }, this.limits);
  }

  setAttributes(attributes: Attributes): void {
    if (!this.ended) this.droppedAttributes += putAttributes(this.attributes, attributes, this.limits);
  }

  addEvent(name: string, attributes?: Attributes): void {
    if (this.ended) return;
    if (this.events.length >= this.limits.eventCount) {
      this.droppedEvents++;
      return;
    }
    const map = new Map<string, AttributeValue>();
    const dropped = putAttributes(map, attributes, this.limits);
    this.events.push({
      name: String(name).slice(0, this.limits.attributeValueLength),
      time: nowMs(),
      attributes: map,
      droppedAttributes: dropped,
    });
  }

  addLink(link: SpanLink): void {
    if (this.links.length >= this.limits.linkCount) {
      this.droppedLinks++;
      return;
    }
    const map = new Map<string, AttributeValue>();
    const dropped = putAttributes(map, link.attributes, this.limits);
    this.links.push({ context: link.context, attributes: map, droppedAttributes: dropped });
  }

  fail(message: string, type?: string): void {
    if (this.ended) return;
    this.status = { code: 'error', message: message.slice(0, this.limits.attributeValueLength) };
    if (type !== undefined) this.setAttribute('error.type', type);
  }

  end(endTime?: number): void {
    if (this.ended) return;
    this.ended = true;
    this.endTime = endTime ?? nowMs();
    this.onEnd(this);
  }
}
