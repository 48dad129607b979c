// CloudEvent parsing: the three forms the handler accepts and the rules the SDK lets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { maxJsonDepth } from '../runtime/events/json-scan.js';
import { parseCloudEvent, readWireEvent, toCloudEvent, type ParseOptions } from '../runtime/events/parse.js';
import { HttpError } from '../runtime/http/errors.js';

const fixedNow = new Date('2026-01-02T03:04:05.000Z');
const strict: ParseOptions = { legacy: false, requireJson: false, newId: () => 'generated-id', now: () => fixedNow };
const legacy: ParseOptions = { legacy: true, requireJson: true, newId: () => 'generated-id', now: () => fixedNow };
const binaryHeaders = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({
  'content-type': 'application/json',
  'ce-id': 'abc',
  'ce-source': '/orders',
  'ce-type': 'order.created',
  'ce-specversion': '1.0',
  ...extra,
});
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function rejection(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected HttpError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

test('binary mode: attributes from ce- headers, JSON data parsed, extensions kept', () => {
  const event = parseCloudEvent(
    binaryHeaders({ 'ce-partitionkey': 'k1', 'ce-time': '2026-05-01T10:00:00Z' }),
    json({ qty: 3 }),
    strict,
  );
  assert.equal(event.id, 'abc');
  assert.equal(event.type, 'order.created');
  assert.equal(event.source, '/orders');
  assert.deepEqual(event.data, { qty: 3 });
  assert.equal(event.partitionkey, 'k1');
  assert.equal(event.time, '2026-05-01T10:00:00Z');
});

test('content types with parameters and +json suffixes still parse as JSON', () => {
  for (const type of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.trade+json']) {
    const event = parseCloudEvent(binaryHeaders({ 'content-type': type }), json({ a: 1 }), strict);
    assert.deepEqual(event.data, { a: 1 }, type);
    assert.equal(event.datacontenttype, type);
  }
});

test('structured mode: the body is the event; data_base64 becomes bytes', () => {
  const headers = { 'content-type': 'application/cloudevents+json; charset=utf-8' };
  const event = parseCloudEvent(
    headers,
    json({ specversion: '1.0', id: 's1', source: '/s', type: 't', data: { x: 1 }, traceid: 'tr' }),
    strict,
  );
  assert.equal(event.id, 's1');
  assert.deepEqual(event.data, { x: 1 });
  assert.equal(event.traceid, 'tr');
  const binary = parseCloudEvent(
    headers,
    json({ specversion: '1.0', id: 's2', source: '/s', type: 't', data_base64: Buffer.from('hi').toString('base64') }),
    strict,
  );
  assert.equal(Buffer.from(binary.data as Uint8Array).toString(), 'hi');
});

test('legacy form: ce_ underscore headers, no specversion, id and time filled in', () => {
  const event = parseCloudEvent(
    { 'content-type': 'application/json', ce_type: 'event-subscriber-type', ce_source: 'event-subscriber-source' },
    json({ event_data_1: 'data value 1' }),
    legacy,
  );
  assert.equal(event.type, 'event-subscriber-type');
  assert.equal(event.source, 'event-subscriber-source');
  assert.equal(event.specversion, '1.0');
  assert.equal(event.id, 'generated-id');
  assert.equal(event.time, fixedNow.toISOString());
  assert.deepEqual(event.data, { event_data_1: 'data value 1' });
});

test('legacy form keeps an id and time the client sent', () => {
  const event = parseCloudEvent(
    {
      'content-type': 'application/json',
      'ce-type': 't',
      'ce-source': 's',
      'ce-id': 'mine',
      'ce-time': '2025-01-01T00:00:00Z',
    },
    json({}),
    legacy,
  );
  assert.equal(event.id, 'mine');
  assert.equal(event.time, '2025-01-01T00:00:00Z');
});

test('missing type or source is a 400 naming exactly the missing attributes', () => {
  const onlySource = rejection(() =>
    parseCloudEvent({ 'content-type': 'application/json', ce_source: 's' }, json({}), legacy),
  );
  assert.equal(onlySource.status, 400);
  assert.equal(onlySource.type, 'missing_attributes');
  assert.deepEqual(onlySource.details, ['type']);
  const neither = rejection(() => parseCloudEvent({ 'content-type': 'application/json' }, json({}), legacy));
  assert.deepEqual(neither.details, ['source', 'type']);
  assert.match(neither.message, /source, type/);
});

test('the subscriber requires every required attribute, specversion included', () => {
  const headers = binaryHeaders();
  delete headers['ce-specversion'];
  const err = rejection(() => parseCloudEvent(headers, json({}), strict));
  assert.equal(err.type, 'missing_attributes');
  assert.deepEqual(err.details, ['specversion']);
});

test('a specversion other than 1.0 is refused', () => {
  const err = rejection(() => parseCloudEvent(binaryHeaders({ 'ce-specversion': '0.3' }), json({}), strict));
  assert.equal(err.status, 400);
  assert.equal(err.type, 'unsupported_specversion');
});

test('a bad time is refused instead of silently becoming "now"', () => {
  for (const time of ['yesterday', '2026-13-45T99:00:00Z', '2026-01-01']) {
    const err = rejection(() => parseCloudEvent(binaryHeaders({ 'ce-time': time }), json({}), strict));
    assert.equal(err.type, 'invalid_event', time);
    assert.match(err.message, /RFC 3339/);
  }
});

test('broken JSON is a 400 invalid_json, in both modes', () => {
  assert.equal(rejection(() => parseCloudEvent(binaryHeaders(), Buffer.from('{"a":'), strict)).type, 'invalid_json');
  assert.equal(
    rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, Buffer.from('{nope'), strict))
      .type,
    'invalid_json',
  );
  assert.equal(
    rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, json([1, 2]), strict)).type,
    'invalid_event',
  );
});

test('the handler refuses an empty body and a body that is not JSON', () => {
  const empty = rejection(() =>
    parseCloudEvent({ 'content-type': 'application/json', ce_type: 't', ce_source: 's' }, Buffer.alloc(0), legacy),
  );
  assert.equal(empty.status, 400);
  assert.equal(empty.type, 'empty_body');
  const text = rejection(() =>
    parseCloudEvent({ 'content-type': 'text/plain', ce_type: 't', ce_source: 's' }, Buffer.from('hi'), legacy),
  );
  assert.equal(text.status, 415);
});

test('bad extension names, duplicated attributes and batches are refused', () => {
  assert.equal(
    rejection(() => parseCloudEvent(binaryHeaders({ 'ce-Bad_Name': 'x', 'ce-bad_name': 'x' }), json({}), strict)).type,
    'invalid_event',
  );
  const both = rejection(() =>
    parseCloudEvent(
      { 'content-type': 'application/json', ce_type: 't', 'ce-type': 't', ce_source: 's' },
      json({}),
      legacy,
    ),
  );
  assert.match(both.message, /both as ce-type and ce_type/);
  assert.equal(
    rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents-batch+json' }, json([]), strict)).status,
    415,
  );
});

test('binary mode without a body is an event without data (valid for the subscriber)', () => {
  const event = parseCloudEvent(binaryHeaders(), Buffer.alloc(0), strict);
  assert.equal(event.data, undefined);
});

test('binary mode keeps the body as raw bytes in any content type; JSON is checked, not re-encoded', () => {
  const xml = Buffer.from('<a>ü</a>');
  const wire = readWireEvent(binaryHeaders({ 'content-type': 'application/xml' }), xml, strict);
  assert.equal(wire.data?.kind, 'text', 'XML is text');
  assert.equal(wire.data?.bytes, xml, 'the very buffer that came');
  assert.equal(wire.datacontenttype, 'application/xml');
  const protobuf = Buffer.from([8, 150, 1]);
  const bytes = readWireEvent(binaryHeaders({ 'content-type': 'application/x-protobuf' }), protobuf, strict);
  assert.equal(bytes.data?.kind, 'binary');
  assert.equal(bytes.data?.bytes, protobuf);
  assert.ok(Buffer.isBuffer(toCloudEvent(bytes).data), 'a function gets bytes as a Buffer');
  assert.equal(toCloudEvent(wire).data, '<a>ü</a>', 'and text as a string');
  const bigJson = Buffer.from('{"id":12345678901234567890,"dup":1,"dup":2}');
  const json = readWireEvent(binaryHeaders(), bigJson, strict);
  assert.equal(json.data?.kind, 'json');
  assert.equal(json.data?.bytes, bigJson);
  assert.equal(
    readWireEvent(
      binaryHeaders({ 'content-type': 'text/plain; charset=iso-8859-1' }),
      Buffer.from('é', 'latin1'),
      strict,
    ).data?.kind,
    'text',
  );
});

test('structured mode: JSON data is kept as the bytes of its member, text as its characters', () => {
  const envelope = Buffer.from(
    '{"specversion":"1.0","id":"s","source":"/s","type":"t","data" : {"n":1.50,"n":2} ,"time":"2026-01-01T00:00:00.000000001Z"}',
  );
  const wire = readWireEvent({ 'content-type': 'application/cloudevents+json' }, envelope, strict);
  assert.equal(wire.data?.bytes.toString(), '{"n":1.50,"n":2}');
  assert.equal(wire.attributes.get('time'), '2026-01-01T00:00:00.000000001Z', 'time as given');
  const escapedKey = readWireEvent(
    { 'content-type': 'application/cloudevents+json' },
    Buffer.from('{"specversion":"1.0","id":"s","source":"/s","type":"t","d\\u0061ta":[1, 2]}'),
    strict,
  );
  assert.equal(escapedKey.data?.bytes.toString(), '[1, 2]', 'a key written with escapes is still "data"');
  const text = readWireEvent(
    { 'content-type': 'application/cloudevents+json' },
    json({
      specversion: '1.0',
      id: 's',
      source: '/s',
      type: 't',
      datacontenttype: 'text/plain; charset=latin1',
      data: 'café',
    }),
    strict,
  );
  assert.deepEqual(text.data?.bytes, Buffer.from('café', 'latin1'), 'text in its declared charset');
  const latin1 = Buffer.from('Größe', 'latin1');
  const base64Text = readWireEvent(
    { 'content-type': 'application/cloudevents+json' },
    json({
      specversion: '1.0',
      id: 's',
      source: '/s',
      type: 't',
      datacontenttype: 'text/plain; charset=iso-8859-1',
      data_base64: latin1.toString('base64'),
    }),
    strict,
  );
  assert.equal(base64Text.data?.kind, 'text', 'text sent as base64 is still text');
  assert.equal(toCloudEvent(base64Text).data, 'Größe', 'decoded as Latin-1 for a function');
});

test('ce- header values are percent-decoded (HTTP binding §3.1.3.2); bad encodings are a 400', () => {
  const event = parseCloudEvent(
    binaryHeaders({ 'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80', 'ce-myext': '"quoted \\"x\\""' }),
    json({}),
    strict,
  );
  assert.equal(event.subject, 'Euro € 😀');
  assert.equal(event.myext, 'quoted "x"');
  assert.equal(
    parseCloudEvent(binaryHeaders({ 'ce-subject': '%e6%97%a5' }), json({}), strict).subject,
    '日',
    'lower-case hex',
  );
  for (const bad of ['%', '%4', '%zz', '%C0%A0', '%ED%A0%80', '%E6%97']) {
    const err = rejection(() => parseCloudEvent(binaryHeaders({ 'ce-subject': bad }), json({}), strict));
    assert.equal(err.status, 400, bad);
    assert.match(err.message, /ce-subject.*§3\.1\.3\.2/, bad);
  }
  // Legacy ce_ headers are the seed's own form, not the binding: taken as typed.
  assert.equal(
    parseCloudEvent({ 'content-type': 'application/json', ce_type: 't', ce_source: 'a%20b' }, json({}), legacy).source,
    'a%20b',
  );
});

test('JSON nested past the documented limit is a 422 in both modes; at the limit it is fine', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  assert.doesNotThrow(() => parseCloudEvent(binaryHeaders(), Buffer.from(nested(maxJsonDepth)), strict));
  const binary = rejection(() => parseCloudEvent(binaryHeaders(), Buffer.from(nested(maxJsonDepth + 1)), strict));
  assert.equal(binary.status, 422);
  assert.match(binary.message, /more than 128 levels/);
  const structured = Buffer.from(`{"specversion":"1.0","id":"s","source":"/s","type":"t","data":${nested(5000)}}`);
  assert.equal(
    rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, structured, strict)).status,
    422,
  );
  // Brackets inside strings are text, not nesting.
  assert.doesNotThrow(() => parseCloudEvent(binaryHeaders(), json({ s: '['.repeat(1000) }), strict));
  // Many brackets side by side (not nested) are fine; nesting past the limit among many of them is not.
  const flat = `[${Array.from({ length: 300 }, () => '{"a":[1]}').join(',')}]`;
  assert.equal((parseCloudEvent(binaryHeaders(), Buffer.from(flat), strict).data as unknown[]).length, 300);
  const deepAmongMany = `[${flat},${nested(maxJsonDepth)}]`;
  assert.equal(rejection(() => parseCloudEvent(binaryHeaders(), Buffer.from(deepAmongMany), strict)).status, 422);
});

test('extension values: string, 32-bit integer and boolean are kept typed; anything else is a 400', () => {
  const structured = (extra: Record<string, unknown>) =>
    json({ specversion: '1.0', id: 's', source: '/s', type: 't', ...extra });
  const wire = readWireEvent(
    { 'content-type': 'application/cloudevents+json' },
    structured({ n: 42, b: true, s: 'x', gone: null }),
    strict,
  );
  assert.deepEqual(
    [wire.attributes.get('n'), wire.attributes.get('b'), wire.attributes.get('s'), wire.attributes.has('gone')],
    [42, true, 'x', false],
  );
  for (const value of [{ a: 1 }, [1], 1.5, 2 ** 31]) {
    const err = rejection(() =>
      readWireEvent({ 'content-type': 'application/cloudevents+json' }, structured({ myext: value }), strict),
    );
    assert.equal(err.status, 400, JSON.stringify(value));
    assert.match(err.message, /attribute "myext" must be a string, a 32-bit integer or a boolean/);
  }
});

test('poison names: carried in the wire form, refused with a clear 4xx only where an SDK object would break', () => {
  const wire = readWireEvent(
    binaryHeaders({ 'ce-constructor': 'c', 'ce-validate': 'v', 'ce-tostring': 't' }),
    json({}),
    strict,
  );
  assert.deepEqual(
    [wire.attributes.get('constructor'), wire.attributes.get('validate'), wire.attributes.get('tostring')],
    ['c', 'v', 't'],
  );
  const proto = rejection(() => readWireEvent(binaryHeaders({ 'ce-__proto__': 'x' }), json({}), strict));
  assert.match(proto.message, /extension attribute name "__proto__" must be 1-20 lowercase letters or digits/);
  const structuredProto = rejection(() =>
    readWireEvent(
      { 'content-type': 'application/cloudevents+json' },
      Buffer.from('{"specversion":"1.0","id":"s","source":"/s","type":"t","__proto__":"x"}'),
      strict,
    ),
  );
  assert.match(structuredProto.message, /"__proto__"/);
  for (const name of ['validate', 'emit', 'constructor']) {
    const err = rejection(() => parseCloudEvent(binaryHeaders({ [`ce-${name}`]: 'x' }), json({}), strict));
    assert.equal(err.status, 422, name);
    assert.match(err.message, new RegExp(`"${name}" cannot be given to a function`));
  }
  assert.match(
    rejection(() => readWireEvent(binaryHeaders({ 'ce-data': 'x' }), json({}), strict)).message,
    /"data" is not an attribute name/,
  );
});

test('data_base64 must be base64; a datacontenttype must be ASCII; attributes must be well-formed Unicode', () => {
  const structured = (extra: Record<string, unknown>) =>
    json({ specversion: '1.0', id: 's', source: '/s', type: 't', ...extra });
  const type = { 'content-type': 'application/cloudevents+json' };
  assert.match(rejection(() => readWireEvent(type, structured({ data_base64: 'a b!' }), strict)).message, /base64/);
  assert.match(
    rejection(() => readWireEvent(type, structured({ datacontenttype: 'text/日本', data: 'x' }), strict)).message,
    /datacontenttype must be a media type in ASCII/,
  );
  assert.match(
    rejection(() => readWireEvent(type, structured({ subject: '\ud800' }), strict)).message,
    /not well-formed Unicode/,
  );
});

test('the handler accepts any data in binary mode; the legacy ce_ form stays JSON-only', () => {
  const handler: ParseOptions = { legacy: true, newId: () => 'generated-id', now: () => fixedNow };
  const wire = readWireEvent(
    binaryHeaders({ 'content-type': 'application/protobuf' }),
    Buffer.from([8, 150, 1]),
    handler,
  );
  assert.equal(wire.id, 'abc');
  assert.equal(wire.attributes.get('time'), fixedNow.toISOString(), 'a missing time is filled in');
  assert.deepEqual(wire.data?.bytes, Buffer.from([8, 150, 1]));
  const legacyText = rejection(() =>
    readWireEvent({ 'content-type': 'text/plain', ce_type: 't', ce_source: 's' }, Buffer.from('hi'), handler),
  );
  assert.equal(legacyText.status, 415);
  assert.match(legacyText.message, /ce_ header form carries JSON only/);
});

test('the parse step refuses an attribute sent in more than one header, from the raw headers (any mix of ce-/ce_ and case)', () => {
  const headers = binaryHeaders({ 'ce-type': 'a, b' });
  const raw = [
    'Content-Type',
    'application/json',
    'ce-specversion',
    '1.0',
    'ce-id',
    'e-1',
    'ce-source',
    '/s',
    'ce-type',
    'a',
    'CE_Type',
    'b',
  ];
  for (const parse of [
    () => parseCloudEvent(headers, json({}), strict, raw),
    () => readWireEvent(headers, json({}), strict, raw),
  ]) {
    const err = rejection(parse);
    assert.equal(err.status, 400);
    assert.equal(err.type, 'invalid_event');
    assert.match(err.message, /"type" was sent in more than one header/);
  }
  // Each attribute once: parsed; an answer read without its raw headers is not checked for repeats.
  const once = raw.slice(0, -2);
  assert.equal(parseCloudEvent(headersOf(once), json({}), strict, once).type, 'a');
  assert.equal(readWireEvent(headers, json({}), strict).type, 'a, b');
});

/** The header object Node makes of a raw header list (names lower-cased; a repeat joined with ", "). */
function headersOf(raw: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    headers[name] = headers[name] === undefined ? (raw[i + 1] as string) : `${headers[name]}, ${raw[i + 1] as string}`;
  }
  return headers;
}

test('attributes read from the raw headers (one pass, the request path) are those read from the header object', () => {
  const cases: Array<{ raw: string[]; options: ParseOptions }> = [
    {
      raw: [
        'Content-Type',
        'application/json',
        'CE-SpecVersion',
        '1.0',
        'Ce-Id',
        'x',
        'ce-source',
        '/s',
        'ce-type',
        't',
      ],
      options: strict,
    },
    {
      // Percent-encoded values (decoded), an extension, a ce_ header that only the legacy form reads.
      raw: [
        'content-type',
        'text/plain; charset=utf-8',
        'ce-specversion',
        '1.0',
        'ce-id',
        '%E2%82%AC-1',
        'ce-source',
        '/a%2Fb',
        'ce-subject',
        'a%20b',
        'ce-type',
        't',
        'ce-myext',
        '%22q%22',
        'ce_other',
        'kept only in legacy',
      ],
      options: strict,
    },
    {
      raw: ['content-type', 'application/json', 'ce_id', 'l-1', 'CE_Type', 'legacy.type', 'ce_source', '/legacy'],
      options: legacy,
    },
    {
      raw: ['content-type', 'application/json', 'ce_id', 'l-1', 'ce-type', 'mixed', 'ce_source', '/legacy'],
      options: legacy,
    },
  ];
  for (const { raw, options } of cases) {
    const body = raw[1] === 'application/json' ? json({ a: 1 }) : Buffer.from('text');
    const fromRaw = readWireEvent(headersOf(raw), body, options, raw);
    const fromObject = readWireEvent(headersOf(raw), body, options);
    assert.deepEqual(
      [...fromRaw.attributes],
      [...fromObject.attributes].sort(([a], [b]) => order(raw, a) - order(raw, b)),
    );
  }
  // A bare "ce-" header: an empty attribute name, refused whichever way it is read.
  const bare = [
    'content-type',
    'application/json',
    'ce-',
    'v',
    'ce-specversion',
    '1.0',
    'ce-id',
    'x',
    'ce-source',
    '/s',
    'ce-type',
    't',
  ];
  for (const rawHeaders of [bare, undefined])
    assert.match(
      rejection(() => readWireEvent(headersOf(bare), json({}), strict, rawHeaders)).message,
      /extension attribute name "" must be/,
    );
});

/** Where an attribute's header stands in a raw list: the order the one-pass reader meets them in. */
function order(raw: readonly string[], attribute: string): number {
  const at = raw.findIndex((name, i) => i % 2 === 0 && name.slice(3).toLowerCase() === attribute);
  return at === -1 ? raw.length : at;
}
