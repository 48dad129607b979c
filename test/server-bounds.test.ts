// What Node's HTTP parser refuses before the app sees it still gets the JSON error envelope and a 4xx,
// and slow clients cannot hold a connection forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';
import { isProbe, listen } from '../runtime/server.js';
import Koa from 'koa';

function raw(port: number, payload: string, waitMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let out = '';
    // the bound is cleared once the socket closes: left pending, it kept the file's process alive after its tests
    const bound = setTimeout(() => {
      socket.destroy();
      resolve(out);
    }, waitMs);
    socket.on('data', (c) => (out += c.toString()));
    socket.on('close', () => {
      clearTimeout(bound);
      resolve(out);
    });
    socket.on('error', reject);
  });
}

test('oversized headers → 431 with the envelope; garbage → 400 with the envelope', async () => {
  const broker = await startReceiver();
  const runtime = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url });
  try {
    const port = Number(new URL(runtime.url).port);
    const big = await raw(port, `POST / HTTP/1.1\r\nHost: x\r\nce_type: ${'t'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1.1 431 /);
    assert.match(
      big,
      /\{"success":false,"error":\{"type":"payload_too_large","message":"request headers are too large"\}\}$/,
    );
    const garbage = await raw(port, '\u0000\u0001GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1.1 400 /);
    assert.match(garbage, /"type":"bad_request"/);
    assert.equal(broker.requests.length, 0);
  } finally {
    await runtime.stop();
    await broker.close();
  }
});

test('a client that never finishes its headers is cut off with 408 at the headers timeout', async () => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = await listen(app, { port: 0, host: '127.0.0.1', headersTimeoutMs: 300, requestTimeoutMs: 300 });
  try {
    const port = (server.address() as { port: number }).port;
    const started = Date.now();
    const answer = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\n', 5000);
    assert.match(answer, /^HTTP\/1.1 408 /);
    assert.ok(Date.now() - started < 4000, 'cut off well before the test gave up');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('too many headers → 431 with the envelope, never a request handled with some headers dropped', async () => {
  const broker = await startReceiver();
  const runtime = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url });
  try {
    const port = Number(new URL(runtime.url).port);
    const request = (extensions: number) => {
      const lines = [
        'POST / HTTP/1.1',
        'Host: x',
        'Content-Type: application/json',
        'ce-specversion: 1.0',
        'ce-id: many',
        'ce-source: /s',
      ];
      for (let i = 0; i < extensions; i++) lines.push(`ce-x${i}: v${i}`);
      // The attribute that used to go missing: after all the others.
      lines.push('ce-type: t', 'Content-Length: 2', 'Connection: close');
      return `${lines.join('\r\n')}\r\n\r\n{}`;
    };
    // 8 fixed headers + 248 extensions = 256, the limit: accepted, every extension forwarded.
    const atLimit = await raw(port, request(248));
    assert.match(atLimit, /^HTTP\/1.1 202 /);
    const forwarded = broker.requests.at(-1)?.event as unknown as Record<string, unknown>;
    assert.equal(forwarded.type, 't');
    assert.equal(forwarded.x247, 'v247');
    assert.equal(Object.keys(forwarded).filter((k) => /^x\d+$/.test(k)).length, 248);
    // One more: refused as a whole.
    const over = await raw(port, request(249));
    assert.match(over, /^HTTP\/1.1 431 /);
    assert.match(
      over,
      /\{"success":false,"error":\{"type":"too_many_headers","message":"the request has more than 256 headers; send fewer \(CloudEvent extensions included\)"\}\}$/,
    );
    const far = await raw(port, request(1000));
    assert.match(far, /^HTTP\/1.1 431 /);
    assert.equal(broker.requests.length, 1);
  } finally {
    await runtime.stop();
    await broker.close();
  }
});

test('the probes are /healthz and /readyz exactly, with or without a query; nothing else is', () => {
  for (const url of ['/healthz', '/readyz', '/healthz?full=1', '/readyz?', '/healthz?'])
    assert.equal(isProbe(url), true, url);
  for (const url of [
    undefined,
    '/',
    '',
    '/healthzz',
    '/healthz/',
    '/readyzx',
    '/readyz/x',
    '/HEALTHZ',
    '/health',
    '/ready',
    '/metrics',
  ])
    assert.equal(isProbe(url), false, String(url));
});
