// Benchmarks the runtime against a bare node:http floor and two peer runtimes, in one run on this machine,
// and prints markdown tables of figures and ratios (also written to bench/results/).
//
//   node bench/run.mjs [--quick] [--starts 25] [--duration 10] [--warmup 2]
//
// Needs `npm install --prefix bench` once. Builds dist/knative-events.cjs and dist/knative-events if they are
// missing or stale, plus an executable without code cache (in bench/results/) for the cold-start comparison.
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { body, headers, legacyHeaders, structuredBody, structuredHeaders } from './lib/event.mjs';
import { measureLoad } from './lib/load.mjs';
import { memoryOf, startTimed, stop } from './lib/processes.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { median, quantile } from './lib/stats.mjs';
import { paths, targets } from './lib/targets.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = fileURLToPath(new URL('results/', import.meta.url));

function numberOption(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}
const quick = process.argv.includes('--quick');
const settings = {
  starts: numberOption('--starts', quick ? 5 : 25),
  durationS: numberOption('--duration', quick ? 3 : 10),
  warmupS: numberOption('--warmup', quick ? 1 : 2),
  idleSettleMs: 1000,
};
const probe = { headers, body };
const log = (msg) => process.stderr.write(`${msg}\n`);

async function prepare() {
  mkdirSync(resultsDir, { recursive: true });
  if (!existsSync(paths.bundle)) execFileSync(process.execPath, [`${root}build/build.mjs`], { stdio: 'inherit' });
  if (!existsSync(paths.binary) || statSync(paths.binary).mtimeMs < statSync(paths.bundle).mtimeMs) {
    execFileSync(process.execPath, [`${root}build/build-binary.mjs`], { stdio: 'inherit' });
  }
  execFileSync(
    process.execPath,
    [`${root}build/build-binary.mjs`, '--no-code-cache', '--output', paths.binaryNoCache],
    { stdio: 'ignore' },
  );
  await build({
    entryPoints: [`${root}bench/peers/koa-minimal.cjs`],
    outfile: paths.koaBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    logLevel: 'warning',
  });
}

/** Cold starts, round-robin over the targets so that drift on the machine touches each one alike. */
async function coldStarts(names) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < settings.starts; i++) {
    for (const name of names) {
      const { child, coldStartMs, startCpuMs, firstAnswer } = await startTimed(targets[name], probe);
      if (firstAnswer.body.length === 0 || JSON.stringify(JSON.parse(firstAnswer.body)) !== body) {
        throw new Error(`${name} did not echo the event data: ${firstAnswer.body.slice(0, 200)}`);
      }
      samples[name].push(coldStartMs);
      cpu[name].push(startCpuMs);
      await stop(child, 'SIGKILL');
    }
    log(`cold start ${i + 1}/${settings.starts}`);
  }
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        medianMs: median(samples[n]),
        p90Ms: quantile(samples[n], 0.9),
        cpuMedianMs: median(cpu[n]),
        samples: samples[n],
      },
    ]),
  );
}

/** Idle RSS a second after the first answer, then load at 10 and 100 connections, then the peak RSS. */
async function loadAndMemory(name) {
  const { child, port } = await startTimed(targets[name], probe);
  try {
    await new Promise((r) => setTimeout(r, settings.idleSettleMs));
    const idleMiB = memoryOf(child.pid).rssMiB;
    const byConnections = {};
    for (const connections of [10, 100]) {
      log(`load ${name} @${connections}`);
      byConnections[connections] = await measureLoad({
        url: `http://127.0.0.1:${port}/`,
        connections,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        headers,
        body,
        pid: child.pid,
      });
    }
    return { load: byConnections, memory: { idleMiB, peakMiB: memoryOf(child.pid).peakMiB } };
  } finally {
    await stop(child);
  }
}

/** The handler posting to a broker stand-in, against autocannon posting the same event straight to it. */
async function forwarding() {
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
  const handlerTarget = {
    label: 'handler',
    command: (port) => ({
      cmd: process.execPath,
      args: [paths.bundle],
      env: { ROLE: 'handler', BROKER_URL: `http://127.0.0.1:${standIn.port}/ns/default`, PORT: String(port) },
    }),
  };
  const handler = await startTimed(handlerTarget, { headers: legacyHeaders, body });
  try {
    const out = {};
    for (const connections of [10, 100]) {
      log(`forwarding @${connections}`);
      const common = { connections, durationS: settings.durationS, warmupS: settings.warmupS };
      const direct = await measureLoad({
        ...common,
        url: `http://127.0.0.1:${standIn.port}/ns/default`,
        headers: structuredHeaders,
        body: structuredBody,
      });
      const viaHandler = await measureLoad({
        ...common,
        url: `http://127.0.0.1:${handler.port}/`,
        headers: legacyHeaders,
        body,
        pid: handler.child.pid,
      });
      out[connections] = { direct, handler: viaHandler };
    }
    return out;
  } finally {
    await stop(handler.child);
    await stop(standIn.child);
  }
}

function machine() {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

await prepare();
const loadNames = [
  'bare',
  'ours',
  'oursBinary',
  'functionsFramework',
  'faasJsRuntime',
  'oursQuiet',
  'oursLean',
  'koaMinimal',
];
const coldNames = [
  'bare',
  'ours',
  'oursBinary',
  'oursBinaryNoCache',
  'functionsFramework',
  'faasJsRuntime',
  'koaMinimal',
];
const coldStart = await coldStarts(coldNames);
const load = {};
const memory = {};
for (const name of loadNames) {
  const r = await loadAndMemory(name);
  load[name] = r.load;
  memory[name] = r.memory;
}
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: `${settings.starts} cold starts per server, autocannon ${settings.durationS} s after ${settings.warmupS} s warm-up, 309-byte JSON body in a binary-mode CloudEvent`,
  labels: Object.fromEntries([...new Set([...loadNames, ...coldNames])].map((n) => [n, targets[n].label])),
  coldStart,
  load,
  memory,
  forwarding: await forwarding(),
  sizes: {
    bundleKiB: statSync(paths.bundle).size / 1024,
    binaryMiB: statSync(paths.binary).size / 2 ** 20,
    nodeMiB: statSync(process.execPath).size / 2 ** 20,
  },
};
rmSync(paths.binaryNoCache, { force: true });
rmSync(paths.koaBundle, { force: true });
const markdown = renderMarkdown(results);
const stamp = results.date.replace(/[:.]/g, '-');
writeFileSync(`${resultsDir}${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${resultsDir}${stamp}.md`, `${markdown}\n`);
writeFileSync(`${resultsDir}latest.md`, `${markdown}\n`);
console.log(markdown);
