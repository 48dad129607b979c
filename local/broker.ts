// The local Broker: the Knative broker ingress contract (POST a CloudEvent to /<namespace>/<broker> → 202;
// not a valid CloudEvent → 400; unknown broker → 404) and Trigger delivery behind it. Each accepted event is
// offered to every Trigger of that broker whose filter matches, under the Trigger's DeliverySpec; a
// subscriber's 2xx answer that carries a CloudEvent is published back into the same broker.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import { parseCloudEvent } from '../runtime/events/parse.js';
import { HttpError } from '../runtime/http/errors.js';
import { brokerDeliverySpan, type SpanSink } from './broker-spans.js';
import { deliver, describeAttempt, type DeliveryDeps } from './delivery.js';
import { attributesOf, matches } from './filter.js';
import type { PostResponse } from './http.js';
import type { ComponentLog } from './log.js';
import type { BrokerPlan, TriggerPlan } from './plan.js';

/** Replies of replies of…: beyond this many hops an event is dropped (Knative's MT broker uses a TTL for the same reason). */
export const maxReplyHops = 16;

export interface BrokerDeps extends Omit<DeliveryDeps, 'onRetry'> {
  readonly log: ComponentLog;
  readonly newId?: () => string;
  readonly now?: () => Date;
  /** Where the broker records its delivery spans (local/broker-spans.ts), for `npm run trace`. */
  readonly traces?: SpanSink;
}

export interface LocalBroker {
  handle(req: IncomingMessage, body: Buffer): Promise<{ status: number; body?: unknown }>;
  /** Offers an event to the triggers of one broker (also used for replies). */
  publish(brokerPath: string, event: CloudEvent<unknown>, hops?: number): void;
  /** Resolves once every delivery started so far has finished. */
  idle(): Promise<void>;
}

function replyOf(response: PostResponse, newId: () => string, now: () => Date): CloudEvent<unknown> | undefined {
  const ct = response.headers['content-type'] ?? '';
  const isEvent =
    response.headers['ce-id'] !== undefined || ct.toLowerCase().startsWith('application/cloudevents+json');
  if (!isEvent) return undefined;
  return parseCloudEvent(response.headers, response.body, { legacy: false, requireJson: false, newId, now });
}

type Delivery = Awaited<ReturnType<typeof deliver>>;

/** What happened to an event the subscriber did not take: dead-lettered, lost, or dropped. */
function logUndelivered(
  log: BrokerDeps['log'],
  trigger: TriggerPlan,
  event: CloudEvent<unknown>,
  result: Exclude<Delivery, { outcome: 'delivered' }>,
  tag: Record<string, unknown>,
): void {
  const why = `${describeAttempt(result.last)} after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}`;
  if (result.outcome === 'dead-lettered')
    log.warn(`${event.type} not delivered to ${trigger.subscriberLabel} (${why}): sent to the dead-letter sink`, tag);
  else if (result.outcome === 'dead-letter-failed')
    log.error(
      `${event.type} not delivered to ${trigger.subscriberLabel} (${why}) and the dead-letter sink did not take it either: event lost`,
      tag,
    );
  else
    log.error(
      `${event.type} not delivered to ${trigger.subscriberLabel} (${why}) and the trigger has no dead-letter sink: event dropped`,
      tag,
    );
}

/** The subscriber's reply event, if it answered with one that may be published (valid, within the hop limit). */
function publishableReply(
  log: BrokerDeps['log'],
  trigger: TriggerPlan,
  hops: number,
  tag: Record<string, unknown>,
  read: () => CloudEvent<unknown> | undefined,
): CloudEvent<unknown> | undefined {
  let reply: CloudEvent<unknown> | undefined;
  try {
    reply = read();
  } catch (err) {
    log.warn(
      `${trigger.subscriberLabel} answered with an invalid reply event (${(err as Error).message}); ignored`,
      tag,
    );
    return undefined;
  }
  if (!reply) return undefined;
  if (hops + 1 > maxReplyHops) {
    log.error(
      `reply ${reply.type} dropped: more than ${maxReplyHops} reply hops (a trigger probably matches its own subscriber's replies)`,
      tag,
    );
    return undefined;
  }
  log.info(`reply ${reply.type} from ${trigger.subscriberLabel} published into the broker`, {
    ...tag,
    replyId: reply.id,
  });
  return reply;
}

/** What the broker's steps share: its deps, with the id and clock defaults filled in. */
interface BrokerContext {
  readonly deps: BrokerDeps;
  readonly newId: () => string;
  readonly now: () => Date;
}

/**
 * One trigger's delivery of one event, under the trigger's DeliverySpec, logged as the broker would; a reply
 * event the subscriber answered with goes back through `publishReply` (the broker the event came from).
 */
async function deliverTo(
  ctx: BrokerContext,
  trigger: TriggerPlan,
  event: CloudEvent<unknown>,
  hops: number,
  publishReply: (reply: CloudEvent<unknown>, hops: number) => void,
): Promise<void> {
  const { deps, newId, now } = ctx;
  const log = deps.log;
  const tag = { trigger: trigger.name, eventId: event.id };
  const span = brokerDeliverySpan(deps.traces, trigger, event);
  const result = await deliver(
    trigger.subscriberUrl,
    event,
    trigger.delivery,
    {
      ...deps,
      onRetry: (n, last, delayMs) =>
        log.warn(
          `${trigger.subscriberLabel} answered ${describeAttempt(last)}; retry ${n}/${trigger.delivery.retry} in ${delayMs} ms`,
          tag,
        ),
    },
    { prefer: 'reply', ...span.headers },
  );
  span.end(result);
  if (result.outcome !== 'delivered') return logUndelivered(log, trigger, event, result, tag);
  log.info(`${event.type} → ${trigger.subscriberLabel}: ${result.response.status}`, {
    ...tag,
    attempts: result.attempts,
  });
  const reply = publishableReply(log, trigger, hops, tag, () => replyOf(result.response, newId, now));
  if (reply) publishReply(reply, hops + 1);
}

type IngressAnswer = { status: number; body?: unknown };

/**
 * The broker ingress: a CloudEvent POSTed to a known broker's path is handed to `publish` (202); an unknown
 * path is 404, another method 405, and a request that is not a valid CloudEvent 400, as Knative's ingress answers.
 */
function accept(
  ctx: BrokerContext,
  known: ReadonlySet<string>,
  req: IncomingMessage,
  body: Buffer,
  publish: (brokerPath: string, event: CloudEvent<unknown>) => void,
): IngressAnswer {
  const { deps, newId, now } = ctx;
  const path = (req.url ?? '/').split('?')[0]?.replace(/\/$/, '') ?? '';
  if (!known.has(path))
    return {
      status: 404,
      body: { error: 'not_found', message: `no broker at ${path}; brokers: ${[...known].join(', ')}` },
    };
  if (req.method !== 'POST')
    return { status: 405, body: { error: 'method_not_allowed', message: 'POST a CloudEvent' } };
  let event: CloudEvent<unknown>;
  try {
    event = parseCloudEvent(req.headers, body, { legacy: false, requireJson: false, newId, now });
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    deps.log.warn(`rejected a request: ${err.message}`);
    return { status: 400, body: { error: err.type, message: err.message } };
  }
  deps.log.debug(`accepted ${event.type} from ${event.source}`, { eventId: event.id, broker: path });
  publish(path, event);
  return { status: 202 };
}

export function createBroker(
  brokers: readonly BrokerPlan[],
  triggers: readonly TriggerPlan[],
  deps: BrokerDeps,
): LocalBroker {
  const ctx: BrokerContext = { deps, newId: deps.newId ?? randomUUID, now: deps.now ?? (() => new Date()) };
  // Every delivery under way, so idle() can wait for them (replies start more while it waits).
  const inFlight = new Set<Promise<void>>();
  const known = new Set(brokers.map((b) => b.path));

  function publish(brokerPath: string, event: CloudEvent<unknown>, hops = 0): void {
    const attributes = attributesOf(event);
    const chosen = triggers.filter((t) => t.brokerPath === brokerPath && matches(t.filter, attributes));
    if (chosen.length === 0)
      deps.log.info(`${event.type} from ${event.source} matched no trigger`, { eventId: event.id });
    for (const trigger of chosen) {
      const p = deliverTo(ctx, trigger, event, hops, (reply, replyHops) => publish(brokerPath, reply, replyHops))
        .catch((err: unknown) =>
          deps.log.error(`delivery to ${trigger.subscriberLabel} failed: ${(err as Error).message}`, {
            trigger: trigger.name,
          }),
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }

  return {
    publish,
    // In an executor, so a throw becomes a rejection as it would in an async function.
    handle: (req, body) => new Promise((resolve) => resolve(accept(ctx, known, req, body, publish))),
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
