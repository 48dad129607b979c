// Each fixture in bad-values/ is one kind of mistake; its `# expect: <regex>` header lines must all match
// helm's error (with Helm 3 and Helm 4: `.` in a path also matches Helm 4's `/services/handler` form).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HELM_MAJORS, ensureHelm, lint, template } from './helm.js';

ensureHelm();

const DIR = fileURLToPath(new URL('./bad-values/', import.meta.url));
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

function expectations(file: string): RegExp[] {
  return readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .map((l) => /^# expect: (.+)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => new RegExp(x, 'i'));
}

describe('bad values', () => {
  it('has fixtures, each with at least one expectation', () => {
    assert.ok(fixtures.length >= 20);
    for (const f of fixtures) assert.ok(expectations(f).length > 0, `${f} has no "# expect:" line`);
  });

  for (const major of HELM_MAJORS) {
    for (const f of fixtures) {
      it(`helm ${major} template rejects ${f} with its message`, () => {
        const r = template(major, { files: [join(DIR, f)] });
        assert.equal(r.ok, false, `${f} rendered without error`);
        for (const re of expectations(f)) assert.match(r.stderr, re, `${f}: stderr does not match ${re}`);
      });
    }
    it(`helm ${major} lint --strict also fails on a schema error`, () => {
      const r = lint(major, { files: [join(DIR, 'schema-unknown-role.yaml')] });
      assert.equal(r.ok, false);
      assert.match(r.stdout + r.stderr, /services.handler.role/);
    });
  }
});
