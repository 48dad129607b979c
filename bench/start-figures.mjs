// Start-up figures a busy machine does not move, for servers side by side in one run: the instructions from spawn
// to the first answer (valgrind's callgrind, every thread, less V8's hash seed: see hashSeedCost) and the idle
// RSS (VmRSS 1 s after the first answer, median of --rss-starts starts, not under valgrind). Wall-clock cold
// starts belong to compare.mjs; these are the figures to decide on while other work shares the machine.
//
//   node bench/start-figures.mjs [--before bench/results/session6-start.cjs] [--after dist/knative-events.cjs]
//                                [--also <bundle> ...] [--binary] [--rounds 1] [--rss-starts 5] [--no-rss]
//                                [--no-instructions]
//
// Each start is counted from spawn to the end of its first answer, to the event every compare.mjs target echoes
// (its cold start's first answer too): work a server puts off until after its first answer (the runtime's
// event-loop and GC metrics) is not counted, as a caller waiting for that answer does not wait for it. The servers: bare
// node:http (the floor), plain Koa echo bundled with the bundle's start-up plugins (the limit a start of Koa
// can reach), before, after, each --also bundle (a variant to weigh) and (--binary) the single executable;
// --rounds counts every server that many times, round-robin, and gives the median (one count varies by ±4 M). A
// bundle built with its code cache is two files, <name>.cjs and <name>.code: copy both for a before.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { body, checkEcho, headers } from './lib/event.mjs';
import { bundleKoaPeers, ensureBinary } from './lib/prepare.mjs';
import { freePort, memoryOf, request, startTimed, stop } from './lib/processes.mjs';
import { median } from './lib/stats.mjs';
import { paths, subscriberOf, targets } from './lib/targets.mjs';

const results = fileURLToPath(new URL('results/', import.meta.url));
const { values } = parseArgs({
  options: {
    before: { type: 'string', default: `${results}session6-start.cjs` },
    after: { type: 'string', default: paths.bundle },
    also: { type: 'string', multiple: true, default: [] },
    binary: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'rss-starts': { type: 'string', default: '5' },
    'no-rss': { type: 'boolean', default: false },
    'no-instructions': { type: 'boolean', default: false },
  },
});
const log = (/** @type {string} */ msg) => process.stderr.write(`${msg}\n`);
const outDir = mkdtempSync(`${tmpdir()}/start-figures-`);

/** @type {Record<string, import('./lib/targets.mjs').Target>} */
const servers = {
  floor: targets.bare,
  koaStartUp: targets.koaStartUp,
  before: subscriberOf('before', 'before', String(values.before)),
  after: subscriberOf('after', 'after', String(values.after)),
  ...Object.fromEntries(
    (values.also ?? []).map((file, i) => [`also${i + 1}`, subscriberOf(`also${i + 1}`, String(file), String(file))]),
  ),
  ...(values.binary && { binary: targets.oursBinary }),
};

/**
 * The instructions V8 spends making its hash seed's secrets (HashSeed::InitializeRoots: a search for random primes,
 * 9-15 M and different in every process, the floor's included): left out of every count, so that two starts of
 * the same file differ by less than the changes being weighed.
 */
function hashSeedCost(/** @type {string} */ file) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', file], { encoding: 'utf8' });
  const line = /^\s*([\d,]+) .*HashSeed::InitializeRoots/m.exec(text);
  return line ? Number(line[1].replaceAll(',', '')) : 0;
}

/** The Ir total of every thread's file of one callgrind dump (`<name>.<pid>`, its number), less the hash seed's. */
function dumpTotal(/** @type {string} */ prefix, /** @type {number} */ dump) {
  const files = readdirSync(outDir).filter((f) => f.startsWith(`${prefix}.${dump}-`));
  if (files.length === 0) throw new Error(`no callgrind dump ${dump} for ${prefix}`);
  return files.reduce((sum, f) => {
    const line = readFileSync(`${outDir}/${f}`, 'utf8').match(/^(?:summary|totals): (\d+)/m);
    if (!line) throw new Error(`no total in ${f}`);
    return sum + Number(line[1]) - (f.endsWith('-01') ? hashSeedCost(`${outDir}/${f}`) : 0);
  }, 0);
}

/** Polls until `probe` answers 2xx: connection refused costs the server nothing, so the poll adds no count. */
async function untilAnswered(/** @type {number} */ port, probe, /** @type {() => boolean} */ exited) {
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (exited()) throw new Error('exited during start-up');
    try {
      const answer = /** @type {{ status: number, body: string }} */ (await request(port, probe));
      if (answer.status < 200 || answer.status >= 300) throw new Error(`answered ${answer.status}: ${answer.body}`);
      return answer;
    } catch (err) {
      const code = /** @type {NodeJS.ErrnoException} */ (err).code;
      if ((code !== 'ECONNREFUSED' && code !== 'ECONNRESET') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** One start under callgrind: instructions from spawn to the end of the first answered event. */
async function instructionsOf(/** @type {string} */ name) {
  const port = await freePort();
  const { cmd, args, env } = servers[name].command(port);
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${outDir}/${name}.%p`, cmd, ...args],
    { env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    checkEcho(name, await untilAnswered(port, { headers, body }, () => exited));
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`${name}: ${/** @type {Error} */ (err).message}\n${stderr.slice(-2000)}`);
  } finally {
    child.kill('SIGKILL');
  }
  const count = dumpTotal(`${name}.${child.pid}`, 1);
  log(`${name}: ${(count / 1e6).toFixed(1)} M to the first answer`);
  return count;
}

/** Idle RSS in MiB: the median over starts, round-robin, each read 1 s after its first answered event. */
async function idleRss(/** @type {number} */ starts) {
  /** @type {Record<string, number[]>} */
  const samples = Object.fromEntries(Object.keys(servers).map((n) => [n, []]));
  for (let i = 0; i < starts; i++) {
    for (const [name, target] of Object.entries(servers)) {
      const { child, firstAnswer } = await startTimed(target, { headers, body });
      checkEcho(name, firstAnswer);
      await new Promise((r) => setTimeout(r, 1000));
      samples[name].push(memoryOf(/** @type {number} */ (child.pid)).rssMiB);
      await stop(child, 'SIGKILL');
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([n, s]) => [n, median(s)]));
}

const m = (/** @type {number} */ n) => `${(n / 1e6).toFixed(1)} M`;
const x = (/** @type {number} */ a, /** @type {number} */ b) => `${(a / b).toFixed(2)}x`;

try {
  await bundleKoaPeers();
  // Rebuilt when older than the bundle, and read back from disk as in a container (prepare.mjs says why).
  if (values.binary) ensureBinary();
  const names = Object.keys(servers);
  console.log(names.map((n) => `${n} = ${servers[n].label}`).join('; '));
  if (!values['no-instructions']) {
    // Two at a time (a count does not depend on what else runs): more side by side made a start under valgrind
    // on a busy machine so slow that the runtime's 10 s header timeout answered 408.
    /** @type {number[][]} */
    const rounds = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      const counts = [];
      for (let i = 0; i < names.length; i += 2) {
        // Both to their end (each kills its own valgrind) before a failure is thrown: else the other one was left running.
        const pair = await Promise.allSettled(names.slice(i, i + 2).map((n) => instructionsOf(n)));
        for (const result of pair) {
          if (result.status === 'rejected') throw result.reason;
          counts.push(result.value);
        }
      }
      rounds.push(counts);
    }
    const counts = names.map((_, i) => median(rounds.map((r) => /** @type {number} */ (r[i]))));
    const of = Number(values.rounds) > 1 ? ` (median of ${values.rounds})` : '';
    console.log(`| server | instructions to the first answer${of} | ÷ floor | ÷ Koa+plugins | ÷ before |`);
    console.log('| --- | --- | --- | --- | --- |');
    names.forEach((n, i) =>
      console.log(
        `| ${n} | ${m(counts[i])} | ${x(counts[i], counts[0])} | ${x(counts[i], counts[1])} | ${x(counts[i], counts[2])} |`,
      ),
    );
  }
  if (!values['no-rss']) {
    const rss = await idleRss(Number(values['rss-starts']));
    console.log(`\n| server | idle RSS MiB (median of ${values['rss-starts']}) | ÷ floor | ÷ Koa+plugins | ÷ before |`);
    console.log('| --- | --- | --- | --- | --- |');
    for (const n of names)
      console.log(
        `| ${n} | ${rss[n].toFixed(1)} | ${x(rss[n], rss.floor)} | ${x(rss[n], rss.koaStartUp)} | ${x(rss[n], rss.before)} |`,
      );
  }
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
