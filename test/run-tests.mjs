// Runs the *.test.ts files under test/, functions/ and local/, each in its own Node process, with Node's test runner
// reporting inside each. A test file that is not found is a test that never runs.
//
//   node test/run-tests.mjs [--lane=unit|integration] [--concurrency=N] [--extra=N] [--isolate] [--tsx] [filter...]
//
// TypeScript. The run's test files are compiled once, at its start, by esbuild (test/compile-tests.mjs: about a
// second) into .tools/cache/compiled-tests/run-<pid>/, and each process runs the output with plain `node
// --enable-source-maps` (stack traces and locations name the .ts lines). Loading them with tsx instead cost every
// process about 0.4 s of CPU to start plus the transform of every module it loads. `--tsx` runs the sources through
// tsx as before (to rule the compilation out when a test fails, and to compare).
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
// finish together instead of one long file running alone at the end. Many integration files wait more than they
// compute (on the processes, servers and browser they start): while the machine has a core idle, the next file
// starts beside them, up to `--extra` files past `--concurrency` (PACKING). Idle is the whole machine's, so the
// checks of `npm test` (test/run-all.mjs) and anything else running count, and a busy machine runs two at a time as
// before. Each file's output is printed whole when it ends (no interleaving), followed by its wall and CPU time; the
// end of the run lists the slowest files, the failed ones, and the totals as `# pass N` / `# fail N`.
//
// Unit files share processes. Starting Node and loading the runtime's modules costs more CPU than most unit files
// take to run; since a unit file starts nothing and keeps no state past its tests (see Lanes), the unit files of a
// run are split into UNIT_PROCESSES groups, each run in one process where every file's tests sit in a suite named
// after the file. The chart's files (SHARED below) share processes the same way: each of them only runs helm to the
// end (spawnSync) and reads what it printed, so nothing outlives a test; apart, every one of them paid for Node, the
// YAML and JSON-schema libraries, compiling the vendored schemas and checking both helm binaries' versions again
// (about 1 s of CPU each, 16 times). `--isolate` gives every file its own process again (to rule sharing out when a
// test fails).
//
// Timeouts. A file still running after its lane's TIMEOUT_MS is killed (with every process it started) and fails:
// sized for the slowest file on a loaded 2-core machine with a margin. A group of unit files has the bound of one
// unit file per UNIT_FILES_PER_BOUND files.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileTests } from './compile-tests.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

export const UNIT = [
  'functions/echo/index.test.ts',
  'functions/trade-transform/index.test.ts',
  'local/delivery.test.ts',
  'local/filter.test.ts',
  'local/ingress.test.ts',
  'local/log.test.ts',
  'local/preflight.test.ts',
  'local/table.test.ts',
  'local/timeline.test.ts',
  'local/trace.test.ts',
  'test/accepted-connections.test.ts',
  'test/app-direct-routes.test.ts',
  'test/app-header-set.test.ts',
  'test/case-study.test.ts',
  'test/chart/docs.test.ts',
  'test/config.test.ts',
  'test/dlq-config.test.ts',
  'test/dlq-kafka-sink.test.ts',
  'test/dlq-replay-jobs.test.ts',
  'test/dlq.test.ts',
  'test/function-length.test.ts',
  'test/handler.test.ts',
  'test/heavy-turns.test.ts',
  'test/image-env.test.ts',
  'test/iso-time.test.ts',
  'test/json-scan.test.ts',
  'test/json-validate.test.ts',
  'test/layers.test.ts',
  'test/lifecycle.test.ts',
  'test/listen-while-starting.test.ts',
  'test/metrics-dashboard.test.ts',
  'test/metrics-events.test.ts',
  'test/metrics-fast-path.test.ts',
  'test/metrics-labels.test.ts',
  'test/metrics-late-defaults.test.ts',
  'test/metrics-route.test.ts',
  'test/parse.test.ts',
  'test/pass-through.test.ts',
  'test/percent.test.ts',
  'test/retry.test.ts',
  'test/sdk-event.test.ts',
  'test/secrets-env-file.test.ts',
  'test/send-sign.test.ts',
  'test/sender-deadline.test.ts',
  'test/sender-trace-headers.test.ts',
  'test/server-bounds.test.ts',
  'test/sink-forwarder.test.ts',
  'test/subscriber.test.ts',
  'test/tracing.test.ts',
  'test/turn-queue.test.ts',
  'test/unread-body.test.ts',
  'test/vault-config.test.ts',
  'test/wire-event-json.test.ts',
];

/**
 * The files that take longest, longest first: they start first. Measured with an empty helm render cache, as on a
 * fresh clone, by CPU time (on a busy machine wall time follows it), 5-30 s each; then the files that wait more than
 * they compute (on what they start, or a timer), by wall time: started last, one of them was the run's tail. Order
 * only: a file missing here runs after them, a name that no longer exists is ignored, so this list cannot break a run.
 */
export const SLOWEST_FIRST = [
  'local/checklist.test.ts',
  'test/chart/bad-values.test.ts',
  'test/dlq-console.test.ts',
  'test/chart/toggles.test.ts',
  // not slow: listed here so the chart groups are dealt bad-values + upgrades, toggles + values-files (see SHARED)
  'test/chart/upgrades.test.ts',
  'test/dlq-replay.test.ts',
  'test/fuzz.test.ts',
  'test/dlq-postgres-processes.test.ts',
  'test/binary.test.ts',
  'test/faults.test.ts',
  'test/chart/values-files.test.ts',
  'test/caller-auth.test.ts',
  'test/dlq-postgres.test.ts',
  'local/e2e.test.ts',
  'test/bundle-code-cache.test.ts',
  'test/dlq-fidelity.test.ts',
  'test/vault-direct.test.ts',
  'test/dlq-replay-cli.test.ts',
  'test/dlq-crash.test.ts',
  'test/log-batching.test.ts',
  'test/tracing-process.test.ts',
  'test/metrics-prometheus.test.ts',
  'test/dlq-file-store.test.ts',
  'test/launch.test.ts',
];

/** Per-file bound (ms), see "Timeouts" above. Measured at load 6-10 on 2 cores: the slowest unit file takes 3 s, the slowest
 * integration files (single executable, dlq console, the local pipeline) 50-70 s; a hang ends at 20x / 4x that. */
const TIMEOUT_MS = { unit: 60_000, integration: 300_000 };
/**
 * Packing (see "Scheduling"): past `--concurrency`, up to `--extra` more files start, one at a time, while the
 * machine had at least `idleCores` idle over the last `sampleMs`, and `settleMs` after the previous extra start (its
 * start-up first shows in the figures).
 */
const PACKING = { idleCores: 0.6, sampleMs: 1000, settleMs: 3000 };
/** Two groups: the two run beside the integration files, so neither core waits on one long group. */
const UNIT_PROCESSES = 2;
const UNIT_FILES_PER_BOUND = 6;
/**
 * Integration files that share processes (see "Unit files share processes"): `processes` groups, the files dealt
 * out slowest first so that the groups take about as long; a group has one integration bound per `filesPerBound`.
 * The chart's files: two groups. Three cost one more Node start, one more compile of the vendored schemas and one
 * more parse of the renders every file reads (defaults, values files): with an empty render cache, 4 runs of each
 * side by side, the chart groups took 178 s of CPU in two groups against 194 s in three (0.92), their longest group
 * 49-57 s wall against 42-52 s (chart files alone, load 8-10). The slowest, bad-values (helm 57 times) and toggles
 * (37), go one to each group and values-files (26) goes with toggles (SLOWEST_FIRST's order deals them so).
 */
const SHARED = [{ name: 'chart files', match: (f) => f.startsWith('test/chart/'), processes: 2, filesPerBound: 8 }];

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

/** `files` dealt out in turn into `count` groups (two files at least per group: one alone is a file with extra steps). */
function dealt(files, count) {
  const n = Math.min(count, Math.floor(files.length / 2));
  return Array.from({ length: n }, (_, i) => files.filter((_f, j) => j % n === i));
}

/**
 * The processes to run: each integration file alone, but the SHARED ones in their groups; the unit files in
 * UNIT_PROCESSES groups (files dealt out in turn), placed right after the slowest files. A group of shared files
 * starts where its slowest file would have. A job is `{ name, files, timeoutMs }`.
 */
function jobsOf(files, isolate) {
  const unit = isolate ? [] : files.filter((f) => UNIT.includes(f));
  const shared = isolate
    ? []
    : SHARED.map((s) => ({ ...s, files: bySlowestFirst(files.filter((f) => !UNIT.includes(f) && s.match(f))) }));
  const group = (g, i, all, what, timeoutMs) => ({
    name: `${what}, group ${i + 1} of ${all.length} (${g.length} files in one process)`,
    files: g,
    timeoutMs,
  });
  const sharedJobs = shared.flatMap((s) =>
    dealt(s.files, s.processes).map((g, i, all) =>
      group(g, i, all, s.name, TIMEOUT_MS.integration * Math.ceil(g.length / s.filesPerBound)),
    ),
  );
  const unitJobs = dealt(unit, UNIT_PROCESSES).map((g, i, all) =>
    group(g, i, all, 'unit files', TIMEOUT_MS.unit * Math.ceil(g.length / UNIT_FILES_PER_BOUND)),
  );
  const inGroup = new Set([...unitJobs, ...sharedJobs].flatMap((j) => j.files));
  const single = (f) => ({
    name: f,
    files: [f],
    timeoutMs: UNIT.includes(f) ? TIMEOUT_MS.unit : TIMEOUT_MS.integration,
  });
  const rank = (f) => (SLOWEST_FIRST.includes(f) ? SLOWEST_FIRST.indexOf(f) : SLOWEST_FIRST.length);
  const slow = [...files.filter((f) => !inGroup.has(f) && rank(f) < SLOWEST_FIRST.length).map(single), ...sharedJobs];
  slow.sort((a, b) => Math.min(...a.files.map(rank)) - Math.min(...b.files.map(rank)));
  const rest = bySlowestFirst(files.filter((f) => !inGroup.has(f) && rank(f) === SLOWEST_FIRST.length)).map(single);
  return [...slow, ...unitJobs, ...rest];
}

/** The script a group's process runs: each file's tests in a suite named after the file (test/ names, not paths). */
function groupEntry(files, dir) {
  const entry = join(dir, 'unit-group.mjs');
  const lines = files.map(
    (f) =>
      `describe(${JSON.stringify(f)}, async () => { await import(${JSON.stringify(pathToFileURL(loadable(f)).href)}); });`,
  );
  writeFileSync(entry, `import { describe } from 'node:test';\n${lines.join('\n')}\n`);
  return entry;
}

/** `times` in sh prints the shell's then its children's user and system time: the test file's CPU, its own children included. */
function cpuSeconds(times) {
  const children = times.trim().split('\n').at(-1) ?? '';
  return [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, m, s]) => sum + Number(m) * 60 + Number(s), 0);
}

/** What node runs for a test file: its compiled output, or with `--tsx` the source itself. */
const compiled = new Map();
const loadable = (file) => compiled.get(file) ?? join(root, file);
/** The node options that load the test files: source maps for the compiled output, or tsx for the sources. */
let loaderArgs = ['--enable-source-maps'];

/** The process groups of the jobs running now: a test file's group is its own, so Ctrl-C does not reach it. */
const running = new Set();
function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
// Stopped (Ctrl-C, or npm test stopped): stop the running files and what they started, rather than leave them.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid, 'SIGTERM');
    process.exit(130);
  });
}

/**
 * Runs one job's files in one process, in its own process group (so a timeout kills what it started too), through
 * `sh` so that the CPU time of the files and their children can be read afterwards. Resolves with the outcome;
 * never rejects.
 */
function runJob({ name, files, timeoutMs }) {
  const started = Date.now();
  const startS = (started - runStarted) / 1000;
  const groupDir = files.length > 1 ? mkdtempSync(join(tmpdir(), 'run-tests-')) : undefined;
  const file = groupDir ? groupEntry(files, groupDir) : files[0];
  // the output goes through a pipe, so Node would pick TAP: on a terminal, ask for the readable report instead
  const reporter = process.stdout.isTTY ? ['--test-reporter=spec'] : [];
  const node = [process.execPath, '--expose-gc', ...loaderArgs, ...reporter, groupDir ? file : loadable(file)];
  const child = spawn('sh', ['-c', '"$@"; status=$?; times >&3; exit $status', 'sh', ...node], {
    cwd: root,
    env: { ...process.env, KNATIVE_EVENTS_TEST_RUN_DIR: runDir },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let times = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  child.stdio[3].on('data', (c) => (times += c));
  let timedOut = false;
  running.add(child.pid);
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child.pid);
      clearTimeout(timer);
      if (groupDir) rmSync(groupDir, { recursive: true, force: true });
      const wallS = (Date.now() - started) / 1000;
      if (timedOut) output += `\n# ${name}: killed after ${timeoutMs / 1000} s (its time limit)\n`;
      resolve({
        name,
        ok: code === 0 && !timedOut,
        code: code ?? signal,
        output,
        wallS,
        cpuS: cpuSeconds(times),
        startS,
      });
    });
  });
}

/**
 * A folder of the run's own for what its test files share, removed when the run ends (test/chart/helm.ts notes there
 * which helm binaries it has checked); the files find it in KNATIVE_EVENTS_TEST_RUN_DIR. Readable by all: PostgreSQL runs
 * as another account when the tests run as root. Folders of runs killed before they could remove theirs go first.
 */
function makeRunDir() {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^knative-events-run-(\d+)$/.exec(name)?.[1]);
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const dir = join(tmpdir(), `knative-events-run-${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Where runs put their compiled test files, one folder per run (several runs can share a working tree). */
const COMPILED_ROOT = join(root, '.tools', 'cache', 'compiled-tests');

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Compiles the run's files into a folder of its own (removed when the run ends), after removing the folders of runs
 * that were killed before they could remove theirs. A file that does not compile ends the run: its errors are
 * esbuild's, with file and line.
 */
async function compileRun(files) {
  mkdirSync(COMPILED_ROOT, { recursive: true });
  for (const name of readdirSync(COMPILED_ROOT)) {
    const pid = Number(/^run-(\d+)$/.exec(name)?.[1]);
    if (pid === process.pid || (pid > 0 && isAlive(pid))) continue;
    rmSync(join(COMPILED_ROOT, name), { recursive: true, force: true });
  }
  const outDir = join(COMPILED_ROOT, `run-${process.pid}`);
  process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
  const started = Date.now();
  try {
    const outputs = await compileTests(root, files, outDir);
    files.forEach((f, i) => compiled.set(f, outputs[i]));
  } catch (err) {
    const messages = err.errors?.map((e) => `${e.location?.file}:${e.location?.line}: ${e.text}`) ?? [err.message];
    console.error(`# the test files did not compile:\n${messages.join('\n')}`);
    process.exit(1);
  }
  process.stdout.write(`# compiled ${files.length} test files in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** The runner's closing counts of one file (`# pass 3` in TAP, `ℹ pass 3` in spec). */
function countsOf(output) {
  const counts = {};
  for (const [, name, n] of output.matchAll(/^(?:#|ℹ) (\w+) (\d+)$/gm))
    if (COUNTS.includes(name)) counts[name] = Number(n);
  return counts;
}

/**
 * Idle CPU of the whole machine, in cores, over the time since the previous measurement (all processes, not just
 * ours), or undefined while that time is under PACKING.sampleMs. `restart` starts a new measurement from now.
 */
function idleMeter() {
  const idleMs = () => cpus().reduce((sum, c) => sum + c.times.idle, 0);
  let last = { at: Date.now(), idle: idleMs() };
  return ({ restart = false } = {}) => {
    const now = { at: Date.now(), idle: idleMs() };
    // too short a window says little (the counters tick in 10 ms steps): keep measuring
    if (!restart && now.at - last.at < PACKING.sampleMs) return undefined;
    const cores = (now.idle - last.idle) / Math.max(1, now.at - last.at);
    last = now;
    return cores;
  };
}

/** A job's outcome as it ends: its output whole (no interleaving), then its times. */
function report(r) {
  process.stdout.write(`# ---- ${r.name}\n${r.output.trimEnd()}\n`);
  process.stdout.write(
    `# ---- ${r.name}: ${r.ok ? 'ok' : `FAILED (exit ${r.code})`}, ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s CPU, started at +${r.startS.toFixed(1)} s\n\n`,
  );
}

/**
 * Runs the jobs in the order given, `concurrency` at a time, and up to `extra` more while the machine has a core
 * idle (see "Packing" above); prints each job's output as it ends.
 */
async function runAll(jobs, concurrency, extra) {
  const queue = [...jobs];
  const results = [];
  const active = new Set();
  const idleCores = idleMeter();
  const start = (job) => {
    const done = runJob(job).then((r) => {
      active.delete(done);
      results.push(r);
      report(r);
    });
    active.add(done);
  };
  let lastExtraAt = 0;
  while (queue.length > 0 || active.size > 0) {
    while (queue.length > 0 && active.size < concurrency) start(queue.shift());
    const idle = idleCores();
    const settled = Date.now() - lastExtraAt >= PACKING.settleMs;
    if (
      queue.length > 0 &&
      active.size < concurrency + extra &&
      settled &&
      idle !== undefined &&
      idle >= PACKING.idleCores
    ) {
      start(queue.shift());
      lastExtraAt = Date.now();
      results.extraStarts = (results.extraStarts ?? 0) + 1;
      idleCores({ restart: true }); // the new process's start-up is not idle time: measure afresh from here
    }
    const tick = new Promise((resolve) => setTimeout(resolve, PACKING.sampleMs));
    await Promise.race([tick, ...active]);
  }
  return results;
}

/** The machine's idle time since `since` (cpus() counters, every process's, not only this run's), in core-seconds. */
const idleCoreSeconds = (since) => (cpus().reduce((sum, c) => sum + c.times.idle, 0) - since) / 1000;

function summarise(results, fileCount, wallS) {
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
    `# ${fileCount} files in ${results.length} processes (${results.extraStarts ?? 0} started past --concurrency on an idle core), ${wallS.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU; the machine had ${idleCoreSeconds(idleAtStart).toFixed(1)} core-seconds idle of ${(wallS * cpus().length).toFixed(0)}; slowest:`,
    ...slowest.map(
      (r) => `#   ${r.wallS.toFixed(1).padStart(6)} s wall ${r.cpuS.toFixed(1).padStart(6)} s CPU  ${r.name}`,
    ),
    ...results.filter((r) => !r.ok).map((r) => `# FAILED: ${r.name} (exit ${r.code})`),
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
const extra = Number(option('extra', '2'));
if (!Number.isInteger(extra) || extra < 0) {
  console.error(`--extra: a whole number, 0 or more (got ${option('extra')})`);
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
// a job's start is reported from here; the idle figure too (a core left idle is time the run could have used)
const runStarted = started;
const idleAtStart = cpus().reduce((sum, c) => sum + c.times.idle, 0);
const runDir = makeRunDir();
if (args.includes('--tsx')) loaderArgs = ['--import', 'tsx'];
else await compileRun(files);
const results = await runAll(jobsOf(files, args.includes('--isolate')), concurrency, extra);
summarise(results, files.length, (Date.now() - started) / 1000);
process.exit(results.every((r) => r.ok) ? 0 : 1);
