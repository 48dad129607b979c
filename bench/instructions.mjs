// Instructions per request, counted by valgrind's callgrind: unlike req/s and CPU time, the count does not move
// when other work shares the machine, so a change's cost or gain can be read on a busy one. Each server runs under
// callgrind; after a start-up probe and a warm-up (JIT), its counters are zeroed, N requests are sent (the
// 309-byte binary CloudEvent of lib/event.mjs, `--connections` at a time, every answer checked), and the count
// is dumped. Printed per request and as ratios: ours ÷ plain Koa doing the same work, after ÷ before.
//
//   node bench/instructions.mjs [--requests 2000] [--warmup 10000] [--connections 10] [--only <bundle>]
//                               [--after dist/knative-events.cjs] [--before bench/results/session4-start.cjs]
//                               [--forwarding] [--variants] [--profile] [--keep-dumps <dir>]
//   --forwarding: the sink-forwarder (echo) and the handler, each posting to a broker stand-in, against the plain Koa
//                 forwarder too;
//   --forwarding-only: that table alone.
//   --variants:   `after` also with LOG_LEVEL=warn and with METRICS_ENABLED=false (what the log line and the
//                 metrics cost, by difference).
//   --only <bundle>: that subscriber bundle alone (`after`: --after's), no ratios, for a quick look while working.
//   --profile:    the top functions by their own instructions and by inclusive ones (with what they called) for
//                 each server (JIT code named from node's --perf-basic-prof map), in
//                 bench/results/instructions-<name>.txt.
//   --keep-dumps <dir>: each server's event-loop callgrind dump (and perf map) copied there, for
//                 callgrind_annotate or a second look.
// Instructions count user-space work in every thread of the process (GC helpers and the JIT compiler
// included), not the kernel's; callgrind runs a server ~50x slower, so a run takes a few minutes.
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { resolve as absolutePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { body, checkEcho, headers } from './lib/event.mjs';
import { bundleKoaPeers } from './lib/prepare.mjs';
import { freePort, request } from './lib/processes.mjs';
import { paths } from './lib/targets.mjs';
import { selfCostByFunction } from './lib/callgrind-profile.mjs';

const results = fileURLToPath(new URL('results/', import.meta.url));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '10' },
    after: { type: 'string', default: paths.bundle },
    before: { type: 'string', default: `${results}session4-start.cjs` },
    forwarding: { type: 'boolean', default: false },
    'forwarding-only': { type: 'boolean', default: false },
    variants: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'keep-dumps': { type: 'string' },
    only: { type: 'string' },
  },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const log = (/** @type {string} */ msg) => process.stderr.write(`${msg}\n`);
const outDir = mkdtempSync(`${tmpdir()}/instructions-`);

/**
 * @typedef {{ name: string, args: string[], env: Record<string, string>, answer: (a: { status: number, body: string }) => void, counted?: { from: number, to: number } }} Server
 * `counted`: when its instructions were counted (set by measure).
 */

const echoChecked = (/** @type {string} */ name) => (/** @type {{ status: number, body: string }} */ a) => {
  if (a.status !== 200) throw new Error(`${name} answered ${a.status}: ${a.body.slice(0, 300)}`);
  checkEcho(name, a);
};
const acceptedChecked = (/** @type {string} */ name) => (/** @type {{ status: number, body: string }} */ a) => {
  if (a.status < 200 || a.status >= 300) throw new Error(`${name} answered ${a.status}: ${a.body.slice(0, 300)}`);
};

/** @returns {Server} */
function subscriber(/** @type {string} */ name, /** @type {string} */ bundle, env = {}) {
  return { name, args: [bundle], env: { ROLE: 'subscriber', FUNCTION: 'echo', ...env }, answer: echoChecked(name) };
}

/** @returns {Server} */
function sinkForwarder(/** @type {string} */ name, /** @type {string} */ bundle, /** @type {string} */ sink) {
  const env = { ROLE: 'sink-forwarder', FUNCTION: 'echo', KAFKA_SINK_URL: sink };
  return { name, args: [bundle], env, answer: acceptedChecked(name) };
}

/** The handler, posting each event to the same broker stand-in as the plain Koa forwarder. */
function handler(/** @type {string} */ name, /** @type {string} */ bundle, /** @type {string} */ broker) {
  return { name, args: [bundle], env: { ROLE: 'handler', BROKER_URL: broker }, answer: acceptedChecked(name) };
}

/**
 * One request; sent once more when the kept-alive socket it went out on had been closed by the server (a server
 * slowed ~50x by valgrind can see a socket idle past its keep-alive timeout: plain Koa keeps Node's 5 s). The
 * request never reached the server then, so nothing is counted twice.
 */
async function requestOnLiveSocket(/** @type {number} */ port, /** @type {http.Agent} */ agent) {
  try {
    return await request(port, { headers, body, agent });
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ECONNRESET') throw err;
    return request(port, { headers, body, agent });
  }
}

/** `count` requests, `connections` in flight at a time on kept-alive sockets; every answer is checked. */
async function drive(/** @type {number} */ port, /** @type {number} */ count, /** @type {Server['answer']} */ check) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      check(/** @type {{ status: number, body: string }} */ (await requestOnLiveSocket(port, agent)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, count) }, worker));
  agent.destroy();
}

/** Polls with a probe until the server answers (callgrind starts node in seconds, not milliseconds). */
async function untilAnswering(/** @type {number} */ port, /** @type {() => boolean} */ exited) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited()) throw new Error('the server exited during start-up');
    try {
      return await request(port, { headers, body });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Every measurement to its end (each stops its own server), then their results, or the first failure. */
async function allMeasured(/** @type {Promise<number>[]} */ runs) {
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw /** @type {PromiseRejectedResult} */ (failed).reason;
  return settled.map((r) => /** @type {PromiseFulfilledResult<number>} */ (r).value);
}

/** The Ir total of a callgrind dump file. */
function totalOf(/** @type {string} */ file) {
  const line = readFileSync(file, 'utf8').match(/^(?:summary|totals): (\d+)/m);
  if (!line) throw new Error(`no total in ${file}`);
  return Number(line[1]);
}

/** Runs one server under callgrind: instructions per request over `requests` after the warm-up. */
async function measure(/** @type {Server} */ server) {
  const port = await freePort();
  const out = `${outDir}/${server.name}`;
  const node = values.profile ? [process.execPath, '--perf-basic-prof'] : [process.execPath];
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      '--separate-threads=yes',
      `--callgrind-out-file=${out}.%p`,
      ...node,
      ...server.args.map((arg) => absolutePath(arg)),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        VALGRIND_OPTS: process.env.VALGRIND_OPTS ?? '',
        ...server.env,
        PORT: String(port),
      },
      // --perf-basic-prof turns V8's log on, which writes isolate-*.log into the working directory: the run's
      // own folder, removed at the end.
      cwd: outDir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    server.answer(/** @type {{ status: number, body: string }} */ (await untilAnswering(port, () => exited)));
    await drive(port, warmup, server.answer);
    // Counted from here: start-up and warm-up run uninstrumented (several times quicker under valgrind). Turning
    // instrumentation on re-translates all code, a pause that can outlast the server's 10 s header timeout on
    // a busy machine: a few requests whose answers do not count (a 408 among them is no failure) go first.
    execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
    await drive(port, 100, () => {});
    execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
    const from = Date.now();
    await drive(port, requests, server.answer);
    server.counted = { from, to: Date.now() };
    execFileSync('callgrind_control', ['-d', String(child.pid)], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(`${server.name}: ${/** @type {Error} */ (err).message}\n${stderr.slice(-2000)}`);
  } finally {
    child.kill('SIGKILL');
  }
  // One file a thread: -01 is the main thread (the event loop: every request's own work); the others are V8's
  // helpers (concurrent JIT compilation, GC) and libuv's pool.
  const dumps = readdirSync(outDir).filter((f) => f.startsWith(`${server.name}.${child.pid}.1-`));
  const main = `${outDir}/${server.name}.${child.pid}.1-01`;
  const perRequest = totalOf(main) / requests;
  const allThreads = dumps.reduce((sum, f) => sum + totalOf(`${outDir}/${f}`), 0) / requests;
  if (values['keep-dumps']) {
    mkdirSync(values['keep-dumps'], { recursive: true });
    copyFileSync(main, `${values['keep-dumps']}/callgrind-${server.name}.out`);
    const perfMap = `/tmp/perf-${child.pid}.map`;
    if (existsSync(perfMap)) copyFileSync(perfMap, `${values['keep-dumps']}/perf-${server.name}.map`);
  }
  if (values.profile) writeProfile(server.name, main, child.pid ?? 0);
  log(
    `${server.name}: ${Math.round(perRequest).toLocaleString('en')} instructions/request on the main thread, ${Math.round(allThreads).toLocaleString('en')} in all threads`,
  );
  return perRequest;
}

function writeProfile(/** @type {string} */ name, /** @type {string} */ dump, /** @type {number} */ pid) {
  const perfMap = `/tmp/perf-${pid}.map`;
  const rows = selfCostByFunction(readFileSync(dump, 'utf8'), existsSync(perfMap) ? readFileSync(perfMap, 'utf8') : '');
  const total = rows.reduce((sum, row) => sum + row.cost, 0);
  const perRequest = (/** @type {number} */ n) =>
    Math.round(n / requests)
      .toString()
      .padStart(7);
  const line = (/** @type {{ name: string, cost: number, inclusive: number }} */ row) =>
    `${((100 * row.cost) / total).toFixed(2).padStart(6)}%  ${perRequest(row.cost)}  ${perRequest(row.inclusive)}  ${row.name}`;
  const byInclusive = [...rows].sort((a, b) => b.inclusive - a.inclusive);
  const lines = [
    'self %   self  inclusive (instructions per request), by self',
    ...rows.slice(0, 120).map(line),
    '',
    'by inclusive',
    ...byInclusive.slice(0, 150).map(line),
  ];
  const file = `${results}instructions-${name}.txt`;
  mkdirSync(results, { recursive: true }); // bench/results/ is git-ignored: not there in a fresh clone
  writeFileSync(file, `instructions per request, ${name}\n${lines.join('\n')}\n`);
  rmSync(perfMap, { force: true });
  log(`  profile: ${file}`);
}

const k = (/** @type {number} */ n) => `${Math.round(n / 1000)}k`;
const ratio = (/** @type {number} */ a, /** @type {number} */ b) => `${(a / b).toFixed(2)}x`;

/** The subscriber rows: plain Koa, before, after (and its variants), as a table of ratios. */
async function subscriberTable() {
  await bundleKoaPeers();
  // Side by side: a server's count does not depend on what else runs, and the run takes a third of the time.
  const [koa, before, after] = await allMeasured([
    measure({ name: 'koa', args: [paths.koaBundle], env: {}, answer: echoChecked('koa') }),
    measure(subscriber('before', String(values.before))),
    measure(subscriber('after', String(values.after))),
  ]);
  const rows = [
    `| plain Koa echo | ${k(koa)} | 1.00x | |`,
    `| before (${String(values.before).replace(/.*\//, '')}) | ${k(before)} | ${ratio(before, koa)} | 1.00x |`,
    `| after (${String(values.after).replace(/.*\//, '')}) | ${k(after)} | ${ratio(after, koa)} | ${ratio(after, before)} |`,
  ];
  if (values.variants) {
    for (const [name, env] of /** @type {const} */ ([
      ['after, LOG_LEVEL=warn', { LOG_LEVEL: 'warn' }],
      ['after, METRICS_ENABLED=false', { METRICS_ENABLED: 'false' }],
    ])) {
      const n = await measure(subscriber(name.replace(/\W+/g, '-'), String(values.after), env));
      rows.push(`| ${name} | ${k(n)} | ${ratio(n, koa)} | ${ratio(n, before)} (after − this: ${k(after - n)}) |`);
    }
  }
  return [
    '| subscriber + echo | instructions/request | ÷ plain Koa | ÷ before |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}

/**
 * A broker stand-in for one forwarder: answers 202 once it has read the body, and notes when it accepts a
 * connection. It runs here, not under valgrind, and keeps idle sockets open: a forwarder slowed down ~50x leaves
 * gaps longer than Node's 5 s keep-alive timeout, and the plain Koa forwarder does not retry a socket closed under
 * it (it answered 502).
 */
async function brokerStandIn() {
  /** @type {number[]} */
  const acceptedAt = [];
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(202);
      res.end();
    });
  });
  receiver.keepAliveTimeout = 0;
  receiver.on('connection', () => acceptedAt.push(Date.now()));
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (receiver.address()).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    /**
     * Connections the forwarder opened while its instructions were counted. Each costs the forwarder a connect
     * and a socket set up (and one closed): its own pool closes sockets idle for 4 s (http-client.ts), which a
     * server slowed ~50x by valgrind reaches far more often than at full speed; the plain Koa forwarder's pool
     * keeps its sockets.
     */
    openedIn: (/** @type {Server['counted']} */ counted) =>
      counted ? acceptedAt.filter((t) => t >= counted.from && t <= counted.to).length : Number.NaN,
    close() {
      receiver.close();
      receiver.closeAllConnections();
    },
  };
}

/** The sink-forwarder and handler rows against the plain Koa forwarder, each posting to a broker stand-in. */
async function forwardingTable() {
  if (values['forwarding-only']) await bundleKoaPeers();
  const standIns = await Promise.all(Array.from({ length: 5 }, brokerStandIn));
  const [koaBroker, sinkBefore, sinkAfter, brokerBefore, brokerAfter] =
    /** @type {Awaited<ReturnType<typeof brokerStandIn>>[]} */ (standIns);
  try {
    /** @type {Server[]} */
    const servers = [
      {
        name: 'koa-forwarder',
        args: [paths.koaForwarderBundle],
        env: { BROKER_URL: koaBroker.url },
        answer: acceptedChecked('koa-forwarder'),
      },
      sinkForwarder('sink-before', String(values.before), sinkBefore.url),
      sinkForwarder('sink-after', String(values.after), sinkAfter.url),
      handler('handler-before', String(values.before), brokerBefore.url),
      handler('handler-after', String(values.after), brokerAfter.url),
    ];
    const [koa, before, after, handlerBefore, handlerAfter] = await allMeasured(servers.map(measure));
    const opened = servers.map((server, i) => standIns[i]?.openedIn(server.counted));
    return [
      '| forwarding one event | instructions/request | ÷ plain Koa forwarder | ÷ before | outbound connections opened |',
      '| --- | --- | --- | --- | --- |',
      `| plain Koa forwarder | ${k(koa)} | 1.00x | | ${opened[0]} |`,
      `| sink-forwarder + echo, before | ${k(before)} | ${ratio(before, koa)} | 1.00x | ${opened[1]} |`,
      `| sink-forwarder + echo, after | ${k(after)} | ${ratio(after, koa)} | ${ratio(after, before)} | ${opened[2]} |`,
      `| handler, before | ${k(handlerBefore)} | ${ratio(handlerBefore, koa)} | 1.00x | ${opened[3]} |`,
      `| handler, after | ${k(handlerAfter)} | ${ratio(handlerAfter, koa)} | ${ratio(handlerAfter, handlerBefore)} | ${opened[4]} |`,
    ];
  } finally {
    for (const standIn of standIns) standIn.close();
  }
}

try {
  log(`${requests} requests after ${warmup} of warm-up, ${connections} connections, each server under callgrind`);
  if (values.only) await measure(subscriber('only', values.only === 'after' ? String(values.after) : values.only));
  else {
    const lines = values['forwarding-only'] ? [] : await subscriberTable();
    // Printed as it comes: a failure in the forwarding run still leaves the subscriber table.
    console.log(lines.join('\n'));
    if (values.forwarding || values['forwarding-only']) console.log(`\n${(await forwardingTable()).join('\n')}`);
  }
} finally {
  for (const file of readdirSync(outDir)) rmSync(`${outDir}/${file}`, { force: true });
  rmSync(outDir, { recursive: true, force: true });
}
