// The handler in-process, in front of a Broker stand-in (test/helpers/receiver.ts: a loopback server
// speaking the Knative broker ingress contract, 202 on accept). The CloudEvents SDK reads what arrived.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const seedHeaders = {
  'content-type': 'application/json',
  ce_source: 'event-subscriber-source',
  ce_type: 'event-subscriber-type',
};
const seedBody = JSON.stringify({ event_data_1: 'data value 1' });
const noWait = { sleep: async () => {}, random: () => 0 };

let broker: Receiver;
let handler: RunningRuntime;

before(async () => {
  broker = await startReceiver();
  handler = await startRuntime(
    { ROLE: 'handler', BROKER_URL: broker.url, OUTBOUND_TIMEOUT_MS: '300', MAX_BODY_BYTES: '2048' },
    { clock: noWait },
  );
});
after(async () => {
  await handler.stop();
  await broker.close();
});
beforeEach(() => {
  broker.requests.length = 0;
  broker.setFallback({ status: 202 });
});

const post = (headers: Record<string, string>, body: string) => fetch(handler.url, { method: 'POST', headers, body });

test("the seed's legacy request reaches the broker as a valid structured CloudEvent, then 202", async () => {
  const res = await post(seedHeaders, seedBody);
  assert.equal(res.status, 202);
  const answer = (await res.json()) as { success: boolean; id: string };
  assert.equal(answer.success, true);
  assert.equal(broker.requests.length, 1);
  const [request] = broker.requests;
  assert.equal(request?.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
  const event = request?.event;
  assert.ok(event, 'the SDK could not read what the broker received');
  assert.equal(event.type, 'event-subscriber-type');
  assert.equal(event.source, 'event-subscriber-source');
  assert.equal(event.specversion, '1.0');
  assert.equal(event.id, answer.id);
  assert.deepEqual(event.data, { event_data_1: 'data value 1' });
  assert.doesNotThrow(() => event.validate());
});

test('binary CloudEvents and structured ones pass through with their attributes', async () => {
  const binary = await post(
    {
      'content-type': 'application/json',
      'ce-id': 'b-1',
      'ce-type': 't.b',
      'ce-source': '/b',
      'ce-specversion': '1.0',
      'ce-traceid': 'x1',
    },
    '{"n":1}',
  );
  assert.equal(binary.status, 202);
  const structured = await post(
    { 'content-type': 'application/cloudevents+json' },
    JSON.stringify({ specversion: '1.0', id: 's-1', type: 't.s', source: '/s', data: { n: 2 } }),
  );
  assert.equal(structured.status, 202);
  const [first, second] = broker.requests.map((r) => r.event);
  assert.equal(first?.id, 'b-1');
  assert.equal(first?.traceid, 'x1');
  assert.deepEqual(second?.data, { n: 2 });
});

test('a transient broker failure is retried and the event is accepted once', async () => {
  broker.script({ status: 503 }, { reset: true });
  const res = await post(seedHeaders, seedBody);
  assert.equal(res.status, 202);
  assert.equal(broker.requests.length, 3);
  assert.equal(broker.accepted().length, 1);
});

test('a broker that keeps failing gives 502 after the retries, never 2xx', async () => {
  broker.setFallback({ status: 500 });
  const res = await post(seedHeaders, seedBody);
  assert.equal(res.status, 502);
  assert.equal(res.headers.get('retry-after'), '1');
  const body = (await res.json()) as { success: boolean; error: { type: string; message: string } };
  assert.equal(body.success, false);
  assert.equal(body.error.type, 'upstream_unavailable');
  assert.match(body.error.message, /answered 500 after 4 attempts/);
  assert.equal(broker.requests.length, 4, 'one attempt and OUTBOUND_RETRIES=3 retries');
});

test('a slow broker gives 504; a refused event (400) is not retried', async () => {
  broker.setFallback({ hang: true });
  const slow = await post(seedHeaders, seedBody);
  assert.equal(slow.status, 504);
  assert.equal(((await slow.json()) as { error: { type: string } }).error.type, 'upstream_timeout');
  broker.requests.length = 0;
  broker.setFallback({ status: 400, body: '{"error":"bad"}' });
  const refused = await post(seedHeaders, seedBody);
  assert.equal(refused.status, 502);
  assert.equal(((await refused.json()) as { error: { type: string } }).error.type, 'upstream_rejected');
  assert.equal(broker.requests.length, 1);
});

test('a broker that is down gives 503 upstream_unavailable', async () => {
  const down = await startReceiver();
  const url = down.url;
  await down.close();
  const lonely = await startRuntime({ ROLE: 'handler', BROKER_URL: url, OUTBOUND_RETRIES: '1' }, { clock: noWait });
  try {
    const res = await fetch(lonely.url, { method: 'POST', headers: seedHeaders, body: seedBody });
    assert.equal(res.status, 503);
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      /unreachable after 2 attempts \(ECONNREFUSED\)/,
    );
  } finally {
    await lonely.stop();
  }
});

test('bad requests get the error envelope with a 4xx and nothing reaches the broker', async () => {
  const cases: Array<[Record<string, string>, string, number, string]> = [
    [{ 'content-type': 'application/json', ce_source: 's' }, '{}', 400, 'missing_attributes'],
    [seedHeaders, '{"broken":', 400, 'invalid_json'],
    [seedHeaders, '', 400, 'empty_body'],
    [{ ...seedHeaders, 'ce-specversion': '0.2' }, '{}', 400, 'unsupported_specversion'],
    [{ ...seedHeaders, 'content-type': 'text/plain' }, 'hello', 415, 'unsupported_media_type'],
    [seedHeaders, JSON.stringify({ big: 'x'.repeat(4096) }), 413, 'payload_too_large'],
  ];
  for (const [headers, body, status, type] of cases) {
    const res = await post(headers, body);
    const answer = (await res.json()) as { success: boolean; error: { type: string; message: string } };
    assert.equal(res.status, status, `${type}: ${answer.error.message}`);
    assert.equal(answer.success, false);
    assert.equal(answer.error.type, type);
    assert.ok(answer.error.message.length > 0);
  }
  assert.equal(broker.requests.length, 0);
});

test('unknown paths are 404 and wrong methods 405, both as the envelope', async () => {
  const missing = await fetch(`${handler.url}nope`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { type: string } }).error.type, 'not_found');
  const wrong = await fetch(handler.url, { method: 'PUT', body: '{}' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /use POST/);
  // A GET route answers HEAD too, so both are allowed; paths match exactly (no trailing slash, case-sensitive).
  const health = await fetch(`${handler.url}healthz`, { method: 'POST' });
  assert.equal(health.status, 405);
  assert.equal(health.headers.get('allow'), 'HEAD, GET');
  assert.equal(((await health.json()) as { error: { type: string } }).error.type, 'method_not_allowed');
  for (const path of ['healthz/', 'HEALTHZ']) {
    const other = await fetch(`${handler.url}${path}`);
    assert.equal(other.status, 404, path);
    assert.equal(((await other.json()) as { error: { type: string } }).error.type, 'not_found');
  }
  const options = await fetch(handler.url, { method: 'OPTIONS' });
  assert.equal(options.status, 200);
  assert.equal(options.headers.get('allow'), 'POST');
});

test('health: /healthz is 200, /readyz is 200 when ready', async () => {
  assert.deepEqual(await (await fetch(`${handler.url}healthz`)).json(), { status: 'ok' });
  const ready = await fetch(`${handler.url}readyz`);
  assert.equal(ready.status, 200);
});

test('one JSON log line per request with the event id, and no request body at info level', async () => {
  const res = await post(seedHeaders, JSON.stringify({ secretish: 'do-not-log-me' }));
  const { id } = (await res.json()) as { id: string };
  const lines = handler.logs().filter((line) => line.eventId === id);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0]?.msg, 'request');
  assert.equal(lines[0]?.status, 202);
  assert.equal(typeof lines[0]?.durationMs, 'number');
  assert.ok(!JSON.stringify(handler.logs()).includes('do-not-log-me'));
});

test('a binary-mode CloudEvent with any data is forwarded; one without data too', async () => {
  const binary = { 'ce-specversion': '1.0', 'ce-id': 'x-1', 'ce-type': 't.x', 'ce-source': '/x' };
  const xml = await post({ ...binary, 'content-type': 'application/xml' }, '<a>1</a>');
  assert.equal(xml.status, 202, await xml.text());
  const bare = await fetch(handler.url, { method: 'POST', headers: { ...binary, 'ce-id': 'x-2' } });
  assert.equal(bare.status, 202, await bare.text());
  const [withXml, withoutData] = broker.requests.map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
  assert.equal(withXml?.datacontenttype, 'application/xml');
  assert.equal(withXml?.data, '<a>1</a>');
  assert.equal(withoutData?.id, 'x-2');
  assert.ok(!('data' in (withoutData ?? {})) && !('data_base64' in (withoutData ?? {})));
});

test('too deep JSON, object-valued extensions and bad percent-encoding are 4xx envelopes, never 5xx', async () => {
  const binary = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': 'd-1',
    'ce-type': 't',
    'ce-source': '/d',
  };
  const structured = { 'content-type': 'application/cloudevents+json' };
  const cases: Array<[Record<string, string>, string, number, RegExp]> = [
    [binary, `${'['.repeat(500)}${']'.repeat(500)}`, 422, /more than 128 levels deep/],
    [seedHeaders, `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`, 422, /more than 128 levels deep/],
    [
      structured,
      JSON.stringify({ specversion: '1.0', id: 'o', source: '/o', type: 't', myext: { a: 1 } }),
      400,
      /"myext" must be a string, a 32-bit integer or a boolean/,
    ],
    [{ ...binary, 'ce-subject': '%C0%A0' }, '{}', 400, /not valid UTF-8/],
  ];
  for (const [headers, body, status, message] of cases) {
    const res = await post(headers, body);
    const answer = (await res.json()) as { success: boolean; error: { message: string } };
    assert.equal(res.status, status, answer.error.message);
    assert.equal(answer.success, false);
    assert.match(answer.error.message, message);
  }
  assert.equal(broker.requests.length, 0);
});

test('an extension named like an object property (constructor, validate) is carried as sent', async () => {
  const res = await post(
    {
      'content-type': 'text/plain',
      'ce-specversion': '1.0',
      'ce-id': 'p-1',
      'ce-type': 't',
      'ce-source': '/p',
      'ce-constructor': 'c',
      'ce-validate': 'v',
    },
    'hi',
  );
  assert.equal(res.status, 202, await res.text());
  const forwarded = JSON.parse(broker.requests[0]?.body.toString() ?? '') as Record<string, unknown>;
  assert.equal(forwarded.constructor, 'c');
  assert.equal(forwarded.validate, 'v');
  assert.equal(forwarded.data, 'hi');
});
