// The sender's one deadline over all attempts (OUTBOUND_DEADLINE_MS), driven by an injected clock and poster.
// A wait cut to the time left ends the sends: whatever the clock says when the timer fires (Node can fire it a
// few milliseconds early against performance.now()), no attempt follows it, and the caller hears the broker's
// last answer rather than the 504 of an attempt that had no time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { createEventSender } from '../runtime/events/sender.js';
import type { HttpPoster } from '../runtime/events/http-client.js';
import { HttpError } from '../runtime/http/errors.js';
import { createLogger } from '../runtime/logger.js';

function senderAnswering503(backoffMs: number) {
  const timeouts: number[] = [];
  const sleeps: number[] = [];
  const poster: HttpPoster = {
    post: (_url, _headers, _body, timeoutMs) => {
      timeouts.push(timeoutMs);
      return Promise.resolve({ status: 503, body: 'busy' });
    },
    close: () => Promise.resolve(),
  };
  const sender = createEventSender(
    {
      target: 'broker',
      url: 'http://broker.test/ns/b',
      mode: 'binary',
      outbound: { timeoutMs: 1000, retries: 3, backoffMs, backoffMaxMs: backoffMs, deadlineMs: 800 },
    },
    {
      poster,
      // The timer "fires" at once: as far as performance.now() knows, almost all of the deadline is left.
      clock: { random: () => 1, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) },
      log: createLogger({ level: 'silent', base: {} }),
    },
  );
  return { sender, timeouts, sleeps };
}

/** What the send was refused with; fails the test if it was accepted. */
const refusal = (sent: Promise<unknown>): Promise<unknown> =>
  sent.then(
    () => assert.fail('a 503 from every attempt must not be accepted'),
    (e: unknown) => e,
  );

const event = () => new CloudEvent({ id: 'e-1', source: '/s', type: 't' }, false);

test('a backoff cut to the time left is the last wait: no attempt follows it, the 503 is what the caller hears', async () => {
  const { sender, timeouts, sleeps } = senderAnswering503(5000);
  const err = await refusal(sender.send(event()));
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 503);
  assert.match(err.message, /answered 503 after 1 attempt;/);
  assert.equal(timeouts.length, 1, `attempts with timeouts ${timeouts.join(', ')} ms`);
  assert.equal(sleeps.length, 1);
  assert.ok(sleeps[0]! > 700 && sleeps[0]! <= 800, `the wait was cut to the time left: ${sleeps[0]} ms`);
});

test('backoffs that fit in the time left are waited, and every retry is made', async () => {
  const { sender, timeouts, sleeps } = senderAnswering503(10);
  const err = await refusal(sender.send(event()));
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 503);
  assert.match(err.message, /answered 503 after 4 attempts;/);
  assert.deepEqual(sleeps, [10, 10, 10]);
  assert.equal(timeouts.length, 4);
  assert.ok(
    timeouts.every((t) => t > 700 && t <= 800),
    `each attempt's timeout is cut to the time left: ${timeouts}`,
  );
});
