// Header values as the CloudEvents HTTP binding (§3.1.3.2) writes and reads them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeHeaderValue, percentEncode } from '../runtime/events/percent.js';

test('space, double quote, percent and everything outside printable ASCII are encoded as UTF-8 bytes', () => {
  assert.equal(percentEncode('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80', "the binding's own example");
  assert.equal(percentEncode('a"b%c'), 'a%22b%25c');
  assert.equal(percentEncode('tab\there\n'), 'tab%09here%0A');
  assert.equal(percentEncode('é'), '%C3%A9', 'Latin-1 characters too: headers carry ASCII');
  const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
    .filter((c) => c !== '"' && c !== '%')
    .join('');
  assert.equal(percentEncode(printable), printable, 'the rest of U+0021–U+007E stays as it is');
});

test('decoding: a single round, quoted strings unquoted first, unnecessary encoding accepted', () => {
  assert.equal(decodeHeaderValue('subject', 'Euro%20%E2%82%AC%20%F0%9F%98%80'), 'Euro € 😀');
  assert.equal(decodeHeaderValue('subject', '%61%62c'), 'abc', 'unnecessarily encoded ASCII');
  assert.equal(decodeHeaderValue('subject', '%2541'), '%41', 'one round only');
  assert.equal(decodeHeaderValue('subject', '"a \\"b\\" c"'), 'a "b" c', 'an RFC 7230 quoted string');
  assert.equal(
    decodeHeaderValue('subject', Buffer.from('日本', 'utf8').toString('latin1')),
    '日本',
    'raw UTF-8 bytes (outside the binding) read as UTF-8',
  );
  assert.equal(decodeHeaderValue('subject', 'caf\u00e9'), 'café', 'a raw Latin-1 byte that is not UTF-8 stays Latin-1');
});

test('decoding refuses what the binding says to refuse, naming the header', () => {
  for (const bad of ['%', '%4', '%G0', '%C0%A0', '%ED%A0%80', '%E2%82']) {
    assert.throws(
      () => decodeHeaderValue('subject', bad),
      (err: { status?: number; message?: string }) => err.status === 400 && /ce-subject/.test(err.message ?? ''),
      bad,
    );
  }
});

test('any well-formed string survives encoding and decoding, and the encoding is printable ASCII', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (value) => {
      const encoded = percentEncode(value);
      assert.match(encoded, /^[\x21\x23-\x7e]*$/, 'printable ASCII, no double quote');
      assert.equal(decodeHeaderValue('x', encoded), value);
    }),
    { numRuns: 2000 },
  );
});
