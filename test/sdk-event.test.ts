// runtime/events/sdk-event.ts builds the SDK CloudEvent without the SDK constructor and skips the SDK's
// validate() when it can vouch for the outcome. Both must be indistinguishable from the SDK doing the work:
// the same object (prototype, own properties in order, values, frozen) and the same accept/refuse decisions,
// with the SDK's own error when it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationError } from 'cloudevents';
import { CloudEvent } from 'cloudevents';
import { cloudEventOf, validateAsSdk } from '../runtime/events/sdk-event.js';

const base = { id: 'e-1', source: '/orders', type: 'order.created', specversion: '1.0', time: '2026-05-01T10:00:00Z' };

function assertSameEvent(attributes: Record<string, unknown>): void {
  const { data, ...rest } = attributes;
  const ours = cloudEventOf(new Map(Object.entries(rest)), data);
  const sdk = new CloudEvent<unknown>(attributes, false);
  assert.equal(Object.getPrototypeOf(ours), CloudEvent.prototype);
  assert.ok(ours instanceof CloudEvent);
  assert.ok(Object.isFrozen(ours));
  assert.deepEqual(Reflect.ownKeys(ours), Reflect.ownKeys(sdk), JSON.stringify(attributes));
  for (const key of Reflect.ownKeys(sdk)) {
    const name = key as keyof typeof sdk;
    if (name === 'time' && attributes.time === undefined) continue; // "now", read at two moments
    assert.deepEqual(ours[name], sdk[name], `${String(name)} of ${JSON.stringify(attributes)}`);
  }
  assert.equal(ours.toString(), attributes.time === undefined ? ours.toString() : sdk.toString());
}

test('the event is the one the SDK constructor makes: prototype, properties in order, values, frozen', () => {
  assertSameEvent(base);
  assertSameEvent({ ...base, data: { qty: 3 } });
  assertSameEvent({ ...base, data: 'text', datacontenttype: 'text/plain', subject: 's', dataschema: 'https://x/s' });
  // Extensions after the known attributes, in their order; index-like names first, as objects order them.
  assertSameEvent({ partitionkey: 'k', ...base, z1: 'z', '42': 'n', a1: 7, b1: true, data: [1, 2] });
  assertSameEvent({ ...base, data: null });
  assertSameEvent({ ...base, data: 0 });
  // The cases left to the SDK constructor: no time (it fills "now"), binary data (it adds data_base64).
  assertSameEvent({ id: 'e-2', source: '/s', type: 't', specversion: '1.0' });
  assertSameEvent({ ...base, data: Buffer.from([0, 1, 2]), datacontenttype: 'application/octet-stream' });
  // The SDK's clone still works on it.
  assert.equal(cloudEventOf(new Map(Object.entries(base)), 1).cloneWith({ subject: 'x' }, false).subject, 'x');
});

/** The SDK's decision on the same event: undefined when it accepts, its error when it refuses. */
function sdkDecision(event: CloudEvent<unknown>): unknown {
  try {
    event.validate();
    return undefined;
  } catch (err) {
    return err;
  }
}

function ourDecision(event: CloudEvent<unknown>): unknown {
  try {
    validateAsSdk(event);
    return undefined;
  } catch (err) {
    return err;
  }
}

test('validation decides as the SDK does, first time and once the source is known, with its errors', () => {
  const cases: Record<string, unknown>[] = [
    base,
    { ...base, source: 'https://example.com/a b' }, // not a URI reference
    { ...base, source: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66' },
    { ...base, time: '2026-02-29T10:00:00Z' }, // not a leap year
    { ...base, time: '2024-02-29T10:00:00Z' },
    { ...base, time: '2026-04-31T10:00:00Z' },
    { ...base, time: '2026-13-01T10:00:00Z' },
    { ...base, time: '2026-00-10T10:00:00Z' },
    { ...base, time: '2026-05-00T10:00:00Z' },
    { ...base, time: '2026-05-01T24:00:00Z' },
    { ...base, time: '2026-05-01T10:60:00Z' },
    { ...base, time: '2026-05-01T10:00:60Z' },
    { ...base, time: '2026-12-31T23:59:60Z' }, // a leap second: the SDK's rule
    { ...base, time: '2026-05-01t10:00:00.123456+02:00' },
    { ...base, time: '2026-05-01 10:00:00Z' },
    { ...base, time: 'yesterday' },
    { ...base, subject: '' },
    { ...base, subject: 'a subject' },
    { ...base, datacontenttype: '' },
    { ...base, dataschema: 'not a uri' },
    { ...base, dataschema: 'https://example.com/schema' },
    { ...base, data: Number.POSITIVE_INFINITY }, // what JSON.parse makes of 1e400
    { ...base, data: Number.NaN },
    { ...base, data: { a: 1 } },
    { ...base, id: '' },
    { ...base, type: '' },
    { ...base, specversion: '0.3' },
  ];
  // Twice over: the second round runs with every accepted source and dataschema remembered.
  for (const round of [1, 2]) {
    for (const attributes of cases) {
      const event = new CloudEvent<unknown>(attributes, false);
      const sdk = sdkDecision(event);
      const ours = ourDecision(event);
      const what = `round ${round}: ${JSON.stringify(attributes)}`;
      if (sdk === undefined) assert.equal(ours, undefined, what);
      else {
        assert.ok(ours instanceof (sdk as object).constructor, what);
        assert.equal((ours as Error).message, (sdk as Error).message, what);
        assert.deepEqual((ours as ValidationError).errors, (sdk as ValidationError).errors, what);
      }
    }
  }
});
