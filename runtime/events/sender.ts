// Posts a CloudEvent to a Knative ingress (Broker or KafkaSink) and reports whether it was accepted.
// Transient failures (connection errors, timeouts, 5xx and the 4xx Knative itself retries) are retried with
// backoff; the final answer is an HttpError whose status tells our own caller to try again (502/503/504).
// Never does a caller get "accepted" for an event the target did not answer 2xx to.
import type { CloudEvent } from 'cloudevents';
import type { ContentMode, OutboundConfig } from '../config.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { timeoutCode, type HttpPoster } from './http-client.js';
import { withRetries, type AttemptOutcome, type RetryClock } from './retry.js';
import {
  binaryMessage,
  structuredMessage,
  structuredPieces,
  WireEvent,
  wireFromCloudEvent,
  type HttpMessage,
} from './wire-event.js';

const attributeOf = (event: WireEvent | CloudEvent<unknown>, name: string): unknown =>
  event instanceof WireEvent ? event.attributes.get(name) : (event as unknown as Record<string, unknown>)[name];

/**
 * The W3C trace headers, from the event's distributed-tracing extension when the caller gave none: the
 * context then travels in both places on every outbound call (a broker that reads only the headers, or only
 * the extension, still continues the trace), whichever code path built the event (a dlq replay, say).
 */
function withTraceHeaders(
  event: WireEvent | CloudEvent<unknown>,
  headers: Record<string, string>,
): Record<string, string> {
  if (headers.traceparent !== undefined) return headers;
  const traceparent = attributeOf(event, 'traceparent');
  if (typeof traceparent !== 'string' || !traceparentHeader.test(traceparent)) return headers;
  const tracestate = attributeOf(event, 'tracestate');
  const validState = typeof tracestate === 'string' && tracestateHeader.test(tracestate);
  return { ...headers, traceparent, ...(validState ? { tracestate } : {}) };
}

// The caller's extension values are only copied into the W3C headers when they have the W3C form: a value Node
// refuses as a header (non-ASCII in a tracestate, say) would fail every attempt and be retried to a 503, for an
// event that is otherwise fine. W3C Trace Context says to ignore an invalid traceparent (and its tracestate then)
// and to drop an invalid tracestate; the attributes themselves still travel in the event unchanged.
const traceparentHeader = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[\x21-\x7e]*)?$/;
const tracestateHeader = /^[\x20-\x7e]{0,512}$/;

export type AttemptResult =
  | { kind: 'accepted'; status: number }
  | { kind: 'status'; status: number; body: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'network'; message: string };

export interface SendObserver {
  /** One call per HTTP attempt: what it ended in and how long it took. */
  attempt?(target: string, result: AttemptResult, seconds: number): void;
  retry?(target: string): void;
}

/** The I/O a sender uses; a role's RoleDeps has all of it. */
export interface SenderIo {
  readonly poster: HttpPoster;
  readonly clock: RetryClock;
  readonly log: Logger;
  readonly observer?: SendObserver;
  /** True once the process is shutting down: no more retries, answer at once. */
  readonly stopping?: () => boolean;
}

export interface EventSenderOptions {
  /** Short name for logs and metrics: "broker", "sink". */
  readonly target: string;
  readonly url: string;
  readonly mode: ContentMode;
  readonly outbound: OutboundConfig;
}

export interface EventSender {
  /** A WireEvent goes out as it is; an SDK CloudEvent is written with the same serialisers. */
  send(
    event: WireEvent | CloudEvent<unknown>,
    extraHeaders?: Record<string, string>,
  ): Promise<{ status: number; attempts: number }>;
}

/** Statuses Knative's own delivery retries; the same ones are worth retrying here. */
const retryableStatus = (status: number) =>
  status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;

const timeoutCodes = new Set([timeoutCode, 'ETIMEDOUT']);

/**
 * The HTTP message for an event in a content mode (binary: percent-encoded ce- headers and the data as the body):
 * every outgoing event and a subscriber's reply (reply.ts) are written here. `origin`: the event a function was
 * given, so a reply that carries its data unchanged sends those bytes.
 */
export function serialise(
  event: WireEvent | CloudEvent<unknown>,
  mode: ContentMode,
  origin?: { readonly event: CloudEvent<unknown>; readonly wire: WireEvent },
): HttpMessage {
  const wire = event instanceof WireEvent ? event : wireFromCloudEvent(event, origin);
  return mode === 'binary' ? binaryMessage(wire) : structuredMessage(wire);
}

function finalError(target: string, url: string, result: AttemptResult, attempts: number): HttpError {
  const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  switch (result.kind) {
    case 'timeout':
      return new HttpError(504, 'upstream_timeout', `the ${target} did not answer in time ${tries}; try again`);
    case 'network':
      return new HttpError(
        503,
        'upstream_unavailable',
        `the ${target} is unreachable ${tries} (${result.message}); try again`,
      );
    case 'status':
      if (!retryableStatus(result.status)) {
        return new HttpError(502, 'upstream_rejected', `the ${target} refused the event with status ${result.status}`);
      }
      return new HttpError(
        result.status === 503 || result.status === 429 ? 503 : 502,
        'upstream_unavailable',
        `the ${target} answered ${result.status} ${tries}; try again`,
      );
    case 'accepted':
      return new HttpError(500, 'internal', `unexpected accepted result for ${url}`, { expose: false });
  }
}

/**
 * What goes on the wire for one event, serialised once for every attempt: binary mode's data bytes as they came,
 * structured mode's JSON data between the envelope's two ends without being copied into one buffer.
 */
function outgoing(
  event: WireEvent | CloudEvent<unknown>,
  mode: ContentMode,
  extraHeaders: Record<string, string> | undefined,
): { headers: Record<string, string>; body: Buffer | readonly Buffer[] } {
  const wire = event instanceof WireEvent ? event : wireFromCloudEvent(event);
  const message = mode === 'binary' ? binaryMessage(wire) : structuredPieces(wire);
  const headers = withTraceHeaders(event, extraHeaders ? { ...message.headers, ...extraHeaders } : message.headers);
  return { headers, body: message.body };
}

/** One HTTP attempt: its result (reported to the observer) and whether another attempt could help. */
async function attemptOnce(
  io: SenderIo,
  target: string,
  url: string,
  message: ReturnType<typeof outgoing>,
  timeoutMs: number,
): Promise<AttemptOutcome<AttemptResult>> {
  const started = performance.now();
  let result: AttemptResult;
  try {
    const response = await io.poster.post(url, message.headers, message.body, timeoutMs);
    result =
      response.status >= 200 && response.status < 300
        ? { kind: 'accepted', status: response.status }
        : { kind: 'status', status: response.status, body: response.body };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    const message = (err as Error).message ?? String(err);
    result = timeoutCodes.has(code) ? { kind: 'timeout', message } : { kind: 'network', message: code || message };
  }
  io.observer?.attempt?.(target, result, (performance.now() - started) / 1000);
  if (result.kind === 'accepted') return { done: true, value: result };
  const retryable = result.kind !== 'status' || retryableStatus(result.status);
  return { done: false, retryable, value: result };
}

/**
 * One deadline over every attempt and the waits between them (OUTBOUND_DEADLINE_MS), so our caller hears back in
 * the documented time even when each attempt times out: waits are cut to fit, and so is each attempt's timeout.
 * A class, one object per send: the bundle names every closure it creates (≈ 4,000 instructions each).
 */
class Deadline implements RetryClock {
  private readonly deadline: number;
  readonly random: () => number;
  /**
   * A wait was cut to the time left, so no time is left after it. Said here rather than read from the clock:
   * a timer can fire a few milliseconds early against performance.now() (Node arms it from the loop's cached
   * time), and an attempt in those milliseconds could only time out, turning the broker's answer into a 504.
   */
  spent = false;

  constructor(
    private readonly outbound: OutboundConfig,
    private readonly clock: RetryClock,
  ) {
    this.deadline = performance.now() + (outbound.deadlineMs ?? Infinity);
    this.random = clock.random;
  }

  remaining(): number {
    return this.deadline - performance.now();
  }

  attemptTimeoutMs(): number {
    return Math.max(1, Math.min(this.outbound.timeoutMs, this.remaining()));
  }

  sleep(ms: number): Promise<void> {
    const left = this.remaining();
    if (ms >= left) this.spent = true;
    return this.clock.sleep(Math.max(0, Math.min(ms, left)));
  }
}

export function createEventSender(options: EventSenderOptions, io: SenderIo): EventSender {
  const { target, url, mode, outbound } = options;
  const { log, observer } = io;
  const policy = { retries: outbound.retries, baseDelayMs: outbound.backoffMs, maxDelayMs: outbound.backoffMaxMs };
  const onRetry = (event: { id: unknown }) => (n: number, last: AttemptResult, delayMs: number) => {
    observer?.retry?.(target);
    log.warn(
      { target, attempt: n, delayMs, eventId: event.id, result: describe(last) },
      `${target} call failed; retrying`,
    );
  };

  return {
    async send(event, extraHeaders) {
      const message = outgoing(event, mode, extraHeaders);
      const deadline = new Deadline(outbound, io.clock);
      let attempts = 0;
      let last: AttemptOutcome<AttemptResult> | undefined;
      const outcome = await withRetries(
        policy,
        deadline,
        async (n) => {
          // No time left after a wait: the previous answer is final.
          if (last && !last.done && (deadline.spent || deadline.remaining() < 1)) return { ...last, retryable: false };
          attempts = n + 1;
          return (last = await attemptOnce(io, target, url, message, deadline.attemptTimeoutMs()));
        },
        onRetry(event),
        io.stopping,
      );
      if (outcome.done) return { status: (outcome.value as { status: number }).status, attempts };
      log.error(
        { target, eventId: event.id, attempts, result: describe(outcome.value) },
        `${target} did not accept the event`,
      );
      throw finalError(target, url, outcome.value, attempts);
    },
  };
}

function describe(result: AttemptResult): string {
  switch (result.kind) {
    case 'accepted':
      return `accepted ${result.status}`;
    case 'status':
      return `status ${result.status}`;
    default:
      return `${result.kind}: ${result.message}`;
  }
}
