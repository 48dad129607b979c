// What metrics cost the subscriber: requests/s with METRICS_ENABLED=true vs false, in the same run, on the
// same machine, rounds interleaved (and their order alternated) so machine drift hits both alike. The "on"
// process is scraped every second during its runs, as Prometheus would. Also times cold start both ways
// (prom-client is loaded only when metrics are on). Exits 1 if the median overhead reaches --limit (10%).
//
//   npm install --prefix bench && npm run build
//   node bench/metrics-overhead.mjs [--rounds 5] [--duration 8] [--connections 10] [--starts 15] [--log-level warn]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { body, headers } from './lib/event.mjs';
import { measureLoad } from './lib/load.mjs';
import { startTimed, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';
import { paths } from './lib/targets.mjs';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    starts: { type: 'string', default: '15' },
    'log-level': { type: 'string', default: 'warn' },
    limit: { type: 'string', default: '0.10' },
  },
});
const rounds = Number(opts.rounds);
const durationS = Number(opts.duration);
const connections = Number(opts.connections);
const limit = Number(opts.limit);
const root = fileURLToPath(new URL('..', import.meta.url));

if (!existsSync(paths.bundle)) execFileSync(process.execPath, ['build/build.mjs'], { cwd: root, stdio: 'inherit' });

/** LOG_LEVEL=warn by default: with request logs off, metrics are the largest share they can be of the work. */
const variant = (metrics) => ({
  name: metrics ? 'on' : 'off',
  label: `subscriber, echo, METRICS_ENABLED=${metrics}`,
  command: (port) => ({
    cmd: process.execPath,
    args: [paths.bundle],
    env: {
      ROLE: 'subscriber',
      FUNCTION: 'echo',
      LOG_LEVEL: opts['log-level'],
      METRICS_ENABLED: String(metrics),
      METRICS_EVENT_TYPES: headers['ce-type'],
      PORT: String(port),
    },
  }),
});
const variants = [variant(true), variant(false)];
const probe = { headers, body };

/** CPU time (user + system) the process has used, in ms, from /proc: steadier than req/s on a busy machine. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      })
      .on('error', reject);
  });
}

/** Cold start, spawn → first 2xx answer to the real event, alternating the two variants. */
async function coldStarts(count) {
  const times = { on: [], off: [] };
  for (let i = 0; i < count; i++) {
    for (const v of i % 2 ? [...variants].reverse() : variants) {
      const { child, coldStartMs } = await startTimed(v, probe);
      times[v.name].push(coldStartMs);
      await stop(child);
    }
  }
  return { on: median(times.on), off: median(times.off) };
}

async function throughput() {
  const running = {};
  for (const v of variants) running[v.name] = await startTimed(v, probe);
  const perRound = { on: [], off: [] };
  /** @type {{ on: Array<{ ok: number, p99Ms: number }>, off: Array<{ ok: number, p99Ms: number }> }} */
  const load = { on: [], off: [] };
  const cpuPerRequest = { on: [], off: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 ? [...variants].reverse() : variants) {
        const { port, child } = running[v.name];
        const cpuBefore = cpuMs(child.pid);
        // Scrape while loaded, as Prometheus would (every second).
        const scraper =
          v.name === 'on' ? setInterval(() => void get(port, '/metrics').catch(() => {}), 1000) : undefined;
        const result = await measureLoad({
          url: `http://127.0.0.1:${port}/`,
          connections,
          durationS,
          warmupS: round === 0 ? Number(opts.warmup) : 0,
          headers,
          body,
        });
        clearInterval(scraper);
        if (result.non2xx || result.errors || result.timeouts)
          throw new Error(`${v.label}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
        perRound[v.name].push(result.requestsPerSecond);
        cpuPerRequest[v.name].push(((cpuMs(child.pid) - cpuBefore) * 1000) / result.total);
        load[v.name].push(result);
        process.stderr.write(
          `round ${round + 1}/${rounds} ${v.name}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms\n`,
        );
      }
    }
    // The counters must show every request the "on" process answered: a metrics path that drops counts is no result.
    const { text } = await get(running.on.port, '/metrics');
    const counted = Number(
      /^knative_events_received_total\{[^}]*event_type="dev\.knative-events\.bench\.trade"\} (\d+)/m.exec(text)?.[1],
    );
    const answered = load.on.reduce((sum, r) => sum + r.ok, 0);
    if (!(counted >= answered))
      throw new Error(`metrics counted ${counted} events, autocannon saw ${answered} answered`);
  } finally {
    for (const v of variants) await stop(running[v.name].child);
  }
  return {
    perRound,
    cpuPerRequest,
    p99: { on: median(load.on.map((r) => r.p99Ms)), off: median(load.off.map((r) => r.p99Ms)) },
  };
}

const cold = await coldStarts(Number(opts.starts));
const { perRound, cpuPerRequest, p99 } = await throughput();
const cpuOn = median(cpuPerRequest.on);
const cpuOff = median(cpuPerRequest.off);
const on = median(perRound.on);
const off = median(perRound.off);
const overhead = 1 - on / off;
const pairwise = perRound.on.map((x, i) => 1 - x / perRound.off[i]);
const results = {
  date: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
  settings: { rounds, durationS, connections, logLevel: opts['log-level'], starts: Number(opts.starts) },
  requestsPerSecond: { on, off, perRound },
  overhead,
  pairwiseOverhead: pairwise,
  p99Ms: p99,
  cpuMicrosecondsPerRequest: { on: cpuOn, off: cpuOff, perRound: cpuPerRequest },
  coldStartMs: cold,
};
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(
  `${root}bench/results/metrics-overhead-${results.date.slice(0, 10)}.json`,
  `${JSON.stringify(results, null, 2)}\n`,
);

const pct = (x) => `${(x * 100).toFixed(1)}%`;
console.log(
  `Metrics overhead, subscriber (echo), ${connections} connections, ${rounds} × ${durationS} s rounds, LOG_LEVEL=${opts['log-level']}, ${results.machine.cores} × ${results.machine.cpu}, Node ${process.version}`,
);
console.log('');
console.log('| | metrics on | metrics off | on ÷ off |');
console.log('| --- | --- | --- | --- |');
console.log(`| req/s (median of rounds) | ${Math.round(on)} | ${Math.round(off)} | ${(on / off).toFixed(3)} |`);
console.log(
  `| server CPU per request (median) | ${cpuOn.toFixed(0)} µs | ${cpuOff.toFixed(0)} µs | ${(cpuOn / cpuOff).toFixed(3)} |`,
);
console.log(`| p99 latency (median) | ${p99.on} ms | ${p99.off} ms | |`);
console.log(
  `| cold start (median of ${opts.starts}) | ${cold.on.toFixed(1)} ms | ${cold.off.toFixed(1)} ms | ${(cold.on / cold.off).toFixed(3)} |`,
);
console.log('');
console.log(
  `Overhead: ${pct(overhead)} (per round: ${pairwise.map(pct).join(', ')}); limit ${pct(limit)}: ${overhead < limit ? 'met' : 'MISSED'}`,
);
process.exit(overhead < limit ? 0 : 1);
