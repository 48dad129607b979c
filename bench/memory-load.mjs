// Memory under overload (issue 15): 200 concurrent 1 MiB requests, each a JSON array of many small objects,
// against a handler whose broker never answers, so every admitted request is held until its outbound
// deadline. Checks that the handler's RSS stays under the container limit the chart sets for production
// (values/prod.yaml: 384Mi) and that /healthz answers within 100 ms throughout on PROBE_PORT, the probes' own
// listener where the chart points Knative's probes (runtime/probe-server.ts). /healthz on PORT is probed the same
// way beside it and reported: there a new connection waits in the accept queue behind the request connections.
// Not part of the test run.
//
//   npm run build && node bench/memory-load.mjs [--seconds 45] [--concurrency 200] [--limit-mib 384]
//
// The handler runs with MEMORY_BUDGET_BYTES set to what it derives by itself from a 384 MiB cgroup limit
// (144 MiB; this machine has no cgroup limit to read), GLIBC_TUNABLES as the image sets it, PROBE_PORT as the
// chart sets it (`BENCH_CHILD_ENV='PROBE_PORT='` runs without: then the goal is judged on PORT), and every other
// setting at its default. Clients act as
// Knative's queue-proxy or a well-behaved caller does: a 503 is retried after its Retry-After, anything else
// at once. The load generator is a separate process at the lowest CPU priority (nice 19): in a cluster the
// callers are on other machines, and on this 2-core one it would otherwise take the handler's CPU. The
// /healthz prober runs in the orchestrating process, which does nothing else; the hanging broker in its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, memoryOf, stop } from './lib/processes.mjs';

const { values: opts } = parseArgs({
  options: {
    'load-port': { type: 'string' },
    seconds: { type: 'string', default: '45' },
    concurrency: { type: 'string', default: '200' },
    'limit-mib': { type: 'string', default: '384' },
  },
});
const seconds = Number(opts.seconds);
const concurrency = Number(opts.concurrency);
const limitMiB = Number(opts['limit-mib']);
const MiB = 1024 * 1024;
// Same arithmetic as runtime/http/memory-budget.ts defaultMemoryBudget: half of (limit − 96 MiB).
const budgetBytes = Math.floor((limitMiB * MiB - 96 * MiB) / 2);
// BENCH_BUNDLE: another build of the handler (e.g. the previous commit's), to compare two side by side.
const bundle = process.env.BENCH_BUNDLE ?? fileURLToPath(new URL('../dist/knative-events.cjs', import.meta.url));

/** 1 MiB of `{"a":N}` objects: ≈131,000 objects per body. */
function body() {
  const parts = [];
  let size = 2;
  for (let i = 0; size < MiB - 16; i++) {
    const item = `{"a":${i % 10}}`;
    parts.push(item);
    size += item.length + 1;
  }
  return Buffer.from(`[${parts.join(',')}]`);
}

/** The hanging broker (bench/peers/hanging-broker.cjs) in its own process; resolves once it accepts connections. */
async function hangingBroker() {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('peers/hanging-broker.cjs', import.meta.url))], {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('the hanging broker did not start within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}/ns/broker`, close: () => stop(child) };
}

function post(port, payload) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        headers: {
          'content-type': 'application/json',
          ce_type: 'bench.memory',
          ce_source: '/bench',
          'content-length': payload.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            ms: performance.now() - started,
            retryAfter: Number(res.headers['retry-after'] ?? 0),
          }),
        );
      },
    );
    req.on('error', (err) =>
      resolve({
        status: /** @type {NodeJS.ErrnoException} */ (err).code ?? 'error',
        ms: performance.now() - started,
        retryAfter: 0,
      }),
    );
    req.end(payload);
  });
}

/** The load generator's part, run as its own process: `concurrency` clients for `seconds`; prints the results. */
async function generateLoad(port) {
  const payload = body();
  const results = [];
  const endAt = performance.now() + seconds * 1000;
  const client = async () => {
    while (performance.now() < endAt) {
      const result = await post(port, payload);
      results.push(result);
      if (result.status === 503 && result.retryAfter > 0)
        await new Promise((r) => setTimeout(r, result.retryAfter * 1000));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  process.stdout.write(JSON.stringify({ bodyBytes: payload.length, results }));
}

/** /healthz every 50 ms on a fresh connection, until stopped; a failure counts as Infinity. */
function probeHealth(port) {
  const latencies = [];
  // [local port, started, ended] in monotonic µs, for BENCH_ALL_PROBES (joined by port with the handler's view).
  const clientProbes = [];
  const t0 = performance.now();
  let stopped = false;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const probe = () => {
    if (stopped) return done(Object.assign(latencies, { clientProbes }));
    const started = performance.now();
    const startedUs = Number(process.hrtime.bigint() / 1000n);
    let localPort = 0;
    const next = (ms) => {
      latencies.push(ms);
      clientProbes.push([localPort, startedUs, Number(process.hrtime.bigint() / 1000n)]);
      if (process.env.BENCH_DEBUG && ms > 100)
        console.error(
          `slow /healthz at ${Math.round(started - t0)} ms (monotonic ${Math.round(startedUs)} µs, port ${localPort}): ${Math.round(ms)} ms`,
        );
      setTimeout(probe, 50);
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => next(res.statusCode === 200 ? performance.now() - started : Infinity));
    });
    req.once('socket', (socket) => socket.once('connect', () => (localPort = socket.localPort ?? 0)));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', () => next(Infinity));
  };
  probe();
  return { stop: () => ((stopped = true), finished) };
}

/**
 * BENCH_CHILD_NICE (e.g. -10; root, run as `setsid node bench/memory-load.mjs`): the handler and the prober
 * (this process) ahead of everything else on a shared machine, as a pod's CPU request and a kubelet elsewhere
 * would put them, to tell the handler's own stalls from time spent waiting for a CPU. Linux schedules each
 * session as a group (autogroups) and a process's nice counts only inside its group, so it is the groups'.
 */
function prioritise(childPid, niceness) {
  const session = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[3]);
  if (session !== process.pid) throw new Error('BENCH_CHILD_NICE: run the benchmark as `setsid node …`');
  writeFileSync('/proc/self/autogroup', niceness);
  writeFileSync(`/proc/${childPid}/autogroup`, niceness);
}

/**
 * A bare node:http server answering /healthz, probed like the handler for the whole run: the latency a probe
 * has on this machine under this load with no request work at all in the server (scheduling, connection setup).
 */
async function controlServer(niceness) {
  const port = await freePort();
  const code = `require('node:http').createServer((q, s) => s.end('{"status":"ok"}')).listen(${port}, '127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore', detached: niceness !== undefined });
  if (niceness !== undefined) writeFileSync(`/proc/${child.pid}/autogroup`, niceness);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return { port, child };
    } catch {
      if (i > 200) throw new Error('the control server did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** A process's minor page faults so far (/proc/<pid>/stat, the 10th field). */
function minorFaults(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

const loopTurnsMonitor = new URL('./lib/loop-turns.mjs', import.meta.url).href;

/**
 * What lib/loop-turns.mjs saw in the handler: its longest stall of the event loop (wall time, the main thread's
 * CPU time in it and its time waiting for a core: on a shared machine much of a stall can be the latter) and
 * the stall with the most CPU, the longest stretch of the handler's own work; counts of stalls over 20/50/100 ms.
 */
function readTurns(file) {
  let turns;
  try {
    turns = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { error: 'the handler wrote no loop measurements (did it exit normally?)' };
  }
  const round = (gap) => ({
    wallMs: +gap.wallMs.toFixed(1),
    cpuMs: +gap.cpuMs.toFixed(1),
    waitingForCpuMs: +gap.waitMs.toFixed(1),
    atUs: gap.startUs,
  });
  return {
    longestStall: round(turns.byWall[0]),
    mostCpuInOneStall: round(turns.byCpu[0]),
    stallsOverMs: { 20: turns.counts.over20Ms, 50: turns.counts.over50Ms, 100: turns.counts.over100Ms },
    stallsWithCpuOverMs: { 20: turns.cpuOver.over20Ms, 50: turns.cpuOver.over50Ms },
    byWall: process.env.BENCH_DEBUG ? turns.byWall.slice(0, 8).map(round) : undefined,
    byCpu: process.env.BENCH_DEBUG ? turns.byCpu.slice(0, 8).map(round) : undefined,
    slowestProbes: process.env.BENCH_DEBUG ? turns.probes : undefined,
  };
}

/**
 * With BENCH_ALL_PROBES: the slowest probes split into where their time went, the prober's times joined by its
 * local port with the handler's (same monotonic clock): waiting to be accepted (the kernel's accept queue),
 * accepted to request parsed, parsed to answer written, and the rest (the answer's way back, the prober's turn).
 */
function slowestProbesSplit(turnsFile, clientProbes, count = 8) {
  const handlerSeen = new Map();
  const { allProbes, timeline } = JSON.parse(readFileSync(turnsFile, 'utf8'));
  const countIn = (times, fromUs, toUs) => times?.filter((t) => t >= fromUs && t < toUs).length;
  for (const [port, acceptedUs, parsedUs, answeredUs] of allProbes ?? [])
    handlerSeen.set(port, [...(handlerSeen.get(port) ?? []), { acceptedUs, parsedUs, answeredUs }]);
  const firstUs = clientProbes[0]?.[1] ?? 0;
  const ms = (us) => +(us / 1000).toFixed(1);
  return clientProbes
    .map(([port, startedUs, endedUs]) => {
      const seen = (handlerSeen.get(port) ?? []).find(
        (h) => h.acceptedUs >= startedUs - 1000 && h.acceptedUs <= endedUs,
      );
      return {
        atS: +((startedUs - firstUs) / 1e6).toFixed(2),
        totalMs: ms(endedUs - startedUs),
        ...(seen && {
          acceptWaitMs: ms(seen.acceptedUs - startedUs),
          // While it waited: connections the handler accepted, and fires of its 1 ms timer (turns of 1 ms+).
          acceptedMeanwhile: countIn(timeline?.accepts, startedUs, seen.acceptedUs),
          timerFiresMeanwhile: countIn(timeline?.fires, startedUs, seen.acceptedUs),
          toRequestMs: ms(seen.parsedUs - seen.acceptedUs),
          toAnswerMs: ms(seen.answeredUs - seen.parsedUs),
          restMs: ms(endedUs - seen.answeredUs),
        }),
      };
    })
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, count);
}

async function main() {
  const broker = await hangingBroker();
  const port = await freePort();
  const probePortOf = await freePort();
  // BENCH_CHILD_NODE_ARGS (e.g. --trace-gc) and BENCH_CHILD_STDOUT=1: for finding out where time goes.
  // BENCH_ALL_PROBES=<file>: every /healthz the handler answered (client port; accepted, parsed, answered in
  // monotonic µs; the offset to wall-clock µs), to join with a capture (`tcpdump -i lo`): the time a probe's
  // connection spent in the kernel's accept queue is its SYN to its 'connection' event.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const niceness = process.env.BENCH_CHILD_NICE;
  // The handler's longest event-loop stalls, measured inside it by a preloaded benchmark-only monitor.
  const turnsDir = mkdtempSync(join(tmpdir(), 'memory-load-'));
  const turnsFile = join(turnsDir, 'turns.json');
  const child = spawn(process.execPath, [...nodeArgs, '--import', loopTurnsMonitor, bundle], {
    env: {
      BENCH_TURNS_FILE: turnsFile,
      BENCH_ALL_PROBES: process.env.BENCH_ALL_PROBES,
      PATH: process.env.PATH,
      ROLE: 'handler',
      PORT: String(port),
      BROKER_URL: broker.url,
      LOG_LEVEL: 'warn',
      MEMORY_BUDGET_BYTES: String(budgetBytes),
      // As the image runs it (build/Dockerfile): malloc's memory in transparent huge pages where the kernel allows
      // them. BENCH_CHILD_ENV='GLIBC_TUNABLES=' runs without.
      GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
      // As the chart runs it: the probes on a listener of their own.
      PROBE_PORT: String(probePortOf),
      // BENCH_CHILD_ENV='NAME=value …': more environment for the handler, over the above.
      ...Object.fromEntries(
        (process.env.BENCH_CHILD_ENV ?? '')
          .split(' ')
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
    },
    stdio: ['ignore', process.env.BENCH_CHILD_STDOUT ? 'inherit' : 'ignore', 'inherit'],
    // Its own session, so its own scheduling group (Linux autogroups) for BENCH_CHILD_NICE below.
    detached: niceness !== undefined,
  });
  if (niceness !== undefined) prioritise(child.pid, niceness);
  // BENCH_CHILD_ENV='PROBE_PORT=' (empty: unset) runs without the probes' listener
  const probePort = /(^| )PROBE_PORT=( |$)/.test(process.env.BENCH_CHILD_ENV ?? '') ? undefined : probePortOf;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      if (i > 200) throw new Error('the handler did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const idle = memoryOf(child.pid);
  const control = await controlServer(niceness);
  const faultsBefore = minorFaults(child.pid);

  // The handler's loop is measured from here on (lib/loop-turns.mjs), without its start-up.
  child.kill('SIGUSR2');
  let peakRss = idle.rssMiB;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, memoryOf(child.pid).rssMiB)), 50);
  const load = spawn(
    'nice',
    [
      '-n',
      '19',
      process.execPath,
      fileURLToPath(import.meta.url),
      '--load-port',
      String(port),
      '--seconds',
      String(seconds),
      '--concurrency',
      String(concurrency),
    ],
    // With BENCH_CHILD_NICE, in a scheduling group of its own at the ordinary weight (see prioritise).
    { stdio: ['ignore', 'pipe', 'inherit'], detached: niceness !== undefined },
  );
  // Probing starts once the load generator is spawned: spawning it blocks this process for tens of ms on a busy
  // machine, and a probe started before it was timed with that wait in it (the first probe of every run, and
  // the control server's, were the slowest: 70-100 ms, 45-75 ms of it before the handler could accept). The
  // generator takes longer than that to start Node and connect, so the probes still see its opening burst.
  const prober = probeHealth(probePort ?? port);
  // /healthz on PORT too, when the probes have their own port: a kubelet liveness probe comes there on Knative
  // versions that rewrite its port to the container's (all but multi-container probing since 1.22)
  const portProber = probePort === undefined ? undefined : probeHealth(port);
  const controlProber = probeHealth(control.port);
  let loadOutput = '';
  load.stdout.on('data', (c) => (loadOutput += c));
  await new Promise((resolve) => load.once('exit', resolve));
  const { bodyBytes, results } = JSON.parse(loadOutput);
  clearInterval(sampler);
  const probed = await prober.stop();
  const latencies = [...probed].sort((a, b) => a - b);
  const portLatencies = portProber ? [...(await portProber.stop())].sort((a, b) => a - b) : undefined;
  const controlLatencies = (await controlProber.stop()).sort((a, b) => a - b);
  await stop(control.child);
  const { peakMiB } = memoryOf(child.pid);
  const faultsUnderLoad = minorFaults(child.pid) - faultsBefore;
  await new Promise((r) => setTimeout(r, 5000));
  const after = memoryOf(child.pid).rssMiB;
  await stop(child);
  await broker.close();
  const turns = readTurns(turnsFile);
  const probesSplit = process.env.BENCH_ALL_PROBES ? slowestProbesSplit(turnsFile, probed.clientProbes) : undefined;
  if (process.env.BENCH_ALL_PROBES) {
    writeFileSync(process.env.BENCH_ALL_PROBES, readFileSync(turnsFile));
    writeFileSync(`${process.env.BENCH_ALL_PROBES}.client`, JSON.stringify(probed.clientProbes));
  }
  rmSync(turnsDir, { recursive: true, force: true });

  const byStatus = {};
  for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const ms = (status) =>
    results
      .filter((r) => r.status === status)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
  const pct = (sorted, p) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : NaN;
  const upstream = [...ms(504), ...ms(502)].sort((a, b) => a - b);
  const refused = results
    .filter((r) => r.status === 503 && r.retryAfter > 0 && r.ms < 1000)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const peak = Math.max(peakRss, peakMiB);
  const healthMax = latencies.at(-1);
  const report = {
    settings: { concurrency, seconds, bodyBytes, limitMiB, memoryBudgetMiB: budgetBytes / MiB },
    statuses: byStatus,
    rssMiB: { idle: +idle.rssMiB.toFixed(1), peak: +peak.toFixed(1), fiveSecondsAfter: +after.toFixed(1) },
    // The handler's page faults while the clients ran: each a first touch of a page of fresh memory.
    minorPageFaultsUnderLoad: faultsUnderLoad,
    healthz: {
      on: probePort === undefined ? 'PORT (no PROBE_PORT)' : 'PROBE_PORT',
      probes: latencies.length,
      p50Ms: +pct(latencies, 50).toFixed(1),
      p99Ms: +pct(latencies, 99).toFixed(1),
      maxMs: +healthMax.toFixed(1),
      // The same probes on PORT, behind the request connections in its accept queue.
      onPort: portLatencies && {
        p50Ms: +pct(portLatencies, 50).toFixed(1),
        p99Ms: +pct(portLatencies, 99).toFixed(1),
        maxMs: +(portLatencies.at(-1) ?? NaN).toFixed(1),
      },
      // The same probes against a bare node:http server beside it: what the machine itself adds.
      controlServer: {
        p50Ms: +pct(controlLatencies, 50).toFixed(1),
        p99Ms: +pct(controlLatencies, 99).toFixed(1),
        maxMs: +(controlLatencies.at(-1) ?? NaN).toFixed(1),
      },
    },
    handlerLoop: turns,
    slowestProbesSplit: probesSplit,
    upstreamFailureMs: {
      count: upstream.length,
      min: Math.round(upstream[0] ?? NaN),
      p50: Math.round(pct(upstream, 50)),
      max: Math.round(upstream.at(-1) ?? NaN),
    },
    refusedMs: { count: refused.length, p50: +pct(refused, 50).toFixed(1), p99: +pct(refused, 99).toFixed(1) },
  };
  console.log(JSON.stringify(report, null, 2));
  const ok = peak < limitMiB && healthMax <= 100;
  console.log(
    `${ok ? 'PASS' : 'FAIL'}: peak RSS ${peak.toFixed(1)} MiB (limit ${limitMiB}), /healthz max ${healthMax.toFixed(1)} ms on ${probePort === undefined ? 'PORT' : 'PROBE_PORT'} (goal ≤ 100) over ${latencies.length} probes${portLatencies ? ` (on PORT: ${portLatencies.at(-1)?.toFixed(1)} ms)` : ''}; handler's longest loop stall ${turns.longestStall?.wallMs} ms (${turns.longestStall?.cpuMs} ms CPU), most CPU in one ${turns.mostCpuInOneStall?.cpuMs} ms`,
  );
  process.exitCode = ok ? 0 : 1;
}

(opts['load-port'] ? generateLoad(Number(opts['load-port'])) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
