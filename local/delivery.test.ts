// DeliverySpec semantics against Knative's rules: which answers are retried, the backoff delays, the
// per-attempt timeout, and the dead-lettered event's knativeerror* extensions. Real HTTP on loopback.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { startReceiver, type Receiver } from '../test/helpers/receiver.js';
import { deadLetterEvent, deliver, isRetryable, retryDelayMs, type DeliverySpec } from './delivery.js';
import { parseDuration } from './duration.js';
import { fetchPost } from './http.js';

const event = new CloudEvent<unknown>({ id: 'e-1', source: '/test', type: 'com.example.trade', data: { a: 1 } });
const spec = (over: Partial<DeliverySpec> = {}): DeliverySpec => ({
  retry: 2,
  backoffPolicy: 'linear',
  backoffDelayMs: 200,
  timeoutMs: 2000,
  deadLetterUrl: undefined,
  format: 'binary',
  ...over,
});
const receivers: Receiver[] = [];
const receiver = async (...args: Parameters<typeof startReceiver>) => {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
};
after(() => Promise.all(receivers.map((r) => r.close())));

function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

describe('durations and backoff', () => {
  it('parses ISO-8601 durations', () => {
    assert.equal(parseDuration('PT0.2S'), 200);
    assert.equal(parseDuration('PT1M30S'), 90_000);
    assert.equal(parseDuration('P1DT1H'), 90_000_000);
    assert.equal(parseDuration('pt2s'), 2000);
    for (const bad of ['', 'P', 'PT', '2s', 'P1M', 'PT-1S', 'P1Y']) assert.equal(parseDuration(bad), undefined, bad);
  });
  it('linear waits delay × n, exponential delay × 2^n before retry n', () => {
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelayMs({ backoffPolicy: 'linear', backoffDelayMs: 200 }, n)),
      [200, 400, 600],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelayMs({ backoffPolicy: 'exponential', backoffDelayMs: 500 }, n)),
      [1000, 2000, 4000],
    );
  });
  it('retries 5xx, 404, 408, 409, 429 and no other 4xx', () => {
    for (const s of [500, 502, 503, 504, 404, 408, 409, 429]) assert.equal(isRetryable(s), true, String(s));
    for (const s of [400, 401, 403, 410, 413, 415, 422]) assert.equal(isRetryable(s), false, String(s));
  });
});

describe('deliver', () => {
  it('retries a 503 the configured number of times with linear backoff, then dead-letters with the error extensions', async () => {
    const subscriber = await receiver({ status: 503, body: '{"error":"busy"}' });
    const dls = await receiver();
    const clock = recordingSleep();
    const result = await deliver(subscriber.url, event, spec({ deadLetterUrl: dls.url }), {
      post: fetchPost,
      sleep: clock.sleep,
    });
    assert.equal(result.outcome, 'dead-lettered');
    assert.equal(subscriber.requests.length, 3, 'first attempt + retry 2');
    assert.deepEqual(clock.delays, [200, 400]);
    assert.equal(dls.requests.length, 1);
    const dead = dls.requests[0]?.event;
    assert.equal(dead?.id, 'e-1');
    assert.equal(dead?.knativeerrordest, subscriber.url);
    assert.equal(dead?.knativeerrorcode, '503');
    assert.equal(Buffer.from(String(dead?.knativeerrordata), 'base64').toString('utf8'), '{"error":"busy"}');
    assert.deepEqual(dead?.data, { a: 1 });
    assert.equal(
      dls.requests[0]?.headers['ce-knativeerrorcode'],
      '503',
      'binary mode: extensions arrive as ce- headers',
    );
  });

  it('sends a 422 to the dead-letter sink at once, without retrying', async () => {
    const subscriber = await receiver({ status: 422, body: 'cannot map' });
    const dls = await receiver();
    const clock = recordingSleep();
    const result = await deliver(subscriber.url, event, spec({ retry: 5, deadLetterUrl: dls.url }), {
      post: fetchPost,
      sleep: clock.sleep,
    });
    assert.equal(result.outcome, 'dead-lettered');
    assert.equal(subscriber.requests.length, 1);
    assert.deepEqual(clock.delays, []);
    assert.equal(dls.requests[0]?.event?.knativeerrorcode, '422');
  });

  it('stops retrying once an attempt succeeds, and says delivered', async () => {
    const subscriber = await receiver({ status: 200 });
    subscriber.script({ status: 500 }, { status: 429 });
    const clock = recordingSleep();
    const result = await deliver(
      subscriber.url,
      event,
      // A generous timeout: on a loaded machine an answer slower than 2 s was retried once more (4 attempts).
      spec({ retry: 3, backoffPolicy: 'exponential', backoffDelayMs: 100, timeoutMs: 30_000 }),
      { post: fetchPost, sleep: clock.sleep },
    );
    assert.equal(result.outcome, 'delivered');
    assert.equal(result.attempts, 3);
    assert.deepEqual(clock.delays, [200, 400]);
  });

  it('counts a timeout as retryable and dead-letters without a code when nothing answered', async () => {
    const subscriber = await receiver({ hang: true });
    const dls = await receiver();
    const clock = recordingSleep();
    const started = Date.now();
    const result = await deliver(subscriber.url, event, spec({ retry: 1, timeoutMs: 150, deadLetterUrl: dls.url }), {
      post: fetchPost,
      sleep: clock.sleep,
    });
    assert.equal(result.outcome, 'dead-lettered');
    // Counted by deliver, not by the receiver: on a loaded machine an attempt can time out before its request
    // has fully reached the receiver, which then never records it.
    assert.equal(result.attempts, 2);
    assert.ok(Date.now() - started >= 280, 'each attempt waited for its timeout');
    const dead = dls.requests[0]?.event;
    assert.equal(dead?.knativeerrordest, subscriber.url);
    assert.equal(dead?.knativeerrorcode, undefined);
    assert.equal(dead?.knativeerrordata, undefined);
  });

  it('drops (and reports) a failed event when there is no dead-letter sink', async () => {
    const subscriber = await receiver({ status: 400 });
    const result = await deliver(subscriber.url, event, spec(), { post: fetchPost, sleep: async () => {} });
    assert.equal(result.outcome, 'dropped');
  });

  it('sends structured mode when the format is json', async () => {
    const subscriber = await receiver({ status: 202 });
    await deliver(subscriber.url, event, spec({ format: 'structured' }), { post: fetchPost, sleep: async () => {} });
    assert.match(String(subscriber.requests[0]?.headers['content-type']), /^application\/cloudevents\+json/);
    assert.equal(subscriber.requests[0]?.event?.id, 'e-1');
  });
});

describe('deadLetterEvent', () => {
  it('cuts the response body to 1024 characters before base64', () => {
    const long = 'x'.repeat(3000);
    const dead = deadLetterEvent(event, 'http://sub/', {
      kind: 'response',
      response: { status: 500, headers: {}, body: Buffer.from(long) },
    });
    assert.equal(Buffer.from(String(dead.knativeerrordata), 'base64').toString('utf8'), 'x'.repeat(1024));
    assert.equal(dead.knativeerrorcode, '500');
  });
});
