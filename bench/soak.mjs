// Soak: N events (default 200,000) through handler → broker stand-in → sink-forwarder → KafkaSink stand-in,
// with the two runtime roles as real processes of the bundle. Checks zero loss (every event the handler
// acknowledged lands exactly once in the sink, by its traced id) and flat memory (RSS of both processes,
// sampled through the run, last quarter against the first). Not part of the test run.
//
//   node bench/soak.mjs [events=200000] [concurrency=32]
//
// The broker stand-in behaves like Knative's Kafka broker as far as the pipeline sees it: 202 once it has
// the event, then delivery to the subscriber (binary mode) with retries until it is accepted.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/processes.mjs';

const total = Number(process.argv[2] ?? 200_000);
const concurrency = Number(process.argv[3] ?? 32);
const bundle = fileURLToPath(new URL('../dist/knative-events.cjs', import.meta.url));
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(port, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  return { server, port: /** @type {import('node:net').AddressInfo} */ (server.address()).port };
}

// KafkaSink stand-in: counts records by the incoming event id the sink-forwarder keeps in `sourceeventid`.
const landed = new Map();
const sink = await listen(async (req, res) => {
  await readBody(req);
  const id = req.headers['ce-sourceeventid'];
  landed.set(id, (landed.get(id) ?? 0) + 1);
  res.writeHead(202).end();
});

// Broker stand-in: accept (202), then deliver to the sink-forwarder in binary mode, retrying until accepted.
let forwarderPort = 0;
let deliveryRetries = 0;
const pending = new Set();
async function deliver(headers, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      const status = await post(forwarderPort, headers, body);
      if (status >= 200 && status < 300) return;
    } catch {
      // connection error: retry
    }
    deliveryRetries++;
    await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt)));
  }
}
const broker = await listen(async (req, res) => {
  const body = await readBody(req);
  const event = JSON.parse(body.toString('utf8'));
  res.writeHead(202).end();
  const headers = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': event.id,
    'ce-type': event.type,
    'ce-source': event.source,
  };
  const delivery = deliver(headers, JSON.stringify(event.data));
  pending.add(delivery);
  void delivery.finally(() => pending.delete(delivery));
});

async function startRole(env) {
  const port = await freePort();
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { child, port };
}

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const forwarder = await startRole({
  ROLE: 'sink-forwarder',
  FUNCTION: 'echo',
  KAFKA_SINK_URL: `http://127.0.0.1:${sink.port}/`,
  SINK_EVENT_TYPE: 'soak.out',
});
forwarderPort = forwarder.port;
const handler = await startRole({ ROLE: 'handler', BROKER_URL: `http://127.0.0.1:${broker.port}/` });

const samples = [];
const sampler = setInterval(
  () => samples.push({ handler: rssMiB(handler.child.pid), forwarder: rssMiB(forwarder.child.pid) }),
  1000,
);
const acknowledged = new Set();
const refused = new Map();
const body = JSON.stringify({
  trade_id: 'T-1',
  instrument: { ticker: 'ACME' },
  qty: 100,
  px: 12.5,
  side: 'B',
  trade_time: '2026-11-25T09:30:00Z',
  pad: 'x'.repeat(120),
});
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const id = `soak-${next++}`;
      const status = await post(
        handler.port,
        { 'content-type': 'application/json', ce_type: 'soak.in', ce_source: '/soak', 'ce-id': id },
        body,
      ).catch(() => 0);
      if (status === 202) acknowledged.add(id);
      else refused.set(id, status);
    }
  }),
);
const sentSeconds = (performance.now() - started) / 1000;
while (pending.size > 0) await Promise.all([...pending]);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);

const lost = [...acknowledged].filter((id) => !landed.has(id));
const duplicated = [...landed].filter(([, n]) => n > 1);
const quarter = Math.max(1, Math.floor(samples.length / 4));
const avg = (xs, key) => xs.reduce((s, x) => s + x[key], 0) / xs.length;
const memory = ['handler', 'forwarder'].map((key) => {
  const first = avg(samples.slice(0, quarter), key);
  const last = avg(samples.slice(-quarter), key);
  return {
    process: key,
    firstQuarterMiB: first.toFixed(1),
    lastQuarterMiB: last.toFixed(1),
    ratio: (last / first).toFixed(3),
    peakMiB: Math.max(...samples.map((s) => s[key])).toFixed(1),
  };
});

handler.child.kill('SIGTERM');
forwarder.child.kill('SIGTERM');
sink.server.close();
broker.server.close();
agent.destroy();

console.log(
  `\n## Soak: ${total} events, ${concurrency} connections, ${seconds.toFixed(1)} s (${(total / sentSeconds).toFixed(0)} events/s into the handler)\n`,
);
console.log('| figure | value |\n|---|---|');
console.log(`| acknowledged by the handler (202) | ${acknowledged.size} |`);
console.log(`| refused (retryable) | ${refused.size} |`);
console.log(`| landed in the sink | ${landed.size} |`);
console.log(`| lost (acknowledged, never landed) | ${lost.length} |`);
console.log(`| landed more than once | ${duplicated.length} |`);
console.log(`| broker redeliveries | ${deliveryRetries} |`);
for (const m of memory)
  console.log(
    `| ${m.process} RSS, last quarter / first quarter | ${m.lastQuarterMiB} / ${m.firstQuarterMiB} MiB = ${m.ratio} (peak ${m.peakMiB}) |`,
  );
const ok = lost.length === 0 && duplicated.length === 0 && memory.every((m) => Number(m.ratio) < 1.25);
console.log(ok ? '\nzero loss, flat memory' : '\nFAILED: loss, duplicates or growing memory');
process.exit(ok ? 0 : 1);
