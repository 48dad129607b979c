// Turning any one service off (one line: services.<name>.enabled=false) either removes its Knative Service and
// everything that points to it, or fails with a message naming the value that still points to it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../../build/helm-path.mjs';
import { NAMESPACE, RELEASE, byKind, ensureHelm, externalsOf, parseManifests, render, template, valuesFiles, type HelmMajor } from './helm.js';
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
  // Helm 3 and 4 render alike (values-files.test.ts); toggles run with both but only for the env files on Helm 3.
  const cases: Array<[HelmMajor, string]> = [
    ...valuesFiles().map((f): [HelmMajor, string] => [4, f]),
    ...valuesFiles().filter((f) => f.startsWith('values')).map((f): [HelmMajor, string] => [3, f]),
  ];
  for (const [major, file] of cases) {
    it(`helm ${major} ${file}`, () => {
      const base = render(major, { files: [file] });
      const names = enabledServices(base);
      assert.ok(names.length > 0);
      let removed = 0;
      for (const svc of names) {
        const r = template(major, { files: [file], set: [`services.${svc}.enabled=false`] });
        if (!r.ok) {
          assert.match(r.stderr, MESSAGE(svc), `${svc} off: unexpected error\n${r.stderr}`);
          continue;
        }
        removed += 1;
        const objs = parseManifests(r.stdout);
        const ksvcName = `${fullnameOf(file)}-${svc}`.slice(0, 57).replace(/-$/, '');
        assert.equal(objs.filter((o) => o.kind === 'Service' && o.metadata.name === ksvcName).length, 0, `${svc} still rendered`);
        const text = JSON.stringify(objs);
        assert.ok(!text.includes(`"name":"${ksvcName}","namespace":"${NAMESPACE}"`), `something still refers to ${ksvcName}`);
        assert.ok(!text.includes(`//${ksvcName}.${NAMESPACE}.svc`), `a URL still points to ${ksvcName}`);
        assert.deepEqual(validateAll(objs), []);
        assert.deepEqual(checkIntegrity(objs, { external: externalsOf(file), containerName: 'app' }), []);
      }
      // the dlq is picked automatically: turning it off must simply remove it (and the broker's dead-letter sink)
      if (names.includes('dlq') && !readFileSync(join(ROOT, file), 'utf8').includes('service: dlq')) assert.ok(removed > 0);
    });
  }
});
