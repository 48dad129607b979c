// Turning any one service off (one line: services.<name>.enabled=false) either removes its Knative Service and
// everything that points to it, or fails with a message naming the value that still points to it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../../build/helm-path.mjs';
import { HELM_MAJORS, NAMESPACE, RELEASE, byKind, ensureHelm, externalsOf, parseManifests, render, template, valuesFiles, type HelmMajor } from './helm.js';
import { checkIntegrity } from './integrity.js';
import { validateAll } from './schemas.js';

ensureHelm();

function enabledServices(objs: ReturnType<typeof render>): string[] {
  return byKind(objs, 'Service').map((s) => s.metadata.labels?.['app.kubernetes.io/component'] ?? '');
}

function fullnameOf(file: string): string {
  const v = (parse(readFileSync(join(ROOT, file), 'utf8')) ?? {}) as { fullnameOverride?: string };
  return v.fullnameOverride ?? `${RELEASE}-knative-events`;
}

const MESSAGE = (svc: string): RegExp =>
  new RegExp(`[\\w.-]+: "${svc}" is not an enabled service|several enabled dlq services`);

describe('toggling each service off', () => {
  // Each toggle is rendered by one helm version, Helm 4 and 3 in turn (so both see half of them, in every values
  // file): what a disabled service removes, or the `fail` naming what still points to it, is the chart's template
  // logic, which runs in the same text/template and sprig under either version (no template reads .Capabilities),
  // and values-files.test.ts shows both render every values file alike. One render per toggle instead of two.
  valuesFiles().forEach((file, fileIndex) => {
    it(`${file}: each service off, with helm 4 and 3 in turn`, () => {
      const names = enabledServices(render(4, { files: [file] }));
      assert.ok(names.length > 0);
      let removed = 0;
      names.forEach((svc, k) => {
        const major = HELM_MAJORS[(fileIndex + k) % HELM_MAJORS.length] as HelmMajor;
        const r = template(major, { files: [file], set: [`services.${svc}.enabled=false`] });
        if (!r.ok) {
          assert.match(r.stderr, MESSAGE(svc), `helm ${major}, ${svc} off: unexpected error\n${r.stderr}`);
          return;
        }
        removed += 1;
        const objs = parseManifests(r.stdout);
        const ksvcName = `${fullnameOf(file)}-${svc}`.slice(0, 57).replace(/-$/, '');
        assert.equal(objs.filter((o) => o.kind === 'Service' && o.metadata.name === ksvcName).length, 0, `helm ${major}: ${svc} still rendered`);
        const text = JSON.stringify(objs);
        assert.ok(!text.includes(`"name":"${ksvcName}","namespace":"${NAMESPACE}"`), `helm ${major}: something still refers to ${ksvcName}`);
        assert.ok(!text.includes(`//${ksvcName}.${NAMESPACE}.svc`), `helm ${major}: a URL still points to ${ksvcName}`);
        assert.deepEqual(validateAll(objs), []);
        assert.deepEqual(checkIntegrity(objs, { external: externalsOf(file), containerName: 'app' }), []);
      });
      // the dlq is picked automatically: turning it off must simply remove it (and the broker's dead-letter sink)
      if (names.includes('dlq') && !readFileSync(join(ROOT, file), 'utf8').includes('service: dlq')) assert.ok(removed > 0);
    });
  });
});
