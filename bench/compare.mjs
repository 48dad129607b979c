// Before/after for one change, in one run on one machine, every figure beside its floor (bare node:http doing
// the same work) and its limit (plain Koa doing the same work, bundled like ours), as ratios to both, with the
// goals of issue 19 and PASS/MISS for `after`:
//   - subscriber (ROLE=subscriber FUNCTION=echo, defaults: info logs, metrics on): req/s at 10 and 100
//     connections, CPU µs/req, against the bare echo and plain Koa's echo;
//   - metrics overhead: the same subscriber with METRICS_ENABLED=false against it with metrics on;
//   - sink-forwarder (echo, KAFKA_SINK_URL at the broker stand-in) and handler (BROKER_URL at it): req/s against
//     a bare and a plain Koa forwarder doing the same posting; the handler also against posting straight to it;
//   - cold start (median wall time, and the CPU time to the first answer) and idle RSS, for the bundle and
//     (--binary) the single executable, also as ratios to plain Koa's echo bundled with the bundle's start-up
//     plugins (build/bundle-config.mjs startUpPlugins): what Koa alone loads with the same help, the real limit.
// Any non-2xx answer, error or timeout in any load run is printed and makes the exit code 1.
//
//   cp dist/knative-events.cjs bench/results/session7-start.cjs     # once, before the change, with its payload:
//   cp dist/knative-events.code bench/results/session7-start.code   # (the loader reads <name>.code next to it)
//   node bench/compare.mjs [--quick] [--before bench/results/session6-start.cjs] [--binary] [--no-forwarding]
//                          [--starts 15] [--duration 5] [--warmup 1] [--rounds 3]
// Load figures are the median of --rounds rounds (3; 1 with --quick), each measuring every server once.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { body, checkEcho, headers } from './lib/event.mjs';
import { renderGoalTable } from './lib/goals.mjs';
import { coldStarts, failureReport, loadAndMemory, loadRuns, loadSideBySide } from './lib/measure.mjs';
import { measureForwarding, medianForwarding } from './lib/measure-forwarding.mjs';
import { inRounds, medianServed } from './lib/rounds.mjs';
import { log, readSettings } from './lib/options.mjs';
import { bundleKoaPeers, ensureBinary, ensureBundle, removeKoaPeers } from './lib/prepare.mjs';
import { paths, subscriberOf, targets } from './lib/targets.mjs';
import { compareRows } from './lib/compare-rows.mjs';

const results = fileURLToPath(new URL('results/', import.meta.url));
const settings = readSettings(
  { starts: [15, 5], duration: [5, 3], warmup: [1, 1], rounds: [3, 1] },
  {
    before: { type: 'string', default: `${results}session6-start.cjs` },
    binary: { type: 'boolean', default: false },
    'no-forwarding': { type: 'boolean', default: false },
  },
);
const before = String(settings.values.before);
if (!existsSync(before)) throw new Error(`no saved bundle at ${before}: pass --before <file>`);
const withBinary = settings.values.binary === true;
const probe = { headers, body };

ensureBundle();
if (withBinary) ensureBinary();
await bundleKoaPeers();

const echo = {
  floor: targets.bare,
  limit: targets.koaMinimal,
  before: subscriberOf('before', 'before, defaults', before),
  after: subscriberOf('after', 'after, defaults', paths.bundle),
};
// Cold start and idle RSS only: plain Koa with the bundle's start-up plugins, the limit a start of ours can reach.
const startUpLimit = { startUpLimit: targets.koaStartUp };
const cold = await coldStarts(
  { ...echo, ...startUpLimit, ...(withBinary && { binary: targets.oursBinary }) },
  {
    starts: settings.starts,
    probe,
    check: checkEcho,
  },
);

/** Every subscriber once: the four above at 10 and 100 connections, both bundles with metrics off at 10. */
async function measureSubscribers(/** @type {number} */ round) {
  log(`round ${round + 1}/${settings.rounds}`);
  const out = await loadSideBySide(echo, { probe, connections: [10, 100], settings });
  const noMetrics = { METRICS_ENABLED: 'false' };
  const withoutMetrics = {
    beforeNoMetrics: subscriberOf('beforeNoMetrics', 'before, METRICS_ENABLED=false', before, noMetrics),
    afterNoMetrics: subscriberOf('afterNoMetrics', 'after, METRICS_ENABLED=false', paths.bundle, noMetrics),
  };
  Object.assign(out, await loadSideBySide(withoutMetrics, { probe, connections: [10], settings }));
  Object.assign(out, await loadSideBySide(startUpLimit, { probe, connections: [], settings }));
  if (withBinary) out.binary = await loadAndMemory(targets.oursBinary, { probe, connections: [], settings });
  return out;
}
const subscriber = medianServed(await inRounds(settings.rounds, measureSubscribers));
const forwarding = settings.values['no-forwarding']
  ? undefined
  : medianForwarding(
      await inRounds(settings.rounds, () =>
        measureForwarding({ bundles: { before, after: paths.bundle }, connections: [10], settings }),
      ),
    );
removeKoaPeers();

const runs = ['before', 'after'];
const rows = compareRows({ cold, subscriber, forwarding }, runs);
const loads = loadRuns({
  subscriber,
  ...(forwarding && {
    handler: forwarding.handler,
    sink: forwarding.sink,
    'stand-in': { direct: { load: forwarding.direct } },
  }),
});
console.log(
  `${settings.quick ? 'quick run: ' : ''}${settings.starts} cold starts each, round-robin; load ${settings.durationS} s after ${settings.warmupS} s warm-up, median of ${settings.rounds} round(s); before = ${before}, after = ${paths.bundle}\n`,
);
console.log(renderGoalTable(rows, { floor: 'bare node:http, same work', limit: 'plain Koa, same work', runs }));
console.log(`\n${failureReport(loads)}`);
log('done');
