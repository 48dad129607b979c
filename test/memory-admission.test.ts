// Memory admission control: request bodies in progress hold at most MEMORY_BUDGET_BYTES (JSON charged for the
// objects parsing creates); past it, requests get 503 + Retry-After at once, without being read, while
// /healthz and /readyz keep answering. The default budget comes from the container's memory limit.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import {
  budgetWithoutLimitBytes,
  containerMemoryLimit,
  createMemoryBudget,
  defaultMemoryBudget,
  parsedJsonEstimate,
} from '../runtime/http/memory-budget.js';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
/** 60 KB of `{}`: 20,000 objects, charged ≈1.7 MB: more than the whole 1 MiB budget alone. */
const manyObjects = `[${Array(20_000).fill('{}').join(',')}]`;
const legacy = { 'content-type': 'application/json', ce_type: 't', ce_source: 's' };

/** A POST whose body arrives chunked, without Content-Length (its size is learnt only as it streams). */
function postChunked(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...legacy, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.slice(i, i + 16 * 1024));
    req.end();
  });
}

/**
 * One connection: a POST whose whole body (`bytes` of JSON) is written before anything is read, then a GET
 * /healthz on the same connection; resolves with everything the server sent and the first write error.
 */
function sendWholeThenRead(url: string, bytes: number): Promise<{ answers: string; writeError?: string }> {
  const { hostname, port } = new URL(url);
  const body = Buffer.alloc(bytes, ' ');
  body[0] = 0x5b; // [
  body[bytes - 1] = 0x5d; // ]
  return new Promise((resolve) => {
    let answers = '';
    let writeError: string | undefined;
    const socket = connect(Number(port), hostname);
    socket.on('data', (c: Buffer) => {
      answers += c.toString();
      if (/"status":"ok"/.test(answers)) socket.end();
    });
    socket.on('error', (err) => (writeError ??= err.message));
    socket.on('close', () => resolve({ answers, writeError }));
    const head = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nce_type: t\r\nce_source: s\r\nContent-Length: ${bytes}\r\n\r\n`;
    socket.write(head);
    socket.write(body, (err) => {
      if (err) writeError ??= err.message;
      else socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  });
}

test('over the budget: 503 with Retry-After at once, health answers, and the budget frees when requests end', async () => {
  const broker = await startReceiver({ hang: true });
  const runtime = await startRuntime({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    MEMORY_BUDGET_BYTES: String(MiB),
    OUTBOUND_TIMEOUT_MS: '60000',
    OUTBOUND_RETRIES: '0',
  });
  try {
    // Alone, a request is admitted even though it is charged more than the budget (never refused forever).
    const held = fetch(runtime.url, { method: 'POST', headers: legacy, body: manyObjects }).catch((err: Error) => err);
    await waitFor(() => broker.requests.length === 1, 5000, {
      what: 'the first request to reach the hanging broker',
      intervalMs: 10,
    });
    assert.ok(runtime.memoryBudget.heldBytes > MiB, `charged ${runtime.memoryBudget.heldBytes} bytes`);

    const started = performance.now();
    const refused = await fetch(runtime.url, { method: 'POST', headers: legacy, body: manyObjects });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.notEqual(refused.headers.get('connection'), 'close', 'the connection is kept: its body was read through');
    assert.deepEqual(await refused.json(), {
      success: false,
      error: {
        type: 'overloaded',
        message: `busy: request bodies in progress fill the memory budget of ${MiB} bytes (MEMORY_BUDGET_BYTES); try again shortly`,
      },
    });
    assert.ok(performance.now() - started < 2000, 'answered at once, not after the broker');

    // A body of unknown length is charged as it streams in, and refused the same way.
    const chunked = await postChunked(runtime.url, manyObjects);
    assert.equal(chunked.status, 503);
    assert.match(chunked.text, /"type":"overloaded"/);

    // A caller that sends its whole body before reading (as most clients do) gets the 503, not a reset, and
    // its connection stays usable: the refused body is read through and thrown away (unread-body.ts).
    const whole = await sendWholeThenRead(runtime.url, 4 * manyObjects.length);
    assert.equal(whole.writeError, undefined, 'every byte of the refused body was taken');
    assert.match(whole.answers, /^HTTP\/1\.1 503 [^]*"type":"overloaded"[^]*HTTP\/1\.1 200 OK[^]*"status":"ok"/);

    for (const path of ['healthz', 'readyz']) assert.equal((await fetch(`${runtime.url}${path}`)).status, 200, path);
    assert.equal(broker.requests.length, 1, 'nothing refused reached the broker');
    assert.ok(
      runtime
        .logs()
        .some(
          (l) =>
            l.msg === 'request refused' && l.level === 'warn' && l.errorType === 'overloaded' && l.err === undefined,
        ),
    );
    // Counted like any other failure, by reason, so an alert can fire on sustained overload.
    const metrics = await (await fetch(`${runtime.url}metrics`)).text();
    assert.match(metrics, /knative_events_failed_total\{[^}]*reason="overloaded"[^}]*\} 3\b/);

    // The held request ends (its connection is cut): its reservation is released and a new request fits.
    broker.setFallback({ status: 202 });
    await broker.close();
    await held;
    await waitFor(() => runtime.memoryBudget.heldBytes === 0, 5000, {
      what: 'the reservation to be released',
      intervalMs: 10,
    });
  } finally {
    await runtime.stop();
  }
});

test('a request is admitted again once the one holding the budget has been answered', async () => {
  const broker = await startReceiver({ status: 202, delayMs: 300 });
  const runtime = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, MEMORY_BUDGET_BYTES: String(MiB) });
  try {
    const first = fetch(runtime.url, { method: 'POST', headers: legacy, body: manyObjects });
    await waitFor(() => broker.requests.length === 1, 5000, {
      what: 'the first request at the broker',
      intervalMs: 10,
    });
    assert.equal((await fetch(runtime.url, { method: 'POST', headers: legacy, body: manyObjects })).status, 503);
    assert.equal((await first).status, 202);
    await waitFor(() => runtime.memoryBudget.heldBytes === 0, 5000, {
      what: 'the reservation to be released',
      intervalMs: 10,
    });
    assert.equal((await fetch(runtime.url, { method: 'POST', headers: legacy, body: manyObjects })).status, 202);
  } finally {
    await runtime.stop();
    await broker.close();
  }
});

test('a large JSON body the handler only validates is charged its bytes and one copy, not a parse', async () => {
  const broker = await startReceiver({ hang: true });
  const runtime = await startRuntime({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    OUTBOUND_TIMEOUT_MS: '60000',
    OUTBOUND_RETRIES: '0',
  });
  // 120 KB of `{}`: past heavyBodyBytes, so validated in slices and never parsed; a parse would be charged ≈11x.
  const large = `[${Array(40_000).fill('{}').join(',')}]`;
  const requests: Array<Promise<unknown>> = [];
  const heldWhen = async (atBroker: number) => {
    await waitFor(() => broker.requests.length === atBroker, 5000, {
      what: `request ${atBroker} at the hanging broker`,
      intervalMs: 10,
    });
    return runtime.memoryBudget.heldBytes;
  };
  try {
    requests.push(fetch(runtime.url, { method: 'POST', headers: legacy, body: large }).catch((err: Error) => err));
    assert.equal(await heldWhen(1), 2 * large.length, 'declared length: the prepaid parse given back');
    requests.push(postChunked(runtime.url, large).catch((err: Error) => err));
    assert.equal(await heldWhen(2), 4 * large.length, 'unknown length: the estimate given back once read');
    const structured = JSON.stringify({ specversion: '1.0', id: '1', type: 't', source: 's', data: JSON.parse(large) });
    const headers = { 'content-type': 'application/cloudevents+json' };
    requests.push(fetch(runtime.url, { method: 'POST', headers, body: structured }).catch((err: Error) => err));
    const parsedCharge = (await heldWhen(3)) - 4 * large.length;
    assert.ok(parsedCharge > 10 * structured.length, `structured mode is parsed: charged ${parsedCharge} bytes`);
  } finally {
    await broker.close();
    await Promise.all(requests);
    await runtime.stop();
  }
});

test('reservations: Content-Length up front, refused only when others hold the budget, released once', () => {
  const budget = createMemoryBudget(1000);
  const req = (length?: number, type = 'application/octet-stream') =>
    ({
      headers:
        length === undefined ? { 'content-type': type } : { 'content-length': String(length), 'content-type': type },
    }) as never;
  const a = budget.admit(req(300), 10_000);
  assert.equal(a.bytes, 600, 'twice the body: the body and one outgoing copy');
  assert.throws(
    () => budget.admit(req(300), 10_000),
    /busy: request bodies in progress fill the memory budget of 1000 bytes/,
  );
  assert.equal(budget.heldBytes, 600, 'a refused request holds nothing');
  const over = budget.admit(req(20_000), 10_000);
  assert.equal(over.bytes, 0, 'over MAX_BODY_BYTES: refused with 413 by the route, nothing reserved');
  a.release();
  a.release();
  assert.equal(budget.heldBytes, 0);
  const alone = budget.admit(req(5000), 10_000);
  assert.equal(alone.bytes, 10_000, 'alone, a request is admitted whatever its size');
  alone.release();
  const json = budget.admit(req(100, 'application/cloudevents+json; charset=utf-8'), 10_000);
  assert.equal(json.bytes, 500, 'JSON: its parsed objects prepaid at 3 bytes per byte, on top of the 2');
  json.shrink(300);
  assert.equal(json.bytes, 200, 'given back once known not to be parsed');
  assert.equal(budget.heldBytes, 200);
  json.shrink(1000);
  assert.equal(budget.heldBytes, 0, 'never below nothing');
  json.grow(50);
  json.release();
  json.shrink(50);
  assert.equal(budget.heldBytes, 0, 'nothing given back twice after the release');
});

test('the JSON charge covers what parsing really allocates, for the shapes that blow up most', () => {
  const shapes: Record<string, string> = {
    'empty objects': `[${Array(100_000).fill('{}').join(',')}]`,
    'empty arrays': `[${Array(100_000).fill('[]').join(',')}]`,
    'small objects': `[${Array.from({ length: 40_000 }, (_, i) => `{"a":${i % 10},"b":"x${i}"}`).join(',')}]`,
    'nested objects': `[${Array(40_000).fill('{"a":{"b":[1]}}').join(',')}]`,
    numbers: `[${Array.from({ length: 100_000 }, (_, i) => i * 1.5).join(',')}]`,
    'one long string': JSON.stringify({ s: 'é'.repeat(200_000) }),
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, 'run with --expose-gc (test/run-tests.mjs does)');
  for (const [shape, text] of Object.entries(shapes)) {
    // Measured as the heap with the parsed copies alive minus the heap once they are dropped: a "before"
    // reading would include whatever the previous round left for the collector.
    const copies = 4;
    const kept = Array.from({ length: copies }, () => JSON.parse(text) as unknown);
    gc();
    const withCopies = process.memoryUsage().heapUsed;
    kept.length = 0;
    gc();
    const perCopy = (withCopies - process.memoryUsage().heapUsed) / copies;
    assert.ok(perCopy > 0, `${shape}: measured ${perCopy}`);
    const estimate = parsedJsonEstimate(Buffer.from(text));
    assert.ok(estimate >= perCopy, `${shape}: parsing took ${Math.round(perCopy)} bytes, charged ${estimate}`);
  }
});

test('the parsed-JSON estimate: the text, 64 bytes per object or array, 16 per separator, nothing for other bytes', () => {
  // {"a":[1,2],"b":"x","c":{}}: 26 bytes, 3 containers ({ [ {), 6 separators (3 `:` and 3 `,`)
  assert.equal(parsedJsonEstimate(Buffer.from('{"a":[1,2],"b":"x","c":{}}')), 26 + 3 * 64 + 6 * 16);
  assert.equal(parsedJsonEstimate(Buffer.from('"日本 ]}"')), 11, 'closing brackets and UTF-8 bytes add nothing');
  assert.equal(parsedJsonEstimate(Buffer.alloc(0)), 0);
  // additive: a body estimated chunk by chunk as it arrives gives what the whole body gives
  const body = Buffer.from(JSON.stringify({ list: Array.from({ length: 50 }, (_, i) => ({ i, s: `v${i}` })) }));
  const halves = parsedJsonEstimate(body.subarray(0, 333)) + parsedJsonEstimate(body.subarray(333));
  assert.equal(halves, parsedJsonEstimate(body));
  assert.equal(parsedJsonEstimate(body), body.length + 52 * 64 + (1 + 50 * 3 + 49) * 16);
});

test('the default budget: half of the container limit after a 96 MiB baseline; a fixed budget without a limit', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];
  assert.equal(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '402653184\n' })), 384 * MiB);
  assert.equal(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' })), undefined);
  assert.equal(
    containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456\n' })),
    256 * MiB,
  );
  assert.equal(
    containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' })),
    undefined,
  );
  assert.equal(containerMemoryLimit(files({})), undefined);
  assert.equal(defaultMemoryBudget(384 * MiB), 144 * MiB, 'values/prod.yaml');
  assert.equal(defaultMemoryBudget(256 * MiB), 80 * MiB, 'the chart default');
  assert.equal(defaultMemoryBudget(64 * MiB), 16 * MiB, 'never below 16 MiB');
  assert.equal(defaultMemoryBudget(undefined), budgetWithoutLimitBytes);
});

test('the runtime takes its budget from the cgroup file it is given, unless MEMORY_BUDGET_BYTES is set', async () => {
  const readSystemFile = (path: string) => (path === '/sys/fs/cgroup/memory.max' ? `${384 * MiB}\n` : undefined);
  const derived = await startRuntime({ ROLE: 'handler', BROKER_URL: 'http://127.0.0.1:9/' }, { readSystemFile });
  const fixed = await startRuntime(
    { ROLE: 'handler', BROKER_URL: 'http://127.0.0.1:9/', MEMORY_BUDGET_BYTES: '5000000' },
    { readSystemFile },
  );
  try {
    assert.equal(derived.memoryBudget.limitBytes, 144 * MiB);
    assert.equal(fixed.memoryBudget.limitBytes, 5_000_000);
  } finally {
    await derived.stop();
    await fixed.stop();
  }
});
