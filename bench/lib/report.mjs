// Turns the measurements into two markdown tables (figures, then ratios with the issue's goals) for README.md.
import { ratio } from './stats.mjs';

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const thousands = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

/** The issue's goals, each as ours ÷ floor against a limit. */
export const goals = [
  { metric: 'cold start (median)', get: (r, t) => r.coldStart[t]?.medianMs, limit: 1.3, lowerIsBetter: true },
  {
    metric: 'req/s, 10 connections',
    get: (r, t) => r.load[t]?.[10]?.requestsPerSecond,
    limit: 0.7,
    lowerIsBetter: false,
  },
  {
    metric: 'req/s, 100 connections',
    get: (r, t) => r.load[t]?.[100]?.requestsPerSecond,
    limit: 0.7,
    lowerIsBetter: false,
  },
  { metric: 'p99 latency, 10 connections', get: (r, t) => r.load[t]?.[10]?.p99Ms, lowerIsBetter: true },
  { metric: 'p99 latency, 100 connections', get: (r, t) => r.load[t]?.[100]?.p99Ms, lowerIsBetter: true },
  {
    metric: 'server CPU per request, 10 connections',
    get: (r, t) => r.load[t]?.[10]?.cpuUsPerRequest,
    lowerIsBetter: true,
  },
  { metric: 'start-up CPU to first answer', get: (r, t) => r.coldStart[t]?.cpuMedianMs, lowerIsBetter: true },
  { metric: 'idle RSS', get: (r, t) => r.memory[t]?.idleMiB, limit: 1.2, lowerIsBetter: true },
  { metric: 'loaded RSS (peak)', get: (r, t) => r.memory[t]?.peakMiB, lowerIsBetter: true },
];

function verdict(goal, ours, floor) {
  if (goal.limit === undefined) return '';
  if (!Number.isFinite(ours) || !Number.isFinite(floor)) return '?';
  const r = ours / floor;
  const met = goal.lowerIsBetter ? r <= goal.limit : r >= goal.limit;
  return `${goal.lowerIsBetter ? '≤' : '≥'} ${goal.limit}x: ${met ? 'met' : '**missed**'}`;
}

export function renderMarkdown(results) {
  const { machine, labels, coldStart, load, memory, sizes, forwarding } = results;
  const lines = [];
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, Node ${machine.node}; ${results.settings}.`,
    '',
  );

  lines.push(
    '| server | cold start ms (median, p90) | start-up CPU ms | req/s @10 | p99 ms @10 | CPU µs/req @10 | req/s @100 | p99 ms @100 | non-2xx + errors | idle RSS MiB | peak RSS MiB |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const name of Object.keys(labels)) {
    const c = coldStart[name];
    const l10 = load[name]?.[10];
    const l100 = load[name]?.[100];
    const m = memory[name];
    const bad = [l10, l100].filter(Boolean).reduce((sum, l) => sum + l.non2xx + l.errors + l.timeouts, 0);
    lines.push(
      `| ${labels[name]} | ${c ? `${fmt(c.medianMs, 1)} (${fmt(c.p90Ms, 1)})` : '–'} | ${fmt(c?.cpuMedianMs)} | ${thousands(l10?.requestsPerSecond)} | ${fmt(l10?.p99Ms)} | ${fmt(l10?.cpuUsPerRequest)} | ${thousands(l100?.requestsPerSecond)} | ${fmt(l100?.p99Ms)} | ${l10 || l100 ? bad : '–'} | ${fmt(m?.idleMiB, 1)} | ${fmt(m?.peakMiB, 1)} |`,
    );
  }
  lines.push('');

  lines.push('| ours ÷ … | bare node:http (floor) | functions-framework | faas-js-runtime | goal vs floor |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const goal of goals) {
    const ours = goal.get(results, 'ours');
    const floor = goal.get(results, 'bare');
    lines.push(
      `| ${goal.metric} | ${ratio(ours, floor)} | ${ratio(ours, goal.get(results, 'functionsFramework'))} | ${ratio(ours, goal.get(results, 'faasJsRuntime'))} | ${verdict(goal, ours, floor)} |`,
    );
  }
  const exe = coldStart.oursBinary?.medianMs;
  const goal = goals[0];
  lines.push(
    `| cold start, single executable | ${ratio(exe, coldStart.bare?.medianMs)} | ${ratio(exe, coldStart.functionsFramework?.medianMs)} | ${ratio(exe, coldStart.faasJsRuntime?.medianMs)} | ${verdict(goal, exe, coldStart.bare?.medianMs)} |`,
  );
  if (coldStart.oursBinaryNoCache) {
    lines.push(
      `| cold start, executable with ÷ without code cache | ${ratio(exe, coldStart.oursBinaryNoCache.medianMs)} | | | |`,
    );
  }
  for (const [connections, f] of Object.entries(forwarding)) {
    lines.push(
      `| handler forwarding to a broker stand-in, ${connections} connections (${thousands(f.handler.requestsPerSecond)} vs ${thousands(f.direct.requestsPerSecond)} req/s posted straight to it; handler CPU ${fmt(f.handler.cpuUsPerRequest)} µs/req) | ${ratio(f.handler.requestsPerSecond, f.direct.requestsPerSecond)} | | | non-2xx + errors: ${f.handler.non2xx + f.handler.errors + f.handler.timeouts} |`,
    );
  }
  lines.push('');
  lines.push(
    `Sizes: bundle ${fmt(sizes.bundleKiB)} KiB; single executable ${fmt(sizes.binaryMiB, 1)} MiB (of which the Node binary ${fmt(sizes.nodeMiB, 1)} MiB).`,
  );
  return lines.join('\n');
}
