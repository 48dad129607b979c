// Runs the *.test.ts files under test/, functions/ and local/ with Node's test runner (tsx loads TypeScript).
// Node 20's --test takes no glob, so the files are listed here; a test file that is not found is a test that never runs.
//
//   node test/run-tests.mjs [--lane=unit|integration] [path filter...]
//
// Lanes. A file is in the UNIT lane when it is listed in UNIT below; every other file is INTEGRATION. A unit file
// starts no process (no helm, no bundle, no PostgreSQL, Prometheus or browser), needs no build (dist/), and any
// server it talks to runs in its own process on loopback (test/helpers/runtime.ts, receiver.ts): the whole lane takes
// seconds. A new test file is integration until someone lists it, so it always runs in `npm test`; a listed file
// that no longer exists fails the run (the list cannot go stale quietly). Listing, not folders: moving the files
// would churn paths that other work is editing.
//
// Timeouts. --test-timeout bounds a hang. On Node 20 the runner applies it to each test file's process as a whole
// (Node 22 applies it per test), so it is sized for the slowest file on a loaded 2-core machine with a margin.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const UNIT = [
  'functions/echo/index.test.ts',
  'functions/trade-transform/index.test.ts',
  'local/delivery.test.ts',
  'local/filter.test.ts',
  'local/ingress.test.ts',
  'local/preflight.test.ts',
  'local/table.test.ts',
  'local/timeline.test.ts',
  'test/case-study.test.ts',
  'test/chart/docs.test.ts',
  'test/config.test.ts',
  'test/dlq-config.test.ts',
  'test/dlq-replay-jobs.test.ts',
  'test/dlq.test.ts',
  'test/function-length.test.ts',
  'test/handler.test.ts',
  'test/json-scan.test.ts',
  'test/json-validate.test.ts',
  'test/layers.test.ts',
  'test/lifecycle.test.ts',
  'test/metrics-dashboard.test.ts',
  'test/metrics-events.test.ts',
  'test/metrics-fast-path.test.ts',
  'test/metrics-labels.test.ts',
  'test/metrics-route.test.ts',
  'test/parse.test.ts',
  'test/pass-through.test.ts',
  'test/percent.test.ts',
  'test/retry.test.ts',
  'test/secrets-env-file.test.ts',
  'test/send-sign.test.ts',
  'test/sender-trace-headers.test.ts',
  'test/sink-forwarder.test.ts',
  'test/subscriber.test.ts',
  'test/tracing.test.ts',
  'test/vault-config.test.ts',
];

/** Per-file bound (ms), see "Timeouts" above. Measured at load 6-10 on 2 cores: the slowest unit file takes 3 s, the slowest
 * integration files (single executable, dlq console, the local pipeline) 50-70 s; a hang ends at 20x / 4x that. */
const TIMEOUT_MS = { unit: 60_000, integration: 300_000 };

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full).split('\\').join('/'));
  }
  return out;
}

const args = process.argv.slice(2);
const laneArg = args.find((a) => a.startsWith('--lane='));
const lane = laneArg ? laneArg.slice('--lane='.length) : 'all';
if (!['unit', 'integration', 'all'].includes(lane)) {
  console.error(`--lane: unit, integration or all (got ${lane})`);
  process.exit(2);
}
const filter = args.filter((a) => !a.startsWith('--'));

const stale = UNIT.filter((f) => !existsSync(join(root, f)));
if (stale.length > 0) {
  console.error(`test/run-tests.mjs lists unit test files that do not exist: ${stale.join(', ')}`);
  process.exit(1);
}

const all = ['test', 'functions', 'local']
  .flatMap((d) => (existsSync(join(root, d)) ? findTests(join(root, d)) : []))
  .sort();
const inLane = (f) => lane === 'all' || (lane === 'unit') === UNIT.includes(f);
const files = all.filter(inLane).filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const timeout = lane === 'unit' ? TIMEOUT_MS.unit : TIMEOUT_MS.integration;
const result = spawnSync(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeout}`, ...files],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
