// The bundle's third-party licences are listed in a generated file, one row per bundled package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

test('dist/THIRD_PARTY_LICENSES.md lists every bundled package with a licence and its text', () => {
  const text = readFileSync('dist/THIRD_PARTY_LICENSES.md', 'utf8');
  const rows = [...text.matchAll(/^\| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)]
    .slice(2)
    .map((m) => ({ name: m[1]?.trim(), license: m[3]?.trim() }));
  const names = rows.map((r) => r.name);
  for (const expected of ['koa', 'cloudevents', 'pino', 'valibot'])
    assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
  const unknown = rows.filter((r) => !r.license || r.license === 'UNKNOWN');
  assert.deepEqual(unknown, [], 'every bundled package declares a licence');
  assert.match(text, /## koa@[\d.]+ \(MIT\)\n\n```\n[^`]*Permission is hereby granted/);
});
