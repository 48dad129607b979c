// run.mjs's measurements → markdown for README.md: the figures per server, issue 19's table (ratios to the
// floor and to plain Koa), the goals with PASS/MISS, and the forwarding figures.
import { compareRows } from './compare-rows.mjs';
import { renderGoalTable } from './goals.mjs';
import { renderIssueTable } from './issue-table.mjs';
import { failures } from './measure.mjs';

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const thousands = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

function figuresTable(results) {
  const { labels, coldStart, load, memory } = results;
  const lines = [
    '| server | cold start ms (median, p90) | start-up CPU ms | req/s @10 | p99 ms @10 | CPU µs/req @10 | req/s @100 | p99 ms @100 | non-2xx + errors | idle RSS MiB | peak RSS MiB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const name of Object.keys(labels)) {
    const c = coldStart[name];
    const l10 = load[name]?.[10];
    const l100 = load[name]?.[100];
    const m = memory[name];
    const bad = [l10, l100].filter(Boolean).reduce((sum, l) => sum + failures(l), 0);
    lines.push(
      `| ${labels[name]} | ${c ? `${fmt(c.medianMs, 1)} (${fmt(c.p90Ms, 1)})` : '–'} | ${fmt(c?.cpuMedianMs)} | ${thousands(l10?.requestsPerSecond)} | ${fmt(l10?.p99Ms)} | ${fmt(l10?.cpuUsPerRequest)} | ${thousands(l100?.requestsPerSecond)} | ${fmt(l100?.p99Ms)} | ${l10 || l100 ? bad : '–'} | ${fmt(m?.idleMiB, 1)} | ${fmt(m?.peakMiB, 1)} |`,
    );
  }
  return lines.join('\n');
}

function forwardingTable(forwarding) {
  const lines = [
    '| forwarding to the broker stand-in | req/s @10 | CPU µs/req @10 | req/s @100 | CPU µs/req @100 | non-2xx + errors |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const row = (label, load) =>
    `| ${label} | ${thousands(load[10]?.requestsPerSecond)} | ${fmt(load[10]?.cpuUsPerRequest)} | ${thousands(load[100]?.requestsPerSecond)} | ${fmt(load[100]?.cpuUsPerRequest)} | ${Object.values(load).reduce((s, l) => s + failures(l), 0)} |`;
  lines.push(row('posting straight to the stand-in (load generator only)', forwarding.direct));
  const names = { floor: 'bare forwarder', limit: 'plain Koa forwarder', ours: 'ours' };
  for (const [role, input] of [
    ['handler', 'legacy input'],
    ['sink', 'binary input'],
  ]) {
    for (const [name, served] of Object.entries(forwarding[role])) {
      const who = name === 'ours' ? (role === 'handler' ? 'handler' : 'sink-forwarder') : names[name];
      lines.push(row(`${who}, ${input}`, served.load));
    }
  }
  return lines.join('\n');
}

export function renderMarkdown(results) {
  const { machine, sizes, coldStart, load, memory, forwarding } = results;
  const served = (name) => (load[name] ? { load: load[name], memory: memory[name] } : undefined);
  const goalRows = compareRows(
    {
      cold: { floor: coldStart.bare, limit: coldStart.koaMinimal, ours: coldStart.ours, binary: coldStart.oursBinary },
      subscriber: {
        floor: served('bare'),
        limit: served('koaMinimal'),
        ours: served('ours'),
        oursNoMetrics: served('oursNoMetrics'),
        binary: served('oursBinary'),
      },
      forwarding,
    },
    ['ours'],
  );
  return [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, Node ${machine.node}; ${results.settings}.`,
    '',
    renderIssueTable(results),
    '',
    renderGoalTable(goalRows, { floor: 'bare node:http, same work', limit: 'plain Koa, same work', runs: ['ours'] }),
    '',
    figuresTable(results),
    '',
    forwardingTable(forwarding),
    '',
    `Sizes: bundle ${fmt(sizes.bundleKiB)} KiB (dist/knative-events.cjs and .code); single executable ${fmt(sizes.binaryMiB, 1)} MiB (of which the Node binary ${fmt(sizes.nodeMiB, 1)} MiB).`,
  ].join('\n');
}
