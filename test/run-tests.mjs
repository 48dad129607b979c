// Runs the *.test.ts files under test/, functions/ and local/, each in its own Node process (tsx loads TypeScript),
// with Node's test runner reporting inside each. A test file that is not found is a test that never runs.
//
//   node test/run-tests.mjs [--lane=unit|integration] [--concurrency=N] [path filter...]
//
// Lanes. A file is in the UNIT lane when it is listed in UNIT below; every other file is INTEGRATION. A unit file
// starts no process (no helm, no bundle, no PostgreSQL, Prometheus or browser), needs no build (dist/), and any
// server it talks to runs in its own process on loopback (test/helpers/runtime.ts, receiver.ts): the whole lane takes
// seconds. A new test file is integration until someone lists it, so it always runs in `npm test`; a listed file
// that no longer exists fails the run (the list cannot go stale quietly). Listing, not folders: moving the files
// would churn paths that other work is editing.
//
// Scheduling. This script starts the files itself rather than through `node --test`, because Node 20's runner sorts
// the files by name: here the slowest files (SLOWEST_FIRST) start first, so the two processes running at a time
// finish together instead of one long file running alone at the end. Each file's output is printed whole when it
// ends (no interleaving), followed by its wall and CPU time; the end of the run lists the slowest files, the failed
// ones, and the totals as `# pass N` / `# fail N`.
//
// Timeouts. A file still running after its lane's TIMEOUT_MS is killed (with every process it started) and fails:
// sized for the slowest file on a loaded 2-core machine with a margin.
import { spawn } from 'node:child_process';
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

/**
 * The files that take longest (wall time at concurrency 2, measured with an empty helm render cache as on a fresh
 * clone), longest first: they start first. Order only: a file missing here runs after them, a name that no longer
 * exists is ignored, so this list cannot break a run.
 */
export const SLOWEST_FIRST = [
  'test/chart/bad-values.test.ts',
  'test/dlq-console.test.ts',
  'local/checklist.test.ts',
  'test/chart/toggles.test.ts',
  'test/binary.test.ts',
  'test/dlq-postgres-processes.test.ts',
  'test/dlq-postgres.test.ts',
  'test/chart/values-files.test.ts',
  'test/dlq-fidelity.test.ts',
  'test/dlq-replay-cli.test.ts',
  'test/caller-auth.test.ts',
  'local/e2e.test.ts',
  'local/npm-scripts.test.ts',
  'test/dlq-crash.test.ts',
  'test/chart/upgrades.test.ts',
  'test/dlq-kafka-sink.test.ts',
  'test/dlq-file-store.test.ts',
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

/** Slowest first (SLOWEST_FIRST's order), then the rest by name. */
function bySlowestFirst(files) {
  const rank = (f) => (SLOWEST_FIRST.includes(f) ? SLOWEST_FIRST.indexOf(f) : SLOWEST_FIRST.length);
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** `times` in sh prints the shell's then its children's user and system time: the test file's CPU, its own children included. */
function cpuSeconds(times) {
  const children = times.trim().split('\n').at(-1) ?? '';
  return [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, m, s]) => sum + Number(m) * 60 + Number(s), 0);
}

/**
 * Runs one test file in its own process group (so a timeout kills what it started too), through `sh` so that the
 * CPU time of the file and its children can be read afterwards. Resolves with the outcome; never rejects.
 */
function runFile(file, timeoutMs) {
  const started = Date.now();
  // the output goes through a pipe, so Node would pick TAP: on a terminal, ask for the readable report instead
  const reporter = process.stdout.isTTY ? ['--test-reporter=spec'] : [];
  const node = [process.execPath, '--expose-gc', '--import', 'tsx', ...reporter, file];
  const child = spawn('sh', ['-c', '"$@"; status=$?; times >&3; exit $status', 'sh', ...node], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let times = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  child.stdio[3].on('data', (c) => (times += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallS = (Date.now() - started) / 1000;
      if (timedOut) output += `\n# ${file}: killed after ${timeoutMs / 1000} s (the file's time limit)\n`;
      resolve({ file, ok: code === 0 && !timedOut, code: code ?? signal, output, wallS, cpuS: cpuSeconds(times) });
    });
  });
}

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** The runner's closing counts of one file (`# pass 3` in TAP, `ℹ pass 3` in spec). */
function countsOf(output) {
  const counts = {};
  for (const [, name, n] of output.matchAll(/^(?:#|ℹ) (\w+) (\d+)$/gm))
    if (COUNTS.includes(name)) counts[name] = Number(n);
  return counts;
}

/** Runs the files `concurrency` at a time, in the order given; prints each file's output as it ends. */
async function runAll(files, concurrency) {
  const queue = [...files];
  const results = [];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const r = await runFile(file, UNIT.includes(file) ? TIMEOUT_MS.unit : TIMEOUT_MS.integration);
      results.push(r);
      process.stdout.write(`# ---- ${file}\n${r.output.trimEnd()}\n`);
      process.stdout.write(
        `# ---- ${file}: ${r.ok ? 'ok' : `FAILED (exit ${r.code})`}, ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s CPU\n\n`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return results;
}

function summarise(results, wallS) {
  const totals = Object.fromEntries(COUNTS.map((c) => [c, 0]));
  for (const r of results) {
    const counts = countsOf(r.output);
    for (const [c, n] of Object.entries(counts)) totals[c] += n;
    // a file that failed without a failing test (killed, crashed before reporting) still counts as a failure
    if (!r.ok && !counts.fail) totals.fail += 1;
  }
  const slowest = [...results].sort((a, b) => b.wallS - a.wallS).slice(0, 10);
  const cpu = results.reduce((s, r) => s + r.cpuS, 0);
  const lines = [
    `# ${results.length} files in ${wallS.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU; slowest:`,
    ...slowest.map(
      (r) => `#   ${r.wallS.toFixed(1).padStart(6)} s wall ${r.cpuS.toFixed(1).padStart(6)} s CPU  ${r.file}`,
    ),
    ...results.filter((r) => !r.ok).map((r) => `# FAILED: ${r.file} (exit ${r.code})`),
    ...COUNTS.map((c) => `# ${c} ${totals[c]}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const args = process.argv.slice(2);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const lane = option('lane', 'all');
if (!['unit', 'integration', 'all'].includes(lane)) {
  console.error(`--lane: unit, integration or all (got ${lane})`);
  process.exit(2);
}
// Two at a time on a 2-core machine: most files are CPU-bound (helm, tsx, the bundle) while they run.
const concurrency = Number(option('concurrency', '2'));
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`--concurrency: a whole number, 1 or more (got ${option('concurrency')})`);
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
const started = Date.now();
const results = await runAll(bySlowestFirst(files), concurrency);
summarise(results, (Date.now() - started) / 1000);
process.exit(results.every((r) => r.ok) ? 0 : 1);
