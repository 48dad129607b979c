// Where the runtime's time goes: runs the bundle under --cpu-prof until its first successful answer (and,
// with --load, under autocannon for that many seconds), stops it, and sums the profile's self time by
// package (node_modules/<name>) or runtime file, mapped through the bundle's source map. Not part of
// `npm run bench`; run it when cold start or throughput regresses.
//
//   node bench/profile-start.mjs [ROLE=subscriber FUNCTION=echo ...] [--load 10] [--top 25] [--lines]
//
// --lines splits runtime/ files by source line and function, and packages by function, to find the call that costs.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { body, headers, legacyHeaders } from './lib/event.mjs';
import { measureLoad } from './lib/load.mjs';
import { startTimed, stop } from './lib/processes.mjs';
import { paths } from './lib/targets.mjs';

const arg = (name) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
const top = arg('--top') ?? 25;
const loadS = arg('--load') ?? 0;
const byLine = process.argv.includes('--lines');
const env = { ROLE: 'subscriber', FUNCTION: 'echo' };
for (const arg of process.argv.slice(2))
  if (/^[A-Z_]+=/.test(arg)) env[arg.slice(0, arg.indexOf('='))] = arg.slice(arg.indexOf('=') + 1);
const dir = mkdtempSync(join(tmpdir(), 'knative-events-prof-'));

const target = {
  label: 'bundle under --cpu-prof',
  command: (port) => ({
    cmd: process.execPath,
    args: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100', paths.bundle],
    env: { ...env, PORT: String(port) },
  }),
};
const probe = env.ROLE === 'handler' ? { headers: legacyHeaders, body } : { headers, body };
const { child, port, coldStartMs } = await startTimed(target, probe);
const load =
  loadS > 0
    ? await measureLoad({ url: `http://127.0.0.1:${port}/`, connections: 10, durationS: loadS, warmupS: 0, ...probe })
    : undefined;
await stop(child);
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
rmSync(dir, { recursive: true, force: true });

const map = new SourceMap(JSON.parse(readFileSync(`${paths.bundle}.map`, 'utf8')));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

// dist/knative-events.cjs is two scripts under one name: the loader (the file itself) and the code it compiles
// from the payload with the code cache (see the loader's header). The source map is the code's; a loader frame looked
// up in it was credited to whatever code the map has at that line (its `compile` to runtime/dlq/console/assets.ts).
// The loader's script is the one whose frames sit on the lines where the loader file declares those functions.
const loaderLines = new Map();
readFileSync(paths.bundle, 'utf8')
  .split('\n')
  .forEach((line, i) => {
    const declared = /^function (\w+)\(/.exec(line)?.[1];
    if (declared) loaderLines.set(declared, i);
  });
const loaderScripts = new Set(
  profile.nodes
    .map((n) => n.callFrame)
    .filter((f) => f.url.endsWith('knative-events.cjs') && loaderLines.get(f.functionName) === f.lineNumber)
    .map((f) => f.scriptId),
);

function groupOf(callFrame) {
  const { url, lineNumber, columnNumber, functionName } = callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (!url.endsWith('knative-events.cjs')) return url.startsWith('node:') ? 'node internals' : url;
  if (loaderScripts.has(callFrame.scriptId))
    return byLine ? `bundle loader ${functionName || 'top level'}` : 'bundle loader';
  const found = map.findEntry(lineNumber, columnNumber);
  // findEntry answers {} when nothing maps there.
  /** @type {(import('node:module').SourceMapping & { name?: string }) | undefined} (Node adds the name; @types/node 20 lacks it) */
  const entry = 'originalSource' in found ? found : undefined;
  const source = entry?.originalSource ?? '';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (pkg) return byLine ? `${pkg[1]} ${entry?.name ?? functionName}` : pkg[1];
  const file = source.replace(/^.*?\/(runtime|functions)\//, '$1/');
  if (!file) return '(bundle, unmapped)';
  return byLine && entry ? `${file}:${entry.originalLine + 1} ${entry.name ?? functionName}` : file;
}

// Node's own frames (module loader, builtins being compiled) are charged to the closest bundle frame that
// called them, so `require("node:http")` at start-up counts against the package that asked for it.
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const attributable = (g) => g !== 'node internals' && g !== '(bundle, unmapped)' && g !== '(native)';
function chargedGroup(id) {
  const own = groupOf(byId.get(id).callFrame);
  if (attributable(own)) return own;
  for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) {
    const g = groupOf(byId.get(p).callFrame);
    if (attributable(g) && !g.startsWith('('))
      return `${g} (incl. ${own})`.replace(/ \(incl\. .*\)$/, ' + node internals it calls');
  }
  return own;
}
const groups = new Map();
for (const [id, us] of selfUs) {
  const g = chargedGroup(id);
  groups.set(g, (groups.get(g) ?? 0) + us);
}
const totalUs = [...groups.values()].reduce((a, b) => a + b, 0);
console.log(
  `first answer after ${coldStartMs.toFixed(1)} ms; profile covers ${(totalUs / 1000).toFixed(1)} ms (start to exit)`,
);
if (load)
  console.log(
    `under load: ${Math.round(load.requestsPerSecond)} req/s at 10 connections (profiled), ${load.total} requests, non-2xx ${load.non2xx}`,
  );
console.log('| self time ms | share | where |\n| ---: | ---: | --- |');
for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${(us / 1000).toFixed(1)} | ${((100 * us) / totalUs).toFixed(1)}% | ${g} |`);
}
