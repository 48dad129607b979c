// Paces a bulk replay: the n-th send is due at start + n / rate. A send that comes late (a slow target, a busy
// machine) is made at once, so the average rate holds; at most one second of lateness is caught up in a
// burst, the rest is forgotten, so a target that was slow is never flooded afterwards.
export interface RateLimiter {
  /** Resolves when the next send may go; rejects with the signal's reason when aborted. */
  take(): Promise<void>;
}

export function rateLimiter(
  ratePerSecond: number,
  signal: AbortSignal,
  clock: () => number = () => performance.now(),
): RateLimiter {
  const interval = 1000 / ratePerSecond;
  let start: number | undefined;
  let sent = 0;
  // Turns are taken in the order asked (FIFO), each after the one before it: a caller that arrives late never
  // overtakes one still waiting for its time, so sends leave in the order the job reads the dead letters.
  let chain: Promise<void> = Promise.resolve();
  return {
    take() {
      const turn = chain.then(waitTurn);
      chain = turn.catch(() => undefined);
      return turn;
    },
  };

  async function waitTurn(): Promise<void> {
    signal.throwIfAborted();
    const now = clock();
    start ??= now;
    let due = start + sent * interval;
    if (now - due > 1000) {
      start += now - due - 1000;
      due = start + sent * interval;
    }
    sent++;
    const wait = due - now;
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      const onAbort = () => {
        clearTimeout(timer);
        // The job aborts with an Error (cancelled, shutdown); a bare abort() gives a DOMException, an Error too.
        const reason: unknown = signal.reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
