// The `performance` the bundle's code reads (esbuild's `inject`, build/bundle-config.mjs): every free reference
// to the global `performance` in the bundle is this object instead. Why: Node 20 defines the global lazily, and
// its first read loads node:perf_hooks' internals (11 modules, ~4 M instructions), which the first request of
// every process paid for through the runtime's first performance.now(). process.hrtime is part of Node's
// bootstrap and reads the same monotonic clock (uv_hrtime), so this costs nothing to load and as much per call.
//
// The same units and origin as Node's: now() is milliseconds since the process started (process.uptime() reads
// that clock against the process's start), and timeOrigin + now() is the wall-clock time in milliseconds since
// the epoch (tracing's nowMs). The bundle's code uses only these two members (test/bundle-performance.test.ts
// fails on any other, which this object would not have).

/** The monotonic clock in milliseconds, from an arbitrary point. */
function hrtimeMs() {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/** When the process started, on hrtimeMs()'s scale. */
const processStart = hrtimeMs() - process.uptime() * 1e3;

export const performance = {
  now: () => hrtimeMs() - processStart,
  timeOrigin: Date.now() - (hrtimeMs() - processStart),
};
