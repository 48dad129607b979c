// Every values file (values/*.yaml and chart/ci/*-values.yaml), with Helm 3.17 and Helm 4.1:
// lint --strict is clean, the render parses, every object validates against the vendored strict schemas,
// and the referential-integrity check finds nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HELM_MAJORS, ensureHelm, externalsOf, lint, render, valuesFiles } from './helm.js';
import { checkIntegrity } from './integrity.js';
import { validateAll } from './schemas.js';

ensureHelm();

const files = valuesFiles();

describe('values files', () => {
  it('covers the four environments and the CI scenarios', () => {
    for (const env of ['dev', 'staging', 'prod', 'local']) assert.ok(files.includes(join('values', `${env}.yaml`)), env);
    assert.ok(files.some((f) => f.startsWith(join('chart', 'ci'))));
  });

  for (const major of HELM_MAJORS) {
    it(`helm ${major}: lint --strict with the chart defaults alone`, () => {
      const r = lint(major);
      assert.ok(r.ok, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    });
    for (const file of files) {
      describe(`helm ${major} ${file}`, () => {
        it('lint --strict is clean', () => {
          const r = lint(major, { files: [file] });
          assert.ok(r.ok, r.stdout + r.stderr);
          assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
        });
        it('renders objects that match their schemas and reference only rendered things', () => {
          const objs = render(major, { files: [file] });
          assert.ok(objs.length > 0);
          assert.deepEqual(validateAll(objs), []);
          assert.deepEqual(checkIntegrity(objs, { external: externalsOf(file), containerName: 'app' }), []);
        });
      });
    }
  }

  it('Helm 3 and Helm 4 render the same objects', () => {
    for (const file of files) assert.deepEqual(render(3, { files: [file] }), render(4, { files: [file] }), file);
  });
});
