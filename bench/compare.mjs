// Before/after for one change: the floor, a saved earlier bundle and the current one, measured in the same
// run (round-robin cold starts, then load), every figure also as a ratio to the floor. Faster than run.mjs
// (no peers, no executables), for checking whether an optimisation measurably helps.
//
//   cp dist/knative-events.cjs bench/results/baseline.cjs     # once, before the change
//   node bench/compare.mjs [--before bench/results/baseline.cjs] [--starts 15] [--duration 5] [--warmup 1]
import { fileURLToPath } from 'node:url';
import { body, headers, legacyHeaders, structuredBody, structuredHeaders } from './lib/event.mjs';
import { measureLoad } from './lib/load.mjs';
import { memoryOf, startTimed, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';
import { paths, targets } from './lib/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
}
const before = option('--before', `${root}bench/results/baseline.cjs`);
const starts = Number(option('--starts', 15));
const durationS = Number(option('--duration', 5));
const warmupS = Number(option('--warmup', 1));
const skipForwarding = process.argv.includes('--no-forwarding');
const log = (msg) => process.stderr.write(`${msg}\n`);
const probe = { headers, body };
const subscriber = (label, bundle) => ({
  label,
  command: (port) => ({
    cmd: process.execPath,
    args: [bundle],
    env: { ROLE: 'subscriber', FUNCTION: 'echo', PORT: String(port) },
  }),
});
const servers = { floor: targets.bare, before: subscriber('before', before), after: subscriber('after', paths.bundle) };
const names = Object.keys(servers);

const cold = Object.fromEntries(
  names.map((n) => [n, { ms: /** @type {number[]} */ ([]), cpu: /** @type {number[]} */ ([]) }]),
);
for (let i = 0; i < starts; i++) {
  for (const name of names) {
    const { child, coldStartMs, startCpuMs } = await startTimed(servers[name], probe);
    cold[name].ms.push(coldStartMs);
    cold[name].cpu.push(startCpuMs);
    await stop(child, 'SIGKILL');
  }
}
log('cold starts done');

const load = {};
for (const name of names) {
  const { child, port } = await startTimed(servers[name], probe);
  await new Promise((r) => setTimeout(r, 1000));
  const idleMiB = memoryOf(child.pid).rssMiB;
  const at = {};
  for (const connections of [10, 100])
    at[connections] = await measureLoad({
      url: `http://127.0.0.1:${port}/`,
      connections,
      durationS,
      warmupS,
      headers,
      body,
      pid: child.pid,
    });
  load[name] = { idleMiB, at };
  await stop(child);
  log(`load ${name} done`);
}

async function forwarding(bundle, standInPort) {
  const target = {
    label: 'handler',
    command: (port) => ({
      cmd: process.execPath,
      args: [bundle],
      env: { ROLE: 'handler', BROKER_URL: `http://127.0.0.1:${standInPort}/ns/default`, PORT: String(port) },
    }),
  };
  const handler = await startTimed(target, { headers: legacyHeaders, body });
  try {
    return await measureLoad({
      url: `http://127.0.0.1:${handler.port}/`,
      connections: 10,
      durationS,
      warmupS,
      headers: legacyHeaders,
      body,
      pid: handler.child.pid,
    });
  } finally {
    await stop(handler.child);
  }
}

const rows = [];
const fmt = (v, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const ratio = (v, f) => `${(v / f).toFixed(2)}x`;

rows.push(
  '| figure | floor | before | before ÷ floor | after | after ÷ floor |',
  '| --- | --- | --- | --- | --- | --- |',
);
const row = (label, get, d = 0) => {
  const f = get('floor');
  rows.push(
    `| ${label} | ${fmt(f, d)} | ${fmt(get('before'), d)} | ${ratio(get('before'), f)} | ${fmt(get('after'), d)} | ${ratio(get('after'), f)} |`,
  );
};
row('cold start ms (median)', (n) => median(cold[n].ms), 1);
row('start-up CPU ms', (n) => median(cold[n].cpu));
row('CPU µs/req @10', (n) => load[n].at[10].cpuUsPerRequest);
row('req/s @10', (n) => load[n].at[10].requestsPerSecond);
row('req/s @100', (n) => load[n].at[100].requestsPerSecond);
row('CPU µs/req @100', (n) => load[n].at[100].cpuUsPerRequest);
row('idle RSS MiB', (n) => load[n].idleMiB, 1);
const bad = names
  .flatMap((n) => [10, 100].map((c) => load[n].at[c].non2xx + load[n].at[c].errors + load[n].at[c].timeouts))
  .reduce((a, b) => a + b, 0);
rows.push(`\nnon-2xx + errors + timeouts, all load runs: ${bad}`);

if (!skipForwarding) {
  const standIn = await startTimed(
    {
      label: 'broker stand-in',
      command: (port) => ({
        cmd: process.execPath,
        args: [`${root}bench/peers/broker-stand-in.cjs`],
        env: { PORT: String(port) },
      }),
    },
    { headers: structuredHeaders, body: structuredBody },
  );
  try {
    const direct = await measureLoad({
      url: `http://127.0.0.1:${standIn.port}/ns/default`,
      connections: 10,
      durationS,
      warmupS,
      headers: structuredHeaders,
      body: structuredBody,
    });
    const fb = await forwarding(before, standIn.port);
    const fa = await forwarding(paths.bundle, standIn.port);
    rows.push(
      `\nhandler forwarding @10: straight to the stand-in ${fmt(direct.requestsPerSecond)} req/s; before ${fmt(fb.requestsPerSecond)} req/s (${ratio(fb.requestsPerSecond, direct.requestsPerSecond)}), ${fmt(fb.cpuUsPerRequest)} µs CPU/req, non-2xx ${fb.non2xx + fb.errors}; after ${fmt(fa.requestsPerSecond)} req/s (${ratio(fa.requestsPerSecond, direct.requestsPerSecond)}), ${fmt(fa.cpuUsPerRequest)} µs CPU/req, non-2xx ${fa.non2xx + fa.errors}`,
    );
  } finally {
    await stop(standIn.child);
  }
}
console.log(rows.join('\n'));
