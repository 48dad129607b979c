// Log lines as the bundled process writes them: one JSON object per line with every key once (some log
// pipelines reject a line that repeats a key), and a function's PermanentError at info with its message and
// no stack (an expected outcome, dead-lettered by Knative, not a warning).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBundle } from './helpers/bundle.js';
import { waitFor } from './helpers/wait.js';

/** The top-level keys of one JSON object text, duplicates kept (JSON.parse keeps only the last). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const key = JSON.parse(text.slice(i, end + 1)) as string;
      let next = end + 1;
      while (text[next] === ' ') next++;
      if (depth === 1 && text[next] === ':') keys.push(key);
      i = end;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return keys;
}

test('topLevelKeys sees a repeated key', () => {
  assert.deepEqual(topLevelKeys('{"a":1,"b":{"a":"x\\"y"},"a":2}'), ['a', 'b', 'a']);
});

test("a function's log lines carry each key once; a PermanentError is logged at info, with its message and no stack", async () => {
  const bundle = await startBundle({ ROLE: 'subscriber', FUNCTION: 'trade-transform', LOG_LEVEL: 'info' });
  try {
    const post = (id: string, data: unknown) =>
      fetch(bundle.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-type': 'com.example.trade',
          'ce-source': '/provider',
        },
        body: JSON.stringify(data),
      });
    const good = await post('good-1', {
      trade_id: 'T-1',
      instrument: { ticker: 'acme' },
      qty: 10,
      px: 12.5,
      side: 'B',
      trade_time: '2026-11-25T09:30:00Z',
    });
    assert.equal(good.status, 200);
    const bad = await post('bad-1', { trade_id: 'T-2' });
    assert.equal(bad.status, 422);
    await waitFor(() => bundle.stdout().includes('"eventId":"bad-1"'), 5000, {
      what: 'the log line of event bad-1',
      intervalMs: 20,
    });

    const lines = bundle.stdout().split('\n').filter(Boolean);
    for (const line of lines) {
      const keys = topLevelKeys(line);
      assert.deepEqual(keys, [...new Set(keys)], `a key repeated in ${line}`);
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const mapped = parsed.find((l) => l.msg === 'trade mapped');
    assert.equal(mapped?.function, 'trade-transform', 'the function line names its function once');
    assert.equal(mapped?.eventId, 'good-1');

    const permanent = parsed.filter((l) => l.eventId === 'bad-1');
    assert.ok(permanent.length >= 2, `the function's line and the request line: ${JSON.stringify(permanent)}`);
    for (const l of permanent) {
      assert.equal(l.level, 'info', JSON.stringify(l));
      assert.equal(l.err, undefined, 'no error object, so no stack');
      assert.doesNotMatch(JSON.stringify(l), /"stack"|at .*\.cjs:\d+/);
      assert.match(String(l.error), /trade bad-1 cannot be mapped: /);
    }
    assert.ok(
      permanent.some((l) => l.msg === 'function trade-transform rejected the event permanently' && l.status === 422),
    );
  } finally {
    bundle.child.kill('SIGTERM');
    await bundle.exited;
  }
});
