// Concurrency scaling for issue 19: the subscriber (echo, defaults) at 1, 10, 100 and 500 connections, with the
// bare node:http floor and plain Koa's echo beside it in the same run: req/s, p99 latency and the peak RSS
// (VmHWM, reset before each level) of each level. Prints markdown for README.md and a containerConcurrency /
// autoscaling target derived from the figures (lib/concurrency-advice.mjs). Non-2xx answers fail the run.
//
//   node bench/scaling.mjs [--quick] [--levels 1,10,100,500] [--duration 8] [--warmup 2] [--rounds 1]
//                          [--bundle dist/knative-events.cjs]
import { body, headers } from './lib/event.mjs';
import { adviceText, adviseConcurrency } from './lib/concurrency-advice.mjs';
import { failureReport, loadRuns, loadSideBySide } from './lib/measure.mjs';
import { log, readSettings } from './lib/options.mjs';
import { bundleKoaPeers, ensureBundle, removeKoaPeers } from './lib/prepare.mjs';
import { inRounds, medianServed } from './lib/rounds.mjs';
import { ratio } from './lib/stats.mjs';
import { paths, subscriberOf, targets } from './lib/targets.mjs';

const settings = readSettings(
  { starts: [0, 0], duration: [8, 3], warmup: [2, 1] },
  { levels: { type: 'string', default: '1,10,100,500' }, bundle: { type: 'string', default: paths.bundle } },
);
const levels = String(settings.values.levels).split(',').map(Number);
const probe = { headers, body };
ensureBundle();
await bundleKoaPeers();
const servers = {
  floor: targets.bare,
  koa: targets.koaMinimal,
  ours: subscriberOf('ours', 'knative-events subscriber, echo, defaults', String(settings.values.bundle)),
};
const measured = medianServed(
  await inRounds(settings.rounds, () => loadSideBySide(servers, { probe, connections: levels, settings })),
);
removeKoaPeers();

const names = /** @type {const} */ (['floor', 'koa', 'ours']);
const thousands = (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US');
const cells = (/** @type {(name: string) => string} */ f) => names.map(f).join(' | ');
const lines = [
  `Subscriber + echo (defaults: info logs, metrics on) against the bare node:http floor and plain Koa's echo, in the same run; autocannon ${settings.durationS} s per level after ${settings.warmupS} s warm-up, median of ${settings.rounds} round(s); RSS is the peak (VmHWM) during that level.`,
  '',
  '| connections | req/s floor | req/s Koa | req/s ours | ours ÷ floor | ours ÷ Koa | p99 ms floor | p99 ms Koa | p99 ms ours | RSS MiB floor | RSS MiB Koa | RSS MiB ours |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const c of levels) {
  const at = (/** @type {string} */ n) => measured[n].load[c];
  lines.push(
    `| ${c} | ${cells((n) => thousands(at(n).requestsPerSecond))} | ${ratio(at('ours').requestsPerSecond, at('floor').requestsPerSecond)} | ${ratio(at('ours').requestsPerSecond, at('koa').requestsPerSecond)} | ${cells((n) => String(at(n).p99Ms))} | ${cells((n) => at(n).peakMiB.toFixed(1))} |`,
  );
}
lines.push(
  '',
  `Idle RSS MiB: floor ${measured.floor.memory.idleMiB.toFixed(1)}, Koa ${measured.koa.memory.idleMiB.toFixed(1)}, ours ${measured.ours.memory.idleMiB.toFixed(1)}.`,
  '',
  adviceText(adviseConcurrency(levels.map((c) => ({ ...measured.ours.load[c], connections: c })))),
);
console.log(lines.join('\n'));

console.log(`\n${failureReport(loadRuns({ scaling: measured }))}`);
log('done');
