// Bounded exponential backoff with full jitter. Hand-written rather than p-retry because the clock and the
// random source must be injectable (tests drive them) and because the caller decides per outcome, from an
// HTTP status, whether another attempt can help. Outbound sends (sender.ts), dlq replays and direct Vault's
// start-up (secrets/direct.ts) all retry through withRetries.
import type { Clock } from '../clock.js';

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The part of the clock (runtime/clock.ts) that retries use. */
export type RetryClock = Pick<Clock, 'sleep' | 'random'>;

/** Delay before retry number `attempt` (1-based): uniform in [0, min(max, base × 2^(attempt-1))]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * random());
}

export type AttemptOutcome<T> = { done: true; value: T } | { done: false; retryable: boolean; value: T };

/**
 * Runs `attempt` until it is done, it says a retry cannot help, or the retries are used up.
 * Returns the last outcome; `onRetry` sees each retry before its delay.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  clock: RetryClock,
  attempt: (attemptNumber: number) => Promise<AttemptOutcome<T>>,
  onRetry?: (attemptNumber: number, last: T, delayMs: number) => void,
  shouldStop?: () => boolean,
): Promise<AttemptOutcome<T>> {
  let outcome = await attempt(0);
  for (let n = 1; n <= policy.retries && !outcome.done && outcome.retryable && !shouldStop?.(); n++) {
    const delay = backoffDelay(policy, n, clock.random);
    onRetry?.(n, outcome.value, delay);
    await clock.sleep(delay);
    outcome = await attempt(n);
  }
  return outcome;
}
