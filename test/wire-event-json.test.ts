// A structured event's envelope is written without JSON.stringify for names and values that need no escape
// (wire-event.ts jsonText): the bytes must be JSON.stringify's for every value, escapes included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { structuredMessage, WireEvent, type AttributeValue } from '../runtime/events/wire-event.js';

test("a structured envelope's attributes are the bytes JSON.stringify writes, whatever the characters", () => {
  const values: AttributeValue[] = [
    'plain',
    '',
    'a " quote',
    'a \\ backslash',
    'line\nbreak, tab\t, nul \u0000, unit separator \u001f',
    'del \u007f, line separator \u2028, é, €',
    'pair 😀 and lone \ud800 surrogate',
    '</script>',
    42,
    -1,
    true,
    false,
  ];
  const attributes = new Map<string, AttributeValue>([
    ['specversion', '1.0'],
    ['id', 'x'],
    ...values.map((value, i): [string, AttributeValue] => [`ext${i}`, value]),
  ]);
  const data = Buffer.from('{"a":1}');
  const { body } = structuredMessage(new WireEvent(attributes, { bytes: data, kind: 'json' }));
  const expected = `{${[...attributes].map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')},"data":{"a":1}}`;
  assert.equal(body.toString('utf8'), expected);
  const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  values.forEach((value, i) => assert.equal(parsed[`ext${i}`], value));
});
