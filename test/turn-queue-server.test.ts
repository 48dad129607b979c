// The server starts requests through the process's turn queue (runtime/http/turn-queue.ts): a burst of
// requests is started a few per turn of the event loop, in arrival order, and every one is answered; the
// health probes never wait behind them. Counted in turns of the loop and in requests started, not in
// milliseconds, so a busy machine cannot fail it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import Koa from 'koa';
import { buildApp } from '../runtime/app.js';
import { turnMs, turnQueue } from '../runtime/http/turn-queue.js';
import { drain, listen } from '../runtime/server.js';
import { waitFor } from './helpers/wait.js';
import { silentLogger, readyLifecycle } from './helpers/quiet.js';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // synchronous work, as routing, refusing and logging a request is
  }
}

/** Counts turns of the event loop: an immediate that re-arms itself runs once per turn. */
function turnCounter(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let counting = true;
  const count = () => {
    turn++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  return {
    get turn() {
      return turn;
    },
    stop: () => (counting = false),
  };
}

/** Sends `count` POSTs at once from another process (so they arrive while this one is busy); their answers. */
function burst(port: number, count: number): Promise<Array<{ n: number; status: number; body: string }>> {
  const script = `
    const http = require('node:http');
    const one = (n) => new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: ${port}, method: 'POST', path: '/work', agent: false,
        headers: { 'x-n': String(n), 'content-length': '0' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ n, status: res.statusCode, body }));
      });
      req.on('error', (err) => resolve({ n, status: 0, body: String(err) }));
      req.end();
    });
    Promise.all(Array.from({ length: ${count} }, (_, n) => one(n))).then((r) => process.stdout.write(JSON.stringify(r)));`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { timeout: 60_000 }, (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout) as Array<{ n: number; status: number; body: string }>),
    ),
  );
}

function appRecordingStarts(onStart: () => void): Koa {
  const app = new Koa();
  app.use((ctx) => {
    if (ctx.path === '/healthz') {
      ctx.body = 'ok';
      return;
    }
    onStart();
    ctx.body = `answer ${String(ctx.get('x-n'))}`;
  });
  return app;
}

test('a burst of requests starts a few per turn of the loop, and every request gets its own answer', async () => {
  const counter = turnCounter();
  const startsPerTurn = new Map<number, number>();
  // Each start costs 2 ms: the queue's turn (4 ms) holds two, three at most with the clock's granularity.
  const app = appRecordingStarts(() => {
    startsPerTurn.set(counter.turn, (startsPerTurn.get(counter.turn) ?? 0) + 1);
    busy(2);
  });
  const server = await listen(app, { port: 0, host: '127.0.0.1' });
  try {
    const answers = await burst((server.address() as { port: number }).port, 40);
    assert.deepEqual(
      answers.map((a) => [a.status, a.body]),
      answers.map((a) => [200, `answer ${a.n}`]),
    );
    const most = Math.max(...startsPerTurn.values());
    const bound = Math.floor(turnMs / 2) + 1;
    assert.ok(most <= bound, `${most} requests started in one turn (at most ${bound}): ${[...startsPerTurn.values()]}`);
  } finally {
    counter.stop();
    server.closeAllConnections();
    server.close();
  }
});

test('a probe is answered at once while requests wait for their turn; a request waits behind them', async () => {
  const server = await listen(
    appRecordingStarts(() => {}),
    { port: 0, host: '127.0.0.1' },
  );
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    // A backlog in the process's queue, as a burst of requests leaves it: about 250 turns of 4 ms.
    const backlog = 1000;
    let started = 0;
    for (let i = 0; i < backlog; i++)
      turnQueue.enter(() => {
        started++;
        busy(1);
      });
    const probe = await fetch(`${base}/healthz`);
    assert.equal(await probe.text(), 'ok');
    const startedWhenProbed = started;
    assert.ok(startedWhenProbed < backlog, `the probe was answered after all ${backlog} waiting starts`);
    const work = await fetch(`${base}/work`, { method: 'POST', headers: { 'x-n': 'late' } });
    assert.equal(await work.text(), 'answer late');
    assert.equal(started, backlog, 'the request started after every start that was waiting before it');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('draining waits for a request still waiting for its turn, then answers it', async () => {
  const log = silentLogger();
  const lifecycle = readyLifecycle();
  const taken = (ctx: { status: number; body: unknown }) => {
    ctx.status = 202;
    ctx.body = { taken: true };
    return Promise.resolve();
  };
  const app = buildApp({ log, lifecycle, role: { routes: [{ method: 'POST', path: '/', handle: taken }] } });
  const server = await listen(app, { port: 0, host: '127.0.0.1' });
  let arrived = 0;
  server.on('request', () => arrived++);
  // A backlog in the process's queue, so the request below is still waiting when SIGTERM's drain begins.
  let started = 0;
  for (let i = 0; i < 1000; i++)
    turnQueue.enter(() => {
      started++;
      busy(1);
    });
  const answer = fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, {
    method: 'POST',
    body: '{}',
  });
  await waitFor(() => arrived === 1, 30_000, { what: 'the request at the server', intervalMs: 1 });
  assert.equal(lifecycle.inFlight, 0, 'not started yet: it waits in the queue');
  assert.ok(started < 1000, 'the backlog was still there when the request arrived');
  const drained = await drain(server, lifecycle, 30_000);
  assert.deepEqual(drained, { abandoned: 0 });
  const response = await answer;
  assert.equal(response.status, 202);
  assert.deepEqual(await response.json(), { taken: true });
});
