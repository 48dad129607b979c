// Delivery of one event to one destination under a Knative DeliverySpec: retries with linear or
// exponential backoff, a per-attempt timeout, and dead-lettering with the knativeerror* extensions.
// The rules (knative.dev/docs/eventing/event-delivery, the data-plane contract in knative/specs, and
// knative/eventing pkg/channel/attributes for the knativeerror* extensions):
//   - retried: no response (connection error, timeout), every 5xx, and 404, 408, 409, 429;
//     any other 4xx goes straight to the dead-letter sink;
//   - delay before retry n (1-based): linear → backoffDelay × n, exponential → backoffDelay × 2^n;
//   - the dead-lettered event carries knativeerrordest (the URL that failed), knativeerrorcode (its
//     status, absent when there was no response) and knativeerrordata (the response body cut to 1024
//     characters, base64; absent when empty). The dead-letter sink is retried under the same policy.
import type { CloudEvent } from 'cloudevents';
import type { ContentMode } from '../runtime/config.js';
import { serialise } from '../runtime/events/sender.js';
import { TimeoutError, type Post, type PostResponse } from './http.js';

export interface DeliverySpec {
  /** Retries after the first attempt. */
  readonly retry: number;
  readonly backoffPolicy: 'linear' | 'exponential';
  readonly backoffDelayMs: number;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly deadLetterUrl: string | undefined;
  readonly format: ContentMode;
}

/**
 * What applies when a DeliverySpec leaves a field out: no retries, exponential backoff, binary format (as
 * Knative). Local choices where Knative leaves it to the implementation: 200 ms base delay, and a 5-minute
 * per-attempt bound (Knative Serving's default request timeout) so a hung subscriber cannot hold an event forever.
 */
export const defaultDelivery: DeliverySpec = Object.freeze({
  retry: 0,
  backoffPolicy: 'exponential',
  backoffDelayMs: 200,
  timeoutMs: 300_000,
  deadLetterUrl: undefined,
  format: 'binary',
});

export function retryDelayMs(
  spec: Pick<DeliverySpec, 'backoffPolicy' | 'backoffDelayMs'>,
  retryNumber: number,
): number {
  return spec.backoffPolicy === 'linear' ? spec.backoffDelayMs * retryNumber : spec.backoffDelayMs * 2 ** retryNumber;
}

export function isRetryable(status: number): boolean {
  return status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

export type Attempt =
  | { readonly kind: 'response'; readonly response: PostResponse }
  | { readonly kind: 'no-response'; readonly message: string; readonly timeout: boolean };

export type DeliveryResult =
  | { readonly outcome: 'delivered'; readonly response: PostResponse; readonly attempts: number }
  | {
      readonly outcome: 'dead-lettered' | 'dropped' | 'dead-letter-failed';
      readonly last: Attempt;
      readonly attempts: number;
    };

export interface DeliveryDeps {
  readonly post: Post;
  readonly sleep: (ms: number) => Promise<void>;
  readonly onRetry?: (retryNumber: number, last: Attempt, delayMs: number) => void;
  /** True once the runner is stopping: no further retries. */
  readonly stopping?: () => boolean;
}

const maxErrorData = 1024;

export function describeAttempt(attempt: Attempt): string {
  return attempt.kind === 'response'
    ? `status ${attempt.response.status}`
    : attempt.timeout
      ? `timeout (${attempt.message})`
      : `no response (${attempt.message})`;
}

async function attemptOnce(
  post: Post,
  url: string,
  message: { headers: Record<string, string>; body: string | Buffer },
  timeoutMs: number,
): Promise<Attempt> {
  try {
    return { kind: 'response', response: await post(url, message.headers, message.body, timeoutMs) };
  } catch (err) {
    return { kind: 'no-response', message: (err as Error).message, timeout: err instanceof TimeoutError };
  }
}

const ok = (a: Attempt) => a.kind === 'response' && a.response.status >= 200 && a.response.status < 300;
const retryable = (a: Attempt) => a.kind === 'no-response' || isRetryable(a.response.status);

/** Sends with retries; no dead-lettering. */
export async function sendWithRetries(
  url: string,
  event: CloudEvent<unknown>,
  spec: DeliverySpec,
  deps: DeliveryDeps,
  extraHeaders: Record<string, string> = {},
): Promise<{ last: Attempt; attempts: number }> {
  const message = serialise(event, spec.format);
  const headers = { ...message.headers, ...extraHeaders };
  let last = await attemptOnce(deps.post, url, { headers, body: message.body }, spec.timeoutMs);
  let attempts = 1;
  for (let n = 1; n <= spec.retry && !ok(last) && retryable(last) && !deps.stopping?.(); n++) {
    const delay = retryDelayMs(spec, n);
    deps.onRetry?.(n, last, delay);
    await deps.sleep(delay);
    last = await attemptOnce(deps.post, url, { headers, body: message.body }, spec.timeoutMs);
    attempts++;
  }
  return { last, attempts };
}

/** The event as the dead-letter sink receives it. */
export function deadLetterEvent(event: CloudEvent<unknown>, failedUrl: string, last: Attempt): CloudEvent<unknown> {
  const extensions: Record<string, string> = { knativeerrordest: failedUrl };
  if (last.kind === 'response') {
    extensions.knativeerrorcode = String(last.response.status);
    const body = last.response.body.toString('utf8').slice(0, maxErrorData);
    if (body.length > 0) extensions.knativeerrordata = Buffer.from(body, 'utf8').toString('base64');
  }
  return event.cloneWith(extensions, false);
}

/** Delivers to `url` under `spec`: retries, then the dead-letter sink if there is one. */
export async function deliver(
  url: string,
  event: CloudEvent<unknown>,
  spec: DeliverySpec,
  deps: DeliveryDeps,
  extraHeaders: Record<string, string> = {},
): Promise<DeliveryResult> {
  const { last, attempts } = await sendWithRetries(url, event, spec, deps, extraHeaders);
  if (ok(last) && last.kind === 'response') return { outcome: 'delivered', response: last.response, attempts };
  if (!spec.deadLetterUrl) return { outcome: 'dropped', last, attempts };
  const dead = await sendWithRetries(spec.deadLetterUrl, deadLetterEvent(event, url, last), spec, deps);
  return { outcome: ok(dead.last) ? 'dead-lettered' : 'dead-letter-failed', last, attempts };
}
