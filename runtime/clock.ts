// Time, passed in: the one clock interface of the runtime. Retries sleep on it and draw their jitter from it
// (events/retry.ts); direct Vault waits out its start-up backoff and schedules renewals and refreshes on it
// (secrets/direct.ts). Tests pass their own, so a backoff is seen and released with no real wait. A module
// that needs only part of it asks for that part (`Pick<Clock, 'sleep' | 'random'>`).

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Uniform in [0, 1): the jitter of retries. */
  random(): number;
  /** A one-shot timer that does not keep the process alive on its own. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
