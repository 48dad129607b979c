// `npm test`: the checks (typecheck, lint, format:check), the build, then every test file (test/run-tests.mjs).
// typecheck and lint run as one process, test/typecheck-and-lint.mjs: the same checks as `npm run typecheck` and
// `npm run lint`, with the TypeScript program they both need built and type-checked once.
//
// The checks and the tests run at the same time. Each check is one single-threaded process that needs nothing the
// others produce, and the test files spend part of their time waiting on the processes they start; run one after
// the other, the checks kept one core busy and the other idle for a minute. They run at the tests' priority: at a
// lower one they starved on a busy machine and ran last, one core for eslint alone. The tests wait for the build
// (they run dist/knative-events.cjs), and do not run when it fails, since they would test an older bundle; they
// also wait for the pinned Helms (setup:helm, below).
//
// The tests print their output file by file as they go; the checks' and the build's output is kept and printed
// whole after the tests (two processes writing to one terminal would interleave). The end of the run lists every
// step with its outcome and wall time; the exit code is 1 when any step failed.
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// package.json's scripts run as npm runs them (sh, node_modules/.bin first on PATH), without an npm process
// around each (~0.4 s of CPU apiece)
const env = { ...process.env, PATH: [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter) };
const script = (name) => ['sh', '-c', scripts[name]];
/**
 * V8's garbage collector on this process's own thread. The checks are the run's two largest single processes
 * (typecheck and lint ~35 s of CPU alone, prettier ~14 s), they allocate steadily, and with the default parallel
 * scavenger their helper threads took the other core from the tests for work one thread does in less CPU:
 * typecheck-and-lint.mjs alone took 33-35 s of CPU against 38-39 s, prettier 16.7 against 18.4 (alternating runs).
 */
const CHECK_NODE_FLAGS = ['--single-threaded-gc'];
/** An npm script that starts with a package's bin (`prettier --check ...`), run by this node with CHECK_NODE_FLAGS. */
function nodeScript(name) {
  // split on spaces, as sh would split this script: one with quotes or shell syntax would be misread, so it is refused
  if (/["'`$&|;<>\\]/.test(scripts[name]))
    throw new Error(`package.json script ${name} is not a plain \`bin args\` line`);
  const [bin, ...args] = scripts[name].split(' ');
  return [process.execPath, ...CHECK_NODE_FLAGS, realpathSync(join(root, 'node_modules', '.bin', bin)), ...args];
}

/** Runs a command; resolves with its outcome, never rejects. `buffer`: keep the output (in the outcome) for later. */
function step(name, command, { buffer }) {
  const started = Date.now();
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env,
    stdio: ['ignore', buffer ? 'pipe' : 'inherit', buffer ? 'pipe' : 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (c) => (output += c));
  child.stderr?.on('data', (c) => (output += c));
  return new Promise((resolve) => {
    child.on('error', (err) => (output += `${err.message}\n`));
    child.on('close', (code) => {
      resolve({
        name,
        ok: code === 0,
        code,
        wallS: (Date.now() - started) / 1000,
        output: buffer ? output : undefined,
      });
    });
  });
}

const started = Date.now();
const checks = [
  step('typecheck and lint', [process.execPath, ...CHECK_NODE_FLAGS, 'test/typecheck-and-lint.mjs'], { buffer: true }),
  step('format:check', nodeScript('format:check'), { buffer: true }),
];
// The pinned Helm 3 and 4 (npm run setup:helm: each already there is only asked its version), fetched beside the
// build, one process per major: on a fresh clone, the chart files' processes, `npm start` in the checklist and `npm
// run helm` all found helm missing at once and each fetched and unpacked it (~5 s of CPU per major, each time).
const helms = [3, 4].map((major) =>
  step(`setup:helm ${major}`, [process.execPath, 'build/setup-helm.mjs', String(major)], { buffer: true }),
);
const tests = Promise.all([step('build', script('build'), { buffer: true }), ...helms]).then(async (before) => {
  const build = before[0];
  if (!build.ok)
    return [...before, { name: 'tests', ok: false, code: 'not run: the build failed', wallS: 0, output: undefined }];
  // a failed setup:helm fails the run as its step; the tests still run (the chart tests say what is missing)
  return [
    ...before,
    await step('tests', [process.execPath, 'test/run-tests.mjs', ...process.argv.slice(2)], { buffer: false }),
  ];
});
const results = [...(await Promise.all(checks)), ...(await tests)];
for (const r of results.filter((x) => x.output !== undefined)) {
  process.stdout.write(`# ==== ${r.name}: ${r.ok ? 'ok' : `FAILED (exit ${r.code})`}\n${r.output.trim()}\n`);
}
const lines = results.map(
  (r) =>
    `#   ${r.ok ? 'ok    ' : 'FAILED'} ${r.wallS.toFixed(1).padStart(6)} s  ${r.name}${r.ok ? '' : ` (${r.code})`}`,
);
process.stdout.write(`# npm test: ${((Date.now() - started) / 1000).toFixed(1)} s\n${lines.join('\n')}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
