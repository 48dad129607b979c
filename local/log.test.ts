// The runner's console: a child's pino JSON line shown as `time LEVEL message {fields}`, anything else as it came.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsole } from './log.js';

function shown(line: string, stream: 'stdout' | 'stderr' = 'stdout'): string[] {
  const lines: string[] = [];
  const out = createConsole({
    level: 'info',
    colour: false,
    width: 4,
    write: (l) => lines.push(l),
    now: () => new Date('2026-01-01T09:00:00.000Z'),
  });
  out.component('svc').child(line, stream);
  return lines;
}

test('a pino line: its level (numeric or named), time of day, message and the fields not already shown', () => {
  assert.deepEqual(shown('{"level":40,"time":"2026-01-01T10:11:12.345Z","msg":"slow","pid":7,"eventId":"e-1"}'), [
    'svc  │ 10:11:12.345 WARN  slow {"eventId":"e-1"}',
  ]);
  assert.deepEqual(shown('{"level":"error","msg":{"code":1}}'), ['svc  │ 09:00:00.000 ERROR {"code":1}']);
  assert.deepEqual(shown('{"level":99,"msg":null}'), ['svc  │ 09:00:00.000 INFO  ']);
});

test('anything else passes through as it is: INFO from stdout, ERROR from stderr; blank lines are dropped', () => {
  assert.deepEqual(shown('{not json'), ['svc  │ 09:00:00.000 INFO  {not json']);
  assert.deepEqual(shown('boom', 'stderr'), ['svc  │ 09:00:00.000 ERROR boom']);
  assert.deepEqual(shown('   '), []);
});
