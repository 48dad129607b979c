// The local broker's own spans, in the trace store `npm run trace` reads: one "deliver <trigger>" span per
// delivery of a sampled event (a child of the event's traceparent extension: the publisher's span), covering
// every attempt, with the outcome (delivered, dead-lettered, dropped) and the retries. Its context goes to the
// subscriber as the traceparent header, so the subscriber's `process` spans are its children, as they would be
// of Knative's dispatcher span with Knative's tracing on.
import { randomBytes } from 'node:crypto';
import type { CloudEvent } from 'cloudevents';
import { parseTraceparent } from '../runtime/tracing/context.js';
import type { DeliveryResult } from './delivery.js';
import type { AnyValue, ReceivedSpan } from './otlp-decode.js';

export interface SpanSink {
  add(span: ReceivedSpan): void;
}

export interface DeliverySpan {
  /** Headers for the deliveries: the span's traceparent (and the event's tracestate). */
  readonly headers: Record<string, string>;
  end(result: DeliveryResult): void;
}

const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
const none: DeliverySpan = { headers: {}, end: () => {} };

export function brokerDeliverySpan(
  sink: SpanSink | undefined,
  trigger: { name: string; subscriberUrl: string },
  event: CloudEvent<unknown>,
): DeliverySpan {
  const parent = sink ? parseTraceparent(event.traceparent, event.tracestate) : undefined;
  if (!sink || !parent || (parent.traceFlags & 1) === 0) return none;
  const spanId = randomBytes(8).toString('hex');
  const startNs = nowNs();
  const headers: Record<string, string> = { traceparent: `00-${parent.traceId}-${spanId}-01` };
  if (parent.traceState) headers.tracestate = parent.traceState;
  return {
    headers,
    end(result) {
      const status =
        result.outcome === 'delivered'
          ? result.response.status
          : result.last.kind === 'response'
            ? result.last.response.status
            : undefined;
      const attributes: Record<string, AnyValue> = {
        'messaging.system': 'knative',
        'messaging.operation.name': 'deliver',
        'messaging.destination.name': trigger.name,
        'url.full': trigger.subscriberUrl,
        'cloudevents.event_id': event.id,
        'cloudevents.event_type': event.type,
        'knative_events.delivery.outcome': result.outcome,
        ...(status === undefined ? {} : { 'http.response.status_code': status }),
        ...(result.attempts > 1 ? { 'http.request.resend_count': result.attempts - 1 } : {}),
      };
      sink.add({
        traceId: parent.traceId,
        spanId,
        parentSpanId: parent.spanId,
        traceState: parent.traceState ?? '',
        name: `deliver ${trigger.name}`,
        kind: 'producer',
        startNs,
        endNs: nowNs(),
        attributes,
        events: [],
        links: [],
        status: result.outcome === 'delivered' ? { code: 0, message: '' } : { code: 2, message: result.outcome },
        flags: 0x301,
        resource: { 'service.name': 'local-broker' },
        scope: 'knative-events/local',
      });
    },
  };
}
