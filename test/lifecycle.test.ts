// Readiness is false while starting and while draining; draining waits for requests in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

test('/readyz answers 503 with the envelope once draining starts, while in-flight requests finish', async () => {
  const broker = await startReceiver({ status: 202, delayMs: 200 });
  const runtime = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url });
  try {
    const inFlight = fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ce_type: 't', ce_source: 's' },
      body: '{}',
    });
    await waitFor(() => broker.requests.length > 0, 5000, { what: 'the request to reach the broker', intervalMs: 5 });
    runtime.lifecycle.markStopping();
    const ready = await fetch(`${runtime.url}readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), {
      success: false,
      error: { type: 'shutting_down', message: 'draining: not taking new requests' },
    });
    const drained = runtime.stop(2000);
    assert.equal((await inFlight).status, 202);
    assert.deepEqual(await drained, { abandoned: 0 });
  } finally {
    await runtime.stop();
    await broker.close();
  }
});

test('draining gives up at its timeout and reports what it abandoned', async () => {
  const broker = await startReceiver({ hang: true });
  const runtime = await startRuntime({ ROLE: 'handler', BROKER_URL: broker.url, OUTBOUND_TIMEOUT_MS: '10000' });
  try {
    const pending = fetch(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ce_type: 't', ce_source: 's' },
      body: '{}',
    }).catch((err: Error) => err);
    await waitFor(() => broker.requests.length > 0, 5000, { what: 'the request to reach the broker', intervalMs: 5 });
    assert.deepEqual(await runtime.stop(100), { abandoned: 1 });
    assert.ok((await pending) instanceof Error, 'the abandoned connection was closed');
  } finally {
    await broker.close();
  }
});

test('a new lifecycle is not ready until marked', async () => {
  const { createLifecycle } = await import('../runtime/lifecycle.js');
  const lifecycle = createLifecycle();
  assert.equal(lifecycle.ready, false);
  lifecycle.markReady();
  assert.equal(lifecycle.ready, true);
  lifecycle.markStopping();
  assert.equal(lifecycle.ready, false);
});
