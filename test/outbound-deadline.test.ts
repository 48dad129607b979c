// OUTBOUND_DEADLINE_MS bounds one outbound call as a whole (attempts and the waits between them), so the
// handler's caller hears back within it even when every attempt times out or backoff would wait longer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';

const legacy = { 'content-type': 'application/json', ce_type: 't', ce_source: 's' };

test('a hanging broker: attempts are cut to fit the deadline, and the caller gets 504 in time', async () => {
  const broker = await startReceiver({ hang: true });
  // Without the deadline: 11 attempts × 300 ms = 3.3 s.
  const runtime = await startRuntime({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    OUTBOUND_TIMEOUT_MS: '300',
    OUTBOUND_RETRIES: '10',
    OUTBOUND_BACKOFF_MS: '0',
    OUTBOUND_DEADLINE_MS: '1000',
  });
  try {
    const started = performance.now();
    const res = await fetch(runtime.url, { method: 'POST', headers: legacy, body: '{}' });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 504);
    assert.ok(elapsed >= 950 && elapsed < 2500, `answered after ${Math.round(elapsed)} ms`);
    assert.ok(broker.requests.length <= 5, `${broker.requests.length} attempts`);
  } finally {
    await runtime.stop();
    await broker.close();
  }
});

test('a backoff longer than the time left is cut short, and the last answer is what the caller hears', async () => {
  const broker = await startReceiver({ status: 503 });
  const clock = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), random: () => 1 };
  const runtime = await startRuntime(
    {
      ROLE: 'handler',
      BROKER_URL: broker.url,
      OUTBOUND_RETRIES: '3',
      OUTBOUND_BACKOFF_MS: '5000',
      OUTBOUND_BACKOFF_MAX_MS: '5000',
      OUTBOUND_DEADLINE_MS: '800',
    },
    { clock },
  );
  try {
    const started = performance.now();
    const res = await fetch(runtime.url, { method: 'POST', headers: legacy, body: '{}' });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /answered 503 after 1 attempt/);
    assert.ok(elapsed >= 750 && elapsed < 2500, `answered after ${Math.round(elapsed)} ms (a full backoff is 5 s)`);
    assert.equal(broker.requests.length, 1);
  } finally {
    await runtime.stop();
    await broker.close();
  }
});
