// PROBE_PORT: the probes' own listener (runtime/probe-server.ts), tested on the built bundle as a process, since
// what it is for (the accept queue of a listening socket) exists only in a real process with real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { binaryEvent, bundlePath, freePort, startBundle, type BundleProcess } from './helpers/bundle.js';
import { waitFor } from './helpers/wait.js';

/** A broker ingress that holds every event until released: a request in flight for as long as the test wants. */
async function holdingBroker(): Promise<{ url: string; held: ServerResponse[]; server: Server }> {
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, held, server };
}

async function startHandler(brokerUrl: string): Promise<{ runtime: BundleProcess; probePort: number }> {
  const probePort = await freePort();
  const runtime = await startBundle({ ROLE: 'handler', BROKER_URL: brokerUrl, PROBE_PORT: String(probePort) });
  return { runtime, probePort };
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

test('PROBE_PORT answers /healthz and /readyz as PORT does, and refuses everything else with a 404 envelope', async () => {
  const broker = await holdingBroker();
  const { runtime, probePort } = await startHandler(broker.url);
  try {
    const probes = `http://127.0.0.1:${probePort}`;
    assert.deepEqual(await getJson(`${probes}/healthz`), { status: 200, body: { status: 'ok' } });
    assert.deepEqual(await getJson(`${probes}/readyz`), { status: 200, body: { status: 'ready' } });
    const notHere = {
      status: 404,
      body: {
        success: false,
        error: { type: 'not_found', message: 'PROBE_PORT serves GET /healthz and /readyz only: events go to PORT' },
      },
    };
    assert.deepEqual(await getJson(`${probes}/metrics`), notHere);
    const event = await fetch(`${probes}/`, binaryEvent('on-the-probe-port', 'com.example.test'));
    assert.deepEqual({ status: event.status, body: await event.json() }, notHere);
    assert.equal(broker.held.length, 0, 'an event sent to PROBE_PORT must not reach the broker');
    assert.match(runtime.stdout(), new RegExp(`"probePort":${probePort}`), 'the start-up line names PROBE_PORT');
  } finally {
    runtime.child.kill('SIGKILL');
    broker.server.closeAllConnections();
    broker.server.close();
  }
});

test('while draining, /readyz on PROBE_PORT says 503 and /healthz 200, until the last request is answered', async () => {
  const broker = await holdingBroker();
  const { runtime, probePort } = await startHandler(broker.url);
  try {
    const inFlight = fetch(runtime.url, binaryEvent('held-through-drain', 'com.example.test'));
    await waitFor(() => broker.held.length === 1, 5000, { what: 'the event to reach the holding broker' });
    runtime.child.kill('SIGTERM');
    const probes = `http://127.0.0.1:${probePort}`;
    const draining = await waitFor(
      async () => {
        const r = await getJson(`${probes}/readyz`);
        return r.status === 503 ? r : undefined;
      },
      5000,
      { what: '/readyz on PROBE_PORT to say 503' },
    );
    assert.deepEqual(draining.body, {
      success: false,
      error: { type: 'shutting_down', message: 'draining: not taking new requests' },
    });
    assert.deepEqual(await getJson(`${probes}/healthz`), { status: 200, body: { status: 'ok' } });
    broker.held[0]?.writeHead(202).end();
    assert.equal((await inFlight).status, 202, 'the request in flight is answered after the drain began');
    assert.equal(await runtime.exited, 0);
    await assert.rejects(fetch(`${probes}/healthz`), 'PROBE_PORT is closed once the process has stopped');
  } finally {
    runtime.child.kill('SIGKILL');
    broker.server.closeAllConnections();
    broker.server.close();
  }
});

/** Opens a connection, sends GET `path`, and resolves with the order in which its answer's first bytes came. */
function probeOn(port: number, path: string, order: string[], label: string, sockets: Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.once('data', (chunk: Buffer) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 200')) reject(new Error(`${label}: ${chunk.toString()}`));
      order.push(label);
      resolve();
    });
    socket.once('error', reject);
  });
}

test('a probe on PROBE_PORT is not queued behind the connections waiting on PORT', async () => {
  // The process is stopped while 150 connections queue in PORT's accept queue and one in PROBE_PORT's; once it
  // runs again, Node 20 accepts PORT's one per turn of its loop, and PROBE_PORT's in the first turn beside them.
  const broker = await holdingBroker();
  const { runtime, probePort } = await startHandler(broker.url);
  const sockets: Socket[] = [];
  try {
    const order: string[] = [];
    const pid = runtime.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    const answers = Array.from({ length: 150 }, (_, i) =>
      probeOn(runtime.port, '/healthz', order, `port-${i}`, sockets),
    );
    // every connection of PORT established (by the kernel, in the stopped process's accept queue) before the probe's
    await waitFor(() => sockets.every((s) => s.readyState === 'open'), 5000, { what: "PORT's 150 connections" });
    answers.push(probeOn(probePort, '/healthz', order, 'probe-port', sockets));
    await waitFor(() => sockets.every((s) => s.readyState === 'open'), 5000, { what: "PROBE_PORT's connection" });
    process.kill(pid, 'SIGCONT');
    await Promise.all(answers);
    const position = order.indexOf('probe-port');
    assert.ok(
      position < 10,
      `the probe on PROBE_PORT was answered ${position + 1}th of 151: it waited behind PORT's accept queue`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    runtime.child.kill('SIGCONT');
    runtime.child.kill('SIGKILL');
    broker.server.closeAllConnections();
    broker.server.close();
  }
});

test('PROBE_PORT equal to PORT, or not a port, stops the start with a message naming it', async () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [bundlePath], {
      env: { PATH: process.env.PATH ?? '', ROLE: 'handler', BROKER_URL: 'http://127.0.0.1:9/', ...env },
      encoding: 'utf8',
      timeout: 10_000,
    });
  const same = run({ PORT: '18080', PROBE_PORT: '18080' });
  assert.equal(same.status, 1);
  assert.match(same.stderr, /PROBE_PORT: must differ from PORT \(both 18080\)/);
  const word = run({ PROBE_PORT: 'healthz' });
  assert.equal(word.status, 1);
  assert.match(word.stderr, /PROBE_PORT: expected a whole number from 1 to 65535 \(got "healthz"\)/);
});
