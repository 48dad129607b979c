// The env the chart renders is one the runtime accepts: for every values file, every Knative Service's env goes
// through the runtime's own parseConfig (the function main.ts calls at start-up), with what Kubernetes and Vault
// would supply standing in for Secret keys and secret: references. A variable the chart names differently from
// the runtime (DLQ_DATABASE_URL, DLQ_RETENTION_DAYS, METRICS_ENABLED, ...) or a value it does not take fails here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../runtime/config.js';
import { ensureHelm, render, valuesFiles } from './helm.js';
import { container } from './contract.js';

ensureHelm();

/** What a Secret key or a Vault secret would hold, by the variable it feeds. */
function standIn(name: string): string {
  if (name === 'DLQ_DATABASE_URL') return 'postgres://dlq:secret@db.example:5432/dead_letters';
  return 'a-secret-value-of-32-characters!';
}

describe('the runtime accepts the env the chart renders', () => {
  for (const file of valuesFiles()) {
    it(file, () => {
      const services = render(4, { files: [file] }).filter((o) => o.kind === 'Service');
      assert.ok(services.length > 0);
      for (const s of services) {
        const env: Record<string, string> = { PORT: '8080', K_SERVICE: s.metadata.name, K_REVISION: `${s.metadata.name}-00001` };
        for (const e of container(s).env ?? []) env[e.name] = e.value ?? standIn(e.name);
        const secrets = { get: (name: string) => standIn(name) };
        let role: string | undefined;
        try {
          role = parseConfig(env, secrets).role;
        } catch (err) {
          assert.fail(`${file} ${s.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
        assert.equal(role, env.ROLE, `${file} ${s.metadata.name}`);
      }
    });
  }
});
