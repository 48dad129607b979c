// What each module costs at start-up, measured rather than sampled: builds an unminified copy of the
// bundle whose module wrappers (esbuild's __commonJS/__esm) time their own initialisation, runs it until
// its first successful answer, and prints the median self time per package or runtime file over several
// starts (CPU time, which machine load does not inflate, and wall time), plus the time Node takes before the
// bundle's first line runs. Complements profile-start.mjs.
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
var __cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
// Not performance.now(): in the bundle \`performance\` is build/hrtime-performance.mjs's, not yet set up here.
var __nowMs = () => { const [s, ns] = process.hrtime(); return s * 1e3 + ns / 1e6; };
var __timing = { stack: [], self: Object.create(null), selfCpu: Object.create(null), first: process.uptime() * 1e3, firstCpu: __cpuMs() };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({ self: __timing.self, selfCpu: __timing.selfCpu, first: __timing.first, firstCpu: __timing.firstCpu })));
function __timed(name, run) {
  const parent = __timing.stack[__timing.stack.length - 1];
  const frame = { child: 0, childCpu: 0 };
  __timing.stack.push(frame);
  const t0 = __nowMs();
  const c0 = __cpuMs();
  try { return run(); } finally {
    const dt = __nowMs() - t0;
    const dc = __cpuMs() - c0;
    __timing.stack.pop();
    if (parent) { parent.child += dt; parent.childCpu += dc; }
    __timing.self[name] = (__timing.self[name] || 0) + dt - frame.child;
    __timing.selfCpu[name] = (__timing.selfCpu[name] || 0) + dc - frame.childCpu;
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
/** @type {Map<string, { wall: number[], cpu: number[] }>} */
const perGroup = new Map();
const firstLine = { wall: /** @type {number[]} */ ([]), cpu: /** @type {number[]} */ ([]) };
const coldStarts = { wall: /** @type {number[]} */ ([]), cpu: /** @type {number[]} */ ([]) };
const target = {
  label: 'instrumented bundle',
  command: (port) => ({ cmd: process.execPath, args: [outfile], env: { ...env, PORT: String(port) } }),
};
const probe = env.ROLE === 'handler' ? { headers: legacyHeaders, body } : { headers, body };
/** Self time per package or file of one start, summed over its modules. */
function sumByGroup(self) {
  const sums = new Map();
  for (const [path, ms] of Object.entries(self)) sums.set(groupOf(path), (sums.get(groupOf(path)) ?? 0) + ms);
  return sums;
}
for (let i = 0; i < starts; i++) {
  const { child, coldStartMs, startCpuMs } = await startTimed(target, probe);
  await stop(child);
  const r = JSON.parse(readFileSync(report, 'utf8'));
  coldStarts.wall.push(coldStartMs);
  coldStarts.cpu.push(startCpuMs);
  firstLine.wall.push(r.first);
  firstLine.cpu.push(r.firstCpu);
  const cpu = sumByGroup(r.selfCpu);
  for (const [g, ms] of sumByGroup(r.self)) {
    const samples = perGroup.get(g) ?? { wall: [], cpu: [] };
    samples.wall.push(ms);
    samples.cpu.push(cpu.get(g) ?? 0);
    perGroup.set(g, samples);
  }
}
rmSync(dir, { recursive: true, force: true });

// CPU time (user + system, process.cpuUsage) is the column to trust on a shared machine: unlike wall time it
// does not grow while the process waits for a core.
const rows = [...perGroup]
  .map(([g, s]) => ({ g, wall: median(s.wall), cpu: median(s.cpu) }))
  .sort((a, b) => b.cpu - a.cpu);
const total = (key) => rows.reduce((sum, row) => sum + row[key], 0);
console.log(
  `${starts} starts (${env.ROLE}), medians: first answer after ${median(coldStarts.wall).toFixed(1)} ms, ${median(coldStarts.cpu).toFixed(0)} ms CPU; ` +
    `the bundle's first line at ${median(firstLine.wall).toFixed(1)} ms, ${median(firstLine.cpu).toFixed(1)} ms CPU; ` +
    `module initialisation ${total('wall').toFixed(1)} ms, ${total('cpu').toFixed(1)} ms CPU`,
);
console.log('| module init, self CPU ms | self wall ms | package or file |\n| ---: | ---: | --- |');
for (const { g, wall, cpu } of rows.slice(0, top)) console.log(`| ${cpu.toFixed(1)} | ${wall.toFixed(1)} | ${g} |`);
