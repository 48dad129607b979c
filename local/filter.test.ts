// Trigger filter semantics against Knative's rules (knative/eventing pkg/eventfilter).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudEvent } from 'cloudevents';
import { attributesOf, matches, parseDialect, parseTriggerFilter, type DialectFilter } from './filter.js';

const event = attributesOf(
  new CloudEvent({
    id: '1',
    source: '/shop/orders',
    type: 'com.example.trade',
    subject: 'T-1',
    partitionkey: 'k1',
    data: { a: 1 },
  }),
);

describe('classic filter.attributes', () => {
  it('needs every listed attribute to be equal, extensions included', () => {
    assert.equal(matches({ attributes: { type: 'com.example.trade', source: '/shop/orders' } }, event), true);
    assert.equal(matches({ attributes: { type: 'com.example.trade', source: '/other' } }, event), false);
    assert.equal(matches({ attributes: { partitionkey: 'k1' } }, event), true);
    assert.equal(matches({ attributes: { partitionkey: 'k2' } }, event), false);
  });
  it('is exact, not prefix or case-insensitive', () => {
    assert.equal(matches({ attributes: { type: 'com.example' } }, event), false);
    assert.equal(matches({ attributes: { type: 'COM.EXAMPLE.TRADE' } }, event), false);
  });
  it('treats "" as any value, but an extension must still be present', () => {
    assert.equal(matches({ attributes: { partitionkey: '' } }, event), true);
    assert.equal(matches({ attributes: { missingext: '' } }, event), false);
    assert.equal(matches({ attributes: { dataschema: '' } }, event), true, 'a standard attribute counts as present');
  });
  it('an empty or missing filter passes everything', () => {
    assert.equal(matches({ attributes: {} }, event), true);
    assert.equal(matches({}, event), true);
  });
});

describe('filters dialect', () => {
  const f = (raw: unknown): DialectFilter => parseDialect(raw, 'test');
  it('exact, prefix and suffix compare the attribute and fail when it is absent', () => {
    assert.equal(matches({ filters: [f({ exact: { type: 'com.example.trade' } })] }, event), true);
    assert.equal(matches({ filters: [f({ exact: { type: 'com.example' } })] }, event), false);
    assert.equal(matches({ filters: [f({ prefix: { type: 'com.example.' } })] }, event), true);
    assert.equal(matches({ filters: [f({ prefix: { type: 'org.' } })] }, event), false);
    assert.equal(matches({ filters: [f({ suffix: { source: '/orders' } })] }, event), true);
    assert.equal(matches({ filters: [f({ suffix: { source: '/trades' } })] }, event), false);
    assert.equal(
      matches({ filters: [f({ prefix: { dataschema: '' } })] }, event),
      false,
      'absent attribute fails even an empty prefix',
    );
  });
  it('every entry of the list must pass (AND)', () => {
    assert.equal(
      matches({ filters: [f({ prefix: { type: 'com.' } }), f({ exact: { subject: 'T-1' } })] }, event),
      true,
    );
    assert.equal(
      matches({ filters: [f({ prefix: { type: 'com.' } }), f({ exact: { subject: 'T-2' } })] }, event),
      false,
    );
  });
  it('all, any and not combine', () => {
    assert.equal(
      matches({ filters: [f({ all: [{ prefix: { type: 'com.' } }, { suffix: { type: '.trade' } }] })] }, event),
      true,
    );
    assert.equal(
      matches({ filters: [f({ all: [{ prefix: { type: 'com.' } }, { suffix: { type: '.order' } }] })] }, event),
      false,
    );
    assert.equal(
      matches({ filters: [f({ any: [{ exact: { type: 'x' } }, { exact: { subject: 'T-1' } }] })] }, event),
      true,
    );
    assert.equal(
      matches({ filters: [f({ any: [{ exact: { type: 'x' } }, { exact: { subject: 'y' } }] })] }, event),
      false,
    );
    assert.equal(matches({ filters: [f({ not: { exact: { type: 'com.example.trade' } } })] }, event), false);
    assert.equal(matches({ filters: [f({ not: { exact: { type: 'other' } } })] }, event), true);
    assert.equal(
      matches(
        { filters: [f({ not: { any: [{ exact: { type: 'a' } }, { not: { prefix: { source: '/shop' } } }] } })] },
        event,
      ),
      true,
    );
  });
  it('wins over filter.attributes when both are set', () => {
    const spec = { filter: { attributes: { type: 'never' } }, filters: [{ prefix: { type: 'com.' } }] };
    assert.equal(matches(parseTriggerFilter(spec, 't'), event), true);
    const onlyAttributes = parseTriggerFilter({ filter: { attributes: { type: 'never' } }, filters: [] }, 't');
    assert.equal(matches(onlyAttributes, event), false, 'an empty filters list leaves the attributes filter in force');
  });
  it('refuses what it cannot evaluate, naming the path', () => {
    assert.throws(
      () => parseDialect({ cesql: "type = 'x'" }, 'Trigger t spec.filters[0]'),
      /spec\.filters\[0\]\.cesql: CESQL/,
    );
    assert.throws(() => parseDialect({ exact: { a: 'b' }, prefix: { a: 'b' } }, 'x'), /exactly one of/);
    assert.throws(() => parseDialect({ all: { a: 'b' } }, 'x'), /x\.all: expected a list/);
    assert.throws(() => parseDialect({ exact: {} }, 'x'), /x\.exact: expected a map/);
  });
});
