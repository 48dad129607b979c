// Readiness and draining state shared by the health routes, the server and the roles.
// Not ready while starting, ready once listening, not ready again from SIGTERM on.

export interface Lifecycle {
  readonly ready: boolean;
  readonly stopping: boolean;
  readonly inFlight: number;
  markReady(): void;
  markStopping(): void;
  requestStarted(): void;
  /** A function, not a method: passed as it is to the response's 'close' event. */
  readonly requestFinished: () => void;
  /** Resolves when no request is in flight (at once if none is). */
  idle(): Promise<void>;
}

export function createLifecycle(): Lifecycle {
  let ready = false;
  let stopping = false;
  let inFlight = 0;
  let waiters: Array<() => void> = [];
  return {
    get ready() {
      return ready && !stopping;
    },
    get stopping() {
      return stopping;
    },
    get inFlight() {
      return inFlight;
    },
    markReady: () => {
      ready = true;
    },
    markStopping: () => {
      stopping = true;
    },
    requestStarted: () => {
      inFlight++;
    },
    requestFinished: () => {
      inFlight--;
      if (inFlight === 0) {
        const done = waiters;
        waiters = [];
        for (const resolve of done) resolve();
      }
    },
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}
