import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent } from 'cloudevents';
import pino from 'pino';
import { noSpan, type FunctionContext } from '../../runtime/function-api.js';
import echo from './index.js';

const lines: Array<Record<string, unknown>> = [];
const log = pino(
  { level: 'debug' },
  { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
);
const context: FunctionContext = {
  log,
  config: {},
  secrets: { get: () => undefined },
  signal: new AbortController().signal,
  span: noSpan,
};

test('echo answers with the event data and logs it at debug', () => {
  const data = { event_data_1: 'data value 1' };
  assert.deepEqual(echo(new CloudEvent({ id: '1', type: 't', source: '/s', data }), context), data);
  assert.deepEqual(lines.at(-1)?.data, data);
  assert.equal(lines.at(-1)?.msg, 'echo');
});

test('echo of an event without data answers with its id and type', () => {
  assert.deepEqual(echo(new CloudEvent({ id: '2', type: 't2', source: '/s' }), context), { id: '2', type: 't2' });
});
