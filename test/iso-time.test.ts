// runtime/events/iso-time.ts formats times from a cache of the text up to the second: whatever order times come
// in, the text must be Date's own toISOString.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoString } from '../runtime/events/iso-time.js';

test("every time's text is Date's toISOString, in any order of calls", () => {
  const base = Date.UTC(2026, 11, 2, 5, 20, 59, 998);
  const times = [
    base,
    base + 1, // .999
    base + 2, // the next second: .000
    base + 3,
    base + 11,
    base + 101,
    base, // back to a second formatted before the last one
    base + 61_000, // the next minute
    base + 0.7, // fractional: Date keeps the whole milliseconds
    Date.UTC(2024, 1, 29, 23, 59, 59, 999), // a leap day, the day's last millisecond
    Date.UTC(2024, 2, 1),
    0,
    -1, // before 1970
    -1.5,
    -86_400_001,
    Date.UTC(9999, 11, 31, 23, 59, 59, 999), // the last four-digit year
    Date.UTC(10000, 0, 1), // a six-digit year: +010000
    Date.UTC(-1, 0, 1),
  ];
  for (let i = 0; i < 2000; i++) times.push(Math.floor(Math.random() * 4_102_444_800_000)); // 1970-2100
  for (const ms of times) assert.equal(isoString(ms), new Date(ms).toISOString(), String(ms));
});

test('an invalid time throws as toISOString does', () => {
  for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1])
    assert.throws(
      () => isoString(ms),
      (err) => err instanceof RangeError,
    );
});
