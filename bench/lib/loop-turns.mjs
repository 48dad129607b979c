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
import http from 'node:http';

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
  process.on('SIGUSR2', () => {
    reset();
    if (timeline) timeline.accepts.length = timeline.fires.length = 0;
  });
  // The handler's own view of each /healthz: accepted → request parsed → answer written, kept for the slowest.
  const probes = [];
  const allProbes = [];
  // With BENCH_ALL_PROBES: every accepted connection and every fire of the 1 ms timer below (µs), to count
  // what came before a slow probe was accepted: connections accepted and turns of the loop.
  /** @type {{ accepts: number[], fires: number[] } | undefined} */
  const timeline = process.env.BENCH_ALL_PROBES ? { accepts: [], fires: [] } : undefined;
  const clockOffsetUs = Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n);
  const emit = http.Server.prototype.emit;
  /** @type {WeakMap<object, number>} when each connection was accepted */
  const accepted = new WeakMap();
  /** @param {IArguments | unknown[]} args */
  const watch = (args) => {
    if (args[0] === 'connection') {
      const at = nowUs();
      accepted.set(/** @type {object} */ (args[1]), at);
      if (timeline) timeline.accepts.push(at);
    }
    const req = /** @type {import('node:http').IncomingMessage} */ (args[1]);
    if (args[0] !== 'request' || req.url !== '/healthz') return;
    const acceptedUs = accepted.get(req.socket) ?? NaN;
    const parsedUs = nowUs();
    /** @type {import('node:http').ServerResponse} */ (args[2]).once('finish', () => {
      probes.push({ acceptedUs, toRequestMs: (parsedUs - acceptedUs) / 1000, toAnswerMs: (nowUs() - parsedUs) / 1000 });
      if (process.env.BENCH_ALL_PROBES) allProbes.push([req.socket.remotePort, acceptedUs, parsedUs, nowUs()]);
      probes.sort((a, b) => b.toRequestMs + b.toAnswerMs - a.toRequestMs - a.toAnswerMs);
      if (probes.length > 10) probes.pop();
    });
  };
  http.Server.prototype.emit = function () {
    watch(arguments);
    return Reflect.apply(emit, this, arguments);
  };

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
    if (timeline) timeline.fires.push(wall);
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
    writeFileSync(file, JSON.stringify({ counts, cpuOver, byWall, byCpu, probes, allProbes, clockOffsetUs, timeline }));
  });
}
