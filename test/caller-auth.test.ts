// The handler's caller credentials: bearer tokens and HMAC signatures, keys from the secret store
// (several valid at once, rotated while running), one uninformative 401 for every refusal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from '../runtime/http/caller-auth.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const secretValues = new Map<string, string>([['HANDLER_AUTH_KEYS', 'old-key-0123456789, new-key-9876543210']]);
const secrets = { get: (name: string) => secretValues.get(name) };
const now = new Date('2026-11-25T12:00:00Z');
const nowSeconds = String(now.getTime() / 1000);
const event = { 'content-type': 'application/json', ce_type: 't', ce_source: 's' };
const body = '{"a":1}';

let broker: Receiver;
let bearer: RunningRuntime;
let hmac: RunningRuntime;
before(async () => {
  broker = await startReceiver();
  bearer = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'bearer' }, { secrets });
  hmac = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'hmac', HANDLER_AUTH_WINDOW_SECONDS: '60' }, { secrets, now: () => now });
});
after(async () => {
  await bearer.stop();
  await hmac.stop();
  await broker.close();
});

async function refusedIdentically(res: Response): Promise<void> {
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { success: false, error: { type: 'unauthorized', message: 'missing or invalid caller credentials' } });
}

test('bearer: every listed key is accepted; a missing, wrong or malformed token gets the same 401', async () => {
  const before = broker.requests.length;
  for (const token of ['old-key-0123456789', 'new-key-9876543210']) {
    const res = await fetch(bearer.url, { method: 'POST', headers: { ...event, authorization: `Bearer ${token}` }, body });
    assert.equal(res.status, 202, token);
  }
  for (const authorization of [undefined, 'Bearer nope', 'Basic old-key-0123456789', 'Bearer ', 'Bearer old-key-0123456789 extra']) {
    const headers: Record<string, string> = { ...event };
    if (authorization !== undefined) headers.authorization = authorization;
    await refusedIdentically(await fetch(bearer.url, { method: 'POST', headers, body }));
  }
  assert.equal(broker.requests.length - before, 2, 'nothing refused reached the broker');
  // Refusals are counted by reason, so an alert can fire on a burst of bad credentials.
  const metrics = await (await fetch(`${bearer.url}metrics`)).text();
  assert.match(metrics, /knative_events_rejected_total\{[^}]*reason="unauthorized"[^}]*\} 5\b/);
});

test('bearer: a rotated key applies at once, without a restart', async () => {
  secretValues.set('HANDLER_AUTH_KEYS', 'new-key-9876543210,third-key-000000000');
  try {
    await refusedIdentically(await fetch(bearer.url, { method: 'POST', headers: { ...event, authorization: 'Bearer old-key-0123456789' }, body }));
    const res = await fetch(bearer.url, { method: 'POST', headers: { ...event, authorization: 'Bearer third-key-000000000' }, body });
    assert.equal(res.status, 202);
  } finally {
    secretValues.set('HANDLER_AUTH_KEYS', 'old-key-0123456789, new-key-9876543210');
  }
});

test('hmac: a signature over timestamp and body with any listed key is accepted', async () => {
  const res = await fetch(hmac.url, {
    method: 'POST',
    headers: { ...event, 'x-signature-timestamp': nowSeconds, 'x-signature': sign('new-key-9876543210', nowSeconds, body) },
    body,
  });
  assert.equal(res.status, 202);
});

test('hmac: a changed body, a stale or future timestamp, an unknown key or no signature are refused alike', async () => {
  const stale = String(now.getTime() / 1000 - 61);
  const future = String(now.getTime() / 1000 + 61);
  const cases: Array<[Record<string, string>, string]> = [
    [{ 'x-signature-timestamp': nowSeconds, 'x-signature': sign('old-key-0123456789', nowSeconds, body) }, '{"a":2}'],
    [{ 'x-signature-timestamp': stale, 'x-signature': sign('old-key-0123456789', stale, body) }, body],
    [{ 'x-signature-timestamp': future, 'x-signature': sign('old-key-0123456789', future, body) }, body],
    [{ 'x-signature-timestamp': nowSeconds, 'x-signature': sign('someone-elses-key', nowSeconds, body) }, body],
    [{ 'x-signature-timestamp': nowSeconds }, body],
    [{ 'x-signature-timestamp': 'soon', 'x-signature': sign('old-key-0123456789', 'soon', body) }, body],
  ];
  for (const [headers, sent] of cases) {
    await refusedIdentically(await fetch(hmac.url, { method: 'POST', headers: { ...event, ...headers }, body: sent }));
  }
});

test('auth on without any key is refused at start-up, naming the secret', async () => {
  await assert.rejects(
    startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'bearer', HANDLER_AUTH_SECRET: 'INGRESS_KEYS' }, { secrets }),
    /HANDLER_AUTH is bearer but the secret INGRESS_KEYS \(HANDLER_AUTH_SECRET\) holds no keys/,
  );
});
