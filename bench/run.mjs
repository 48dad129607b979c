// Benchmarks the runtime against a bare node:http floor, plain Koa doing the same work (the limit, issue 19)
// and two peer runtimes, in one run on this machine, and prints markdown tables of figures and ratios with the
// issue's goals (also written to bench/results/). Any non-2xx answer in a load run makes the exit code 1.
//
//   node bench/run.mjs [--quick] [--starts 25] [--duration 10] [--warmup 2] [--rounds 1]
//
// --rounds N repeats the load part N times and keeps each figure's median (lib/rounds.mjs).
//
// Needs `npm install --prefix bench` once. Builds dist/knative-events.cjs and dist/knative-events if they are
// missing or stale, plus an executable without code cache (in bench/results/) for the cold-start comparison.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { payloadFileOf } from '../build/code-cache.mjs';
import { body, checkEcho, headers } from './lib/event.mjs';
import { coldStarts, failureReport, loadRuns, loadSideBySide } from './lib/measure.mjs';
import { measureForwarding, medianForwarding } from './lib/measure-forwarding.mjs';
import { inRounds, medianServed } from './lib/rounds.mjs';
import { readSettings } from './lib/options.mjs';
import { bundleKoaPeers, ensureBinary, removeKoaPeers } from './lib/prepare.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { paths, targets } from './lib/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = fileURLToPath(new URL('results/', import.meta.url));
const settings = readSettings({ starts: [25, 5], duration: [10, 3], warmup: [2, 1] });
const probe = { headers, body };

ensureBinary();
execFileSync(process.execPath, [`${root}build/build-binary.mjs`, '--no-code-cache', '--output', paths.binaryNoCache], {
  stdio: 'ignore',
});
await bundleKoaPeers();

const loadNames = [
  'bare',
  'koaMinimal',
  'ours',
  'oursNoMetrics',
  'oursQuiet',
  'oursLean',
  'oursBinary',
  'functionsFramework',
  'faasJsRuntime',
];
const coldNames = [
  'bare',
  'koaMinimal',
  'ours',
  'oursBinary',
  'oursBinaryNoCache',
  'functionsFramework',
  'faasJsRuntime',
];
const only = (/** @type {string[]} */ names) => Object.fromEntries(names.map((n) => [n, targets[n]]));
const coldStart = await coldStarts(only(coldNames), { starts: settings.starts, probe, check: checkEcho });
const served = medianServed(
  await inRounds(settings.rounds, () => loadSideBySide(only(loadNames), { probe, connections: [10, 100], settings })),
);
const load = Object.fromEntries(loadNames.map((n) => [n, served[n].load]));
const memory = Object.fromEntries(loadNames.map((n) => [n, served[n].memory]));
const forwarding = medianForwarding(
  await inRounds(settings.rounds, () =>
    measureForwarding({ bundles: { ours: paths.bundle }, connections: [10, 100], settings }),
  ),
);

const results = {
  date: new Date().toISOString(),
  machine: {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  },
  settings: `${settings.starts} cold starts per server, autocannon ${settings.durationS} s after ${settings.warmupS} s warm-up (median of ${settings.rounds} round(s)), 309-byte JSON body in a binary-mode CloudEvent`,
  labels: Object.fromEntries([...new Set([...loadNames, ...coldNames])].map((n) => [n, targets[n].label])),
  coldStart,
  load,
  memory,
  forwarding,
  sizes: {
    // The loader and its payload (code, V8 code cache, deferred sources): both ship, the loader alone is ~6 KiB.
    bundleKiB:
      (statSync(paths.bundle).size +
        (existsSync(payloadFileOf(paths.bundle)) ? statSync(payloadFileOf(paths.bundle)).size : 0)) /
      1024,
    binaryMiB: statSync(paths.binary).size / 2 ** 20,
    nodeMiB: statSync(process.execPath).size / 2 ** 20,
  },
};
rmSync(paths.binaryNoCache, { force: true });
removeKoaPeers();
const markdown = `${renderMarkdown(results)}\n\n${failureReport(
  loadRuns({
    subscriber: Object.fromEntries(loadNames.map((n) => [n, { load: load[n] }])),
    handler: forwarding.handler,
    sink: forwarding.sink,
    'stand-in': { direct: { load: forwarding.direct } },
  }),
)}`;
const stamp = results.date.replace(/[:.]/g, '-');
writeFileSync(`${resultsDir}${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${resultsDir}${stamp}.md`, `${markdown}\n`);
writeFileSync(`${resultsDir}latest.md`, `${markdown}\n`);
console.log(markdown);
