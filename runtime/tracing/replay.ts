// The hook the dlq's replay calls for every event it sends again: the replay is a NEW trace (its own root
// PRODUCER span, "publish <to>"), linked (span link) to the trace the event had when it failed, so a trace
// view of the replay leads back to the original delivery and its dead letter. The replayed event carries the
// new trace's context in its traceparent extension (and, where the sender takes them, in `headers`).
//
//   const traced = traceReplay(tracing, event, { to: target.to, url: target.url }, { deadLetterId, replayId });
//   try { const { status } = await sender.send(traced.event, traced.headers); traced.end({ status }); }
//   catch (err) { traced.end({ error: err }); throw err; }
import { CloudEvent } from 'cloudevents';
import { formatTraceparent, parseTraceparent, traceHeaders } from './context.js';
import { destinationAttributes, endWithOutcome, eventAttributes, messagingSystem } from './hops.js';
import { noopTracing, type Tracing } from './index.js';

export interface TracedReplay {
  /** The event to send: the stored one with the replay's trace context in its extension. */
  readonly event: CloudEvent<unknown>;
  /** traceparent/tracestate for the request, when the sender can add headers. */
  readonly headers: Record<string, string>;
  /** The outcome of the send: its status, or the error it threw. */
  end(outcome: { status?: number; error?: unknown }): void;
}

export function traceReplay(
  tracing: Tracing | undefined,
  event: CloudEvent<unknown>,
  target: { readonly to: string; readonly url: string },
  ids: { readonly deadLetterId: string; readonly replayId: string },
): TracedReplay {
  const t = tracing ?? noopTracing;
  const original = parseTraceparent(event.traceparent, event.tracestate);
  const span = t.startSpan(`publish ${target.to}`, {
    kind: 'producer',
    // A new trace: the replay must not pose as a hop of the failed delivery.
    root: true,
    links: original ? [{ context: original, attributes: { 'knative_events.link': 'replay-of' } }] : undefined,
    attributes: {
      'messaging.system': messagingSystem,
      'messaging.operation.name': 'publish',
      'messaging.operation.type': 'send',
      ...destinationAttributes(target.to, target.url),
      ...eventAttributes(event),
      'knative_events.dead_letter.id': ids.deadLetterId,
      'knative_events.replay.id': ids.replayId,
    },
  });
  const context = span.context;
  // Tracing off: no new trace exists, and the event goes out as it was stored.
  if (!context) return { event, headers: {}, end: () => {} };
  const attributes: Record<string, unknown> = {
    ...event,
    traceparent: formatTraceparent(context),
    tracestate: context.traceState,
  };
  for (const [name, value] of Object.entries(attributes)) if (value === undefined) delete attributes[name];
  return {
    event: new CloudEvent<unknown>(attributes, false),
    headers: traceHeaders(context),
    end: (outcome) => endWithOutcome(span, outcome),
  };
}
