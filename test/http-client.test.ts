// The outbound client (runtime/events/http-client.ts) against real loopback receivers that count their
// connections: keep-alive reuse is observable as one socket for a run of sequential events, a receiver that
// drops an idle pooled socket just as it is reused costs no event, idle sockets are closed by us, and a body
// given in pieces arrives as their bytes in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createHttpPoster } from '../runtime/events/http-client.js';
import { startRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** Which connection it came on, counting from 1. */
  readonly connection: number;
}

interface CountingReceiver {
  readonly url: string;
  readonly received: Received[];
  /** Connections opened so far, and those still open. */
  opened(): number;
  open(): number;
  close(): Promise<void>;
}

/**
 * A receiver answering 202. `dropReused`: the second request on a connection is never answered, its socket is
 * reset, as a receiver closing an idle connection at the moment we send on it looks to us.
 */
async function countingReceiver(options: { dropReused?: boolean } = {}): Promise<CountingReceiver> {
  const received: Received[] = [];
  const sockets = new Map<Socket, number>();
  let opened = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const connection = sockets.get(req.socket) ?? 0;
      const onThisSocket = received.filter((r) => r.connection === connection).length;
      if (options.dropReused && onThisSocket > 0) {
        req.socket.resetAndDestroy();
        return;
      }
      received.push({ headers: req.headers, body: Buffer.concat(chunks), connection });
      res.writeHead(202);
      res.end();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, ++opened);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ns/default`,
    received,
    opened: () => opened,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function receiver(options?: { dropReused?: boolean }): Promise<CountingReceiver> {
  const r = await countingReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

test('sequential posts go out on one kept-alive socket', async () => {
  const target = await receiver();
  const poster = createHttpPoster();
  cleanups.push(() => poster.close());
  for (let i = 0; i < 5; i++) {
    const answer = await poster.post(target.url, { 'content-type': 'text/plain' }, `event ${i}`, 1000);
    assert.equal(answer.status, 202);
  }
  assert.deepEqual(
    target.received.map((r) => r.body.toString()),
    ['event 0', 'event 1', 'event 2', 'event 3', 'event 4'],
  );
  assert.equal(target.opened(), 1, 'one connection for all five');
});

test('a pooled socket the receiver drops as it is reused costs no event: the request goes again on a new one', async () => {
  const target = await receiver({ dropReused: true });
  const poster = createHttpPoster();
  cleanups.push(() => poster.close());
  assert.equal((await poster.post(target.url, {}, 'first', 1000)).status, 202);
  const second = await poster.post(target.url, {}, 'second', 1000);
  assert.equal(second.status, 202, 'the reset on the reused socket was not the answer');
  assert.deepEqual(
    target.received.map((r) => [r.body.toString(), r.connection]),
    [
      ['first', 1],
      ['second', 2],
    ],
  );
});

test('a reset on a fresh socket is an error, not replayed', async () => {
  const server = createServer((req) => req.socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  let requests = 0;
  server.on('request', () => requests++);
  const poster = createHttpPoster();
  cleanups.push(() => poster.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  await assert.rejects(poster.post(url, {}, 'x', 1000), { code: 'ECONNRESET' });
  assert.equal(requests, 1);
});

test('an idle pooled socket is closed by us after idleSocketMs', async () => {
  const target = await receiver();
  const poster = createHttpPoster({ idleSocketMs: 50 });
  cleanups.push(() => poster.close());
  assert.equal((await poster.post(target.url, {}, 'x', 1000)).status, 202);
  await waitFor(() => target.open() === 0, 5000, { what: 'the idle socket closed' });
  assert.equal((await poster.post(target.url, {}, 'y', 1000)).status, 202);
  assert.equal(target.opened(), 2);
});

test('a body in pieces arrives as their bytes in order, with its whole length', async () => {
  const target = await receiver();
  const poster = createHttpPoster();
  cleanups.push(() => poster.close());
  const pieces = [Buffer.from('{"data":'), Buffer.from([0x22, 0xc3, 0xa9, 0x22]), Buffer.from('}')];
  assert.equal((await poster.post(target.url, {}, pieces, 1000)).status, 202);
  const [request] = target.received;
  assert.deepEqual(request?.body, Buffer.concat(pieces));
  assert.equal(request?.headers['content-length'], String(Buffer.concat(pieces).length));
});

test('a header Node refuses to send fails the call as a rejection; the poster goes on working', async () => {
  const target = await receiver();
  const poster = createHttpPoster();
  cleanups.push(() => poster.close());
  await assert.rejects(poster.post(target.url, { tracestate: 'v=\u0100' }, 'x', 1000), { code: 'ERR_INVALID_CHAR' });
  assert.equal((await poster.post(target.url, {}, 'after', 1000)).status, 202);
  assert.deepEqual(
    target.received.map((r) => r.body.toString()),
    ['after'],
  );
});

test('the handler forwards a run of events to the broker over one socket', async () => {
  const broker = await receiver();
  const handler = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, LOG_LEVEL: 'warn' });
  cleanups.push(async () => void (await handler.stop()));
  for (let i = 0; i < 4; i++) {
    const res = await fetch(handler.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ce_type: 't', ce_source: '/s' },
      body: JSON.stringify({ n: i }),
    });
    assert.equal(res.status, 202);
    // The answer is written as JSON text with its type set (no per-request lookup): the same as Koa's for an object.
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const answer = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(answer), ['success', 'id', 'type', 'source']);
    assert.deepEqual([answer.success, answer.type, answer.source], [true, 't', '/s']);
  }
  assert.deepEqual(
    broker.received.map((r) => (JSON.parse(r.body.toString()) as { data: unknown }).data),
    [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }],
  );
  assert.equal(broker.opened(), 1);
});

test('with no retries left to spend, a broker dropping the reused socket still costs the handler no event', async () => {
  const broker = await receiver({ dropReused: true });
  const handler = await startRuntime({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    OUTBOUND_RETRIES: '0',
    LOG_LEVEL: 'warn',
  });
  cleanups.push(async () => void (await handler.stop()));
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(handler.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ce_type: 't', ce_source: '/s' },
      body: JSON.stringify({ n: i }),
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [202, 202, 202]);
  assert.deepEqual(
    broker.received.map((r) => [(JSON.parse(r.body.toString()) as { data: unknown }).data, r.connection]),
    [
      [{ n: 0 }, 1],
      [{ n: 1 }, 2],
      [{ n: 2 }, 3],
    ],
  );
});

/** A receiver that keeps each request's head as it came on the wire and answers 202. */
async function headRecorder(host: string): Promise<{ port: number; heads: string[]; close(): void }> {
  const heads: string[] = [];
  const server = createNetServer((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        heads.push(head);
        pending = pending.slice(end + 4 + length);
        socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, heads, close: () => server.close() };
}

/** The head Node writes for an object of headers, as the client sent them before (the reference). */
function postedAsObject(url: string, headers: Record<string, string>, body: string): Promise<void> {
  const agent = new HttpAgent({ keepAlive: true });
  const parsed = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        method: 'POST',
        hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port,
        path: `${parsed.pathname}${parsed.search}`,
        auth: parsed.username
          ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
          : undefined,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          agent.destroy();
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('the request head on the wire is the one Node writes for the headers as an object', async () => {
  const hosts = ['127.0.0.1', ...((await canListen('::1')) ? ['::1'] : [])];
  const headerSets: Record<string, string>[] = [
    {
      'content-type': 'application/json',
      'ce-id': 'h-1',
      'ce-source': '/s',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    { 'Content-Type': 'text/plain', 'X-Mixed-Case': 'v' },
    // Headers Node decides about when they are missing: the caller's own win, as before.
    { 'content-type': 'application/x-protobuf', Authorization: 'Bearer t' },
    { Host: 'elsewhere.example', 'content-type': 'text/plain' },
    { 'Content-Length': '999', 'content-type': 'text/plain' },
  ];
  const poster = createHttpPoster();
  try {
    for (const host of hosts) {
      const recorder = await headRecorder(host);
      const where = host.includes(':') ? `[${host}]` : host;
      try {
        for (const url of [
          `http://${where}:${recorder.port}/a/b?c=d`,
          `http://us%40er:p%3Ass@${where}:${recorder.port}/`,
        ]) {
          for (const headers of headerSets) {
            const body = JSON.stringify({ url, headers });
            await postedAsObject(url, headers, body);
            const result = await poster.post(url, headers, Buffer.from(body), 5000);
            assert.equal(result.status, 202);
            const [reference, ours] = recorder.heads.splice(0);
            assert.equal(ours, reference, `${url} ${JSON.stringify(headers)}`);
          }
        }
      } finally {
        recorder.close();
      }
    }
  } finally {
    await poster.close();
  }
});

function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}
