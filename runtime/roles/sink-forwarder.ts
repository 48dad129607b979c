// What a Trigger delivers to when the result must land on a Kafka topic: runs FUNCTION on the event and
// posts what it returns to the KafkaSink ingress. 202 only once the sink has accepted every record;
// otherwise a 5xx, so Knative retries the delivery (with the same record ids) and finally dead-letters it.
import type { CloudEvent } from 'cloudevents';
import type { SinkForwarderConfig } from '../config.js';
import { receiveAndRun } from '../events/receive-and-run.js';
import { createEventSender, type EventSender } from '../events/sender.js';
import { buildSinkEvents, type SinkEventOptions } from '../events/sink-event.js';
import { wireFromCloudEvent, type WireEvent } from '../events/wire-event.js';
import { sendTraced, within } from '../tracing/hops.js';
import { noopTracing, type SpanContext, type Tracing } from '../tracing/index.js';
import type { Logger } from '../logger.js';
import type { RoleDeps, RoleInstance } from './role.js';
import type { RequestContext } from '../http/request-state.js';

/** What forwarding one event's result needs, made once per role. */
interface Forwarding {
  readonly sender: EventSender;
  readonly tracing: Tracing;
  readonly destination: { readonly name: string; readonly url: string };
  readonly eventOptions: SinkEventOptions;
  readonly log: Logger;
}

/**
 * The function's result as records on the sink, one after another; 202 once the sink has accepted every one,
 * 204 when the result was no record at all.
 */
async function forward(
  ctx: RequestContext,
  { event, wire, result }: { event: CloudEvent<unknown>; wire: WireEvent; result: unknown },
  parent: SpanContext | undefined,
  how: Forwarding,
): Promise<void> {
  const traceContext = {
    traceparent: ctx.request.get('traceparent') || undefined,
    tracestate: ctx.request.get('tracestate') || undefined,
  };
  // Every record is written out before the first is sent, so one the function got wrong sends none.
  // Data passed on unchanged goes out as the bytes that came in.
  const outgoing = buildSinkEvents(event, result, how.eventOptions, traceContext).map((record) =>
    wireFromCloudEvent(record, { event, wire }),
  );
  // One after another, in the function's order: records of one result keep their order on a partition.
  // If one fails, the whole delivery is retried; the ones already written come again with the same ids.
  // Each record is its own publish span (a child of `process`), whose context the record carries on.
  for (const record of outgoing)
    await sendTraced(how.tracing, parent, how.destination, record, (traced, headers) =>
      how.sender.send(traced, headers),
    );
  const { response } = ctx; // not Koa's delegating ctx.set/ctx.body/ctx.status (see RequestContext)
  response.set('x-forwarded-events', String(outgoing.length));
  // No body: the Kafka broker's dispatcher fails a delivery whose 2xx answer has a body that is not a
  // CloudEvent ("unknown encoding and non empty response"). Body first: Koa turns a null body set
  // after the status into a 204.
  response.body = null;
  response.status = outgoing.length > 0 ? 202 : 204;
  ctx.state.outcome = outgoing.length > 0 ? 'forwarded' : 'processed';
  // The line's object (and the ids' array) only when debug is on: at the default level it was built and dropped.
  if (outgoing.length > 0 && how.log.isLevelEnabled('debug'))
    how.log.debug({ eventId: event.id, records: outgoing.map((e) => e.id) }, 'forwarded to the sink');
}

export async function createSinkForwarderRole(config: SinkForwarderConfig, deps: RoleDeps): Promise<RoleInstance> {
  const fn = (await deps.loadFunction(config.functionName)).default;
  const run = receiveAndRun(config, fn, deps);
  const how: Forwarding = {
    sender: createEventSender(
      { target: 'sink', url: config.sink.url, mode: config.sink.contentMode, outbound: config.outbound },
      deps,
    ),
    tracing: deps.tracing ?? noopTracing,
    destination: { name: 'sink', url: config.sink.url },
    eventOptions: {
      type: config.eventType,
      source: config.eventSource ?? `/knative-events/${config.service}`,
      partitionKey: config.partitionKey,
      now: deps.now,
    },
    log: deps.log,
  };

  return {
    routes: [
      {
        method: 'POST',
        path: '/',
        async handle(ctx) {
          const ran = await run(ctx);
          await within(
            ran.span,
            false,
            () => forward(ctx, ran, ran.span.context, how),
            () => ctx.response.status,
          );
        },
      },
    ],
  };
}
