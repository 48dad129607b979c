// The handler's caller credentials: bearer tokens and HMAC signatures, keys from the secret store
// (several valid at once, rotated while running), one uninformative 401 for every bad credential. The HMAC
// covers timestamp, method, content type, every ce-/ce_ header and the body; each signature is accepted once;
// timestamps may be only slightly ahead of the handler's clock.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { canonicalRequest, signRequest } from '../runtime/http/hmac-signature.js';
import { createCallerCheck } from '../runtime/http/caller-auth.js';
import { createReplayGuard } from '../runtime/http/replay-guard.js';
import { HttpError } from '../runtime/http/errors.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRuntime, type RunningRuntime } from './helpers/runtime.js';

const secretValues = new Map<string, string>([['HANDLER_AUTH_KEYS', 'old-key-0123456789, new-key-9876543210']]);
const secrets = { get: (name: string) => secretValues.get(name) };
const now = new Date('2026-11-25T12:00:00Z');
const nowSeconds = now.getTime() / 1000;
const event = { 'content-type': 'application/json', ce_type: 't', ce_source: 's' };
const body = '{"a":1}';

let broker: Receiver;
let bearer: RunningRuntime;
let hmac: RunningRuntime;
before(async () => {
  broker = await startReceiver();
  bearer = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'bearer' }, { secrets });
  hmac = await startRuntime(
    {
      ROLE: 'handler',
      BROKER_URL: broker.url,
      HANDLER_AUTH: 'hmac',
      HANDLER_AUTH_WINDOW_SECONDS: '60',
      HANDLER_AUTH_FUTURE_SKEW_SECONDS: '5',
    },
    { secrets, now: () => now },
  );
});
after(async () => {
  await bearer.stop();
  await hmac.stop();
  await broker.close();
});

async function refusedIdentically(res: Response, what = ''): Promise<void> {
  assert.equal(res.status, 401, what);
  assert.deepEqual(
    await res.json(),
    { success: false, error: { type: 'unauthorized', message: 'missing or invalid caller credentials' } },
    what,
  );
}

let counter = 0;
/** A binary-mode deposit, unique per call (its ce-id), signed over exactly these headers and body. */
function signedDeposit(options: { key?: string; at?: number } = {}) {
  const timestamp = String(options.at ?? nowSeconds);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': `deposit-${++counter}`,
    'ce-type': 'com.example.deposit',
    'ce-source': '/bank',
    'ce-account': 'a1',
    'x-signature-timestamp': timestamp,
  };
  const payload = '{"amount":100}';
  headers['x-signature'] = signRequest(options.key ?? 'old-key-0123456789', {
    timestamp,
    method: 'POST',
    headers,
    body: payload,
  });
  return { headers, body: payload };
}

const post = (url: string, request: { headers: Record<string, string>; body: string }) =>
  fetch(url, { method: 'POST', headers: request.headers, body: request.body });

test('the documented worked example: fixed key and request, exact canonical string and signature', () => {
  // README.md, "Who may call the handler", shows these values; a caller in any language can check against them.
  const parts = {
    timestamp: '1764590400',
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'ce-type': 'com.example.deposit',
      'CE-Source': '/provider',
      'ce-id': '42',
      'ce-specversion': '1.0',
      'x-other': 'not signed',
    },
    body: '{"account":"A-1","amount":100}',
  };
  const canonical = [
    '1764590400',
    'POST',
    'application/json',
    'ce-id:42',
    'ce-source:/provider',
    'ce-specversion:1.0',
    'ce-type:com.example.deposit',
    '0f73227360985c450b557c4c7363c3e05bef3336e3e72d04b40257e4c3d1231e',
  ].join('\n');
  assert.equal(canonicalRequest(parts).toString('latin1'), canonical);
  assert.equal(
    signRequest('example-key-0123456789', parts),
    'sha256=2cc852305665f48297122c1e0b0e6c8dff88736d2c7c939dd675924c30e98615',
  );
  // The same with nothing but an HMAC primitive, as another language would do it.
  assert.equal(
    createHmac('sha256', 'example-key-0123456789').update(canonical).digest('hex'),
    '2cc852305665f48297122c1e0b0e6c8dff88736d2c7c939dd675924c30e98615',
  );
});

test('bearer: every listed key is accepted; a missing, wrong or malformed token gets the same 401', async () => {
  const before = broker.requests.length;
  for (const token of ['old-key-0123456789', 'new-key-9876543210']) {
    const res = await fetch(bearer.url, {
      method: 'POST',
      headers: { ...event, authorization: `Bearer ${token}` },
      body,
    });
    assert.equal(res.status, 202, token);
  }
  for (const authorization of [
    undefined,
    'Bearer nope',
    'Basic old-key-0123456789',
    'Bearer ',
    'Bearer old-key-0123456789 extra',
  ]) {
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
    await refusedIdentically(
      await fetch(bearer.url, {
        method: 'POST',
        headers: { ...event, authorization: 'Bearer old-key-0123456789' },
        body,
      }),
    );
    const res = await fetch(bearer.url, {
      method: 'POST',
      headers: { ...event, authorization: 'Bearer third-key-000000000' },
      body,
    });
    assert.equal(res.status, 202);
  } finally {
    secretValues.set('HANDLER_AUTH_KEYS', 'old-key-0123456789, new-key-9876543210');
  }
});

test('hmac: a request signed with any listed key reaches the broker with its attributes', async () => {
  for (const key of ['old-key-0123456789', 'new-key-9876543210']) {
    const request = signedDeposit({ key });
    const res = await post(hmac.url, request);
    assert.equal(res.status, 202, key);
    const forwarded = broker.requests.at(-1);
    assert.equal(forwarded?.event?.id, request.headers['ce-id']);
    assert.equal(forwarded?.event?.type, 'com.example.deposit');
  }
});

test('hmac: the legacy ce_ form is signed the same way', async () => {
  const timestamp = String(nowSeconds);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ce_type: 'com.example.deposit',
    ce_source: '/legacy',
    'x-signature-timestamp': timestamp,
  };
  const payload = '{"legacy":true}';
  headers['x-signature'] = signRequest('new-key-9876543210', { timestamp, method: 'POST', headers, body: payload });
  assert.equal((await post(hmac.url, { headers, body: payload })).status, 202);
  await refusedIdentically(
    await post(hmac.url, { headers: { ...headers, ce_type: 'com.example.withdrawal' }, body: payload }),
    'legacy type changed',
  );
});

test('hmac: changing any signed part after signing is refused with the same 401, and nothing reaches the broker', async () => {
  const tampered: Array<[string, (r: { headers: Record<string, string>; body: string }) => void]> = [
    ['ce-type', (r) => (r.headers['ce-type'] = 'com.example.withdrawal')],
    ['ce-source', (r) => (r.headers['ce-source'] = '/elsewhere')],
    ['ce-id', (r) => (r.headers['ce-id'] = 'another-id')],
    ['ce-specversion', (r) => (r.headers['ce-specversion'] = '0.3')],
    ['an extension changed', (r) => (r.headers['ce-account'] = 'a2')],
    ['an extension added', (r) => (r.headers['ce-subject'] = 'extra')],
    ['an extension removed', (r) => delete r.headers['ce-account']],
    ['a legacy ce_ header added', (r) => (r.headers.ce_priority = 'high')],
    ['content-type', (r) => (r.headers['content-type'] = 'application/json; charset=latin1')],
    ['body', (r) => (r.body = '{"amount":100000}')],
    ['timestamp', (r) => (r.headers['x-signature-timestamp'] = String(nowSeconds - 1))],
    [
      'signature',
      (r) => (r.headers['x-signature'] = r.headers['x-signature']!.replace(/.$/, (c) => (c === '0' ? '1' : '0'))),
    ],
    ['signature missing', (r) => delete r.headers['x-signature']],
    ['timestamp not a number', (r) => (r.headers['x-signature-timestamp'] = 'soon')],
    ['signed with an unknown key', (r) => Object.assign(r, signedDeposit({ key: 'someone-elses-key' }))],
  ];
  const before = broker.requests.length;
  for (const [what, change] of tampered) {
    const request = signedDeposit();
    change(request);
    await refusedIdentically(await post(hmac.url, request), what);
  }
  assert.equal(broker.requests.length, before);
  // The signed, untampered request still goes through: what was refused was the change alone.
  assert.equal((await post(hmac.url, signedDeposit())).status, 202);
});

test('hmac: the method is signed', () => {
  const check = createCallerCheck(
    { mode: 'hmac', secretName: 'HANDLER_AUTH_KEYS', windowMs: 60_000, futureSkewMs: 5000, replayCapacity: 1000 },
    secrets,
    () => now,
  );
  const request = signedDeposit();
  const asBody = Buffer.from(request.body);
  assert.throws(
    () => check?.({ method: 'PUT', headers: request.headers }, asBody),
    (err: unknown) => err instanceof HttpError && err.status === 401,
  );
  assert.doesNotThrow(() => check?.({ method: 'POST', headers: request.headers }, asBody));
});

test('hmac: a replay inside the window is refused with 409 and never forwarded twice', async () => {
  const request = signedDeposit();
  assert.equal((await post(hmac.url, request)).status, 202);
  const before = broker.requests.length;
  for (let i = 0; i < 3; i++) {
    const again = await post(hmac.url, request);
    assert.equal(again.status, 409);
    assert.deepEqual(await again.json(), {
      success: false,
      error: {
        type: 'replayed',
        message: 'this signed request was already accepted: sign every request, retries included, with a new timestamp',
      },
    });
  }
  assert.equal(broker.requests.length, before);
});

test('hmac: timestamps up to the window old and up to the future skew ahead are accepted, others refused', async () => {
  const cases: Array<[number, number]> = [
    [-60, 202],
    [-61, 401],
    [5, 202],
    [6, 401],
    [299, 401],
  ];
  for (const [offset, status] of cases) {
    const res = await post(hmac.url, signedDeposit({ at: nowSeconds + offset }));
    assert.equal(res.status, status, `timestamp ${offset} s from now`);
  }
});

test('replay memory: bounded; full of live signatures it refuses rather than forgets, and frees what has expired', () => {
  const guard = createReplayGuard(2);
  assert.equal(guard.admit('a'.repeat(64), 10_000, 0), 'fresh');
  assert.equal(guard.admit('b'.repeat(64), 20_000, 0), 'fresh');
  assert.equal(guard.admit('a'.repeat(64), 10_000, 1), 'replayed');
  assert.equal(guard.admit('c'.repeat(64), 30_000, 2), 'full');
  assert.equal(guard.size, 2);
  // Once "a" has left its window, its slot is reused; "b" is still remembered.
  assert.equal(guard.admit('c'.repeat(64), 30_000, 10_000), 'fresh');
  assert.equal(guard.admit('b'.repeat(64), 20_000, 10_001), 'replayed');
  // Out of order expiries are found by the full sweep (at most once a second while full).
  const sweep = createReplayGuard(2);
  sweep.admit('1'.repeat(64), 50_000, 0);
  sweep.admit('2'.repeat(64), 5_000, 0);
  assert.equal(
    sweep.admit('3'.repeat(64), 60_000, 6_000),
    'fresh',
    'the expired second entry was swept from behind a live one',
  );
});

test('hmac: the replay memory full → 503 with Retry-After, never a forgotten signature', async () => {
  const small = await startRuntime(
    {
      ROLE: 'handler',
      BROKER_URL: broker.url,
      HANDLER_AUTH: 'hmac',
      HANDLER_AUTH_WINDOW_SECONDS: '60',
      HANDLER_AUTH_REPLAY_CAPACITY: '1000',
    },
    { secrets, now: () => now },
  );
  try {
    const accepted = [];
    for (let i = 0; i < 1000; i++) {
      const request = signedDeposit();
      accepted.push(request);
    }
    // ten at a time, not one by one: the same 1000 signatures to fill the memory, in a fraction of the wall time
    const statuses: number[] = [];
    for (let i = 0; i < accepted.length; i += 10) {
      const answers = await Promise.all(
        accepted.slice(i, i + 10).map(async (request) => {
          const answer = await post(small.url, request);
          await answer.arrayBuffer(); // read to the end: the connection goes back to the pool
          return answer.status;
        }),
      );
      statuses.push(...answers);
    }
    assert.deepEqual(
      statuses,
      accepted.map(() => 202),
    );
    const refused = await post(small.url, signedDeposit());
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { type: string } }).error.type, 'overloaded');
    assert.equal((await post(small.url, accepted[0]!)).status, 409, 'the first signature is still remembered');
  } finally {
    await small.stop();
  }
});

test('auth on without any key is refused at start-up, naming the secret', async () => {
  await assert.rejects(
    startRuntime(
      { ROLE: 'handler', BROKER_URL: broker.url, HANDLER_AUTH: 'bearer', HANDLER_AUTH_SECRET: 'INGRESS_KEYS' },
      { secrets },
    ),
    /HANDLER_AUTH is bearer but the secret INGRESS_KEYS \(HANDLER_AUTH_SECRET\) holds no keys/,
  );
});
