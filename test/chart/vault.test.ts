// Vault: agent injector annotations (secret and template from one value) and direct-mode env.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureHelm, render } from './helm.js';
import { annotations, container, env, ksvc, podTemplate } from './contract.js';

ensureHelm();

describe('Vault agent', () => {
  const staging = render(4, { files: ['values/staging.yaml'] });
  const a = annotations(ksvc(staging, 'handler'));
  it('secret, template and file name come from one key', () => {
    assert.equal(a['vault.hashicorp.com/agent-inject'], 'true');
    assert.equal(a['vault.hashicorp.com/agent-inject-secret-app'], 'secret/data/knative-events/staging/app');
    assert.equal(
      a['vault.hashicorp.com/agent-inject-template-app'],
      '{{- with secret "secret/data/knative-events/staging/app" -}}{{ range $k, $v := .Data.data }}{{ $k }}={{ $v | toJSON }}\n{{ end }}{{- end }}',
    );
  });
  it('role, auth path, CA, TLS verification on, init container only; VAULT_SECRETS_DIR for the runtime', () => {
    assert.equal(a['vault.hashicorp.com/role'], 'knative-events-staging');
    assert.equal(a['vault.hashicorp.com/auth-path'], 'auth/kubernetes-staging');
    assert.equal(a['vault.hashicorp.com/ca-cert'], '/vault/tls/ca.crt');
    assert.equal(a['vault.hashicorp.com/tls-secret'], 'vault-tls-ca');
    assert.equal(a['vault.hashicorp.com/tls-skip-verify'], 'false');
    assert.equal(a['vault.hashicorp.com/agent-pre-populate-only'], 'true');
    assert.equal(env(ksvc(staging, 'handler')).VAULT_SECRETS_DIR, '/vault/secrets');
    assert.equal(podTemplate(ksvc(staging, 'handler')).spec.serviceAccountName, 'knative-events');
  });
  it('tls-skip-verify only when explicitly true', () => {
    const on = render(4, { files: ['values/staging.yaml'], set: ['vault.tlsSkipVerify=true'] });
    assert.equal(annotations(ksvc(on, 'handler'))['vault.hashicorp.com/tls-skip-verify'], 'true');
  });
  it('KV v1, custom delimiters, per-service secrets and opt-out', () => {
    const objs = render(3, { files: ['chart/ci/vault-agent-kv1-values.yaml'] });
    const t = annotations(ksvc(objs, 'transformer'));
    assert.equal(t['vault.hashicorp.com/agent-inject-template-app'], '[[- with secret "kv/knative-events/app" -]][[ range $k, $v := .Data ]][[ $k ]]=[[ $v | toJSON ]]\n[[ end ]][[- end ]]');
    assert.equal(t['vault.hashicorp.com/agent-template-left-delim-app'], '[[');
    assert.equal(t['vault.hashicorp.com/agent-template-right-delim-kafka'], ']]');
    assert.equal(t['vault.hashicorp.com/agent-inject-secret-kafka'], 'kv/knative-events/kafka');
    assert.equal(t['vault.hashicorp.com/agent-pre-populate-only'], 'false');
    assert.equal(t['vault.hashicorp.com/agent-limits-cpu'], '100m');
    assert.equal(annotations(ksvc(objs, 'handler'))['vault.hashicorp.com/agent-inject-secret-kafka'], undefined);
    assert.ok(!Object.keys(annotations(ksvc(objs, 'echo'))).some((k) => k.startsWith('vault.')));
    assert.ok(!('VAULT_SECRETS_DIR' in env(ksvc(objs, 'echo'))));
  });
  it('an unquoted `mode: off` (YAML false) means off', () => {
    // staging's dlq reads its database URL from Vault: with Vault off it takes the default Secret instead
    const objs = render(4, { files: ['values/staging.yaml'], set: ['vault.mode=false', 'services.dlq.dlq.database.vaultSecret='] });
    assert.ok(!Object.keys(annotations(ksvc(objs, 'handler'))).some((k) => k.startsWith('vault.')));
  });
});

describe('Vault direct', () => {
  it('env for the runtime login and a service account', () => {
    const objs = render(4, { files: ['chart/ci/full-values.yaml'] });
    const h = ksvc(objs, 'handler', 'kev');
    const e = env(h);
    assert.deepEqual(
      Object.fromEntries(Object.entries(e).filter(([k]) => k.startsWith('VAULT_'))),
      {
        VAULT_ADDR: 'https://vault.example.com:8200',
        VAULT_AUTH_PATH: 'auth/kubernetes',
        VAULT_CACERT: '/vault/tls/ca.crt',
        VAULT_KV_VERSION: '2',
        VAULT_NAMESPACE: 'platform',
        VAULT_ROLE: 'knative-events',
        VAULT_SECRET_PATHS: 'secret/data/app,secret/data/kafka',
      },
    );
    assert.equal(podTemplate(h).spec.serviceAccountName, 'knative-events');
    assert.ok(!Object.keys(annotations(h)).some((k) => k.startsWith('vault.')));
    assert.ok(!Object.keys(env(ksvc(objs, 'dlq', 'kev'))).some((k) => k.startsWith('VAULT_')));
  });
  it('mounts vault.tlsSecret where VAULT_CACERT points, read-only, so the runtime can verify Vault', () => {
    const objs = render(4, { files: ['chart/ci/full-values.yaml'], set: ['vault.tlsSecret=vault-ca'] });
    const h = ksvc(objs, 'handler', 'kev');
    assert.deepEqual(container(h).volumeMounts, [{ name: 'vault-ca', mountPath: '/vault/tls', readOnly: true }]);
    assert.deepEqual(podTemplate(h).spec.volumes, [{ name: 'vault-ca', secret: { secretName: 'vault-ca' } }]);
    assert.equal(env(h).VAULT_CACERT, '/vault/tls/ca.crt');
  });
  it('VAULT_SKIP_VERIFY only when vault.tlsSkipVerify is explicitly true', () => {
    const objs = render(4, { files: ['chart/ci/full-values.yaml'] });
    assert.ok(!('VAULT_SKIP_VERIFY' in env(ksvc(objs, 'handler', 'kev'))));
    const insecure = render(4, { files: ['chart/ci/full-values.yaml'], set: ['vault.tlsSkipVerify=true'] });
    assert.equal(env(ksvc(insecure, 'handler', 'kev')).VAULT_SKIP_VERIFY, 'true');
  });
});
