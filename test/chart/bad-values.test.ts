// Each fixture in bad-values/ is one kind of mistake; its `# expect: <regex>` header lines must all match
// helm's error (with Helm 3 and Helm 4: `.` in a path also matches Helm 4's `/services/handler` form).
//
// What each helm version checks, with ~50 renders instead of one per fixture and version (~130, the slowest chart
// test on a fresh clone):
// - schema mistakes, with both versions: their messages come from two different JSON-schema validators. The
//   schema-* fixtures share one render per version (bad-values-batch.ts: each must own a line of its errors);
//   one the batch cannot hold (it sets a path another one sets) or whose message differs there is rendered alone.
// - template mistakes (the chart's `fail`), with one version each, alternating so both see half of them: that
//   logic runs in the same text/template and sprig functions under either helm, and no template reads
//   .Capabilities or anything else a helm version sets differently. Every values file is still rendered by
//   both versions in the other chart tests. A fixture rendered alone whose error turns out to be a schema error
//   is rendered by the other version too.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HELM_MAJORS, ensureHelm, lint, template, type HelmMajor, type HelmResult } from './helm.js';
import { batchable, foundInBatch } from './bad-values-batch.js';

ensureHelm();

const DIR = fileURLToPath(new URL('./bad-values/', import.meta.url));
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function expectations(file: string): RegExp[] {
  return readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .map((l) => /^# expect: (.+)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => new RegExp(x, 'i'));
}

const batch = batchable(
  DIR,
  fixtures.filter((f) => f.startsWith('schema-')),
);
const batchExpected = new Map(batch.map((f) => [f, expectations(f)]));
const batchRenders = new Map<HelmMajor, HelmResult>();
function batchRender(major: HelmMajor): HelmResult {
  const done = batchRenders.get(major);
  if (done) return done;
  const r = template(major, { files: batch.map((f) => join(DIR, f)) });
  batchRenders.set(major, r);
  return r;
}

const isSchemaError = (r: HelmResult) => /values don't meet the specifications of the schema/.test(r.stderr);

describe('bad values', () => {
  it('has fixtures, each with at least one expectation', () => {
    assert.ok(fixtures.length >= 20);
    for (const f of fixtures) assert.ok(expectations(f).length > 0, `${f} has no "# expect:" line`);
  });

  for (const major of HELM_MAJORS) {
    it(`helm ${major} template rejects the schema fixtures' values, together, on the schema`, () => {
      assert.ok(batch.length >= 10, `only ${batch.length} schema fixtures in the batch: ${batch.join(', ')}`);
      const r = batchRender(major);
      assert.equal(r.ok, false, 'the batch rendered without error');
      assert.ok(isSchemaError(r), r.stderr);
    });
  }

  fixtures.forEach((f, i) => {
    it(`helm rejects ${f} with its message`, () => {
      const inBatch = HELM_MAJORS.filter((m) => batchExpected.has(f) && foundInBatch(batchRender(m).stderr, f, batchExpected));
      const own = HELM_MAJORS[i % HELM_MAJORS.length] as HelmMajor;
      const alone = [own, ...HELM_MAJORS.filter((m) => m !== own)].filter((m) => !inBatch.includes(m));
      for (const major of alone) {
        const r = template(major, { files: [join(DIR, f)] });
        assert.equal(r.ok, false, `helm ${major}: ${f} rendered without error`);
        for (const re of expectations(f)) assert.match(r.stderr, re, `helm ${major}: ${f}: stderr does not match ${re}`);
        if (!isSchemaError(r)) break; // a template's fail: one version checks it (see the top of this file)
      }
    });
  });

  for (const major of HELM_MAJORS) {
    it(`helm ${major} lint --strict also fails on a schema error`, () => {
      const r = lint(major, { files: [join(DIR, 'schema-unknown-role.yaml')] });
      assert.equal(r.ok, false);
      assert.match(r.stdout + r.stderr, /services.handler.role/);
    });
  }
});
