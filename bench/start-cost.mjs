// What each module costs at start-up, measured rather than sampled: builds an unminified copy of the
// bundle whose module wrappers (esbuild's __commonJS/__esm) time their own initialisation, runs it until
// its first successful answer, and prints the median self time per package or runtime file over several
// starts, plus the time Node takes before the bundle's first line runs. Complements profile-start.mjs.
//
//   node bench/start-cost.mjs [--starts 9] [--top 25] [ROLE=subscriber FUNCTION=echo ...]
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleConfig } from '../build/bundle-config.mjs';
import { body, headers, legacyHeaders } from './lib/event.mjs';
import { startTimed, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const starts = arg('--starts', 9);
const top = arg('--top', 25);
const env = { ROLE: 'subscriber', FUNCTION: 'echo' };
for (const a of process.argv.slice(2))
  if (/^[A-Z_]+=/.test(a)) env[a.slice(0, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);

const dir = mkdtempSync(join(tmpdir(), 'knative-events-cost-'));
const outfile = join(dir, 'timed.cjs');
const report = join(dir, 'report.json');
// The product's own bundle configuration, unminified so esbuild's module helpers can be instrumented.
const { options } = await bundleConfig(root);
await build({ ...options, outfile, minify: false, logLevel: 'error' });

// Replace esbuild's two lazy-module helpers with versions that time each module's first initialisation.
const timing = `
var __timing = { stack: [], self: Object.create(null), first: performance.now() };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ self: __timing.self, first: __timing.first, exit: performance.now() })));
function __timed(name, run) {
  const parent = __timing.stack[__timing.stack.length - 1];
  const frame = { child: 0 };
  __timing.stack.push(frame);
  const t0 = performance.now();
  try { return run(); } finally {
    const dt = performance.now() - t0;
    __timing.stack.pop();
    if (parent) parent.child += dt;
    __timing.self[name] = (__timing.self[name] || 0) + dt - frame.child;
  }
}
var __commonJS = (cb, mod) => function __require() {
  if (mod) return mod.exports;
  const key = __getOwnPropNames(cb)[0];
  return __timed(key, () => ((0, cb[key])((mod = { exports: {} }).exports, mod), mod.exports));
};
var __esm = (fn, res) => function __init() {
  if (!fn) return res;
  const key = __getOwnPropNames(fn)[0];
  const f = fn[key];
  fn = 0;
  return __timed(key, () => (res = f()));
};
`;
let code = readFileSync(outfile, 'utf8');
code = code.replace(/var __commonJS = [\s\S]*?\n};\n/, '').replace(/var __esm = [\s\S]*?\n};\n/, '');
code = code.replace(
  'var __getOwnPropNames = Object.getOwnPropertyNames;',
  `var __getOwnPropNames = Object.getOwnPropertyNames;${timing}`,
);
if (!code.includes('__timed(key')) throw new Error('could not find esbuild helpers to instrument');
writeFileSync(outfile, code);

const groupOf = (path) =>
  /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.replace(/^.*?((runtime|functions)\/)/, '$1');
const perGroup = new Map();
const firstLine = [];
const coldStarts = [];
const target = {
  label: 'instrumented bundle',
  command: (port) => ({ cmd: process.execPath, args: [outfile], env: { ...env, PORT: String(port) } }),
};
const probe = env.ROLE === 'handler' ? { headers: legacyHeaders, body } : { headers, body };
for (let i = 0; i < starts; i++) {
  const { child, coldStartMs } = await startTimed(target, probe);
  await stop(child);
  const r = JSON.parse(readFileSync(report, 'utf8'));
  coldStarts.push(coldStartMs);
  firstLine.push(r.first);
  const sums = new Map();
  for (const [path, ms] of Object.entries(r.self)) sums.set(groupOf(path), (sums.get(groupOf(path)) ?? 0) + ms);
  for (const [g, ms] of sums) perGroup.set(g, [...(perGroup.get(g) ?? []), ms]);
}
rmSync(dir, { recursive: true, force: true });

const rows = [...perGroup].map(([g, samples]) => [g, median(samples)]).sort((a, b) => b[1] - a[1]);
const modulesMs = rows.reduce((sum, [, ms]) => sum + ms, 0);
console.log(
  `${starts} starts (${env.ROLE}): first answer after ${median(coldStarts).toFixed(1)} ms (median); Node reaches the bundle's first line at ${median(firstLine).toFixed(1)} ms; module initialisation ${modulesMs.toFixed(1)} ms in all`,
);
console.log('| module init, self ms (median) | package or file |\n| ---: | --- |');
for (const [g, ms] of rows.slice(0, top)) console.log(`| ${ms.toFixed(1)} | ${g} |`);
