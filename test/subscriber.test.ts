// The subscriber in-process with test functions injected through loadFunction (the registry is tested in
// bundle.test.ts); events are built and serialised with the real CloudEvents SDK, as Knative would send them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { PermanentError, reply, type EventFunction } from '../runtime/function-api.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const functions: Record<string, EventFunction<unknown>> = {
  echo: (event) => event.data,
  nothing: () => undefined,
  replier: (event) => reply({ type: 'order.priced', data: { priced: event.data }, subject: 'p1' }),
  thrower: () => {
    throw new Error('database password is hunter2');
  },
  permanent: () => {
    throw new PermanentError('trade cannot be mapped', { details: ['qty: missing'] });
  },
  slow: (_event, context) =>
    new Promise((resolve) => context.signal.addEventListener('abort', () => resolve('aborted'))),
  badReply: () => reply({ type: '' }),
  attributes: (event) => ({ subject: event.subject, myext: event.myext, time: event.time }),
  forward: (event) => reply({ type: 'order.forwarded', subject: '日本語 100%', data: event.data }),
};

const running: RunningRuntime[] = [];
async function subscriber(fn: string, env: Record<string, string> = {}): Promise<RunningRuntime> {
  const runtime = await startRuntime(
    { ROLE: 'subscriber', FUNCTION: 'echo', K_SERVICE: 'orders', ...env },
    { loadFunction: async () => ({ default: functions[fn] as EventFunction<unknown> }) },
  );
  running.push(runtime);
  return runtime;
}
after(async () => {
  await Promise.all(running.map((r) => r.stop()));
});

const event = new CloudEvent({ id: 'e-1', type: 'order.created', source: '/orders', data: { qty: 2 } });
const send = (url: string, mode: 'binary' | 'structured' = 'binary', e: CloudEvent<unknown> = event) => {
  const message = mode === 'binary' ? HTTP.binary(e) : HTTP.structured(e);
  return fetch(url, {
    method: 'POST',
    headers: message.headers as Record<string, string>,
    body: message.body as string,
  });
};

let echo: RunningRuntime;
before(async () => {
  echo = await subscriber('echo');
});

test('a plain result is a 200 JSON answer, for binary and structured events', async () => {
  for (const mode of ['binary', 'structured'] as const) {
    const res = await send(echo.url, mode);
    assert.equal(res.status, 200, mode);
    assert.deepEqual(await res.json(), { qty: 2 });
  }
});

test('with SUBSCRIBER_PLAIN_RESULT=discard a plain result is 204 (Kafka broker), a reply still goes back', async () => {
  const plain = await subscriber('echo', { SUBSCRIBER_PLAIN_RESULT: 'discard' });
  const res = await send(plain.url);
  assert.equal(res.status, 204);
  assert.equal(await res.text(), '');
  const replier = await subscriber('replier', { SUBSCRIBER_PLAIN_RESULT: 'discard' });
  const replied = await send(replier.url);
  assert.equal(replied.status, 200);
  assert.equal(replied.headers.get('ce-type'), 'order.priced');
});

test('undefined is 204 with no body', async () => {
  const runtime = await subscriber('nothing');
  const res = await send(runtime.url);
  assert.equal(res.status, 204);
  assert.equal(await res.text(), '');
});

test('a reply is a binary-mode CloudEvent that Knative can publish back to the broker', async () => {
  const runtime = await subscriber('replier');
  const res = await send(runtime.url);
  assert.equal(res.status, 200);
  const headers = Object.fromEntries(res.headers.entries());
  const replyEvent = HTTP.toEvent({ headers, body: await res.text() }) as CloudEvent<unknown>;
  assert.equal(replyEvent.type, 'order.priced');
  assert.equal(replyEvent.source, '/knative-events/orders');
  assert.equal(replyEvent.subject, 'p1');
  assert.deepEqual(replyEvent.data, { priced: { qty: 2 } });
  assert.ok(headers['ce-id']);
  assert.doesNotThrow(() => replyEvent.validate());
});

test('a function that throws is a 500 (Knative retries) whose body does not leak the message', async () => {
  const runtime = await subscriber('thrower');
  const res = await send(runtime.url);
  assert.equal(res.status, 500);
  const body = (await res.json()) as { error: { type: string; message: string } };
  assert.equal(body.error.type, 'function_error');
  assert.match(body.error.message, /e-1/);
  assert.ok(!body.error.message.includes('hunter2'));
  const logged = runtime.logs().find((line) => line.msg === 'function echo threw');
  assert.ok(logged, 'the error is logged');
  assert.equal(logged.eventId, 'e-1');
});

test('a PermanentError is its 4xx (422), which Knative dead-letters without retrying', async () => {
  const runtime = await subscriber('permanent');
  const res = await send(runtime.url);
  assert.equal(res.status, 422);
  const body = (await res.json()) as { error: { type: string; message: string; details: string[] } };
  assert.equal(body.error.type, 'permanent_failure');
  assert.equal(body.error.message, 'trade cannot be mapped');
  assert.deepEqual(body.error.details, ['qty: missing']);
});

test('PermanentError refuses a status that Knative would retry', () => {
  assert.throws(() => new PermanentError('x', { status: 429 }), /not 404, 408, 409, 429/);
  assert.throws(() => new PermanentError('x', { status: 503 }), RangeError);
});

test('a function past FUNCTION_TIMEOUT_MS is aborted and answered 500', async () => {
  const runtime = await subscriber('slow', { FUNCTION_TIMEOUT_MS: '50' });
  const res = await send(runtime.url);
  assert.equal(res.status, 500);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /did not finish within 50 ms/);
});

test('an invalid reply from the function is a 500, not a malformed event', async () => {
  const runtime = await subscriber('badReply');
  const res = await send(runtime.url);
  assert.equal(res.status, 500);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /invalid reply event/);
});

test('an invalid event is a 400, never a 500', async () => {
  const res = await fetch(echo.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-id': '1',
      'ce-source': '/s',
      'ce-type': 't',
      'ce-specversion': '1.0',
      'ce-time': 'not-a-time',
    },
    body: '{}',
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'invalid_event');
});

const binaryHeaders = { 'ce-specversion': '1.0', 'ce-id': 'b-1', 'ce-type': 'order.created', 'ce-source': '/orders' };

test('percent-encoded attribute headers reach the function decoded; times as sent', async () => {
  const runtime = await subscriber('attributes');
  const res = await fetch(runtime.url, {
    method: 'POST',
    headers: {
      ...binaryHeaders,
      'content-type': 'application/json',
      'ce-subject': '%E6%97%A5%E6%9C%AC%20x',
      'ce-myext': 'a%25b',
      'ce-time': '2026-01-01T10:00:00.123456789+02:00',
    },
    body: '{}',
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { subject: '日本 x', myext: 'a%b', time: '2026-01-01T10:00:00.123456789+02:00' });
});

test('a reply carrying the incoming data keeps its bytes and content type; its headers are percent-encoded', async () => {
  const runtime = await subscriber('forward');
  const latin1 = Buffer.from('Größe', 'latin1');
  const res = await fetch(runtime.url, {
    method: 'POST',
    headers: { ...binaryHeaders, 'content-type': 'text/plain; charset=iso-8859-1' },
    body: latin1,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('ce-type'), 'order.forwarded');
  assert.equal(res.headers.get('ce-subject'), '%E6%97%A5%E6%9C%AC%E8%AA%9E%20100%25');
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=iso-8859-1');
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), latin1);
});

test('a plain result that is the incoming data comes back as its own bytes and content type', async () => {
  const xml = '<?xml version="1.0"?><a>ü</a>';
  const res = await fetch(echo.url, {
    method: 'POST',
    headers: { ...binaryHeaders, 'content-type': 'text/xml' },
    body: xml,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/xml');
  assert.equal(await res.text(), xml);
});

test('too deep JSON is a 422 and a name the SDK reserves (validate) a clear 422: never a 500', async () => {
  const deep = await fetch(echo.url, {
    method: 'POST',
    headers: { ...binaryHeaders, 'content-type': 'application/json' },
    body: `${'['.repeat(5000)}${']'.repeat(5000)}`,
  });
  assert.equal(deep.status, 422);
  assert.match(((await deep.json()) as { error: { message: string } }).error.message, /more than 128 levels deep/);
  const reserved = await fetch(echo.url, {
    method: 'POST',
    headers: { ...binaryHeaders, 'content-type': 'application/json', 'ce-validate': 'x' },
    body: '{}',
  });
  assert.equal(reserved.status, 422);
  assert.match(
    ((await reserved.json()) as { error: { message: string } }).error.message,
    /"validate" cannot be given to a function/,
  );
});
