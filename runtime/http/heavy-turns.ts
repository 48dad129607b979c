// Paces the synchronous work large bodies cause. Once its body is read, a request parses, validates and
// serialises it without yielding: 1 MiB of small JSON objects is 20-250 ms of JSON.parse alone (a quiet and a
// busy 2-core machine), and several finishing at once kept /healthz waiting for seconds. Large bodies go
// one at a time, and after each the loop is left free for as long as that one took (its time, measured up
// to the next turn of the loop), so probes and small requests are answered between two: the large-body work
// gets at most about half of the loop's time while others wait, and runs at once when alone.

/** Bodies from this size on are paced; smaller ones cost too little to matter. */
export const heavyBodyBytes = 64 * 1024;
/** Longest pause between two large bodies, whatever the last one took. */
const maxPauseMs = 1000;

export type TakeTurn = () => Promise<void>;

export function createHeavyTurns(): TakeTurn {
  const waiting: Array<() => void> = [];
  let running = false;
  const next = () => {
    const go = waiting.shift();
    if (!go) {
      running = false;
      return;
    }
    const started = performance.now();
    // Its work runs in the microtasks right after this callback; setImmediate fires on the next turn, after it.
    go();
    setImmediate(() => setTimeout(next, Math.min(maxPauseMs, performance.now() - started)));
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!running) {
        running = true;
        next();
      }
    });
}

/** The process's pacing: one queue for every request, whatever the role. */
export const takeHeavyTurn = createHeavyTurns();
