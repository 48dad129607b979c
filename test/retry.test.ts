import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, withRetries } from '../runtime/events/retry.js';

const policy = { retries: 4, baseDelayMs: 100, maxDelayMs: 350 };

test('backoff doubles from the base, is capped, and jitter stays within [0, ceiling]', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelay(policy, n, () => 1)),
    [100, 200, 350, 350],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelay(policy, n, () => 0)),
    [0, 0, 0],
  );
  assert.equal(
    backoffDelay(policy, 2, () => 0.5),
    100,
  );
});

test('retries stop at success, at a non-retryable outcome, or when the retries are used up', async () => {
  const slept: number[] = [];
  const clock = { sleep: async (ms: number) => void slept.push(ms), random: () => 1 };
  let calls = 0;
  const success = await withRetries(policy, clock, async () =>
    ++calls < 3 ? { done: false, retryable: true, value: calls } : { done: true, value: calls },
  );
  assert.deepEqual(success, { done: true, value: 3 });
  assert.deepEqual(slept, [100, 200]);

  calls = 0;
  const permanent = await withRetries(policy, clock, async () => ({
    done: false,
    retryable: ++calls > 1 ? false : true,
    value: calls,
  }));
  assert.equal(permanent.value, 2);

  calls = 0;
  const exhausted = await withRetries(policy, clock, async () => ({ done: false, retryable: true, value: ++calls }));
  assert.equal(exhausted.value, 5, 'one attempt plus four retries');

  calls = 0;
  const stopped = await withRetries(
    policy,
    clock,
    async () => ({ done: false, retryable: true, value: ++calls }),
    undefined,
    () => calls >= 2,
  );
  assert.equal(stopped.value, 2, 'shutdown stops retrying');
});
