// The sliced JSON validator (runtime/events/json-validate.ts) against JSON.parse: the same verdict on arbitrary
// JSON, on JSON with random byte edits, and on hand-picked edge cases; the depth limit as json-scan's; the loop
// is yielded to between slices.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HttpError } from '../runtime/http/errors.js';
import { heavyBodyBytes } from '../runtime/http/heavy-turns.js';
import { createTurnQueue } from '../runtime/http/turn-queue.js';
import {
  checkJson,
  jsonSliceBytes,
  JsonScanner,
  prevalidateJsonBody,
  validateJson,
} from '../runtime/events/json-validate.js';
import { maxJsonDepth, nestsDeeperThan } from '../runtime/events/json-scan.js';
import { startReceiver } from './helpers/receiver.js';
import { startRuntime } from './helpers/runtime.js';

function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(bytes).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** The scanner's verdict in one go (no depth limit: JSON.parse has none), then in slices of `slice` bytes. */
function accepts(bytes: Uint8Array, slice = bytes.length + 1): boolean {
  const scanner = new JsonScanner(bytes, Infinity);
  for (let end = slice; ; end += slice) {
    scanner.scan(end);
    const verdict = scanner.verdict();
    if (verdict) return verdict.ok;
  }
}

function sameVerdict(bytes: Uint8Array, slice?: number): void {
  const expected = parses(bytes);
  assert.equal(
    accepts(bytes, slice),
    expected,
    `${JSON.stringify(Buffer.from(bytes).toString('latin1'))}: JSON.parse says ${expected ? 'valid' : 'invalid'}`,
  );
}

const edgeCases = [
  '',
  ' ',
  '\n\t\r ',
  '0',
  '-0',
  '-',
  '01',
  '-01',
  '00',
  '1.',
  '.5',
  '1.5',
  '1e',
  '1e+',
  '1E-2',
  '1e5',
  '-1.5e+10',
  '+1',
  '1.e5',
  '0x10',
  'Infinity',
  'NaN',
  '123456789012345678901234567890',
  '1e999',
  '-1e-999',
  '"\\uD800"',
  '"\\uDC00\\uD800"',
  '"\\u00"',
  '"\\u00e9"',
  '"\\u00G0"',
  '"\\x41"',
  '"\\a"',
  '"\\/"',
  '"\\',
  '"a',
  '"\t"',
  '"\n"',
  '"\u001f"',
  '"\u007f"',
  '"é"',
  '[1,]',
  '{"a":1,}',
  '[,1]',
  '[1 2]',
  '{"a" 1}',
  '{1:2}',
  "{'a':1}",
  '{"a":1 "b":2}',
  '[',
  ']',
  '{',
  '}',
  '[]',
  '{}',
  ' [ ] ',
  '[[]]',
  '{"":{}}',
  'true',
  'tru',
  'truee',
  'false',
  'null',
  'nul',
  'True',
  '\uFEFF1',
  '\uFEFF{}',
  '1 2',
  '{} {}',
  '"a"b',
  '\u00a01',
  '{"a":[1,{"b":null}],"c":"\\"}"}',
  '[1,2,3]\n',
  '\u20281',
  '1\u2028',
  '[1]\u0000',
  '\u0000',
];

test('hand-picked edge cases: the same verdict as JSON.parse', () => {
  for (const text of edgeCases) {
    sameVerdict(Buffer.from(text, 'utf8'));
    sameVerdict(Buffer.from(text, 'utf8'), 1);
  }
  // Bytes that are not UTF-8: fine inside a string (JSON.parse sees U+FFFD there), invalid anywhere else.
  for (const bytes of [
    [0x22, 0xff, 0x22],
    [0x22, 0xe2, 0x22],
    [0x22, 0xc3, 0x22, 0x22],
    [0xff],
    [0x5b, 0x80, 0x5d],
    [0x22, 0xed, 0xa0, 0x80, 0x22],
    [0xef, 0xbb, 0xbf, 0x31],
  ]) {
    sameVerdict(Uint8Array.from(bytes));
  }
});

test('property: arbitrary JSON is accepted, whole and in slices, as JSON.parse accepts it', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.json(),
        fc.jsonValue().map((value) => JSON.stringify(value, null, 2)),
      ),
      fc.integer({ min: 1, max: 64 }),
      (text, slice) => {
        const bytes = Buffer.from(text, 'utf8');
        assert.equal(accepts(bytes), true, text);
        assert.equal(accepts(bytes, slice), true, text);
      },
    ),
    { numRuns: 500 },
  );
});

const specialBytes = [
  0x22, 0x5c, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x2e, 0x30, 0x31, 0x65, 0x45, 0x2b, 0x75, 0x20, 0x0a, 0x00,
  0x1f, 0x7f, 0x80, 0xc3, 0xef, 0xff, 0x74, 0x6e,
];
const edit = fc.record({
  kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  byte: fc.oneof(fc.constantFrom(...specialBytes), fc.integer({ min: 0, max: 255 })),
});

function mutate(bytes: Buffer, edits: ReadonlyArray<{ kind: string; at: number; byte: number }>): Buffer {
  let out = Buffer.from(bytes);
  for (const { kind, at, byte } of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + (kind === 'insert' ? 1 : 0));
    if (kind === 'replace' && out.length > 0) out[i] = byte;
    else if (kind === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.of(byte), out.subarray(i)]);
    else if (kind === 'delete') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
    else if (kind === 'truncate') out = out.subarray(0, i);
  }
  return out;
}

test('property: JSON with random byte edits, insertions and truncations gets the same verdict as from JSON.parse', () => {
  const jsonText = fc.oneof(
    fc.json(),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value, null, 1)),
    fc.constantFrom(...edgeCases),
  );
  fc.assert(
    fc.property(
      jsonText,
      fc.array(edit, { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 16 }),
      (text, edits, slice) => {
        const bytes = mutate(Buffer.from(text, 'utf8'), edits);
        sameVerdict(bytes);
        sameVerdict(bytes, slice);
      },
    ),
    { numRuns: 3000 },
  );
});

test('the depth limit: at the limit accepted, one over refused with 422, as nestsDeeperThan says', async () => {
  for (const depth of [maxJsonDepth - 1, maxJsonDepth, maxJsonDepth + 1, 5000]) {
    for (const text of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)]) {
      const tooDeep = nestsDeeperThan(Buffer.from(text), maxJsonDepth);
      assert.equal(tooDeep, depth > maxJsonDepth);
      const verdict = await checkJson(Buffer.from(text));
      assert.equal(verdict.ok, !tooDeep, `depth ${depth}`);
      if (!verdict.ok) assert.equal(verdict.tooDeep, true);
      if (tooDeep)
        await assert.rejects(
          validateJson(Buffer.from(text), 'the body'),
          (err: unknown) => err instanceof HttpError && err.status === 422,
        );
      else await validateJson(Buffer.from(text), 'the body');
    }
  }
});

test("property: on valid JSON the depth verdict is nestsDeeperThan's, for any limit", async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), async (value, limit) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const verdict = await checkJson(bytes, limit, 7);
      assert.equal(verdict.ok, !nestsDeeperThan(bytes, limit));
    }),
    { numRuns: 300 },
  );
});

test('errors: 400 invalid_json naming what and where', async () => {
  await assert.rejects(validateJson(Buffer.from('[1,2,]'), 'the request body'), (err: unknown) => {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 400);
    assert.equal(err.type, 'invalid_json');
    assert.equal(err.message, 'the request body is not valid JSON: unexpected "]" at byte 5');
    return true;
  });
  await assert.rejects(
    validateJson(Buffer.from('{"a":"b'), 'x'),
    /^HttpError: x is not valid JSON: unterminated string at byte 7$|x is not valid JSON: unterminated string at byte 7/,
  );
  await assert.rejects(validateJson(Buffer.from('"a\u0001"'), 'x'), /control character 0x01 in a string at byte 2/);
  await assert.rejects(validateJson(Buffer.from(''), 'x'), /unexpected end of input at byte 0/);
  await validateJson(Buffer.from(' {"a":[1,2.5e3,"\\u00e9",true,false,null]} '), 'x');
});

test('a 1 MiB body is scanned in turns of the slice queue: the loop turns between two slices', async () => {
  const items: string[] = [];
  for (let i = 0; items.length * 8 < 1024 * 1024; i++) items.push(`{"a":${i % 10}}`);
  const body = Buffer.from(`[${items.join(',')}]`);
  // Counted in turns of the event loop, not milliseconds, so a busy machine cannot fail it: an immediate that
  // re-arms itself runs once per turn, and a scan that held the loop would leave it at one or two.
  let turns = 0;
  let counting = true;
  const countTurn = (): void => {
    turns++;
    if (counting) setImmediate(countTurn);
  };
  setImmediate(countTurn);
  // A turn of 0 ms: one 64 KiB slice per turn, whatever the machine's speed.
  const verdict = await checkJson(body, maxJsonDepth, jsonSliceBytes, createTurnQueue(0).run);
  counting = false;
  assert.deepEqual(verdict, { ok: true });
  const slices = Math.ceil(body.length / jsonSliceBytes);
  assert.ok(turns >= slices, `the loop turned ${turns} times during a scan of ${slices} slices`);
});

test('prevalidateJsonBody: large JSON bodies in binary or legacy form only', async () => {
  const large = Buffer.from(`[${'1,'.repeat(heavyBodyBytes / 2)}1]`);
  assert.equal(await prevalidateJsonBody({ 'content-type': 'application/json' }, large), true);
  assert.equal(await prevalidateJsonBody({ 'content-type': 'application/vnd.x+json; charset=utf-8' }, large), true);
  assert.equal(
    await prevalidateJsonBody({ 'content-type': 'application/json' }, Buffer.from('[1,')),
    false,
    'small bodies are left to JSON.parse',
  );
  assert.equal(
    await prevalidateJsonBody({ 'content-type': 'application/cloudevents+json' }, large),
    false,
    'structured mode: the envelope is parsed',
  );
  assert.equal(await prevalidateJsonBody({ 'content-type': 'text/plain' }, large), false);
  assert.equal(await prevalidateJsonBody({}, large), false);
  const broken = Buffer.concat([large.subarray(0, large.length - 1), Buffer.from(',]')]);
  await assert.rejects(
    prevalidateJsonBody({ 'content-type': 'application/json' }, broken),
    /the request body is not valid JSON: unexpected "]" at byte/,
  );
});

test('the handler: a large legacy JSON body is validated in slices and forwarded byte for byte; a broken one is a 400', async () => {
  const broker = await startReceiver();
  const handler = await startRuntime({
    ROLE: 'handler',
    BROKER_URL: broker.url,
    BROKER_CONTENT_MODE: 'binary',
    LOG_LEVEL: 'fatal',
  });
  try {
    // Big numbers, key order and spacing intact: nothing parsed it and wrote it again.
    const body = Buffer.from(`[${'{"b":1e400, "a":12345678901234567890},'.repeat(heavyBodyBytes / 30)}null]`);
    const headers = { 'content-type': 'application/json', ce_type: 't', ce_source: '/s' };
    const sent = await fetch(handler.url, { method: 'POST', headers, body });
    assert.equal(sent.status, 202, await sent.text());
    assert.equal(broker.requests.length, 1);
    assert.ok(broker.requests[0]?.body.equals(body), 'the broker got the very bytes');
    const broken = Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(',]')]);
    const refused = await fetch(handler.url, { method: 'POST', headers, body: broken });
    assert.equal(refused.status, 400);
    const envelope = (await refused.json()) as { error: { type: string; message: string } };
    assert.equal(envelope.error.type, 'invalid_json');
    assert.equal(
      envelope.error.message,
      `the request body is not valid JSON: unexpected "]" at byte ${broken.length - 1}`,
    );
    const deep = Buffer.from('['.repeat(heavyBodyBytes) + ']'.repeat(heavyBodyBytes));
    assert.equal((await fetch(handler.url, { method: 'POST', headers, body: deep })).status, 422);
    assert.equal(broker.requests.length, 1, 'nothing broken was forwarded');
  } finally {
    await handler.stop();
    await broker.close();
  }
});
