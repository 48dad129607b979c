// The byte-level JSON helpers checked against JSON.parse on arbitrary JSON (fast-check).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { nestsDeeperThan, topLevelMember } from '../runtime/events/json-scan.js';

/** Nesting depth as JSON.parse sees it. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Object.values(value as Record<string, unknown>);
  return 1 + (children.length === 0 ? 0 : Math.max(...children.map(depthOf)));
}

test('topLevelMember finds the raw text of a member, whatever surrounds it', () => {
  const text = '{ "a" : "}\\"data\\":1" , "data" :\t[1, {"data": 2}, "]"] ,"z":null}';
  assert.equal(topLevelMember(Buffer.from(text), 'data')?.toString(), '[1, {"data": 2}, "]"]');
  assert.equal(
    topLevelMember(Buffer.from('{"data":1,"data":-2.50e1}'), 'data')?.toString(),
    '-2.50e1',
    'the last of duplicates, as JSON.parse',
  );
  assert.equal(topLevelMember(Buffer.from('{"x":{"data":1}}'), 'data'), undefined, 'only top-level members');
  assert.equal(topLevelMember(Buffer.from('{}'), 'data'), undefined);
});

test('property: the raw member parses to what JSON.parse gives for it, in any JSON object', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }),
      fc.jsonValue({ maxDepth: 4 }),
      fc.nat(6),
      fc.boolean(),
      (others, data, at, spaced) => {
        const entries = Object.entries(others).filter(([key]) => key !== 'data');
        entries.splice(Math.min(at, entries.length), 0, ['data', data]);
        const text = spaced
          ? JSON.stringify(Object.fromEntries(entries), null, 2)
          : JSON.stringify(Object.fromEntries(entries));
        const raw = topLevelMember(Buffer.from(text), 'data');
        assert.ok(raw, text);
        assert.deepEqual(JSON.parse(raw.toString()), JSON.parse(text).data);
      },
    ),
    { numRuns: 1000 },
  );
});

test('property: nestsDeeperThan agrees with the depth JSON.parse sees', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.nat(9), (value, limit) => {
      const text = JSON.stringify(value);
      assert.equal(nestsDeeperThan(Buffer.from(text), limit), depthOf(JSON.parse(text)) > limit, text);
    }),
    { numRuns: 2000 },
  );
});
