// The cost of tracing, side by side in one run: a bundle from before tracing existed (the baseline), the
// current bundle with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT: its code is not even loaded), and tracing on,
// sampled at 1 and at 0.01 (parentbased_traceidratio; the load's events carry no traceparent, so each is a new
// trace and the ratio applies). Each is a subscriber running the echo function (2 spans per event: process and
// function) exporting to bench/peers/otlp-sink.cjs, a stand-in collector in its own process. Figures: cold
// start (round-robin starts), req/s and server CPU per request under load (medians of interleaved rounds), RSS
// idle and at its peak after load; every figure also as a ratio to the baseline.
//
//   git worktree add /tmp/pre-tracing <commit before tracing> && (cd /tmp/pre-tracing && npm ci && npm run build)
//   cp /tmp/pre-tracing/dist/knative-events.cjs bench/results/baseline.cjs
//   npm run build && npm ci --prefix bench && node bench/tracing-cost.mjs [--before bench/results/baseline.cjs] [--starts 15] [--rounds 5] [--duration 5]
import { fileURLToPath } from 'node:url';
import { body, headers } from './lib/event.mjs';
import { measureLoad } from './lib/load.mjs';
import { memoryOf, request, startTimed, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';
import { paths } from './lib/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const option = (name, fallback) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback;
const before = option('--before', `${root}bench/results/baseline.cjs`);
const starts = Number(option('--starts', 15));
const durationS = Number(option('--duration', 5));
const warmupS = Number(option('--warmup', 1));
const rounds = Number(option('--rounds', 5));
const log = (msg) => process.stderr.write(`${msg}\n`);
const probe = { headers, body };

const sink = await startTimed(
  {
    label: 'otlp sink',
    command: (port) => ({
      cmd: process.execPath,
      args: [`${root}bench/peers/otlp-sink.cjs`],
      env: { PORT: String(port) },
    }),
  },
  { method: 'GET', path: '/' },
);
const otlp = `http://127.0.0.1:${sink.port}`;
const subscriber = (label, bundle, extra = {}) => ({
  label,
  command: (port) => ({
    cmd: process.execPath,
    args: [bundle],
    env: { ROLE: 'subscriber', FUNCTION: 'echo', PORT: String(port), ...extra },
  }),
});
const on = (ratio) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: String(ratio),
});
const servers = {
  baseline: subscriber('baseline (before tracing)', before),
  off: subscriber('tracing off', paths.bundle),
  'on, 1': subscriber('tracing on, ratio 1', paths.bundle, on(1)),
  'on, 0.01': subscriber('tracing on, ratio 0.01', paths.bundle, on(0.01)),
};
const names = Object.keys(servers);
/**
 * Per server, keyed by connections (10, 100): its load runs while the rounds go on, then their medians and
 * summed failures beside its RSS idle and at its peak after the load.
 * @typedef {Awaited<ReturnType<typeof measureLoad>>} LoadRun
 * @typedef {{ idleMiB: number, runs: Record<number, LoadRun[]> }} Collected
 * @typedef {Record<'requestsPerSecond' | 'cpuUsPerRequest' | 'non2xx' | 'errors' | 'timeouts', number>} Figures
 * @typedef {{ idleMiB: number, at: Record<number, Figures>, loadedMiB: number }} Summary
 */

try {
  /** @type {Record<string, { ms: number[], cpu: number[] }>} */
  const cold = Object.fromEntries(names.map((n) => [n, { ms: [], cpu: [] }]));
  for (let i = 0; i < starts; i++) {
    for (const name of names) {
      const { child, coldStartMs, startCpuMs } = await startTimed(servers[name], probe);
      cold[name].ms.push(coldStartMs);
      cold[name].cpu.push(startCpuMs);
      await stop(child, 'SIGKILL');
    }
  }
  log('cold starts done');

  // All four run at once (an idle one costs nothing) and take turns under load, round after round: on a shared
  // machine a single run per server measures the neighbours as much as the server; the median of the rounds
  // compares them under the same conditions.
  const running = {};
  /** @type {Record<string, Summary>} */
  const summary = {};
  for (const name of names) running[name] = await startTimed(servers[name], probe);
  await new Promise((r) => setTimeout(r, 1000));
  /** @type {Record<string, Collected>} */
  const load = Object.fromEntries(
    names.map((n) => [n, { idleMiB: memoryOf(running[n].child.pid).rssMiB, runs: { 10: [], 100: [] } }]),
  );
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const { child, port } = running[name];
        for (const connections of [10, 100])
          load[name].runs[connections].push(
            await measureLoad({
              url: `http://127.0.0.1:${port}/`,
              connections,
              durationS,
              warmupS,
              headers,
              body,
              pid: child.pid,
            }),
          );
      }
      log(`load round ${round + 1}/${rounds} done`);
    }
    for (const name of names) {
      /** @type {Record<number, Figures>} */
      const at = {};
      for (const c of [10, 100]) {
        const runs = load[name].runs[c];
        at[c] = {
          requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
          cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
          non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
          errors: runs.reduce((a, r) => a + r.errors, 0),
          timeouts: runs.reduce((a, r) => a + r.timeouts, 0),
        };
      }
      summary[name] = { idleMiB: load[name].idleMiB, at, loadedMiB: memoryOf(running[name].child.pid).peakMiB };
    }
  } finally {
    for (const name of names) await stop(running[name].child);
  }
  const exported = JSON.parse((await request(sink.port, { method: 'GET', path: '/' })).body);

  const fmt = (v, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const rows = [
    `| figure | ${names.join(' | ')} | ${names
      .slice(1)
      .map((n) => `${n} ÷ baseline`)
      .join(' | ')} |`,
    `| --- |${' --- |'.repeat(names.length * 2 - 1)}`,
  ];
  const row = (label, get, d = 0) => {
    const b = get('baseline');
    rows.push(
      `| ${label} | ${names.map((n) => fmt(get(n), d)).join(' | ')} | ${names
        .slice(1)
        .map((n) => `${(get(n) / b).toFixed(2)}x`)
        .join(' | ')} |`,
    );
  };
  row('cold start ms (median)', (n) => median(cold[n].ms), 1);
  row('start-up CPU ms', (n) => median(cold[n].cpu));
  row('req/s @10', (n) => summary[n].at[10].requestsPerSecond);
  row('req/s @100', (n) => summary[n].at[100].requestsPerSecond);
  row('CPU µs/req @10', (n) => summary[n].at[10].cpuUsPerRequest);
  row('CPU µs/req @100', (n) => summary[n].at[100].cpuUsPerRequest);
  row('idle RSS MiB', (n) => summary[n].idleMiB, 1);
  row('peak RSS MiB (after load)', (n) => summary[n].loadedMiB, 1);
  const bad = names
    .flatMap((n) => [10, 100].map((c) => summary[n].at[c].non2xx + summary[n].at[c].errors + summary[n].at[c].timeouts))
    .reduce((a, b) => a + b, 0);
  rows.push(
    `\nnon-2xx + errors + timeouts, all load runs: ${bad}; OTLP exports received: ${exported.requests} (${fmt(exported.bytes / 2 ** 20, 1)} MiB)`,
  );
  console.log(rows.join('\n'));
} finally {
  await stop(sink.child);
}
