// Replaying to the subscriber that failed (or an allow-listed URL), the dlq stands in for Knative's dispatcher
// for that one Trigger: it posts the event in binary mode (with `Prefer: reply`), retries what Knative retries
// (connection errors, timeouts, 5xx, 404, 408, 409, 429) with the OUTBOUND_* backoff, and when the subscriber
// answers 2xx with a CloudEvent, publishes that reply into the broker (BROKER_URL), as Knative would have.
// Without that, a replayed event whose subscriber replies (a transformer) would look done while its result
// was dropped. A reply that cannot be published fails the replay (the dead letter stays unreplayed, so it can
// be replayed again: at least once, as Knative's own delivery).
import http from 'node:http';
import https from 'node:https';
import type { CloudEvent } from 'cloudevents';
import type { OutboundConfig } from '../config.js';
import { readWireEvent } from '../events/parse.js';
import { withRetries, type RetryClock } from '../events/retry.js';
import { serialise, type EventSender } from '../events/sender.js';
import type { WireEvent } from '../events/wire-event.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';

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

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

type Attempt = { kind: 'answer'; answer: Answer } | { kind: 'no-answer'; message: string; timeout: boolean };

const retryableStatus = (status: number) =>
  status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;

export interface DestinationDelivery {
  to(url: string): DestinationSender;
  /** Closes the kept-alive connections. */
  close(): void;
}

export function createDestinationDelivery(options: DestinationDeliveryOptions): DestinationDelivery {
  const { outbound, clock, log, broker, maxReplyBytes } = options;
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 64, maxFreeSockets: 16 };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const policy = { retries: outbound.retries, baseDelayMs: outbound.backoffMs, maxDelayMs: outbound.backoffMaxMs };

  function post(url: string, headers: Record<string, string>, body: Buffer): Promise<Attempt> {
    return new Promise((resolve) => {
      const target = new URL(url);
      const isHttps = target.protocol === 'https:';
      const req = (isHttps ? https : http).request(
        target,
        {
          method: 'POST',
          headers: { ...headers, prefer: 'reply', 'content-length': String(body.length) },
          agent: isHttps ? httpsAgent : httpAgent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= maxReplyBytes) chunks.push(chunk);
          });
          res.on('end', () => {
            clearTimeout(timer);
            if (size > maxReplyBytes)
              resolve({
                kind: 'answer',
                answer: { status: 502, headers: {}, body: Buffer.from(`reply larger than ${maxReplyBytes} bytes`) },
              });
            else
              resolve({
                kind: 'answer',
                answer: { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) },
              });
          });
          res.on('error', (err) => resolve({ kind: 'no-answer', message: err.message, timeout: false }));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ kind: 'no-answer', message: `no answer within ${outbound.timeoutMs} ms`, timeout: true });
      }, outbound.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        resolve({ kind: 'no-answer', message: (err as NodeJS.ErrnoException).code ?? err.message, timeout: false });
      });
      req.end(body);
    });
  }

  function replyOf(answer: Answer, url: string): WireEvent | undefined {
    const type = String(answer.headers['content-type'] ?? '').toLowerCase();
    const isEvent = answer.headers['ce-id'] !== undefined || type.startsWith('application/cloudevents+json');
    if (!isEvent) return undefined;
    try {
      return readWireEvent(answer.headers, answer.body, {
        legacy: false,
        requireJson: false,
        newId: options.newId,
        now: options.now,
      });
    } catch (err) {
      // Knative's dispatchers fail a delivery whose reply is not a valid CloudEvent.
      throw new HttpError(
        502,
        'upstream_rejected',
        `the replay target ${url} answered ${answer.status} with a reply that is not a valid CloudEvent (${(err as Error).message})`,
      );
    }
  }

  const to = (url: string): DestinationSender => ({
    async send(event) {
      const message = serialise(event, 'binary');
      const body = message.body;
      let attempts = 0;
      const outcome = await withRetries(
        policy,
        clock,
        async () => {
          attempts++;
          const attempt = await post(url, message.headers, body);
          if (attempt.kind === 'answer' && attempt.answer.status >= 200 && attempt.answer.status < 300)
            return { done: true as const, value: attempt };
          const retryable = attempt.kind === 'no-answer' || retryableStatus(attempt.answer.status);
          return { done: false as const, retryable, value: attempt };
        },
        (n, last, delayMs) =>
          log.warn(
            {
              target: url,
              attempt: n,
              delayMs,
              eventId: event.id,
              result: last.kind === 'answer' ? `status ${last.answer.status}` : last.message,
            },
            'replay target call failed; retrying',
          ),
        options.stopping,
      );
      const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
      const last = outcome.value;
      if (!outcome.done) {
        if (last.kind === 'no-answer') {
          throw last.timeout
            ? new HttpError(504, 'upstream_timeout', `the replay target ${url} did not answer in time ${tries}`)
            : new HttpError(
                503,
                'upstream_unavailable',
                `the replay target ${url} is unreachable ${tries} (${last.message})`,
              );
        }
        const { status } = last.answer;
        if (!retryableStatus(status))
          throw new HttpError(
            502,
            'upstream_rejected',
            `the replay target refused the event with status ${status} (${url})`,
          );
        throw new HttpError(
          status === 503 || status === 429 ? 503 : 502,
          'upstream_unavailable',
          `the replay target ${url} answered ${status} ${tries}`,
        );
      }
      const answer = (last as { kind: 'answer'; answer: Answer }).answer;
      const reply = replyOf(answer, url);
      if (!reply) return { status: answer.status, attempts };
      const replyId = reply.id;
      const replyType = reply.type;
      if (!broker) {
        throw new HttpError(
          502,
          'upstream_rejected',
          `the replay target ${url} took the event and answered with a reply event (${replyType}), which Knative would publish into the broker; set BROKER_URL so a replay can publish it too. The dead letter is left unreplayed`,
        );
      }
      try {
        const published = await broker.send(reply);
        log.info(
          { target: url, eventId: event.id, replyId, replyType },
          "replay: the destination's reply event published into the broker",
        );
        return { status: answer.status, attempts, reply: { id: replyId, type: replyType, status: published.status } };
      } catch (err) {
        const why = err instanceof HttpError ? err.message : (err as Error).message;
        throw new HttpError(
          502,
          'upstream_unavailable',
          `the replay target ${url} took the event, but its reply event (${replyType}) could not be published into the broker: ${why}. The dead letter is left unreplayed`,
          { cause: err },
        );
      }
    },
  });
  return {
    to,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
