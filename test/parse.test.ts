// CloudEvent parsing: the three forms the handler accepts and the rules the SDK lets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { parseCloudEvent, type ParseOptions } from '../runtime/events/parse.js';
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
  const event = parseCloudEvent(binaryHeaders({ 'ce-partitionkey': 'k1', 'ce-time': '2026-05-01T10:00:00Z' }), json({ qty: 3 }), strict);
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
  const event = parseCloudEvent(headers, json({ specversion: '1.0', id: 's1', source: '/s', type: 't', data: { x: 1 }, traceid: 'tr' }), strict);
  assert.equal(event.id, 's1');
  assert.deepEqual(event.data, { x: 1 });
  assert.equal(event.traceid, 'tr');
  const binary = parseCloudEvent(headers, json({ specversion: '1.0', id: 's2', source: '/s', type: 't', data_base64: Buffer.from('hi').toString('base64') }), strict);
  assert.equal(Buffer.from(binary.data as Uint8Array).toString(), 'hi');
});

test('legacy form: ce_ underscore headers, no specversion, id and time filled in', () => {
  const event = parseCloudEvent({ 'content-type': 'application/json', ce_type: 'event-subscriber-type', ce_source: 'event-subscriber-source' }, json({ event_data_1: 'data value 1' }), legacy);
  assert.equal(event.type, 'event-subscriber-type');
  assert.equal(event.source, 'event-subscriber-source');
  assert.equal(event.specversion, '1.0');
  assert.equal(event.id, 'generated-id');
  assert.equal(event.time, fixedNow.toISOString());
  assert.deepEqual(event.data, { event_data_1: 'data value 1' });
});

test('legacy form keeps an id and time the client sent', () => {
  const event = parseCloudEvent({ 'content-type': 'application/json', 'ce-type': 't', 'ce-source': 's', 'ce-id': 'mine', 'ce-time': '2025-01-01T00:00:00Z' }, json({}), legacy);
  assert.equal(event.id, 'mine');
  assert.equal(event.time, '2025-01-01T00:00:00Z');
});

test('missing type or source is a 400 naming exactly the missing attributes', () => {
  const onlySource = rejection(() => parseCloudEvent({ 'content-type': 'application/json', ce_source: 's' }, json({}), legacy));
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
  assert.equal(rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, Buffer.from('{nope'), strict)).type, 'invalid_json');
  assert.equal(rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents+json' }, json([1, 2]), strict)).type, 'invalid_event');
});

test('the handler refuses an empty body and a body that is not JSON', () => {
  const empty = rejection(() => parseCloudEvent({ 'content-type': 'application/json', ce_type: 't', ce_source: 's' }, Buffer.alloc(0), legacy));
  assert.equal(empty.status, 400);
  assert.equal(empty.type, 'empty_body');
  const text = rejection(() => parseCloudEvent({ 'content-type': 'text/plain', ce_type: 't', ce_source: 's' }, Buffer.from('hi'), legacy));
  assert.equal(text.status, 415);
});

test('bad extension names, duplicated attributes and batches are refused', () => {
  assert.equal(rejection(() => parseCloudEvent(binaryHeaders({ 'ce-Bad_Name': 'x', 'ce-bad_name': 'x' }), json({}), strict)).type, 'invalid_event');
  const both = rejection(() => parseCloudEvent({ 'content-type': 'application/json', ce_type: 't', 'ce-type': 't', ce_source: 's' }, json({}), legacy));
  assert.match(both.message, /both as ce-type and ce_type/);
  assert.equal(rejection(() => parseCloudEvent({ 'content-type': 'application/cloudevents-batch+json' }, json([]), strict)).status, 415);
});

test('binary mode without a body is an event without data (valid for the subscriber)', () => {
  const event = parseCloudEvent(binaryHeaders(), Buffer.alloc(0), strict);
  assert.equal(event.data, undefined);
});
