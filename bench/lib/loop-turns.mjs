// Preloaded into a benchmarked server (`node --import <this file's URL>`) when BENCH_TURNS_FILE names
// a file: measures how long the server's event loop goes without getting back to its timers, the time a
// /healthz probe that arrives then waits, whatever ran. A 1 ms interval fires once per loop iteration at most,
// so the gap between two fires is at least the longest iteration between them (its callbacks, I/O and
// immediates). Each gap is kept with the main thread's CPU time during it and its time waiting for a core
// (Linux schedstat, in ns): on a shared machine a long gap with little CPU is the thread waiting for a core,
// not the server's own work; GC helper threads are not counted. At exit the longest gaps (by
// wall time and by CPU time), with their monotonic timestamps in µs (the clock of a --cpu-prof profile, so
// a gap's samples can be looked up there), go to the file as JSON. SIGUSR2 starts the measurement afresh (the
// benchmark sends it when its load starts, so start-up's module loading is not counted). Benchmark-only:
// never in the bundle.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_TURNS_FILE;
if (file) {
  const keep = 20;
  let byWall = [];
  let byCpu = [];
  let counts = {};
  let cpuOver = {};
  const reset = () => {
    byWall = [];
    byCpu = [];
    counts = { gaps: 0, over10Ms: 0, over20Ms: 0, over50Ms: 0, over100Ms: 0 };
    cpuOver = { over10Ms: 0, over20Ms: 0, over50Ms: 0 };
  };
  reset();
  process.on('SIGUSR2', reset);
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const schedstat = `/proc/self/task/${process.pid}/schedstat`;
  /** [on a CPU, waiting for one] of the main thread so far, in µs. */
  const threadUs = () => {
    const [running, waiting] = readFileSync(schedstat, 'latin1').split(' ');
    return [Number(running) / 1000, Number(waiting) / 1000];
  };
  /** Keeps the `keep` largest gaps by `key`, largest first. */
  const insert = (list, gap, key) => {
    if (list.length === keep && list[keep - 1][key] >= gap[key]) return;
    list.push(gap);
    list.sort((a, b) => b[key] - a[key]);
    if (list.length > keep) list.pop();
  };
  let lastWall = nowUs();
  let [lastCpu, lastWait] = threadUs();
  setInterval(() => {
    const wall = nowUs();
    const [cpu, wait] = threadUs();
    const gap = {
      startUs: lastWall,
      endUs: wall,
      wallMs: (wall - lastWall) / 1000,
      cpuMs: (cpu - lastCpu) / 1000,
      waitMs: (wait - lastWait) / 1000,
    };
    lastWall = wall;
    lastCpu = cpu;
    lastWait = wait;
    counts.gaps++;
    for (const ms of [10, 20, 50, 100]) if (gap.wallMs > ms) counts[`over${ms}Ms`]++;
    for (const ms of [10, 20, 50]) if (gap.cpuMs > ms) cpuOver[`over${ms}Ms`]++;
    insert(byWall, gap, 'wallMs');
    insert(byCpu, gap, 'cpuMs');
  }, 1).unref();
  process.on('exit', () => {
    writeFileSync(file, JSON.stringify({ counts, cpuOver, byWall, byCpu }, null, 1));
  });
}
