// Replaying to the subscriber that failed (or an allow-listed URL), the dlq stands in for Knative's dispatcher
// for that one Trigger: it posts the event in binary mode (with `Prefer: reply`), retries what Knative retries
// (connection errors, timeouts, 5xx, 404, 408, 409, 429) with the OUTBOUND_* backoff, and when the subscriber
// answers 2xx with a CloudEvent, publishes that reply into the broker (BROKER_URL), as Knative would have.
// Without that, a replayed event whose subscriber replies (a transformer) would look done while its result
// was dropped. A reply that cannot be published fails the replay (the dead letter stays unreplayed, so it can
// be replayed again: at least once, as Knative's own delivery). The HTTP exchange itself is replay-post.ts.
import type { CloudEvent } from 'cloudevents';
import type { OutboundConfig } from '../config.js';
import { readWireEvent } from '../events/parse.js';
import { withRetries, type RetryClock, type RetryPolicy } from '../events/retry.js';
import { serialise, type EventSender } from '../events/sender.js';
import type { WireEvent } from '../events/wire-event.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { createPoster, type Answer, type Attempt, type Poster } from './replay-post.js';

export interface DestinationResult {
  readonly status: number;
  readonly attempts: number;
  /** The reply event the destination answered with, published into the broker. */
  readonly reply?: { readonly id: string; readonly type: string; readonly status: number };
}

export interface DestinationSender {
  send(event: WireEvent | CloudEvent<unknown>): Promise<DestinationResult>;
}

export interface DestinationDeliveryOptions {
  readonly outbound: OutboundConfig;
  readonly clock: RetryClock;
  readonly log: Logger;
  readonly stopping?: () => boolean;
  /** Where a reply event goes; undefined when BROKER_URL is not set. */
  readonly broker: EventSender | undefined;
  /** The largest reply body read. */
  readonly maxReplyBytes: number;
  readonly newId: () => string;
  readonly now: () => Date;
}

export interface DestinationDelivery {
  to(url: string): DestinationSender;
  /** Closes the kept-alive connections. */
  close(): void;
}

const retryableStatus = (status: number) =>
  status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;

/** The reply event in a 2xx answer, if it carries one; one that is not a valid CloudEvent fails the delivery. */
function replyOf(options: DestinationDeliveryOptions, answer: Answer, url: string): WireEvent | undefined {
  const type = String(answer.headers['content-type'] ?? '').toLowerCase();
  const isEvent = answer.headers['ce-id'] !== undefined || type.startsWith('application/cloudevents+json');
  if (!isEvent) return undefined;
  try {
    const { newId, now } = options;
    return readWireEvent(answer.headers, answer.body, { legacy: false, requireJson: false, newId, now });
  } catch (err) {
    // Knative's dispatchers fail a delivery whose reply is not a valid CloudEvent.
    throw new HttpError(
      502,
      'upstream_rejected',
      `the replay target ${url} answered ${answer.status} with a reply that is not a valid CloudEvent (${(err as Error).message})`,
    );
  }
}

/** Why the delivery failed once the retries are spent (or the answer was not worth retrying). */
function failureOf(last: Attempt, url: string, attempts: number): HttpError {
  const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (last.kind === 'no-answer')
    return last.timeout
      ? new HttpError(504, 'upstream_timeout', `the replay target ${url} did not answer in time ${tries}`)
      : new HttpError(
          503,
          'upstream_unavailable',
          `the replay target ${url} is unreachable ${tries} (${last.message})`,
        );
  const { status } = last.answer;
  if (!retryableStatus(status))
    return new HttpError(
      502,
      'upstream_rejected',
      `the replay target refused the event with status ${status} (${url})`,
    );
  return new HttpError(
    status === 503 || status === 429 ? 503 : 502,
    'upstream_unavailable',
    `the replay target ${url} answered ${status} ${tries}`,
  );
}

/** The destination's reply event into the broker, as Knative would have; without a broker the replay fails. */
async function publishReply(
  options: DestinationDeliveryOptions,
  reply: WireEvent,
  url: string,
  eventId: unknown,
): Promise<{ id: string; type: string; status: number }> {
  const { id, type } = reply;
  if (!options.broker) {
    throw new HttpError(
      502,
      'upstream_rejected',
      `the replay target ${url} took the event and answered with a reply event (${type}), which Knative would publish into the broker; set BROKER_URL so a replay can publish it too. The dead letter is left unreplayed`,
    );
  }
  try {
    const published = await options.broker.send(reply);
    options.log.info(
      { target: url, eventId, replyId: id, replyType: type },
      "replay: the destination's reply event published into the broker",
    );
    return { id, type, status: published.status };
  } catch (err) {
    const why = err instanceof HttpError ? err.message : (err as Error).message;
    throw new HttpError(
      502,
      'upstream_unavailable',
      `the replay target ${url} took the event, but its reply event (${type}) could not be published into the broker: ${why}. The dead letter is left unreplayed`,
      { cause: err },
    );
  }
}

/** Posts until a 2xx, a status Knative does not retry, or the retries are spent; counts the attempts. */
async function postWithRetries(
  options: DestinationDeliveryOptions,
  poster: Poster,
  policy: RetryPolicy,
  url: string,
  event: WireEvent | CloudEvent<unknown>,
) {
  const message = serialise(event, 'binary');
  let attempts = 0;
  const outcome = await withRetries(
    policy,
    options.clock,
    async () => {
      attempts++;
      const attempt = await poster.post(url, message.headers, message.body);
      if (attempt.kind === 'answer' && attempt.answer.status >= 200 && attempt.answer.status < 300)
        return { done: true as const, value: attempt };
      const retryable = attempt.kind === 'no-answer' || retryableStatus(attempt.answer.status);
      return { done: false as const, retryable, value: attempt };
    },
    (n, last, delayMs) => {
      const result = last.kind === 'answer' ? `status ${last.answer.status}` : last.message;
      options.log.warn(
        { target: url, attempt: n, delayMs, eventId: event.id, result },
        'replay target call failed; retrying',
      );
    },
    options.stopping,
  );
  return { outcome, attempts };
}

export function createDestinationDelivery(options: DestinationDeliveryOptions): DestinationDelivery {
  const { outbound, maxReplyBytes } = options;
  const poster = createPoster({ timeoutMs: outbound.timeoutMs, maxReplyBytes });
  const policy = { retries: outbound.retries, baseDelayMs: outbound.backoffMs, maxDelayMs: outbound.backoffMaxMs };
  const send = async (url: string, event: WireEvent | CloudEvent<unknown>): Promise<DestinationResult> => {
    const { outcome, attempts } = await postWithRetries(options, poster, policy, url, event);
    // Done means a 2xx answer; the kind is checked again only so the type says so.
    if (!outcome.done || outcome.value.kind !== 'answer') throw failureOf(outcome.value, url, attempts);
    const answer = outcome.value.answer;
    const reply = replyOf(options, answer, url);
    if (!reply) return { status: answer.status, attempts };
    return { status: answer.status, attempts, reply: await publishReply(options, reply, url, event.id) };
  };
  return {
    to: (url) => ({ send: (event) => send(url, event) }),
    close: () => poster.close(),
  };
}
